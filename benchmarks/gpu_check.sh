#!/usr/bin/env bash
# The GPU check (issue 19): run it on a machine with a GPU and record the figures in
# benchmarks/RESULTS.md.
#
#   benchmarks/gpu_check.sh [OUT]          # PYTHON=... for an interpreter with a CUDA torch
#
# 1. the gpu-marked tests (deselected everywhere else);
# 2. one timed epoch of each recipe on CIFAR-10-shaped generated data on one GPU, then with
#    2 processes (on 2 GPUs, or sharing the one GPU there is: gloo then);
# 3. spectral propagation, η = 200, on 50,000 points: CPU against GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-gpu_check}
mkdir -p "$OUT"
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: $PY sees no CUDA device; run it where there is one (PYTHON=...)" >&2
    exit 1
fi
"$PY" -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0), torch.cuda.device_count(), 'GPU(s)')" | tee "$OUT/device.txt"
"$PY" -m pytest -m gpu -q -p no:cacheprovider tests 2>&1 | tee "$OUT/gpu_tests.txt"
(cd benchmarks && "$PY" recipe_epochs.py --device cuda --n "${N_IMAGES:-20000}" --procs 1 2 \
    --out "../$OUT/recipe_epochs.json") 2>&1 | tee "$OUT/recipe_epochs.txt"
(cd benchmarks && "$PY" spectral_device.py --n 50000 --eta 200 --out "../$OUT/spectral.json") \
    2>&1 | tee "$OUT/spectral.txt"
