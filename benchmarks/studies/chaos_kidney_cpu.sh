#!/usr/bin/env bash
# The CHAOS kidney CPU study (docs/results.md): every step resumes from its records, so stop it
# at any time and run it again. Two workers with one torch thread each (2 cores).
#   bash benchmarks/studies/chaos_kidney_cpu.sh /path/to/CHAOS_T2
# or: nox -s benchmark_chaos_kidney_cpu -- /path/to/CHAOS_T2.  ALS (default: alstrategies) and
# WORKERS (default 2) select the command and the pool.
set -euo pipefail
ALS=${ALS:-alstrategies}
WORKERS=${WORKERS:-2}
PRESET=benchmarks/configs/chaos_kidney_cpu.toml
if [ -z "${1:-}" ]; then
  echo "usage: $0 /path/to/CHAOS_T2 (the folder of image_N.nii.gz / label_N.nii.gz)" >&2
  exit 2
fi
export OMP_NUM_THREADS=1
OUT=results/chaos_kidney_cpu
# First Random and the two controls on all ten seeds: whether the run can see an effect at all
# is known before the ranked strategies are spent. Then the preset's remaining strategies.
$ALS run "$PRESET" --data "$1" --out "$OUT" --workers "$WORKERS" \
  --strategies random,random_foreground_oracle,empty_first
$ALS run "$PRESET" --data "$1" --out "$OUT" --workers "$WORKERS"
$ALS status "$OUT"
