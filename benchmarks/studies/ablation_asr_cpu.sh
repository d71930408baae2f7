#!/usr/bin/env bash
# The ASR ablation (paper Table 3) at CPU scale, fairly (issue 25, item 4; docs/results.md):
# every variant's 100 % model cold, the same seeds, one schedule calibrated to convergence.
# Every step resumes from its records. Two workers with one torch thread each (2 cores).
#   bash benchmarks/studies/ablation_asr_cpu.sh /path/to/ACDC
# ALS (default: alstrategies), PY (default: python) and WORKERS (default 2).
set -euo pipefail
ALS=${ALS:-alstrategies}
PY=${PY:-python}
WORKERS=${WORKERS:-2}
PRESET=benchmarks/configs/ablation_asr_cpu.toml
CAL=results/ablation_asr_calibration
REFERENCE=benchmarks/reference/sbcal_miccai2024_acdc_asr.csv
DATA=()
if [ -n "${1:-}" ]; then DATA=(--data "$1"); fi
export OMP_NUM_THREADS=1
# 1. SBCNet's cold 100 % model (acdc_cpu.toml's) at 1000, 2000 and 4000 iterations, seeds 0 and
#    1 (each length a training of its own: the lr cooldown depends on it), then the criterion.
for n in 1000 2000 4000; do
  $ALS run benchmarks/configs/acdc_cpu.toml --out "$CAL/full_$n" "${DATA[@]}" --workers "$WORKERS" \
    --seeds 0,1 --strategies random --set protocol.final_fraction=0.0667 --set "train.full_iterations=$n"
done
$PY -m benchmarks.calibration.convergence "$CAL"/full_* --stage full --out "$CAL/full_convergence.csv" \
  | tee "$CAL/full_convergence.md"
N=$($PY -m benchmarks.calibration.convergence "$CAL"/full_* --stage full --choice sbc)
# 2. The four variants at that length.
$ALS run "$PRESET" --out results/ablation_asr_cpu "${DATA[@]}" --workers "$WORKERS" \
  --set "train.full_iterations=$N" --reference "$REFERENCE"
$ALS report results/ablation_asr_cpu --reference "$REFERENCE"
