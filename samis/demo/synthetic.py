"""Deterministic synthetic strip-steel defect images with exact ground truth, for the embedded demo.

The demo must run anywhere in minutes without a download, yet exercise the whole study (SAM modes,
a classical baseline, every metric, per-category tables). The images imitate SD-saliency-900: 200 x
200 8-bit grayscale rolled strip (horizontal streaks and grain noise) with one of three defect kinds
whose shape is known exactly, because the mask is drawn first and the image is made from it:

- ``Sc`` scratches: a thin, long, gently curved line;
- ``Pa`` patches: one or two irregular blobs;
- ``In`` inclusions: a few small dark spots elongated along the rolling direction.

Files are written in the ``folder`` dataset layout with one subfolder per class, which that
adapter reads as the category: ``images/<Cls>/<Cls>_<n>.png`` and ``masks/<Cls>/<Cls>_<n>.png``
(mask 0/255); stems follow SD-saliency-900 (``Sc_3``), so they are unique across the set. Every image draws from its own ``numpy`` PCG64 stream seeded by (seed, class, n), so
the same seed gives byte-identical files and adding images never changes the existing ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from samis.imageio import encode_png, write_png

CLASSES = ("In", "Pa", "Sc")  # inclusion, patches, scratches — the SD-saliency-900 classes
SIZE = 200


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Rolled strip: a mid-grey level, horizontal streaks (row offsets smoothed along y and barely
    varying along x) and fine grain noise."""
    level = rng.uniform(105.0, 150.0)
    rows = ndimage.gaussian_filter1d(rng.normal(0.0, 10.0, size), 1.5)
    drift = ndimage.gaussian_filter(rng.normal(0.0, 6.0, (size, size // 8)), (1.0, 2.0))
    drift = np.repeat(drift, 8, axis=1)[:, :size]  # streaks are long along the rolling direction
    grain = ndimage.gaussian_filter(rng.normal(0.0, 9.0, (size, size)), 0.7)
    shade = np.linspace(-1.0, 1.0, size)[None, :] * rng.uniform(-8.0, 8.0)  # uneven illumination
    return level + rows[:, None] + drift + grain + shade


def _scratch(rng: np.random.Generator, size: int) -> np.ndarray:
    """A thin curved line: a quadratic Bezier between two far-apart points, 2-4 px wide."""
    margin = 15
    while True:
        p0, p2 = rng.uniform(margin, size - margin, (2, 2))
        if np.hypot(*(p2 - p0)) > 0.55 * size:
            break
    mid = (p0 + p2) / 2.0
    normal = np.array([-(p2 - p0)[1], (p2 - p0)[0]]) / np.hypot(*(p2 - p0))
    p1 = mid + normal * rng.uniform(-0.25, 0.25) * size
    t = np.linspace(0.0, 1.0, 4 * size)[:, None]
    curve = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    line = np.zeros((size, size), dtype=bool)
    ij = np.clip(np.round(curve).astype(int), 0, size - 1)
    line[ij[:, 0], ij[:, 1]] = True
    radius = rng.uniform(1.0, 2.0)
    return ndimage.distance_transform_edt(~line) <= radius


def _patches(rng: np.random.Generator, size: int) -> np.ndarray:
    """One or two irregular blobs: a smoothed random field thresholded inside a random ellipse."""
    yy, xx = np.mgrid[0:size, 0:size]
    mask = np.zeros((size, size), dtype=bool)
    for _ in range(int(rng.integers(1, 3))):
        cy, cx = rng.uniform(0.25 * size, 0.75 * size, 2)
        ry, rx = rng.uniform(0.08 * size, 0.22 * size, 2)
        ellipse = 1.0 - ((yy - cy) / ry) ** 2 - ((xx - cx) / rx) ** 2
        field = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (size, size)), 6.0)
        field /= field.std() + 1e-12
        blob = ellipse + 0.35 * field > 0.0
        labels, n = ndimage.label(blob)
        if n:  # keep the largest piece, so a patch is one connected region with a ragged border
            sizes = ndimage.sum(blob, labels, range(1, n + 1))
            mask |= labels == (1 + int(np.argmax(sizes)))
    return ndimage.binary_fill_holes(mask)


def _inclusions(rng: np.random.Generator, size: int) -> np.ndarray:
    """A few small spots elongated along the rolling (horizontal) direction."""
    yy, xx = np.mgrid[0:size, 0:size]
    mask = np.zeros((size, size), dtype=bool)
    for _ in range(int(rng.integers(2, 6))):
        cy, cx = rng.uniform(20, size - 20, 2)
        ry, rx = rng.uniform(1.5, 3.5), rng.uniform(5.0, 14.0)
        angle = rng.uniform(-0.25, 0.25)
        dy, dx = yy - cy, xx - cx
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        mask |= (u / rx) ** 2 + (v / ry) ** 2 <= 1.0
    return mask


_SHAPES = {"Sc": _scratch, "Pa": _patches, "In": _inclusions}
_CONTRAST = {"Sc": (-55.0, -30.0), "Pa": (-50.0, -25.0), "In": (-70.0, -45.0)}  # darker than the strip
_CLASS_CODE = {"In": 1, "Pa": 2, "Sc": 3}


def make_sample(cls: str, index: int, seed: int = 0, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 H x W, mask uint8 0/255) of defect class ``cls``, number ``index``."""
    if cls not in _SHAPES:
        raise ValueError(f"unknown defect class {cls!r}; one of {', '.join(CLASSES)}")
    rng = np.random.Generator(np.random.PCG64([int(seed), _CLASS_CODE[cls], int(index)]))
    background = _texture(rng, size)
    mask = _SHAPES[cls](rng, size)
    soft = ndimage.gaussian_filter(mask.astype(np.float64), 0.8)  # defect edges are not razor sharp
    depth = rng.uniform(*_CONTRAST[cls])
    inside = ndimage.gaussian_filter(rng.normal(0.0, 5.0, (size, size)), 1.0)
    image = background + soft * (depth + inside)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), (mask.astype(np.uint8) * 255)


def generate(out_dir: str | os.PathLike, per_class: int = 4, seed: int = 0, size: int = SIZE) -> list[str]:
    """Write ``per_class`` images of each class to ``out_dir/images/<Cls>/`` and ``out_dir/masks/<Cls>/``;
    return the stems.

    Files that already exist with the same bytes are left alone (their mtime too), so rerunning the demo
    does not make its predictions look stale.
    """
    if per_class < 1:
        raise ValueError("per_class must be at least 1")
    out = Path(out_dir)
    stems = []
    for cls in CLASSES:
        for n in range(1, per_class + 1):
            stem = f"{cls}_{n}"
            image, mask = make_sample(cls, n, seed=seed, size=size)
            _write_if_changed(out / "images" / cls / f"{stem}.png", image)
            _write_if_changed(out / "masks" / cls / f"{stem}.png", mask)
            stems.append(stem)
    return stems


def _write_if_changed(path: Path, array: np.ndarray) -> None:
    data = encode_png(array)
    if path.is_file() and path.read_bytes() == data:
        return
    write_png(path, array)
