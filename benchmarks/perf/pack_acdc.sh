#!/usr/bin/env bash
# Cut an ACDC folder into parts that fit the GPU machine's 64 MiB per call (the SSL4MIS copy is
# 130 MB of float32 h5 files, which compress by 7 % only), with a SHA-256 manifest, into .acdc/
# (ignored by git; never commit data). benchmarks/perf/gpu_window.sh joins them on the machine.
#
#   bash benchmarks/perf/pack_acdc.sh [ACDC_FOLDER] [PART_SIZE]     # default ../shared/data/ACDC, 45M
set -euo pipefail
source=${1:-../shared/data/ACDC}
size=${2:-45M}
if ! [ -f "$source/test.list" ]; then
    echo "no ACDC folder at $source (expected test.list there); pass the folder" >&2
    exit 2
fi
rm -rf .acdc
mkdir -p .acdc
tar -C "$(dirname "$source")" -cf - "$(basename "$source")" | split -b "$size" -d - .acdc/part_
(cd .acdc && sha256sum part_* >manifest.sha256)
ls -l .acdc
echo "carry one part per call (with manifest.sha256 in the last), e.g. carry [\".acdc/part_00\"]"
