"""Automatic mode: SAM's "segment everything" masks, turned into one map by a named policy.

Policies (see docs/runners.md):
- ``union``: every mask except those covering more than ``background_frac`` of the image (the plate,
  the background) is foreground; a binary map (0/255).
- ``score``: each pixel is the highest predicted IoU of a (non-background) mask covering it,
  ``round(255 * iou)``; a soft map.
- ``oracle``: a mask is kept when more than ``oracle_overlap`` of it lies on the ground truth; the
  union of kept masks. It reads the ground truth, so it is never zero-shot; it is no upper bound
  either (it drops masks that cover a defect only partly, and can score below ``union``).

``generate()`` is the expensive part (minutes per image on a CPU at 32 x 32 points), so its raw
masks are cached on disk per model, image and generator parameters: every policy, in this run or
a later one, reads them instead of generating again.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from samis.imageio import atomic_write_bytes
from samis.runners.config import AutomaticConfig
from samis.runners.runner import ImageFrame, RunModel


class MaskSet:
    """The raw masks of one image: ``masks`` N x H x W bool, ``iou`` N predicted IoUs."""

    def __init__(self, masks: np.ndarray, iou: np.ndarray, shape):
        self.masks = masks
        self.iou = iou.astype(np.float64)
        self.shape = tuple(shape[:2])

    @classmethod
    def from_records(cls, records: list[dict], shape) -> "MaskSet":
        if not records:
            return cls(np.zeros((0, *shape[:2]), dtype=bool), np.zeros(0), shape)
        masks = np.stack([np.asarray(r["segmentation"], dtype=bool) for r in records])
        return cls(masks, np.array([float(r["predicted_iou"]) for r in records]), shape)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, packed=np.packbits(self.masks.reshape(len(self.masks), self.shape[0] * self.shape[1]), axis=1),
                            iou=self.iou, shape=np.array(self.shape), n=np.array(len(self.masks)))
        return buf.getvalue()

    @classmethod
    def from_file(cls, path: Path) -> "MaskSet":
        with np.load(path, allow_pickle=False) as z:
            shape = tuple(int(v) for v in z["shape"])
            n = int(z["n"])
            masks = np.unpackbits(z["packed"], axis=1, count=shape[0] * shape[1]).astype(bool).reshape(n, *shape)
            return cls(masks, z["iou"], shape)


class MaskCache:
    """Raw generator output on disk, keyed by the image's embedding key and the generator parameters."""

    def __init__(self, root: Path | None):
        self.root = Path(root) if root is not None else None

    def path(self, image_key: str, cfg: AutomaticConfig) -> Path:
        gk = hashlib.sha256(repr(cfg.generator_key).encode()).hexdigest()[:16]
        return self.root / gk / image_key[:2] / f"{image_key}.npz"

    def get(self, image_key: str, cfg: AutomaticConfig) -> MaskSet | None:
        if self.root is None:
            return None
        path = self.path(image_key, cfg)
        if not path.is_file():
            return None
        try:
            return MaskSet.from_file(path)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
            return None

    def put(self, image_key: str, cfg: AutomaticConfig, masks: MaskSet) -> None:
        if self.root is None:
            return
        atomic_write_bytes(self.path(image_key, cfg), masks.to_bytes(), durable=False)


def _foreground(ms: MaskSet, background_frac: float) -> np.ndarray:
    """Indices of masks that are not background (area at most ``background_frac`` of the image)."""
    total = ms.shape[0] * ms.shape[1]
    areas = ms.masks.reshape(len(ms.masks), total).sum(1)
    return np.flatnonzero(areas <= background_frac * total)


def union_map(ms: MaskSet, background_frac: float) -> np.ndarray:
    keep = _foreground(ms, background_frac)
    out = ms.masks[keep].any(axis=0) if len(keep) else np.zeros(ms.shape, dtype=bool)
    return (out * 255).astype(np.uint8)


def score_map(ms: MaskSet, background_frac: float) -> np.ndarray:
    keep = _foreground(ms, background_frac)
    out = np.zeros(ms.shape, dtype=np.float64)
    for i in keep:
        np.maximum(out, np.where(ms.masks[i], np.clip(ms.iou[i], 0.0, 1.0), 0.0), out=out)
    return np.round(255.0 * out).astype(np.uint8)


def oracle_map(ms: MaskSet, gt: np.ndarray, overlap: float) -> np.ndarray:
    gt = np.asarray(gt, dtype=bool)
    out = np.zeros(ms.shape, dtype=bool)
    for m in ms.masks:
        area = m.sum()
        if area and (m & gt).sum() / area > overlap:
            out |= m
    return (out * 255).astype(np.uint8)


def policy_map(ms: MaskSet, cfg: AutomaticConfig, gt: np.ndarray | None) -> np.ndarray:
    """The map an automatic configuration's policy asks for."""
    if cfg.policy == "union":
        return union_map(ms, cfg.background_frac)
    if cfg.policy == "score":
        return score_map(ms, cfg.background_frac)
    return oracle_map(ms, gt, cfg.oracle_overlap)


class AutomaticRunner:
    """Generates (or reads back) the raw masks of an image once for all policies that share a generator."""

    def __init__(self, run_model: RunModel):
        self.run_model = run_model
        self.cache = MaskCache(run_model.mask_root)
        self._generators: dict[tuple, object] = {}
        self.generated = 0

    def needs_ground_truth(self, cfg: AutomaticConfig) -> bool:
        return cfg.uses_ground_truth

    def map(self, frame: ImageFrame, cfg: AutomaticConfig) -> tuple[np.ndarray, bool]:
        masks = self.masks(frame.image, cfg)
        frame.forget()  # the generator sets the predictor's image itself (whole image and crops)
        return policy_map(masks, cfg, frame.gt), False

    def masks(self, image: np.ndarray, cfg: AutomaticConfig) -> MaskSet:
        predictor = self.run_model.predictor(cfg.autocast)
        image_key = predictor.key(np.ascontiguousarray(image))
        ms = self.cache.get(image_key, cfg)
        if ms is not None:
            return ms
        key = cfg.generator_key
        if key not in self._generators:
            self._generators[key] = self.run_model.backend.mask_generator(self.run_model.model, predictor, cfg)
        records = self._generators[key].generate(image)
        self.generated += 1
        ms = MaskSet.from_records(records, image.shape)
        self.cache.put(image_key, cfg, ms)
        return ms
