#!/usr/bin/env bash
# SBC-AL's gain over Random split into the network's and the query's part, each network under
# its own calibrated round-0 schedule (issue 25, item 3; docs/results.md). Every step resumes
# from its records. Two workers with one torch thread each (2 cores).
#   bash benchmarks/studies/acdc_split_cpu.sh /path/to/ACDC
# ALS (default: alstrategies) and WORKERS (default 2) select the command and the pool.
set -euo pipefail
ALS=${ALS:-alstrategies}
PY=${PY:-python}
WORKERS=${WORKERS:-2}
PRESET=benchmarks/configs/acdc_cpu.toml
CAL=results/acdc_split_calibration
OUT=results/acdc_split_cpu
SEEDS=0,1,2,3,4,5,6,7
DATA=()
if [ -n "${1:-}" ]; then DATA=(--data "$1"); fi
export OMP_NUM_THREADS=1
ROUND0_ONLY=(--set protocol.final_fraction=0.0667 --set protocol.include_full=false --strategies random)
PLAIN=(--set 'protocol.networks="paper"')   # Random trains the plain U-Net (heads "plain")

# 1. Round-0-only runs: each network, 500, 1000 and 2000 cold iterations, seeds 0-2.
for n in 500 1000 2000; do
  $ALS run "$PRESET" --out "$CAL/sbc_$n" "${DATA[@]}" --workers "$WORKERS" --seeds 0,1,2 \
    "${ROUND0_ONLY[@]}" --set "train.initial_iterations=$n"
  $ALS run "$PRESET" --out "$CAL/plain_$n" "${DATA[@]}" --workers "$WORKERS" --seeds 0,1,2 \
    "${ROUND0_ONLY[@]}" "${PLAIN[@]}" --set "train.initial_iterations=$n"
done
# 2. One criterion for both: the smallest N whose doubling adds less than 2 Dice points.
$PY -m benchmarks.calibration.convergence "$CAL"/sbc_* "$CAL"/plain_* --out "$CAL/round0_convergence.csv" \
  | tee "$CAL/round0_convergence.md"
N_SBC=$($PY -m benchmarks.calibration.convergence "$CAL"/sbc_* --choice sbc)
N_PLAIN=$($PY -m benchmarks.calibration.convergence "$CAL"/plain_* --choice plain)
# 3. SBCNet's run (Random and SBC-AL): results/acdc_cpu itself when its preset's round 0 is the
#    calibrated one, else a run of its own; the U-Net's Random under its own round 0.
SHARED=results/acdc_cpu
if [ "$N_SBC" != "$(grep -E '^initial_iterations' "$PRESET" | grep -oE '[0-9]+' | head -1)" ]; then
  SHARED=$OUT/sbcnet
  $ALS run "$PRESET" --out "$SHARED" "${DATA[@]}" --workers "$WORKERS" --seeds "$SEEDS" \
    --set protocol.include_full=false --set "train.initial_iterations=$N_SBC" --strategies random,sbc_al
else
  $ALS run "$PRESET" --out "$SHARED" "${DATA[@]}" --workers "$WORKERS" --strategies random,sbc_al
fi
$ALS run "$PRESET" --out "$OUT/unet" "${DATA[@]}" --workers "$WORKERS" --seeds "$SEEDS" \
  --set protocol.include_full=false "${PLAIN[@]}" --set "train.initial_iterations=$N_PLAIN" --strategies random
# 4. The split (network_query_split.{md,csv} in the U-Net's folder).
$ALS report "$SHARED" "$OUT/unet"
