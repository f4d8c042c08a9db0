"""A small synthetic NRSD-MN in the published test layout, for tests and demos where the real set is absent.

Each image is a top view of a rail: a bright, longitudinally streaked rail head across darker
ballast, with dark defects on the head — regular dents and grooves for ``craft`` (man-made),
irregular pits and spalls for ``real`` (natural). Masks are written as JPEG, exactly as NRSD-MN
stores them, so their edges carry genuine compression artifacts that a loader must binarize away.
Everything is drawn from ``seed``: the same call always writes the same bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from samis.imageio import atomic_write_bytes, write_png

SUBSET_IDS = {"craft": 0, "real": 1}
MASK_JPEG_QUALITY = 75  # a typical export quality: visible ringing around mask edges


def _rail_background(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, slice]:
    """Float image of ballast and a vertical rail head, and the columns the head occupies."""
    ballast = ndimage.gaussian_filter(rng.normal(70, 25, (h, w)), 1.2)
    head_w = int(w * rng.uniform(0.45, 0.6))
    left = int(rng.integers(w // 10, w - head_w - w // 10 + 1))
    cols = slice(left, left + head_w)
    streaks = ndimage.gaussian_filter1d(rng.normal(0, 12, w), 1.5)[None, :]  # wear marks along the rail
    shade = np.linspace(-10, 10, head_w)[None, :] ** 2 / 10  # rounded head: darker towards the edges
    img = ballast.copy()
    img[:, cols] = 185 + streaks[:, cols] - shade + rng.normal(0, 5, (h, head_w))
    return img, cols


def _craft_defect(rng: np.random.Generator, h: int, w: int, cols: slice) -> np.ndarray:
    """A man-made defect: an elliptical dent or a straight groove across part of the head."""
    yy, xx = np.mgrid[0:h, 0:w]
    cy = rng.uniform(0.2, 0.8) * h
    cx = rng.uniform(cols.start + 0.25 * (cols.stop - cols.start), cols.stop - 0.25 * (cols.stop - cols.start))
    if rng.random() < 0.5:
        ry, rx = rng.uniform(0.06, 0.14) * h, rng.uniform(0.06, 0.14) * w
        mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    else:
        angle = rng.uniform(-0.6, 0.6)
        length, width = rng.uniform(0.2, 0.35) * w, rng.uniform(0.02, 0.05) * w
        u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
        mask = (np.abs(u) <= length / 2) & (np.abs(v) <= width / 2)
    return mask


def _real_defect(rng: np.random.Generator, h: int, w: int, cols: slice) -> np.ndarray:
    """A natural defect: one or two irregular pits, a smoothed noise field thresholded inside a blob."""
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), dtype=bool)
    for _ in range(int(rng.integers(1, 3))):
        cy = rng.uniform(0.2, 0.8) * h
        cx = rng.uniform(cols.start + 0.2 * (cols.stop - cols.start), cols.stop - 0.2 * (cols.stop - cols.start))
        radius = rng.uniform(0.07, 0.13) * min(h, w)
        dist = np.hypot(yy - cy, xx - cx) / radius
        rough = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), min(h, w) / 40)
        rough /= np.abs(rough).max() + 1e-9
        mask |= dist + 0.45 * rough < 1.0
    mask[:, : cols.start] = False
    mask[:, cols.stop :] = False
    return ndimage.binary_opening(mask, iterations=1)


def render_nrsd_sample(seed: int, subset: str, index: int, size: tuple[int, int] = (160, 160)):
    """(image H x W x 3 uint8, mask H x W bool) of one fixture sample, as written before JPEG encoding."""
    h, w = size
    rng = np.random.default_rng([seed, SUBSET_IDS[subset], index])
    img, cols = _rail_background(rng, h, w)
    mask = (_craft_defect if subset == "craft" else _real_defect)(rng, h, w, cols)
    depth = rng.uniform(70, 110)
    soft = ndimage.gaussian_filter(mask.astype(float), 0.8)  # defect edges are blurred in the photo
    img = img - depth * soft + rng.normal(0, 3, (h, w)) * soft
    gray = np.clip(np.round(img), 0, 255).astype(np.uint8)
    tint = np.array([1.0, 0.98, 0.94])  # rail photos are RGB with a faint warm cast
    rgb = np.clip(np.round(gray[:, :, None] * tint), 0, 255).astype(np.uint8)
    return rgb, mask


def stem_of(subset: str, index: int) -> str:
    return f"{subset}_{index + 1:04d}"


def _jpeg_bytes(mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buf, format="JPEG", quality=MASK_JPEG_QUALITY)
    return buf.getvalue()


def make_nrsd_fixture(
    root: str | Path, n_craft: int = 8, n_real: int = 4, seed: int = 0, size: tuple[int, int] = (160, 160)
) -> Path:
    """Write ``root/{craft,real}/images/<stem>.png`` and ``root/{craft,real}/annotations/<stem>.jpg``; return ``root``.

    ``root`` is the set folder itself (pass ``data_root / "NRSD-MN"`` to build a data root).
    Stems are ``craft_0001 ...`` and ``real_0001 ...``.
    """
    root = Path(root)
    for subset, count in (("craft", n_craft), ("real", n_real)):
        (root / subset / "images").mkdir(parents=True, exist_ok=True)
        (root / subset / "annotations").mkdir(parents=True, exist_ok=True)
        for index in range(count):
            image, mask = render_nrsd_sample(seed, subset, index, size)
            stem = stem_of(subset, index)
            write_png(root / subset / "images" / f"{stem}.png", image)
            atomic_write_bytes(root / subset / "annotations" / f"{stem}.jpg", _jpeg_bytes(mask))
    return root
