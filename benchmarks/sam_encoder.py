"""SAM image encoder alone on a GPU: stock fp32 beside the fast paths, same run, same input.

    python benchmarks/sam_encoder.py [--models vit_b vit_h] [--repeats 10]

Times the encoder's forward pass on a preprocessed 1024x1024 input already on the device
(synchronised, median of ``--repeats`` after warm-up), so image resizing and copies are out of the
figure. Variants: stock fp32; fp32 with TF32 matrix products; bf16 autocast with stock attention;
bf16 autocast + SDPA with the relative-position bias as a dense mask, or folded into the dot product
(also with one fused kernel forced); the whole encoder cast to bf16,
with stock or folded-SDPA attention; fp32 + folded SDPA; the folded bf16 path captured as a CUDA graph (what SamSession runs on CUDA);
and the output difference of each to stock.
"""

from __future__ import annotations

import argparse
import copy
import functools
import statistics
import time
import warnings

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

_ALL = [SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def _time(fn, repeats: int) -> float:
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["vit_b", "vit_h"])
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message=".*(kernel not used|runtime disabled|requires query).*")
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU")
    from napari_segsuite.sam.accelerate import GraphedEncoder, use_sdpa
    from napari_segsuite.sam.registry import build_model

    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}\n")
    for name in args.models:
        torch.manual_seed(0)
        stock = build_model(name).eval().cuda().image_encoder
        folded = copy.deepcopy(stock)
        use_sdpa(folded, "folded")
        masked = copy.deepcopy(stock)
        use_sdpa(masked, "mask")
        half_folded = copy.deepcopy(folded).to(torch.bfloat16)
        half_stock = copy.deepcopy(stock).to(torch.bfloat16)
        x = torch.randn(1, 3, 1024, 1024, device="cuda")

        def run(enc, dtype=None, tf32=False, inp=x, backend=None):
            def fn():
                torch.backends.cuda.matmul.allow_tf32 = tf32
                with (torch.inference_mode(), sdpa_kernel(backend or _ALL),
                      torch.autocast("cuda", dtype=dtype or torch.bfloat16, enabled=dtype is not None)):
                    return enc(inp).float()
            return fn

        xb = x.to(torch.bfloat16)

        variants = {
            "stock fp32": run(stock),
            "stock, TF32 matmul": run(stock, tf32=True),
            "bf16 autocast, stock attention": run(stock, torch.bfloat16),
            "bf16 autocast + SDPA, bias as mask": run(masked, torch.bfloat16),
            "bf16 autocast + SDPA, bias folded": run(folded, torch.bfloat16),
            "  the same, flash kernel only": run(folded, torch.bfloat16, backend=[SDPBackend.FLASH_ATTENTION]),
            "  the same, cuDNN kernel only": run(folded, torch.bfloat16, backend=[SDPBackend.CUDNN_ATTENTION]),
            "  the same, memory-efficient kernel only": run(folded, torch.bfloat16, backend=[SDPBackend.EFFICIENT_ATTENTION]),
            "bf16 weights, stock attention": run(half_stock, inp=xb),
            "bf16 weights + SDPA, bias folded": run(half_folded, inp=xb),
            "fp32 + SDPA, bias folded": run(folded),
        }
        try:
            variants["bf16 autocast + SDPA, bias folded, CUDA graph (SamSession)"] = functools.partial(GraphedEncoder(folded, 1024, x.device), x)
        except RuntimeError as exc:
            print(f"  (CUDA graph not captured: {str(exc).splitlines()[0][:100]})")
        ref = variants["stock fp32"]()
        base = None
        print(f"{name}: encoder forward, 1024x1024, median of {args.repeats}")
        for label, fn in variants.items():
            try:
                t = _time(fn, args.repeats)
            except RuntimeError as exc:  # a forced kernel that does not take these shapes
                print(f"  {label:56s} not run: {str(exc).splitlines()[0][:80]}")
                continue
            base = base or t
            out = fn()
            err = (out - ref).abs().max().item() / ref.abs().max().item()
            print(f"  {label:56s} {t * 1000:8.1f} ms   {base / t:5.2f}x   max rel. diff {err:.1e}")
        torch.backends.cuda.matmul.allow_tf32 = False
        del stock, folded, masked, half_folded, half_stock, variants
        torch.cuda.empty_cache()
        print()


if __name__ == "__main__":
    main()
