#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run: the SAM tests (the CUDA one included) and the SAM
# GPU benchmarks. Run from the repository root on a machine with a GPU and the package importable
# (installed, or PYTHONPATH=.):   bash benchmarks/gpu.sh [OUTDIR]
set -u
out=${1:-.}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pytest -q -p no:cacheprovider tests/sam -x -rs 2>&1 | tee "$out/gpu_tests.log" | tail -5
cd benchmarks
for m in vit_b vit_h; do
  python3 sam_latency.py --device cuda --model $m --clicks 30 2>&1 | tee -a "$out/gpu_sam_latency.log"
done
python3 sam_auto.py --device cuda --points-per-side 32 2>&1 | tee "$out/gpu_sam_auto.log"
