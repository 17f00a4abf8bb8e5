"""SAM image encoder alone on a GPU: stock fp32 beside the fast paths, same run, same input.

    python benchmarks/sam_encoder.py [--models vit_b vit_h] [--repeats 10]

Times the encoder's forward pass on a preprocessed 1024x1024 input already on the device
(synchronised, median of ``--repeats`` after warm-up), so image resizing and copies are out of the
figure. Variants: stock fp32; fp32 with TF32 matrix products; bf16 autocast (what SamSession uses on
CUDA); SDPA attention in fp32; bf16 autocast + SDPA (``SamSession(sdpa=True)``); the whole encoder
cast to bf16 + SDPA; and the output difference of each to stock.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch


def _time(fn, repeats: int) -> float:
    for _ in range(2):
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
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA GPU")
    from napari_segsuite.sam.accelerate import use_sdpa
    from napari_segsuite.sam.registry import build_model

    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}\n")
    for name in args.models:
        torch.manual_seed(0)
        stock = build_model(name).eval().cuda().image_encoder
        fast = copy.deepcopy(stock)
        use_sdpa(fast)
        x = torch.randn(1, 3, 1024, 1024, device="cuda")

        half = copy.deepcopy(fast).to(torch.bfloat16)

        def run(enc, dtype=None, tf32=False, inp=x):
            def fn():
                torch.backends.cuda.matmul.allow_tf32 = tf32
                with torch.inference_mode(), torch.autocast("cuda", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                    return enc(inp).float()
            return fn

        half_stock = copy.deepcopy(stock).to(torch.bfloat16)
        variants = {
            "stock fp32": run(stock),
            "stock, TF32 matmul": run(stock, tf32=True),
            "bf16 autocast (SamSession)": run(stock, torch.bfloat16),
            "SDPA fp32": run(fast),
            "bf16 autocast + SDPA (sdpa=True)": run(fast, torch.bfloat16),
            "bf16 weights + SDPA": run(half, inp=x.to(torch.bfloat16)),
            "bf16 weights, stock attention": run(half_stock, inp=x.to(torch.bfloat16)),
        }
        ref = variants["stock fp32"]()
        base = None
        print(f"{name}: encoder forward, 1024x1024, median of {args.repeats}")
        for label, fn in variants.items():
            t = _time(fn, args.repeats)
            base = base or t
            out = fn()
            err = (out - ref).abs().max().item() / ref.abs().max().item()
            print(f"  {label:30s} {t * 1000:8.1f} ms   {base / t:5.2f}x   max rel. diff {err:.1e}")
        torch.backends.cuda.matmul.allow_tf32 = False
        del stock, fast, half, half_stock, variants
        torch.cuda.empty_cache()
        print()


if __name__ == "__main__":
    main()
