#!/usr/bin/python3
"""A features file for `w2s fit` on class labels from the handwritten digits
scikit-learn ships (sklearn.datasets.load_digits: 1797 8x8 images, 10
classes; Debian's python3-sklearn).

/labels: the digit (int64 class ids 0..9). /strong: the 64 pixels. Weak
models, coarser views of the same image: /weak/pool4 the 2x2 grid of 4x4
block means (4 features), /weak/rows the 8 row means (8), /weak/pool2 the
4x4 grid of 2x2 block means (16). Pixels are 0..16; `w2s fit
--standardize` scales each representation's columns.

    data/digits/build_features.py -o digits.h5
"""
import argparse

import h5py
import numpy as np
from sklearn.datasets import load_digits


def pool(img, k):
    """Means of k x k blocks of 8 x 8 images [n, 8, 8] -> [n, (8/k)^2]."""
    n = img.shape[0]
    m = 8 // k
    return img.reshape(n, m, k, m, k).mean(axis=(2, 4)).reshape(n, m * m)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    d = load_digits()
    img = d.images.astype(np.float64)
    with h5py.File(a.output, "w") as f:
        f["labels"] = d.target.astype(np.int64)
        f["strong"] = d.data.astype(np.float64)
        f["weak/pool4"] = pool(img, 4)
        f["weak/rows"] = img.mean(axis=2)
        f["weak/pool2"] = pool(img, 2)
    print("wrote %s: %d images, 10 classes, strong 64, weak 4 / 8 / 16"
          % (a.output, len(d.target)))


if __name__ == "__main__":
    main()
