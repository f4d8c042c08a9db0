"""The embedding cache for families whose image state is several tensors (SAM 2's feature pyramid, HQ-SAM's
early ViT features): a mixin over the family's own predictor.

SAM 1's ``CachedSamPredictor`` stores one embedding per image; SAM 2 also needs its two high-resolution
feature maps, and HQ-SAM the first global-attention block's output, or the decoder gives other masks.
Each entry holds every tensor the family's decoder reads, float32 (exact), as one ``.npz`` at
``cache_dir()/embeddings/<digest[:16]>/<key[:2]>/<key>.npz``, written atomically. The key hashes the
family, the weights' digest, the preprocessing and the image, so no family or checkpoint ever reads
another's entry.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import torch

from samis.imageio import atomic_write_bytes
from samis.paths import cache_dir as default_cache_dir
from samis.runners import precision
from samis.runners.embedding_cache import CacheStats, image_key


class FeatureStore:
    """Named float32 arrays per key, on disk (``.npz``) or, with ``root=None``, the last entry in memory."""

    def __init__(self, root: Path | None):
        self.root = Path(root) if root is not None else None
        self._memory: dict[str, dict] = {}

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        if self.root is None:
            return self._memory.get(key)
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # unreadable entry: recompute it
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
        if self.root is None:
            self._memory = {key: arrays}
            return
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(self.path(key), buf.getvalue(), durable=False)


class CachedFeaturesMixin:
    """``set_image`` through the cache for a family predictor; subclasses say what the image state is.

    A subclass implements ``_encode(image)`` (the stock ``set_image``), ``_export() -> dict`` (the
    tensors the decoder reads, after encoding) and ``_restore(arrays, original_size)`` (the stock
    predictor's state from those tensors), and ``original_size``.
    """

    family = ""

    def _init_cache(self, model_digest: str, cache_dir=None, autocast: str | None = None, tag=()) -> None:
        self.model_digest = str(model_digest)
        self.autocast = autocast or None
        self.numerics = precision.numerics(self.device, self.autocast)  # refuses autocast off CUDA
        root = None
        if cache_dir is not False:
            base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
            root = base / "embeddings" / self.model_digest[:16]
        self.store = FeatureStore(root)
        self.stats = CacheStats()
        self._prep_tag = repr((self.family, self.model_digest, tuple(tag), precision.key_tag(self.numerics))).encode()

    def key(self, image: np.ndarray) -> str:
        """Cache key of an RGB uint8 image."""
        return image_key(self._prep_tag, image)

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        if image_format != "RGB":
            image = image[..., ::-1]
        image = np.ascontiguousarray(image)
        key = self.key(image)
        cached = self.store.get(key)
        if cached is not None:
            self.stats.hits += 1
            self._restore({k: torch.from_numpy(v).to(self.device) for k, v in cached.items()}, image.shape[:2])
            return
        self.stats.misses += 1
        t0 = time.perf_counter()
        with precision.encoder_context(self.device, self.autocast):
            self._encode(image)
        arrays = {k: v.detach().float().contiguous() for k, v in self._export().items()}  # as a hit reads them
        self.stats.encoder_seconds += time.perf_counter() - t0
        self._restore(arrays, image.shape[:2])  # the same float32 state as a cache hit gives
        self.store.put(key, {k: v.cpu().numpy() for k, v in arrays.items()})

    def prefetch(self, images, image_format: str = "RGB") -> int:
        """Batched encoding is SAM 1's (``CachedSamPredictor.prefetch``); here each ``set_image`` encodes."""
        return 0

    def flush(self) -> None:
        """Entries are written as they are made: nothing is pending."""
