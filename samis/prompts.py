"""Prompts derived from the ground truth, the way an annotator would click or drag.

The study asks how well SAM segments a defect when someone points at it, so box and point prompts
are read off the ground-truth mask: one prompt per 8-connected defect component. Everything random
(box jitter, extra points, negative points) draws from a generator seeded by ``(seed, stem)``, so
a prompt never depends on the order in which images are processed or on how a run is sharded.

Coordinates follow segment-anything: (x, y) in pixels of the original image, boxes XYXY with
inclusive maxima (as ``batched_mask_to_box`` computes them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.measure import label

#: label of a padding point; segment-anything's prompt encoder embeds it as "not a point".
PAD_LABEL = -1


def image_rng(seed: int, stem: str) -> np.random.Generator:
    """A generator that depends only on ``(seed, stem)``: same prompts whatever the order or shard."""
    digest = hashlib.sha256(str(stem).encode("utf-8")).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


def components(mask: np.ndarray, min_area: int = 0) -> list[np.ndarray]:
    """Boolean masks of the 8-connected components of ``mask`` with at least ``min_area`` pixels.

    Components come in label order (row-major scan of their first pixel), so the order is stable.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"a ground-truth mask is H x W, got shape {mask.shape}")
    labels, n = label(mask, connectivity=2, return_num=True)
    if n == 0:
        return []
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    return [labels == i for i in range(1, n + 1) if areas[i] >= max(int(min_area), 1)]


def component_box(comp: np.ndarray) -> np.ndarray:
    """Tight XYXY box of a component, maxima inclusive."""
    rows = np.flatnonzero(comp.any(axis=1))
    cols = np.flatnonzero(comp.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]], dtype=np.float64)


def jitter_box(box: np.ndarray, jitter: float, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Move each side by up to ``jitter`` times the box's width (x) or height (y), clipped to the image.

    Models a sloppy annotator; with ``jitter == 0`` the box is returned unchanged.
    """
    if jitter <= 0:
        return box.copy()
    h, w = shape
    bw = box[2] - box[0] + 1.0
    bh = box[3] - box[1] + 1.0
    scale = np.array([bw, bh, bw, bh]) * float(jitter)
    out = box + rng.uniform(-1.0, 1.0, size=4) * scale
    out[[0, 2]] = np.clip(out[[0, 2]], 0, w - 1)
    out[[1, 3]] = np.clip(out[[1, 3]], 0, h - 1)
    x0, x1 = sorted(out[[0, 2]])
    y0, y1 = sorted(out[[1, 3]])
    return np.array([x0, y0, x1, y1], dtype=np.float64)


def interior_point(comp: np.ndarray) -> np.ndarray:
    """The (x, y) pixel deepest inside the component (maximum of the distance transform).

    The image border counts as boundary. Ties (a scratch has a whole ridge of them) go to the tied
    pixel nearest the component's centroid, then to the first in row-major order.
    """
    dist = ndimage.distance_transform_edt(np.pad(comp, 1))[1:-1, 1:-1]
    ys, xs = np.nonzero(dist >= dist.max() - 1e-9)
    cy, cx = np.nonzero(comp)
    d2 = (ys - cy.mean()) ** 2 + (xs - cx.mean()) ** 2
    i = int(np.argmin(d2))  # argmin returns the first minimum: row-major among equals
    return np.array([xs[i], ys[i]], dtype=np.float64)


def sample_pixels(region: np.ndarray, k: int, rng: np.random.Generator, exclude=None) -> np.ndarray:
    """``k`` distinct (x, y) pixels drawn uniformly from ``region`` (fewer if the region is smaller)."""
    if k <= 0:
        return np.zeros((0, 2))
    ys, xs = np.nonzero(region)
    if exclude is not None and len(xs):
        keep = ~((xs == exclude[0]) & (ys == exclude[1]))
        ys, xs = ys[keep], xs[keep]
    if len(xs) == 0:
        return np.zeros((0, 2))
    idx = rng.choice(len(xs), size=min(k, len(xs)), replace=False)
    return np.stack([xs[idx], ys[idx]], axis=1).astype(np.float64)


def ring(comp: np.ndarray, inner: float, outer: float, forbidden: np.ndarray | None = None) -> np.ndarray:
    """Pixels between two dilations of the component: ``inner < distance <= outer``.

    ``forbidden`` (the whole ground truth) is removed, so a negative point never lands on a defect.
    """
    dist = ndimage.distance_transform_edt(~comp)
    band = (dist > inner) & (dist <= outer)
    if forbidden is not None:
        band &= ~forbidden
    return band


@dataclass
class Prompts:
    """The prompts of one image, one row per component, ready for ``SamPredictor.predict_torch``.

    ``boxes``: N x 4 XYXY or None; ``point_coords``: N x K x 2 (x, y) or None; ``point_labels``:
    N x K with 1 positive, 0 negative, -1 padding (so every component has the same K).
    """

    boxes: np.ndarray | None = None
    point_coords: np.ndarray | None = None
    point_labels: np.ndarray | None = None

    def __len__(self) -> int:
        for arr in (self.boxes, self.point_coords):
            if arr is not None:
                return len(arr)
        return 0


def make_prompts(
    mask: np.ndarray,
    *,
    use_box: bool,
    n_points: int = 0,
    n_negative: int = 0,
    jitter: float = 0.0,
    min_area: int = 0,
    neg_ring: tuple[float, float] = (5.0, 20.0),
    rng: np.random.Generator,
) -> Prompts:
    """Box and/or point prompts for every component of ``mask``; an empty mask gives no prompt."""
    mask = np.asarray(mask, dtype=bool)
    comps = components(mask, min_area)
    if not comps:
        return Prompts()
    boxes, coords, labels = [], [], []
    k = n_points + n_negative
    for comp in comps:
        if use_box:
            boxes.append(jitter_box(component_box(comp), jitter, mask.shape, rng))
        if k == 0:
            continue
        pts, lab = [], []
        if n_points > 0:
            first = interior_point(comp)
            rest = sample_pixels(comp, n_points - 1, rng, exclude=first)
            pos = np.concatenate([first[None], rest])
            pts.append(pos)
            lab.append(np.ones(len(pos), dtype=np.int64))
        if n_negative > 0:
            neg = sample_pixels(ring(comp, neg_ring[0], neg_ring[1], mask), n_negative, rng)
            pts.append(neg)
            lab.append(np.zeros(len(neg), dtype=np.int64))
        pts = np.concatenate(pts)
        lab = np.concatenate(lab)
        pad = k - len(pts)  # a tiny component or an empty ring gives fewer points: pad them
        coords.append(np.concatenate([pts, np.zeros((pad, 2))]))
        labels.append(np.concatenate([lab, np.full(pad, PAD_LABEL, dtype=np.int64)]))
    return Prompts(
        boxes=np.stack(boxes) if boxes else None,
        point_coords=np.stack(coords) if coords else None,
        point_labels=np.stack(labels) if labels else None,
    )


@dataclass(frozen=True)
class ComponentPrompts:
    """A prompt generator: one box and/or points per ground-truth component (box, point, box+point modes).

    Called as ``generator(gt, stem, previous=None)``, as micro-sam's prompt generators are called
    with the last prediction: an iterative generator (corrective clicks) reads ``previous``; these
    prompts depend only on the ground truth and on ``(seed, stem)``.
    """

    use_box: bool
    n_points: int = 0
    n_negative: int = 0
    jitter: float = 0.0
    min_area: int = 0
    neg_ring: tuple[float, float] = (5.0, 20.0)
    seed: int = 0

    def __call__(self, gt: np.ndarray, stem: str, previous: np.ndarray | None = None) -> Prompts:
        return make_prompts(gt, use_box=self.use_box, n_points=self.n_points, n_negative=self.n_negative,
                            jitter=self.jitter, min_area=self.min_area, neg_ring=self.neg_ring,
                            rng=image_rng(self.seed, stem))
