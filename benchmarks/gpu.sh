#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run: the SAM and learning tests (on CUDA where they pick
# "auto"), the SAM encoder and per-click benchmarks, automatic masks, and the U-Net training
# benchmark (CPU vs CUDA epochs, then a full training on CUDA). Run from the repository root on a
# machine with a GPU and the package importable (installed, or PYTHONPATH=.):
#     bash benchmarks/gpu.sh [OUTDIR] [DATA]       (DATA: the folder holding dsb2018/)
#     PARTS="tests encoder learn" bash benchmarks/gpu.sh ...   (a subset: tests encoder latency auto sam2 learn)
# The lent machines have torch but not segment_anything (nor pooch, platformdirs, tifffile, imageio,
# threadpoolctl; for SAM 2: sam2, hydra, omegaconf, antlr4, iopath): copy those packages from the local venv into a folder that .git/info/exclude ignores
# (e.g. .devpkgs/), carry it, and run with PYTHONPATH=$PWD:$PWD/.devpkgs.
set -u
out=${1:-.}
data=${2:-$(dirname "$PWD")/shared/data}
parts=${PARTS:-tests encoder latency auto sam2 learn}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
has() { [[ " $parts " == *" $1 "* ]]; }
has tests && python3 -m pytest -q -p no:cacheprovider tests/sam tests/learn -rs 2>&1 | tee "$out/gpu_tests.log" | tail -6
cd benchmarks
has encoder && python3 sam_encoder.py 2>&1 | tee "$out/gpu_sam_encoder.log"
if has latency; then
  for m in vit_b vit_h; do python3 sam_latency.py --device cuda --model $m --clicks 30 2>&1 | tee -a "$out/gpu_sam_latency.log"; done
  # a photo-sized image: set_image resizes it (the 1024 runs above are already at the encoder's size)
  python3 sam_latency.py --device cuda --model vit_b --size 2048 --clicks 10 2>&1 | tee -a "$out/gpu_sam_latency.log"
fi
has auto && python3 sam_auto.py --device cuda --points-per-side 32 2>&1 | tee "$out/gpu_sam_auto.log"
# SAM 2.1 tiny/small beside stock SAM2ImagePredictor / SAM2VideoPredictor; propagation per slice over 50 slices
has sam2 && python3 segment_anything_2.py --device cuda --clicks 30 --slices 50 2>&1 | tee "$out/gpu_sam2.log"
has learn && python3 learn.py --device cuda --gpu-compare-epochs 3 --minutes 2 --data "$data" 2>&1 | tee "$out/gpu_learn.log"
exit 0
