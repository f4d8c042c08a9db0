"""What one grid point of the fast automatic generator costs, against what this CPU can do.

Counts, for one batch of grid points through samis' fast decoder exactly as ``FastSamAutomaticMaskGenerator``
runs it (the two-way transformer for the IoU token and the three multimask tokens, the IoU head, the
mask upscaling of the three masks, and the separable resize to the image), the floating-point
operations (``torch.utils.flop_counter``: matrix products and convolutions, i.e. nearly all of the
arithmetic) and the bytes every operation writes (a dispatch mode summing output sizes; reads are of
the same order). Then measures, in the same process and with the same threads, the time per point,
this machine's fp32 matrix-product rate (large ``torch.mm``) and copy bandwidth, and prints how far
the measured time is from the lower bound that arithmetic and memory traffic set.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_decoder_roofline.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class BytesWritten(TorchDispatchMode):
    """Sum of the sizes of every tensor an operation returns (views excluded)."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not (func._schema.name.startswith("aten::view") or "alias" in func._schema.name
                or func._schema.name in ("aten::t", "aten::transpose.int", "aten::permute", "aten::expand",
                                         "aten::unsqueeze", "aten::slice.Tensor", "aten::select.int",
                                         "aten::_unsafe_view", "aten::reshape", "aten::detach")):
            for t in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(t, torch.Tensor):
                    self.bytes += t.numel() * t.element_size()
        return out


def _bmm_flop(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """Multiply-adds of ``self += a @ b`` (B x M x K times B x K x N), counted as two operations each."""
    b, m, k = a_shape
    return 2 * b * m * k * b_shape[-1]


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64, help="grid points per decoder call (the generator's default)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = ap.parse_args(argv)

    from samis.imageio import read_rgb
    from samis.models import load_sam
    from samis.runners import fast_decoder as fd
    from samis.runners.embedding_cache import CachedSamPredictor

    sam, digest = load_sam("vit_t", device="cpu")
    sam.requires_grad_(False)  # the FLOP counter's module hooks expect no autograd state
    pred = CachedSamPredictor(sam, digest)  # the user's embedding cache: the encoder is not what is measured
    image = read_rgb(sorted((args.shared / "datasets" / "SD-saliency-900" / "Source Images").glob("*.bmp"))[0])
    pred.set_image(image)
    state = fd.image_state(pred)
    side = int(np.ceil(np.sqrt(args.batch)))
    grid = (np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)[: args.batch] + 0.5) / side
    coords = pred.transform.apply_coords(grid * np.array(image.shape[1::-1]), image.shape[:2])
    pts = torch.as_tensor(coords, dtype=torch.float32)[:, None, :]
    labels = torch.ones(len(pts), 1, dtype=torch.int64)
    tokens = [1, 2, 3]

    def decode():
        with torch.no_grad():
            sparse, _ = sam.prompt_encoder(points=(pts, labels), boxes=None, masks=None)
            hs, keys = fd.decode_tokens(sam, state, sparse, [0] + [1 + i for i in tokens])
            fd.iou_predictions(sam, hs[:, 0])
            low = fd.mask_logits(sam, state, hs[:, 1:], keys, tokens)
            return fd.resize_logits(sam, low.flatten(0, 1), pred.input_size, pred.original_size)

    decode()
    # the in-place baddbmm_ (logits accumulated onto their per-image part) has no formula of its own
    counter = FlopCounterMode(display=False, custom_mapping={torch.ops.aten.baddbmm_: _bmm_flop})
    with counter:
        decode()
    writes = BytesWritten()
    with writes:
        decode()
    flops, nbytes = counter.get_total_flops() / len(pts), writes.bytes / len(pts)
    per_point = best_of(decode, args.repeat) / len(pts)

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    gemm = 2 * 2048**3 / best_of(lambda: torch.mm(a, b), args.repeat)
    big = torch.randn(64 * 2**20 // 4)
    dst = torch.empty_like(big)
    bandwidth = 2 * big.numel() * 4 / best_of(lambda: dst.copy_(big), args.repeat)  # read + write

    bound = max(flops / gemm, 2 * nbytes / bandwidth)
    print(f"vit_t fast decoder, {len(pts)} points per call, {torch.get_num_threads()} threads, image {image.shape[1]}x{image.shape[0]}")
    print(f"per point: {flops / 1e6:.0f} MFLOP, {nbytes / 2**20:.1f} MiB written; measured {per_point * 1e3:.1f} ms "
          f"({flops / per_point / 1e9:.1f} GFLOP/s)")
    print(f"this CPU: fp32 matrix product {gemm / 1e9:.1f} GFLOP/s, copy {bandwidth / 1e9:.1f} GB/s")
    print(f"lower bound per point: arithmetic {flops / gemm * 1e3:.1f} ms, memory {2 * nbytes / bandwidth * 1e3:.1f} ms "
          f"(read + write); measured / bound = {per_point / bound:.2f}")
    print("by operation (MFLOP per point):")
    for op, n in sorted(counter.get_flop_counts().get("Global", {}).items(), key=lambda kv: -kv[1]):
        print(f"  {str(op):<28} {n / len(pts) / 1e6:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
