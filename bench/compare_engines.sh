#!/usr/bin/env bash
# The paper's experiment side by side: `w2s simulate` on 2 ranks (fit.engine
# = factor and = direct when this w2s has the key, else the one path it has)
# against the two numpy programs of this directory, under OpenBLAS's default
# kernel and under OPENBLAS_CORETYPE=SkylakeX, R repeats each. Prints a
# markdown table (median wall times, ratios within this run, peak RSS per
# rank, the OpenBLAS core that ran, each program's realizable identity check)
# for docs/BENCHMARKS.md. Everything runs one after the other: one heavy job
# at a time on the shared machine.
#
#   bench/compare_engines.sh [--n N] [--repeats R] [--scaling] [--out DIR]
#     --n N       samples per split (default 1e6, bench/paper-1e6.ini)
#     --repeats R runs of each program and kernel (default 3)
#     --rng R     the numpy programs' samples: w2s (the same draws as w2s,
#                 default) or numpy (numpy's own Generator, faster)
#     --scaling   instead: n = 2e5 (unless --n), tasks 1000 x weak 10
#                 against tasks 100 x weak 1 (the scaling target), both
#                 on every program
#     --cores L   OpenBLAS kernels, comma-separated, 'default' for unset
#                 (default: default,SkylakeX)
#     --programs L  of factor,direct,w2s,batched,oneqr (default: all there)
#     --np-threads T  OpenBLAS threads of the numpy programs (default 2: the
#                 two cores the two w2s ranks use; w2s gets 1 per rank)
#     --out DIR   keep the runs' files there (default: a fresh temp dir)
# Environment: W2S (default build/w2s), PYTHON (default /usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
W2S=${W2S:-$root/build/w2s}
PYTHON=${PYTHON:-/usr/bin/python3}
n=1e6 n_set=0 rng=w2s repeats=3 scaling=0 cores=default,SkylakeX programs="" np_threads=2 out=""
while (($#)); do
  case $1 in
    --n) n=$2; n_set=1; shift 2 ;;
    --rng) rng=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --scaling) scaling=1; shift ;;
    --cores) cores=$2; shift 2 ;;
    --programs) programs=$2; shift 2 ;;
    --np-threads) np_threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_engines: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$W2S" ] || { echo "compare_engines: no w2s binary at $W2S (set W2S or build)" >&2; exit 2; }
# shellcheck source=/dev/null
source "$root/scripts/env.sh"
out=${out:-$(mktemp -d /tmp/w2s-compare.XXXXXX)}
mkdir -p "$out"

# Which w2s paths exist: fit.engine is an unknown key before the factor engine.
# (The listing is read whole first: grep -q stopping early would SIGPIPE w2s,
# and pipefail would then read that as "no such key".)
keys=$("$W2S" simulate --help-config 2>/dev/null || true)
if grep -q '^ *fit\.engine ' <<< "$keys"; then
  w2s_progs="factor direct"
else
  w2s_progs="w2s"
fi
if [ -z "$programs" ]; then programs="$w2s_progs batched oneqr"; fi
programs=${programs//,/ }
for p in $programs; do
  case " $w2s_progs batched oneqr " in
    *" $p "*) ;;
    *) echo "compare_engines: program '$p' is not available (this w2s has: $w2s_progs)" >&2; exit 2 ;;
  esac
done

# Configurations: label tasks weak n.
if ((scaling)); then
  ((n_set)) || n=2e5
  configs=("T1000xK10 1000 10 $n" "T100xK1 100 1 $n")
else
  configs=("T100xK1 100 1 $n")
fi
ncount=$(printf '%.0f' "$n")

# A config file for K weak models: paper-1e6.ini with [weak.random2]
# replaced by weak.random2_0 .. _{K-1} (the names numpy's programs seed from).
config_for() {
  local tasks=$1 k=$2 f="$out/config-T$1-K$2.ini"
  if ((k == 1)); then
    cp "$here/paper-1e6.ini" "$f"
  else
    awk -v k="$k" '
      /^\[weak\.random2\]/ { skip = 1; for (j = 0; j < k; ++j)
        printf "[weak.random2_%d]\nsource = random\ndepth = 2\nwidth = 16\n\n", j; next }
      skip && /^\[/ { skip = 0 }
      !skip' "$here/paper-1e6.ini" > "$f"
  fi
  sed -i "s/^tasks = .*/tasks = $tasks/" "$f"
  echo "$f"
}

# One run: records "config program core repeat wall rss_rank0[,rss_rank1] blas_core file".
records="$out/records.tsv"
: > "$records"
run_one() {
  local label=$1 tasks=$2 k=$3 prog=$4 core=$5 rep=$6 cfg=$7
  local tag="$label-$prog-$core-$rep" envs=(env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2)
  [ "$core" = default ] || envs=(env OPENBLAS_CORETYPE="$core" OPENBLAS_VERBOSE=2)
  local res cmd
  case $prog in
    factor|direct|w2s)
      res="$out/$tag.h5"
      local sets=(--set "data.n_weak_train=$ncount" --set "data.n_w2s_train=$ncount" --set "data.n_test=$ncount")
      [ "$prog" = w2s ] || sets+=(--set "fit.engine=$prog")
      # /usr/bin/time cannot name its file per rank: a wrapper does (the
      # single quotes are meant: the rank's shell expands them).
      # shellcheck disable=SC2016
      cmd=(mpirun -n 2 sh -c '/usr/bin/time -v -o "$0.time.$OMPI_COMM_WORLD_RANK" "$@"' "$out/$tag" "$W2S" simulate "$cfg" "${sets[@]}" -o "$res" --force -q)
      ;;
    batched|oneqr)
      res="$out/$tag.json"
      cmd=(/usr/bin/time -v -o "$out/$tag.time.0" env OPENBLAS_NUM_THREADS="$np_threads" "$PYTHON" "$here/numpy_$prog.py" --n "$n" --tasks "$tasks" --weak "$k" --rng "$rng" --out "$res" --coef "$out/$tag.npz")
      ;;
  esac
  local t0 t1
  t0=$(date +%s.%N)
  if ! "${envs[@]}" "${cmd[@]}" > "$out/$tag.stdout" 2> "$out/$tag.stderr"; then
    echo "compare_engines: $tag failed; its stderr:" >&2
    tail -20 "$out/$tag.stderr" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  local rss blas
  rss=$(for f in "$out/$tag".time.*; do sed -n 's/.*Maximum resident set size (kbytes): //p' "$f"; done | paste -sd, -)
  blas=$(sed -n 's/^Core: //p' "$out/$tag.stderr" | sort -u | paste -sd/ -)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$prog" "$core" "$rep" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$rss" "${blas:-?}" "$res" >> "$records"
  echo "compare_engines: $tag $(tail -1 "$records" | cut -f5) s" >&2
}

echo "compare_engines: w2s $("$W2S" --version 2>/dev/null | head -1); n = $n; repeats $repeats; files in $out" >&2
for c in "${configs[@]}"; do
  read -r label tasks k _ <<< "$c"
  cfg=$(config_for "$tasks" "$k")
  for rep in $(seq 1 "$repeats"); do   # repeats outermost: drift hits all alike
    for core in ${cores//,/ }; do
      for prog in $programs; do
        run_one "$label" "$tasks" "$k" "$prog" "$core" "$rep" "$cfg"
      done
    done
  done
done
"$PYTHON" "$here/compare_table.py" "$records" --np-threads "$np_threads" --n "$n" --rng "$rng"

# Same draws: each numpy program's heads of its first run against the first
# w2s run of the same configuration and kernel (check_same_draws.py says why
# its tolerance holds). With --rng numpy the heads differ by design.
if [ "$rng" = w2s ]; then
  echo
  echo "Same draws (numpy heads against w2s's /coefficients, first run of each):"
  echo
  echo '```'
  status=0
  # shellcheck disable=SC2094 # awk only reads the records, as the loop does
  while IFS=$'\t' read -r label prog core rep _ _ _ res; do
    case $prog in batched|oneqr) ;; *) continue ;; esac
    [ "$rep" = 1 ] || continue
    ref=$(awk -F'\t' -v l="$label" -v c="$core" '$1 == l && $3 == c && $4 == 1 && $8 ~ /\.h5$/ { print $8; exit }' "$records")
    [ -n "$ref" ] || continue
    echo "$label $core numpy_$prog vs $(basename "$ref"):"
    "$PYTHON" "$here/check_same_draws.py" "$ref" "${res%.json}.npz" || status=1
  done < "$records"
  echo '```'
  ((status == 0)) || { echo "compare_engines: a numpy program's heads differ from w2s's (see above)" >&2; exit 1; }
fi
