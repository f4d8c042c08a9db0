"""One image embedding per image and model, on disk, shared by every mode and every experiment.

The image encoder is nearly all of SAM's cost for prompted modes (the decoder is milliseconds), so
box, point and automatic runs, and every later experiment on the same images, read the embedding
computed once. An entry is keyed by the model's weight digest, the image content (pixels, shape)
and the preprocessing that changes the embedding (encoder input size, pixel mean/std, image
format, autocast), stored float32 (exact: maps are identical with and without the cache) at
``cache_dir()/embeddings/<model_digest[:16]>/<key[:2]>/<key>.npy`` through a temporary file and
``os.replace`` so a crash never leaves a truncated entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamPredictor

from samis.imageio import atomic_write_bytes
from samis.paths import cache_dir as default_cache_dir

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def state_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers, for models that come without a digest."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().cpu().contiguous()
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    encoder_seconds: float = 0.0


class EmbeddingStore:
    """Embeddings on disk (or only in memory when ``root`` is None), written atomically."""

    def __init__(self, root: Path | None):
        self.root = Path(root) if root is not None else None
        self._memory: dict[str, np.ndarray] = {}

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        if self.root is None:
            return self._memory.get(key)
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # unreadable entry: recompute it
            return None

    def put(self, key: str, array: np.ndarray) -> None:
        if self.root is None:
            self._memory = {key: array}  # keep the last one only: memory stays bounded
            return
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        atomic_write_bytes(self.path(key), buf.getvalue(), durable=False)


class CachedSamPredictor(SamPredictor):
    """A ``SamPredictor`` whose ``set_image`` reuses the embedding cached for this model and image.

    After ``set_image`` the predictor is in exactly the state the stock one leaves
    (``original_size``, ``input_size``, ``features``, ``is_image_set``), so it can stand in for the
    predictor of ``SamAutomaticMaskGenerator`` or the fast generator. ``cache_dir=False`` keeps only
    the last embedding in memory. ``autocast`` ("bf16"/"fp16") runs the encoder under CUDA autocast;
    the embedding is stored and used in float32.
    """

    def __init__(self, sam_model, model_digest: str, cache_dir=None, autocast: str | None = None):
        super().__init__(sam_model)
        self.model_digest = str(model_digest)
        self.autocast = autocast if autocast and self.device.type == "cuda" else None
        if cache_dir is False:
            root = None
        else:
            base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
            root = base / "embeddings" / self.model_digest[:16]
        self.store = EmbeddingStore(root)
        self.stats = CacheStats()
        self._prep_tag = self._preprocessing_tag()

    def _preprocessing_tag(self) -> bytes:
        m = self.model
        mean = m.pixel_mean.detach().cpu().numpy().astype(np.float64).round(6).tolist()
        std = m.pixel_std.detach().cpu().numpy().astype(np.float64).round(6).tolist()
        return repr((self.model_digest, m.image_encoder.img_size, mean, std, m.image_format,
                     self.autocast)).encode()

    def key(self, image: np.ndarray) -> str:
        """Cache key of an image already in the model's channel order."""
        image = np.ascontiguousarray(image)
        h = hashlib.sha256(self._prep_tag)
        h.update(repr((image.shape, str(image.dtype))).encode())
        h.update(image.tobytes())
        return h.hexdigest()

    def _to_model_format(self, image: np.ndarray, image_format: str) -> np.ndarray:
        assert image_format in ["RGB", "BGR"], f"image_format must be in ['RGB', 'BGR'], is {image_format}."
        if image_format != self.model.image_format:
            image = image[..., ::-1]
        return np.ascontiguousarray(image)

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        image = self._to_model_format(image, image_format)
        key = self.key(image)
        cached = self.store.get(key)
        if cached is not None:
            self.stats.hits += 1
            self._set_features(torch.from_numpy(cached), image.shape[:2])
            return
        self.stats.misses += 1
        import time

        t0 = time.perf_counter()
        with self._autocast():
            super().set_image(image, self.model.image_format)
        self.features = self.features.float()
        self.stats.encoder_seconds += time.perf_counter() - t0
        self.store.put(key, self.features.detach().cpu().numpy())

    def _set_features(self, features: torch.Tensor, original_size) -> None:
        self.reset_image()
        h, w = int(original_size[0]), int(original_size[1])
        self.original_size = (h, w)
        self.input_size = self.transform.get_preprocess_shape(h, w, self.transform.target_length)
        self.features = features.to(self.device, dtype=torch.float32)
        self.is_image_set = True

    def _autocast(self):
        if self.autocast:
            return torch.autocast("cuda", dtype=AUTOCAST_DTYPES[self.autocast])
        return contextlib.nullcontext()

    @torch.no_grad()
    def prefetch(self, images: list[np.ndarray], image_format: str = "RGB") -> int:
        """Encode the uncached images among ``images`` in one batched encoder call (worth it on CUDA).

        Returns how many were encoded. The following ``set_image`` calls hit the cache. Images are
        padded to the encoder's square input as ``Sam.preprocess`` does, so each embedding equals
        the one-image result up to floating-point reduction order.
        """
        todo = []
        for image in images:
            image = self._to_model_format(image, image_format)
            key = self.key(image)
            if self.store.root is not None and self.store.path(key).is_file():
                continue
            todo.append((key, image))
        if len(todo) <= 1 or self.store.root is None:
            return 0  # one image: set_image does the same; memory-only store keeps one entry
        import time

        t0 = time.perf_counter()
        batch = []
        for _, image in todo:
            x = torch.as_tensor(self.transform.apply_image(image), device=self.device)
            x = x.permute(2, 0, 1).contiguous()[None]
            batch.append(self.model.preprocess(x))  # normalise and pad to img_size x img_size
        with self._autocast():
            feats = self.model.image_encoder(torch.cat(batch)).float()
        self.stats.encoder_seconds += time.perf_counter() - t0
        for (key, _), f in zip(todo, feats):
            self.store.put(key, f[None].cpu().numpy())
        self.stats.misses += len(todo)
        return len(todo)
