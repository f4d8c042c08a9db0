"""One image embedding per image and model, on disk, shared by every mode and every experiment.

The image encoder is nearly all of SAM's cost for prompted modes (the decoder is milliseconds), so
box, point and automatic runs, and every later experiment on the same images, read the embedding
computed once. An entry is keyed by the model's weight digest, the image content (pixels, shape)
and the preprocessing that changes the embedding (encoder input size, pixel mean/std, image
format) and the numerics (device and precision, ``samis.runners.precision``: nothing added for
the CPU in float32, so older entries stay valid), stored float32 (exact: maps are identical with and without the cache) at
``cache_dir()/embeddings/<model_digest[:16]>/<key[:2]>/<key>.npy`` through a temporary file and
``os.replace`` so a crash never leaves a truncated entry.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamPredictor

from samis.imageio import atomic_write_bytes
from samis.paths import cache_dir as default_cache_dir
from samis.runners import device as devices
from samis.runners import precision
from samis.runners.overlap import BackgroundWriter

AUTOCAST_DTYPES = precision.AUTOCAST_DTYPES


def state_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers, for models that come without a digest."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().cpu().contiguous()
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def image_key(prep_tag: bytes, image: np.ndarray) -> str:
    """An embedding's cache key: the model, preprocessing and numerics (``prep_tag``) and the image's pixels."""
    image = np.ascontiguousarray(image)
    h = hashlib.sha256(prep_tag)
    h.update(repr((image.shape, str(image.dtype))).encode())
    h.update(image.tobytes())
    return h.hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    encoder_seconds: float = 0.0


class EmbeddingStore:
    """Embeddings on disk (or only in memory when ``root`` is None), written atomically.

    An entry is one float32 array (``.npy``); ``FeatureStore`` (samis.backends.feature_cache) keeps
    several named arrays per entry the same way.
    """

    suffix = ".npy"

    def __init__(self, root: Path | None):
        self.root = Path(root) if root is not None else None
        self._memory: dict = {}

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}{self.suffix}"

    def get(self, key: str):
        if self.root is None:
            return self._memory.get(key)
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return self._read(path)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # unreadable entry: recompute it
            return None

    def put(self, key: str, value) -> None:
        value = self._float32(value)
        if self.root is None:
            self._memory = {key: value}  # keep the last one only: memory stays bounded
            return
        buf = io.BytesIO()
        self._write(buf, value)
        atomic_write_bytes(self.path(key), buf.getvalue(), durable=False)

    @staticmethod
    def _float32(array):
        return np.ascontiguousarray(array, dtype=np.float32)

    @staticmethod
    def _read(path: Path):
        return np.load(path, allow_pickle=False)

    @staticmethod
    def _write(buf, array) -> None:
        np.save(buf, array, allow_pickle=False)


class CachedSamPredictor(SamPredictor):
    """A ``SamPredictor`` whose ``set_image`` reuses the embedding cached for this model and image.

    After ``set_image`` the predictor is in exactly the state the stock one leaves
    (``original_size``, ``input_size``, ``features``, ``is_image_set``), so it can stand in for the
    predictor of ``SamAutomaticMaskGenerator`` or the fast generator. ``cache_dir=False`` keeps only
    the last embedding in memory. ``autocast`` ("tf32"/"bf16"/"fp16", CUDA only) sets the encoder's
    precision; the embedding is stored and used in float32, under a key that names the precision.
    On an accelerator, embeddings encoded by ``prefetch`` stay on the device until ``set_image`` uses
    them, and cache files are written in a background thread (``flush`` waits for them).
    """

    def __init__(self, sam_model, model_digest: str, cache_dir=None, autocast: str | None = None):
        super().__init__(sam_model)
        self.model_digest = str(model_digest)
        self.autocast = autocast or None
        self.numerics = precision.numerics(self.device, self.autocast)  # refuses autocast off CUDA
        if cache_dir is False:
            root = None
        else:
            base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
            root = base / "embeddings" / self.model_digest[:16]
        self.store = EmbeddingStore(root)
        self.stats = CacheStats()
        self._prep_tag = self._preprocessing_tag()
        self._resident: dict[str, torch.Tensor] = {}  # the last embeddings used, on the device
        self._resident_max = 2
        background = root is not None and self.device.type != "cpu"
        self._writer = BackgroundWriter(self.store.put) if background else None

    def _preprocessing_tag(self) -> bytes:
        m = self.model
        mean = m.pixel_mean.detach().cpu().numpy().astype(np.float64).round(6).tolist()
        std = m.pixel_std.detach().cpu().numpy().astype(np.float64).round(6).tolist()
        return repr((self.model_digest, m.image_encoder.img_size, mean, std, m.image_format,
                     precision.key_tag(self.numerics))).encode()

    def key(self, image: np.ndarray) -> str:
        """Cache key of an image already in the model's channel order."""
        return image_key(self._prep_tag, image)

    def _to_model_format(self, image: np.ndarray, image_format: str) -> np.ndarray:
        assert image_format in ["RGB", "BGR"], f"image_format must be in ['RGB', 'BGR'], is {image_format}."
        if image_format != self.model.image_format:
            image = image[..., ::-1]
        return np.ascontiguousarray(image)

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        image = self._to_model_format(image, image_format)
        key = self.key(image)
        cached = self._cached(key)
        if cached is not None:
            self.stats.hits += 1
            self._set_features(cached, image.shape[:2])
            return
        self.stats.misses += 1
        self._prove_encoder(image)
        t0 = self._clock()
        with precision.encoder_context(self.device, self.autocast):
            super().set_image(image, self.model.image_format)
        self.features = self.features.float()
        self.stats.encoder_seconds += self._clock() - t0
        self._keep(key, self.features)
        self._save(key, self.features)

    def _prove_encoder(self, image: np.ndarray) -> None:
        """An encoder that must be checked against torch before first use (ONNX Runtime,
        ``samis.models.onnx_encoder``) is checked on this real image, at its own size; once."""
        prove = getattr(self.model.image_encoder, "prove_on", None)
        if prove is not None:
            prove(image)

    def _cached(self, key: str) -> torch.Tensor | None:
        """The embedding of ``key`` from the device, the write queue or the disk, or None."""
        resident = self._resident.get(key)
        if resident is not None:
            return resident
        host = self._writer.pending(key) if self._writer is not None else None
        if host is None:
            host = self.store.get(key)
        return torch.from_numpy(host) if host is not None else None

    def _keep(self, key: str, features: torch.Tensor) -> None:
        """Keep an embedding on the device for the next ``set_image`` of the same image (bounded)."""
        self._resident.pop(key, None)
        self._resident[key] = features
        while len(self._resident) > self._resident_max:
            del self._resident[next(iter(self._resident))]

    def _save(self, key: str, features: torch.Tensor) -> None:
        host = features.detach().cpu().numpy()
        if self._writer is not None:
            self._writer.put(key, host)
        else:
            self.store.put(key, host)

    def _clock(self) -> float:
        """Wall-clock time after the device's queued work is done (CUDA runs asynchronously)."""
        import time

        devices.synchronize(self.device)
        return time.perf_counter()

    def flush(self) -> None:
        """Wait until every embedding of this predictor is on disk."""
        if self._writer is not None:
            self._writer.flush()

    def _set_features(self, features: torch.Tensor, original_size) -> None:
        self.reset_image()
        h, w = int(original_size[0]), int(original_size[1])
        self.original_size = (h, w)
        self.input_size = self.transform.get_preprocess_shape(h, w, self.transform.target_length)
        self.features = features.to(self.device, dtype=torch.float32)
        self.is_image_set = True

    @torch.no_grad()
    def prefetch(self, images: list[np.ndarray], image_format: str = "RGB") -> int:
        """Encode the uncached images among ``images`` in one batched encoder call (worth it on CUDA).

        Returns how many were encoded. The following ``set_image`` calls use them (kept on the
        device, written to the cache behind). Images are padded to the encoder's square input as
        ``Sam.preprocess`` does, so each embedding equals the one-image result up to floating-point
        reduction order. A batch that runs out of device memory is split and retried.
        """
        todo, seen = [], set()
        for image in images:
            image = self._to_model_format(image, image_format)
            key = self.key(image)
            if key in seen or key in self._resident or self._on_disk(key):
                continue
            seen.add(key)
            todo.append((key, image))
        if len(todo) <= 1:
            return 0  # one image: set_image does the same
        self._resident_max = max(2, len(todo))  # the last batch stays on the device
        t0 = self._clock()
        feats = devices.split_on_oom(self._encode_batch, [image for _, image in todo], self.device)
        self.stats.encoder_seconds += self._clock() - t0
        for (key, _), f in zip(todo, feats):
            self._keep(key, f)
            self._save(key, f)
        self.stats.misses += len(todo)
        return len(todo)

    def _on_disk(self, key: str) -> bool:
        if self._writer is not None and self._writer.pending(key) is not None:
            return True
        return self.store.root is not None and self.store.path(key).is_file()

    def _encode_batch(self, images: list[np.ndarray]) -> list[torch.Tensor]:
        """One encoder call for ``images``: a 1 x C x h x w float32 embedding each, on the device."""
        batch = []
        self._prove_encoder(images[0])
        for image in images:
            x = torch.as_tensor(self.transform.apply_image(image), device=self.device)
            x = x.permute(2, 0, 1).contiguous()[None]
            batch.append(self.model.preprocess(x))  # normalise and pad to img_size x img_size
        with precision.encoder_context(self.device, self.autocast):
            feats = self.model.image_encoder(torch.cat(batch)).float()
        return [f[None] for f in feats]
