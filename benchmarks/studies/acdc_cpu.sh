#!/usr/bin/env bash
# The real-ACDC CPU study (docs/results.md): every step resumes from its records, so stop it at
# any time and run it again. Two workers with one torch thread each (2 cores).
#   ALSTRATEGIES_ACDC_ROOT=/path/to/ACDC bash benchmarks/studies/acdc_cpu.sh
# or: nox -s benchmark_acdc_cpu -- /path/to/ACDC.  ALS (default: alstrategies) and WORKERS
# (default 2) select the command and the pool.
set -euo pipefail
ALS=${ALS:-alstrategies}
WORKERS=${WORKERS:-2}
PRESET=benchmarks/configs/acdc_cpu.toml
PAPER=benchmarks/reference/sbcal_miccai2024_acdc.csv
DATA=()
if [ -n "${1:-}" ]; then DATA=(--data "$1"); fi
export OMP_NUM_THREADS=1

# 1. The paper's seven strategies, both controls and foreground-aware Random: five seeds.
$ALS run "$PRESET" --out results/acdc_cpu "${DATA[@]}" --workers "$WORKERS" --reference "$PAPER" \
    --strategies random,max_entropy,least_confidence,margin,mean_std,vaal,sbc_al,oracle,confident,random_foreground \
    --seeds 0,1,2,3,4
# 2. The rest of the zoo: three seeds.
$ALS run "$PRESET" --out results/acdc_cpu "${DATA[@]}" --workers "$WORKERS" --reference "$PAPER" \
    --strategies bald,power_bald,power_entropy,power_sbc_al,coreset,typiclust,badge \
    --seeds 0,1,2
# 3. The network/query split: each strategy on its paper network, its own round-0 models.
$ALS run "$PRESET" --out results/acdc_cpu_paper "${DATA[@]}" --workers "$WORKERS" --reference "$PAPER" \
    --set 'protocol.networks="paper"' --set protocol.include_full=false \
    --strategies random,sbc_al --seeds 0,1,2,3,4
# 4. The ASR ablation of the 100 % model (paper Table 3), one folder per variant.
$ALS run benchmarks/configs/ablation_asr_cpu.toml --out results/ablation_asr_cpu "${DATA[@]}" \
    --workers "$WORKERS" --reference benchmarks/reference/sbcal_miccai2024_acdc_asr.csv
# 5. The decomposition (network_query_split.*) and the ablation table (each run wrote its report).
$ALS report results/acdc_cpu results/acdc_cpu_paper --reference "$PAPER"
$ALS report results/ablation_asr_cpu --reference benchmarks/reference/sbcal_miccai2024_acdc_asr.csv
$ALS status results/acdc_cpu
