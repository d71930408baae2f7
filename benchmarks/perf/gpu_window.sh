#!/usr/bin/env bash
# Short GPU windows, prepared so that they work first time (benchmarks/perf/README.md, "GPU
# windows"). Run on the GPU machine in the repository root; writes what should come back
# under $OUT.
#
#   bash benchmarks/perf/gpu_window.sh throughput          the GPU throughput figures (~3 min)
#   bash benchmarks/perf/gpu_window.sh stash               keep the carried ACDC parts only
#   bash benchmarks/perf/gpu_window.sh acdc [SECONDS] [CHAINS_PER_GPU] [RUN OPTIONS...]
#                                                          advance results/acdc for SECONDS
#
# Every phase first installs the project offline (the machine has torch and the other
# dependencies) and moves any carried ACDC archive parts (.acdc/part_*, made here by
# benchmarks/perf/pack_acdc.sh: the data are 130 MB, a call carries at most 64 MiB) to
# /tmp/acdc_parts, which lasts as long as the machine stays warm. `acdc` unpacks them once all
# parts listed in the manifest are there (or uses $ALSTRATEGIES_ACDC_ROOT), resumes the
# paper-protocol run in results/acdc with CHAINS_PER_GPU chains (default 4) packed on the GPU,
# kills it at the deadline (records are atomic: the next window resumes), writes the report and
# returns the run folder without checkpoints as $OUT/acdc_run.tar.gz.
set -uo pipefail
phase=${1:-throughput}
start=$(date +%s)
out=${OUT:-/tmp/gpu_window_out}
mkdir -p "$out"
say() { echo "[$(($(date +%s) - start))s] $*" | tee -a "$out/window.log"; }

if ! python3 -m pip show -q alstrategies >/dev/null 2>&1; then
    if ! python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1; then
        say "offline install failed (see install.log)"
        exit 1
    fi
fi
export PYTHONUNBUFFERED=1 ALSTRATEGIES_CACHE=/tmp/alstrategies-cache
mkdir -p /tmp/acdc_parts
if compgen -G ".acdc/part_*" >/dev/null || [ -f .acdc/manifest.sha256 ]; then
    cp .acdc/* /tmp/acdc_parts/ && say "stashed $(ls .acdc | tr '\n' ' ')"
fi

case "$phase" in
throughput)
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/device.csv" 2>&1
    say "device: $(tail -n 1 "$out/device.csv"); torch $(python3 -c 'import torch; print(torch.__version__)')"
    timeout 300 python3 -m benchmarks.perf.gpu_throughput --chains 1,2,4 --json "$out/gpu_throughput.json" \
        >>"$out/window.log" 2>&1 || say "throughput benchmark failed or timed out"
    timeout 120 python3 -m pytest -q benchmarks/perf/test_sbcal_perf.py --benchmark-only -s -k cuda \
        >"$out/sbcal_query.log" 2>&1 || say "sbc_al query benchmark failed"
    ;;
stash) ;;
acdc)
    seconds=${2:-480}
    chains=${3:-4}
    root=${ALSTRATEGIES_ACDC_ROOT:-}
    if [ -z "$root" ] && [ -f /tmp/acdc/ACDC/test.list ]; then root=/tmp/acdc/ACDC; fi
    if [ -z "$root" ]; then
        if ! [ -f /tmp/acdc_parts/manifest.sha256 ] || ! (cd /tmp/acdc_parts && sha256sum -c --quiet manifest.sha256); then
            say "ACDC parts missing or incomplete in /tmp/acdc_parts: carry the rest of .acdc first"
            exit 2
        fi
        mkdir -p /tmp/acdc && cat /tmp/acdc_parts/part_* | tar -x -C /tmp/acdc && root=/tmp/acdc/ACDC
    fi
    run_seconds=$((seconds - ($(date +%s) - start) - 40))
    say "ACDC paper protocol from $root for ${run_seconds}s, ${chains} chains on the GPU, resuming results/acdc"
    setsid python3 -m alstrategies run benchmarks/configs/acdc.toml --data "$root" --out results/acdc \
        --set executor.chains_per_gpu="$chains" "${@:4}" >"$out/acdc_run.log" 2>&1 &
    group=$!
    deadline=$(($(date +%s) + run_seconds))
    while kill -0 "$group" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 5; done
    if kill -0 "$group" 2>/dev/null; then
        kill -KILL -- "-$group" 2>/dev/null
        say "ACDC run stopped at the deadline (resumable)"
    fi
    wait "$group" 2>/dev/null
    timeout 30 python3 -m alstrategies report results/acdc --reference benchmarks/reference/sbcal_miccai2024_acdc.csv \
        >>"$out/window.log" 2>&1 || say "report failed"
    tar -czf "$out/acdc_run.tar.gz" --exclude=checkpoints --exclude='*.npz' --exclude='*.tmp*' results/acdc
    python3 -m alstrategies status results/acdc >>"$out/window.log" 2>&1
    say "done: $(find results/acdc -name 'round*.json' | wc -l) round records in results/acdc"
    ;;
*)
    say "unknown phase $phase: throughput, stash or acdc"
    exit 2
    ;;
esac
