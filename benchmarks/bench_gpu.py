"""GPU figures in one run: encoder throughput, bf16 agreement, automatic generator speed.

Measures, on the device it finds (CUDA when present):

1. the image encoder's images/s at batch 1, 8 and 32, float32 (exact: TF32 off) and under bf16
   autocast, for ``vit_t`` (real weights) and the ``vit_h`` architecture (seeded random weights:
   timing only); CUDA events, warm-up, median of repeats; a batch that does not fit is recorded as
   ``oom``;
2. on SD-saliency-900 test images, how far bf16 box-mode maps are from float32 ones: the share of
   binary pixels (map >= 128) that differ and the mean / largest absolute grey-level difference;
3. the automatic generator at 32 x 32 points, stock and fast, seconds per image (embedding cached,
   timed apart);
4. the device's name and the torch version.

It writes ``bench_gpu.json`` and ``bench_gpu.md`` (a short table) into ``--out``. ``--small`` runs
every step at a size a CPU finishes in minutes (batches 1 and 2, 2 images, 4 x 4 points, ``vit_b``
for the large architecture, CPU bf16 autocast), so the GPU run cannot fail on a typo; without a GPU
``--small`` is the default.

    .venv/bin/python benchmarks/bench_gpu.py --out results/bench-gpu             # on the GPU machine
    .venv/bin/python benchmarks/bench_gpu.py --small --out /tmp/bench-gpu        # the CPU rehearsal
    # no ../shared on the machine: --data-root <folder with SD-saliency-900/>; weights: --checkpoint vit_t.pt
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from samis.runners import precision  # noqa: E402


def bf16_context(device):
    """bf16 for the encoder: samis's own CUDA path; CPU autocast in the CPU rehearsal."""
    if device.type == "cuda":
        return precision.encoder_context(device, "bf16")
    return torch.autocast(device.type, dtype=torch.bfloat16)


class Clock:
    """Elapsed seconds of a block: CUDA events on a GPU, the wall clock elsewhere."""

    def __init__(self, device):
        self.device = device

    def time(self, fn) -> float:
        if self.device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(self.device)
            return start.elapsed_time(end) / 1000.0
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0


def random_encoder(name: str, device, seed: int = 0):
    """The image encoder of ``name`` with seeded random weights, built on the meta device, filled on ``device``."""
    from samis.models.build import build_model

    with torch.device("meta"):
        encoder = build_model(name).image_encoder
    encoder = encoder.to_empty(device=device).eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for t in list(encoder.parameters()) + list(encoder.buffers()):
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen, device=device, dtype=t.dtype) * 0.02)
    return encoder


@torch.no_grad()
def encoder_throughput(encoder, device, batches, repeats, warmup) -> dict:
    """``{precision: {batch: images/s or "oom"}}``, median of ``repeats`` timed calls after ``warmup``."""
    clock = Clock(device)
    size = encoder.img_size
    out = {}
    for name, ctx in (("fp32", contextlib.nullcontext), ("bf16", lambda: bf16_context(device))):
        out[name] = {}
        for b in batches:
            try:
                x = torch.randn(b, 3, size, size, device=device)

                def run():
                    with ctx():
                        encoder(x)

                for _ in range(warmup):
                    clock.time(run)
                times = [clock.time(run) for _ in range(repeats)]
                out[name][b] = round(b / statistics.median(times), 3)
            except torch.OutOfMemoryError:
                out[name][b] = "oom"
            finally:
                x = None
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    return out


def test_samples(data_root: Path, n: int) -> list:
    """``n`` SD-saliency-900 test images spread over the (category-sorted) split."""
    from samis.datasets import get_dataset

    samples = get_dataset("sd900", root=data_root, split="test").samples()
    step = max(1, len(samples) // n)
    return samples[::step][:n]


@torch.no_grad()
def box_agreement(sam, digest, samples, device) -> dict:
    """bf16 against float32 box-mode maps: binary pixels that differ, grey-level differences."""
    from samis.backends import get_backend
    from samis.runners.config import normalize
    from samis.runners.embedding_cache import CachedSamPredictor
    from samis.runners.prompted import prompted_map

    backend = get_backend("vit_t")
    cfg = normalize({"mode": "box"})
    exact = CachedSamPredictor(sam, digest, cache_dir=False)
    if device.type == "cuda":
        reduced, ctx = CachedSamPredictor(sam, digest, cache_dir=False, autocast="bf16"), contextlib.nullcontext
    else:  # the CPU rehearsal: CPU autocast around a float32 predictor of its own
        reduced, ctx = CachedSamPredictor(sam, digest, cache_dir=False), lambda: bf16_context(device)
    differ = total = 0
    grey_sum, grey_max = 0.0, 0
    for s in samples:
        image, gt = s.load_image(), s.load_mask()
        exact.set_image(image)
        with ctx():
            reduced.set_image(image)
        a = prompted_map(backend, exact, gt, cfg, s.stem)[0].astype(np.int16)
        b = prompted_map(backend, reduced, gt, cfg, s.stem)[0].astype(np.int16)
        differ += int(((a >= 128) != (b >= 128)).sum())
        total += a.size
        grey_sum += float(np.abs(a - b).sum())
        grey_max = max(grey_max, int(np.abs(a - b).max()))
    return {"images": len(samples), "binary_pixels_differ": differ / total, "binary_agreement": 1 - differ / total,
            "grey_mean_abs_diff": grey_sum / total, "grey_max_abs_diff": grey_max}


@torch.no_grad()
def automatic_speed(sam, digest, samples, device, points_per_side) -> dict:
    """Seconds per image of the stock and fast generators on a cached embedding, and the embedding's time."""
    from segment_anything import SamAutomaticMaskGenerator

    from samis.runners.embedding_cache import CachedSamPredictor
    from samis.runners.fast_amg import FastSamAutomaticMaskGenerator, mask_agreement

    clock = Clock(device)
    predictor = CachedSamPredictor(sam, digest, cache_dir=False)
    times = {"encoder": [], "stock": [], "fast": []}
    agree = []
    for s in samples:
        image = s.load_image()
        times["encoder"].append(clock.time(lambda: predictor.set_image(image)))
        out = {}
        for name, cls in (("stock", SamAutomaticMaskGenerator), ("fast", FastSamAutomaticMaskGenerator)):
            gen = cls(sam, points_per_side=points_per_side, output_mode="binary_mask")
            gen.predictor = predictor  # cached embedding: set_image is a hit
            times[name].append(clock.time(lambda: out.__setitem__(name, gen.generate(image))))
        agree.append(mask_agreement(out["stock"], out["fast"]))
    return {"points_per_side": points_per_side, "images": len(samples),
            **{f"{k}_s_per_image": round(statistics.median(v), 4) for k, v in times.items()},
            "fast_speedup": round(statistics.median(times["stock"]) / statistics.median(times["fast"]), 3),
            "same_masks": all(a["same_count"] and a["min_iou"] > 0.99 for a in agree)}


def table(result: dict) -> str:
    lines = [f"# bench_gpu: {result['device_name']} (torch {result['torch']}, {result['date']})", "",
             "| model | precision | " + " | ".join(f"batch {b} img/s" for b in result["batches"]) + " |",
             "|---|---|" + "---|" * len(result["batches"])]
    for model, per in result["encoder"].items():
        for prec, row in per.items():
            lines.append(f"| {model} | {prec} | " + " | ".join(str(row.get(b, row.get(str(b)))) for b in result["batches"])
                         + " |")
    box = result["box_bf16_vs_fp32"]
    auto = result["automatic"]
    lines += ["", f"bf16 vs fp32 box maps on {box['images']} SD-saliency-900 images: "
              f"{100 * box['binary_agreement']:.3f}% binary pixels agree, grey levels differ by "
              f"{box['grey_mean_abs_diff']:.3f} on average (largest {box['grey_max_abs_diff']}).",
              f"Automatic {auto['points_per_side']}x{auto['points_per_side']} on {auto['images']} images: stock "
              f"{auto['stock_s_per_image']} s/img, fast {auto['fast_s_per_image']} s/img "
              f"({auto['fast_speedup']}x, same masks: {auto['same_masks']}); encoder {auto['encoder_s_per_image']} s/img."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "results" / "bench-gpu")
    ap.add_argument("--small", action="store_true", help="the CPU rehearsal size (default without a GPU)")
    ap.add_argument("--device", default=None, help="cuda, cuda:N or cpu [cuda when present]")
    ap.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "datasets",
                    help="the folder holding SD-saliency-900/")
    ap.add_argument("--checkpoint", default=None, help="a vit_t state dict (default: `samis models install vit_t`)")
    ap.add_argument("--large", default=None, help="the large architecture timed with random weights [vit_h; small: vit_b]")
    ap.add_argument("--box-images", type=int, default=None, help="[50; small: 2]")
    ap.add_argument("--auto-images", type=int, default=None, help="[3; small: 1]")
    args = ap.parse_args(argv)

    from samis.models import load_sam, resolve_device

    device = resolve_device(args.device)
    small = args.small or device.type != "cuda"
    batches = [1, 2] if small else [1, 8, 32]
    repeats, warmup = (1, 0) if small else (5, 2)
    large = args.large or ("vit_b" if small else "vit_h")
    n_box = args.box_images or (2 if small else 50)
    n_auto = args.auto_images or (1 if small else 3)
    pps = 4 if small else 32
    args.out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    result = {
        "device": str(device), "small": small, "batches": batches, "repeats": repeats, "warmup": warmup,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or "cpu"),
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d", time.gmtime()), "encoder": {},
    }
    with precision.run_context(device):  # float32 is exact float32 (TF32 off), as in samis runs
        sam, digest = load_sam("vit_t", checkpoint=args.checkpoint, device=device)
        print(f"encoder throughput on {result['device_name']} ...", flush=True)
        result["encoder"]["vit_t"] = encoder_throughput(sam.image_encoder, device, batches, repeats, warmup)
        big = random_encoder(large, device)
        result["encoder"][f"{large} (random weights)"] = encoder_throughput(big, device, batches, repeats, warmup)
        del big
        if device.type == "cuda":
            torch.cuda.empty_cache()
        samples = test_samples(args.data_root, max(n_box, n_auto))
        print(f"bf16 vs fp32 box maps on {n_box} images ...", flush=True)
        result["box_bf16_vs_fp32"] = box_agreement(sam, digest, samples[:n_box], device)
        print(f"automatic {pps}x{pps} stock vs fast on {n_auto} images ...", flush=True)
        result["automatic"] = automatic_speed(sam, digest, samples[:n_auto], device, pps)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (args.out / "bench_gpu.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "bench_gpu.md").write_text(table(result))
    print(table(result))
    print(f"written: {args.out / 'bench_gpu.json'}, {args.out / 'bench_gpu.md'} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
