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

import time
from pathlib import Path

import numpy as np
import torch

from samis.paths import cache_dir as default_cache_dir
from samis.runners import precision
from samis.runners.embedding_cache import CacheStats, EmbeddingStore, image_key


class FeatureStore(EmbeddingStore):
    """Named float32 arrays per key, on disk (one ``.npz``) or, with ``root=None``, the last entry in memory."""

    suffix = ".npz"

    @staticmethod
    def _float32(arrays):
        return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}

    @staticmethod
    def _read(path: Path):
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}

    @staticmethod
    def _write(buf, arrays) -> None:
        np.savez(buf, **arrays)


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


class PackagedBackend:
    """What the backends of families shipped as their authors' packages (SAM 2.1, HQ-SAM) share:
    the architecture from the package (``build``), a checkpoint checked by shape and pinned at first
    use, and the package's predictor over this embedding cache (``predictor_class()``)."""

    family = ""

    def load(self, name: str, checkpoint=None, device=None):
        """``(model, digest)``: the variant with its checkpoint (shape-checked, pinned at first use)."""
        from samis.models.loading import resolve_device
        from samis.models.pinned import load_pinned
        from samis.models.registry import get_spec

        model = self.build(name)
        digest = load_pinned(get_spec(name), checkpoint, model)
        return model.eval().to(resolve_device(device)), digest

    def predictor(self, model, digest: str, cache_dir=None, autocast: str | None = None):
        return self.predictor_class()(model, digest, cache_dir=cache_dir, autocast=autocast)
