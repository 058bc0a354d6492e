#!/usr/bin/env python3
"""Build a w2s features file from measured molecular activities.

Data: Debian's rdkit-data ships 1017 ChEMBL compounds (CHEMBL2321810, a
FreeWilson example) with SMILES and measured activities. The strong
representation is rich: Morgan fingerprints (radius 3, 2048 bits) plus
RDKit's 2D descriptors (standardised); the weak representations are coarse
Morgan fingerprints (radius 1) of growing size, mirroring the paper's weak
models of different hidden sizes.

Run with /usr/bin/python3 (Debian's python3-rdkit, numpy, h5py):
    /usr/bin/python3 data/molecules/build_features.py -o molecules.h5 [--limit N]
"""
import argparse
import csv
import os
import sys

import h5py
import numpy as np

DATA = "/usr/share/RDKit/Contrib/FreeWilson/data"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="molecules.h5")
    ap.add_argument("--limit", type=int, default=0,
                    help="use only the first N compounds (for quick tests)")
    ap.add_argument("--data", default=DATA, help="folder of the ChEMBL files")
    args = ap.parse_args()
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import AllChem, DataStructs, Descriptors
    except ImportError:
        sys.exit("build_features: RDKit is missing: apt-get install python3-rdkit")
    RDLogger.DisableLog("rdApp.*")
    smi = os.path.join(args.data, "CHEMBL2321810.smi")
    act = os.path.join(args.data, "CHEMBL2321810_act.csv")
    for p in (smi, act):
        if not os.path.exists(p):
            sys.exit("build_features: %s is missing: apt-get install rdkit-data" % p)
    with open(act) as fh:
        activity = {row["Name"]: float(row["Act"]) for row in csv.DictReader(fh)}
    mols, y = [], []
    with open(smi) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 2 or parts[1] not in activity:
                continue
            m = Chem.MolFromSmiles(parts[0])
            if m is None:
                continue
            mols.append(m)
            y.append(activity[parts[1]])
            if args.limit and len(mols) == args.limit:
                break

    def morgan(m, radius, bits):
        fp = AllChem.GetMorganFingerprintAsBitVect(m, radius, nBits=bits)
        a = np.zeros((bits,), dtype=np.float32)
        DataStructs.ConvertToNumpyArray(fp, a)
        return a

    strong_fp = np.array([morgan(m, 3, 2048) for m in mols], dtype=np.float64)
    # Descriptors that fail on this RDKit/numpy pair (Debian 12's Ipc uses
    # the removed numpy.float) are left out rather than patched.
    usable = []
    for name, fn in Descriptors.descList:
        try:
            fn(mols[0])
            usable.append(fn)
        except Exception:
            print("build_features: skipping descriptor %s" % name, file=sys.stderr)
    desc = np.array([[fn(m) for fn in usable] for m in mols], dtype=np.float64)
    desc[~np.isfinite(desc)] = 0.0
    keep = desc.std(axis=0) > 0
    desc = desc[:, keep]
    desc = (desc - desc.mean(axis=0)) / desc.std(axis=0)
    desc = np.clip(desc, -10, 10)  # a few descriptors have extreme outliers
    strong = np.hstack([strong_fp, desc])
    with h5py.File(args.output, "w") as f:
        f["labels"] = np.asarray(y, dtype=np.float64)
        f["strong"] = strong
        for bits in (16, 32, 64, 128, 256):
            f["weak/morgan1_%d" % bits] = np.array(
                [morgan(m, 1, bits) for m in mols], dtype=np.float32)
        f.attrs["source"] = "ChEMBL CHEMBL2321810 via Debian rdkit-data"
        f.attrs["strong"] = ("Morgan r3 2048 bits + %d standardised RDKit 2D "
                             "descriptors" % int(keep.sum()))
    print("build_features: %d compounds, strong %d features, weak %s -> %s"
          % (len(y), strong.shape[1], "morgan1_{16,32,64,128,256}", args.output))


if __name__ == "__main__":
    main()
