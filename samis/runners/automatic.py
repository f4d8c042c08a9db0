"""Automatic mode: SAM's "segment everything" masks, turned into one map by a named policy.

Policies (see docs/runners.md):
- ``union``: every mask except those covering more than ``background_frac`` of the image (the plate,
  the background) is foreground; a binary map (0/255).
- ``score``: each pixel is the highest predicted IoU of a (non-background) mask covering it,
  ``round(255 * iou)``; a soft map.
- ``best_match`` (reads the ground truth): for every 8-connected ground-truth component, the kept
  mask (background-sized ones included) with the highest IoU with it; the map is their union. It is
  what a perfect selector picking one mask per defect would give, nothing more.

Threshold sweeps from one decoder pass. The generator's two filters (``pred_iou_thresh`` >,
``stability_score_thresh`` >=) act on each candidate mask alone, before any NMS. So the decoder runs
once per image with the filters at the lowest values asked for, and every candidate that survives
them is cached (:class:`Candidates`: packed bits, predicted IoU, stability score, crop-frame box,
crop index). Each threshold pair's final masks are then derived from the cache by the stock steps
in the stock order (:func:`final_masks`: filters, per-crop box NMS, the crops' NMS, small-region
post-processing), so they are the masks ``SamAutomaticMaskGenerator`` gives with that pair.

The cache (``<cache>/masks/<model>/candidates/``) is keyed by what changes the candidates: the model,
the image (its embedding key, which includes the numerics), ``points_per_side`` and ``crop_n_layers``.
A cached file serves every pair whose thresholds are at least its own; a run asking for lower ones
generates again at the lower values and replaces it, so the cache only grows.

Backends whose generator is not segment-anything's (SAM 2, HQ-SAM) run their own ``generate()``
with the main pair; their final masks are cached as before (:class:`MaskCache`), and a sweep is refused.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from samis.errors import ConfigError
from samis.imageio import atomic_write_bytes
from samis.runners.config import AutomaticConfig
from samis.runners.runner import ImageFrame, RunModel

# SamAutomaticMaskGenerator's constructor defaults that samis does not expose
CROP_NMS_THRESH = 0.7
CROP_OVERLAP_RATIO = 512 / 1500
CANDIDATES_FORMAT = 1


class MaskSet:
    """The final masks of one image: ``masks`` N x H x W bool, ``iou`` N predicted IoUs."""

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
        np.savez_compressed(buf, packed=_pack(self.masks), iou=self.iou, shape=np.array(self.shape),
                            n=np.array(len(self.masks)))
        return buf.getvalue()

    @classmethod
    def from_file(cls, path: Path) -> "MaskSet":
        with np.load(path, allow_pickle=False) as z:
            shape = tuple(int(v) for v in z["shape"])
            return cls(_unpack(z["packed"], shape), z["iou"], shape)


def _pack(masks: np.ndarray) -> np.ndarray:
    return np.packbits(masks.reshape(len(masks), -1), axis=1)


def _unpack(packed: np.ndarray, shape) -> np.ndarray:
    h, w = int(shape[0]), int(shape[1])
    return np.unpackbits(packed, axis=1, count=h * w).astype(bool).reshape(len(packed), h, w)


class Candidates:
    """Every candidate mask of one image that passed the filters at ``(min_iou, min_stability)``, before NMS.

    Arrays in the stock generator's order (crop by crop, point batch by point batch, prompt-major):
    ``packed`` N x ceil(H*W/8) mask bits at image size, ``iou`` and ``stability`` (float32, as the
    generator computed them), ``boxes`` N x 4 XYXY in the crop's frame (what the per-crop NMS reads),
    ``crop`` N crop indices into ``crop_boxes`` (K x 4 XYXY).
    """

    def __init__(self, packed, iou, stability, boxes, crop, crop_boxes, shape, min_iou: float, min_stability: float):
        self.packed = np.asarray(packed, dtype=np.uint8)
        self.iou = np.asarray(iou, dtype=np.float32)
        self.stability = np.asarray(stability, dtype=np.float32)
        self.boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
        self.crop = np.asarray(crop, dtype=np.int64)
        self.crop_boxes = np.asarray(crop_boxes, dtype=np.int64).reshape(-1, 4)
        self.shape = (int(shape[0]), int(shape[1]))
        self.min_iou, self.min_stability = float(min_iou), float(min_stability)

    def __len__(self) -> int:
        return len(self.iou)

    def serves(self, min_iou: float, min_stability: float) -> bool:
        """Whether every mask a pair with thresholds at least these keeps is in this set."""
        return self.min_iou <= min_iou and self.min_stability <= min_stability

    def masks(self, idx) -> np.ndarray:
        return _unpack(self.packed[np.asarray(idx, dtype=np.int64)], self.shape)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, format=np.array(CANDIDATES_FORMAT), packed=self.packed, iou=self.iou,
                            stability=self.stability, boxes=self.boxes, crop=self.crop, crop_boxes=self.crop_boxes,
                            shape=np.array(self.shape), minima=np.array([self.min_iou, self.min_stability]))
        return buf.getvalue()

    @classmethod
    def from_file(cls, path: Path) -> "Candidates":
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != CANDIDATES_FORMAT:
                raise ValueError("another candidate format")
            minima = z["minima"]
            return cls(z["packed"], z["iou"], z["stability"], z["boxes"], z["crop"], z["crop_boxes"], z["shape"],
                       float(minima[0]), float(minima[1]))


def candidates(generator, image: np.ndarray) -> Candidates:
    """The candidates of a segment-anything ``SamAutomaticMaskGenerator`` (stock or fast) on one image.

    The stock ``_generate_masks`` / ``_process_crop`` loop without its NMS steps: ``_process_batch``
    (the generator's own, with its thresholds) makes each batch's masks exactly as ``generate`` does.
    """
    import torch
    from segment_anything.utils.amg import batch_iterator, generate_crop_boxes, rle_to_mask

    orig_size = image.shape[:2]
    crop_boxes, layer_idxs = generate_crop_boxes(orig_size, generator.crop_n_layers, generator.crop_overlap_ratio)
    packed, iou, stab, boxes, crop = [], [], [], [], []
    for k, (crop_box, layer_idx) in enumerate(zip(crop_boxes, layer_idxs)):
        x0, y0, x1, y1 = crop_box
        cropped = image[y0:y1, x0:x1, :]
        size = cropped.shape[:2]
        generator.predictor.set_image(cropped)
        points_for_image = generator.point_grids[layer_idx] * np.array(size)[None, ::-1]
        for (points,) in batch_iterator(generator.points_per_batch, points_for_image):
            data = generator._process_batch(points, size, crop_box, orig_size)
            if len(data["rles"]) == 0:
                continue
            packed.append(_pack(np.stack([rle_to_mask(r) for r in data["rles"]])))
            iou.append(data["iou_preds"].float().cpu().numpy())
            stab.append(data["stability_score"].float().cpu().numpy())
            boxes.append(torch.as_tensor(data["boxes"]).cpu().numpy())
            crop += [k] * len(data["rles"])
        generator.predictor.reset_image()
    nbytes = (orig_size[0] * orig_size[1] + 7) // 8
    return Candidates(np.concatenate(packed) if packed else np.zeros((0, nbytes), np.uint8),
                      np.concatenate(iou) if iou else [], np.concatenate(stab) if stab else [],
                      np.concatenate(boxes) if boxes else np.zeros((0, 4)), crop, crop_boxes, orig_size,
                      generator.pred_iou_thresh, generator.stability_score_thresh)


def final_masks(c: Candidates, pred_iou_thresh: float, stability_score_thresh: float, box_nms_thresh: float,
                min_mask_region_area: int = 0) -> MaskSet:
    """The masks ``SamAutomaticMaskGenerator.generate`` keeps with this pair, derived from the candidates.

    The stock steps in the stock order: the two filters (per mask), box NMS per crop scored by the
    predicted IoU, boxes back to the image frame, NMS between crops (smaller crops first) when there
    are several, then ``postprocess_small_regions`` when ``min_mask_region_area`` > 0.
    """
    import torch
    from segment_anything import SamAutomaticMaskGenerator
    from segment_anything.utils.amg import MaskData, mask_to_rle_pytorch, rle_to_mask, uncrop_boxes_xyxy
    from torchvision.ops.boxes import batched_nms, box_area

    if not c.serves(pred_iou_thresh, stability_score_thresh):
        raise ValueError(f"candidates filtered at ({c.min_iou}, {c.min_stability}) cannot give the pair "
                         f"({pred_iou_thresh}, {stability_score_thresh})")
    iou, stab = torch.from_numpy(c.iou), torch.from_numpy(c.stability)
    keep = torch.ones(len(c), dtype=torch.bool)
    if pred_iou_thresh > 0.0:
        keep &= iou > pred_iou_thresh
    if stability_score_thresh > 0.0:
        keep &= stab >= stability_score_thresh
    kept = torch.nonzero(keep).flatten()
    order, boxes, crop_boxes = [], [], []
    for k, crop_box in enumerate(c.crop_boxes.tolist()):
        idx = kept[torch.from_numpy(c.crop[kept.numpy()] == k)]
        b = torch.from_numpy(c.boxes[idx.numpy()])
        nms = batched_nms(b.float(), iou[idx], torch.zeros(len(b)), iou_threshold=box_nms_thresh)
        order.append(idx[nms])
        boxes.append(uncrop_boxes_xyxy(b[nms], crop_box))
        crop_boxes += [crop_box] * len(nms)
    order, boxes = torch.cat(order), torch.cat(boxes)
    if len(c.crop_boxes) > 1 and len(order):
        scores = 1 / box_area(torch.tensor(crop_boxes))
        nms = batched_nms(boxes.float(), scores, torch.zeros(len(boxes)), iou_threshold=CROP_NMS_THRESH)
        order, boxes = order[nms], boxes[nms]
    idx = order.numpy()
    masks = c.masks(idx)
    if min_mask_region_area > 0 and len(idx):
        data = MaskData(rles=mask_to_rle_pytorch(torch.from_numpy(masks)), boxes=boxes, keep=torch.from_numpy(idx))
        data = SamAutomaticMaskGenerator.postprocess_small_regions(
            data, min_mask_region_area, max(box_nms_thresh, CROP_NMS_THRESH))
        idx = data["keep"].numpy()
        masks = np.stack([rle_to_mask(r) for r in data["rles"]]) if len(idx) else masks[:0]
    return MaskSet(masks.astype(bool), c.iou[idx].astype(np.float64), c.shape)


class _Store:
    """Atomic ``.npz`` files under a root; a file that cannot be read is deleted and treated as missing."""

    def __init__(self, root: Path | None):
        self.root = Path(root) if root is not None else None

    def _read(self, path: Path, reader):
        if self.root is None or not path.is_file():
            return None
        try:
            return reader(path)
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
            return None

    def _write(self, path: Path, data: bytes) -> None:
        if self.root is not None:
            atomic_write_bytes(path, data, durable=False)


class CandidateCache(_Store):
    """Candidates on disk per image and the parameters that change them (not the thresholds: see the module doc)."""

    def path(self, image_key: str, cfg: AutomaticConfig) -> Path:
        key = (("points_per_side", cfg.points_per_side), ("crop_n_layers", cfg.crop_n_layers),
               ("autocast", cfg.autocast), ("format", CANDIDATES_FORMAT))
        gk = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        return self.root / "candidates" / gk / image_key[:2] / f"{image_key}.npz"

    def get(self, image_key: str, cfg: AutomaticConfig) -> Candidates | None:
        return self._read(self.path(image_key, cfg), Candidates.from_file) if self.root is not None else None

    def put(self, image_key: str, cfg: AutomaticConfig, c: Candidates) -> None:
        if self.root is not None:
            self._write(self.path(image_key, cfg), c.to_bytes())


class MaskCache(_Store):
    """Final masks of another family's generator (no sweep), keyed by the image and the generator parameters."""

    def path(self, image_key: str, cfg: AutomaticConfig) -> Path:
        gk = hashlib.sha256(repr(cfg.generator_key).encode()).hexdigest()[:16]
        return self.root / gk / image_key[:2] / f"{image_key}.npz"

    def get(self, image_key: str, cfg: AutomaticConfig) -> MaskSet | None:
        return self._read(self.path(image_key, cfg), MaskSet.from_file) if self.root is not None else None

    def put(self, image_key: str, cfg: AutomaticConfig, masks: MaskSet) -> None:
        if self.root is not None:
            self._write(self.path(image_key, cfg), masks.to_bytes())


# --- policies ----------------------------------------------------------------------------------------
def foreground(ms: MaskSet, background_frac: float) -> np.ndarray:
    """Indices of masks that are not background (area at most ``background_frac`` of the image)."""
    total = ms.shape[0] * ms.shape[1]
    areas = ms.masks.reshape(len(ms.masks), total).sum(1)
    return np.flatnonzero(areas <= background_frac * total)


def union_map(ms: MaskSet, background_frac: float) -> np.ndarray:
    keep = foreground(ms, background_frac)
    out = ms.masks[keep].any(axis=0) if len(keep) else np.zeros(ms.shape, dtype=bool)
    return (out * 255).astype(np.uint8)


def score_map(ms: MaskSet, background_frac: float) -> np.ndarray:
    keep = foreground(ms, background_frac)
    out = np.zeros(ms.shape, dtype=np.float64)
    for i in keep:
        np.maximum(out, np.where(ms.masks[i], np.clip(ms.iou[i], 0.0, 1.0), 0.0), out=out)
    return np.round(255.0 * out).astype(np.uint8)


def best_matches(ms: MaskSet, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each 8-connected component of ``gt`` (bool): the index of the mask with the highest IoU with it
    (the first of equals; -1 without masks), that IoU, and the component's area."""
    from samis.prompts import components

    comps = components(np.asarray(gt, dtype=bool))
    if not comps:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    c = np.stack([m.reshape(-1) for m in comps]).astype(np.float32)
    area_c = c.sum(1, dtype=np.float64)
    if not len(ms.masks):
        return np.full(len(comps), -1), np.zeros(len(comps)), area_c.astype(np.int64)
    m = ms.masks.reshape(len(ms.masks), -1).astype(np.float32)
    inter = (m @ c.T).astype(np.float64)  # exact: pixel counts below 2**24
    iou = inter / (m.sum(1, dtype=np.float64)[:, None] + area_c[None, :] - inter)
    best = iou.argmax(0)
    return best, iou[best, np.arange(len(comps))].astype(np.float64), area_c.astype(np.int64)


def best_match_map(ms: MaskSet, gt: np.ndarray) -> np.ndarray:
    best, iou, _ = best_matches(ms, gt)
    out = np.zeros(ms.shape, dtype=bool)
    for i, v in zip(best, iou):
        if v > 0:
            out |= ms.masks[i]
    return (out * 255).astype(np.uint8)


def policy_map(ms: MaskSet, cfg: AutomaticConfig, gt: np.ndarray | None) -> np.ndarray:
    """The map an automatic configuration's policy asks for."""
    if cfg.policy == "union":
        return union_map(ms, cfg.background_frac)
    if cfg.policy == "score":
        return score_map(ms, cfg.background_frac)
    return best_match_map(ms, gt)


# --- the runner ------------------------------------------------------------------------------------
class AutomaticRunner:
    """Generates (or reads back) the candidates of an image once for every policy and threshold pair.

    The last image's final masks per pair are kept in memory, so the policies of one generator and
    the per-image record (:mod:`samis.runners.automatic_records`) derive them once.
    """

    def __init__(self, run_model: RunModel):
        self.run_model = run_model
        self.cache = CandidateCache(run_model.mask_root)
        self.final_cache = MaskCache(run_model.mask_root)
        self._generators: dict[tuple, object] = {}
        self._last: tuple = (None, {})
        self.generated = 0

    def needs_ground_truth(self, cfg: AutomaticConfig) -> bool:
        return True  # best_match reads it; every policy's per-image record scores the pairs against it

    def map(self, frame: ImageFrame, cfg: AutomaticConfig) -> tuple[np.ndarray, bool]:
        masks = self.masks(frame.image, cfg, cfg.main_pair)
        frame.forget()  # the generator sets the predictor's image itself (whole image and crops)
        return policy_map(masks, cfg, frame.gt), False

    def record(self, frame: ImageFrame, cfg: AutomaticConfig) -> dict:
        """The image's record: per pair, the masks kept and each ground-truth component's best match."""
        from samis.runners.automatic_records import image_record

        pair_masks = [(pair, self.masks(frame.image, cfg, pair)) for pair in cfg.pairs]
        frame.forget()
        return image_record(frame.stem, frame.category, frame.gt, pair_masks, cfg.background_frac)

    def masks(self, image: np.ndarray, cfg: AutomaticConfig, pair: tuple[float, float]) -> MaskSet:
        """The final masks of ``image`` for one threshold pair of ``cfg``."""
        predictor = self.run_model.predictor(cfg.autocast)
        image_key = predictor.key(np.ascontiguousarray(image))
        derived_key = (image_key, cfg.points_per_side, cfg.crop_n_layers, cfg.autocast, cfg.box_nms_thresh,
                       cfg.min_mask_region_area, cfg.generator_key)
        if self._last[0] != derived_key:
            self._last = (derived_key, {})
        memo = self._last[1]
        if pair not in memo:
            memo[pair] = self._derive(image, image_key, cfg, pair)
        return memo[pair]

    def _generator(self, cfg: AutomaticConfig, pair: tuple[float, float]):
        import dataclasses

        run_cfg = dataclasses.replace(cfg, pred_iou_thresh=pair[0], stability_score_thresh=pair[1])
        key = run_cfg.generator_key
        if key not in self._generators:
            predictor = self.run_model.predictor(cfg.autocast)
            self._generators[key] = self.run_model.backend.mask_generator(self.run_model.model, predictor, run_cfg)
        return self._generators[key]

    def _derive(self, image, image_key: str, cfg: AutomaticConfig, pair) -> MaskSet:
        from segment_anything import SamAutomaticMaskGenerator

        lowest = (min(cfg.values("pred_iou_thresh")), min(cfg.values("stability_score_thresh")))
        gen = self._generator(cfg, lowest if cfg.sweeps else pair)
        if not isinstance(gen, SamAutomaticMaskGenerator):
            if cfg.sweeps:
                raise ConfigError(f"{type(gen).__name__}: threshold lists (pred_iou_thresh, stability_score_thresh) "
                                  "need segment-anything's generator (SAM 1 models); give one value each")
            ms = self.final_cache.get(image_key, cfg)
            if ms is None:
                ms = MaskSet.from_records(gen.generate(image), image.shape)
                self.generated += 1
                self.final_cache.put(image_key, cfg, ms)
            return ms
        c = self.cache.get(image_key, cfg)
        if c is None or not c.serves(*lowest):
            if c is not None:  # generate at the lower of both minima, so the cache only grows
                lowest = (min(lowest[0], c.min_iou), min(lowest[1], c.min_stability))
                gen = self._generator(cfg, lowest)
            c = candidates(gen, np.ascontiguousarray(image))
            self.generated += 1
            self.cache.put(image_key, cfg, c)
        return final_masks(c, pair[0], pair[1], cfg.box_nms_thresh, cfg.min_mask_region_area)
