#!/usr/bin/env bash
# The real-ACDC CPU study (docs/results.md): every step resumes from its records, so stop it at
# any time and run it again. Two workers with one torch thread each (2 cores).
#   ALSTRATEGIES_ACDC_ROOT=/path/to/ACDC bash benchmarks/studies/acdc_cpu.sh
# or: bash benchmarks/studies/acdc_cpu.sh /path/to/ACDC, or nox -s benchmark_acdc_cpu -- PATH.
# ALS (default: alstrategies) and WORKERS (default 2) select the command and the pool.
set -euo pipefail
ALS=${ALS:-alstrategies}
WORKERS=${WORKERS:-2}
PRESET=benchmarks/configs/acdc_cpu.toml
PAPER=benchmarks/reference/sbcal_miccai2024_acdc.csv
OUT=results/acdc_cpu
DATA=()
if [ -n "${1:-}" ]; then DATA=(--data "$1"); fi
export OMP_NUM_THREADS=1

# 1. Random and the negative control on the preset's eight seeds: whether the run separates a
#    control at all is known before the ranked strategies are spent (ACDC has no valid positive
#    control: 96.7 % of its pool slices hold foreground).
$ALS run "$PRESET" --out "$OUT" "${DATA[@]}" --workers "$WORKERS" --reference "$PAPER" \
    --strategies random,confident
# 2. The ranked family, eight seeds (the preset's strategies).
$ALS run "$PRESET" --out "$OUT" "${DATA[@]}" --workers "$WORKERS" --reference "$PAPER"
# 3. The paper's other baselines, five seeds: exploratory, outside the Holm family.
$ALS run "$PRESET" --out "$OUT" "${DATA[@]}" --workers "$WORKERS" --reference "$PAPER" \
    --strategies max_entropy,margin,mean_std,vaal --seeds 0,1,2,3,4
$ALS status "$OUT"
