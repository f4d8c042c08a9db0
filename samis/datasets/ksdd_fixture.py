"""A small synthetic KolektorSDD in exactly its original layout, for tests where the real set is absent.

``kosNN/PartN.jpg`` (grey commutator surface, JPEG) beside ``kosNN/PartN_label.bmp``; the quirks
a reader must survive are all there: labels as 8-bit grey BMPs (0/255) and, for one part, as a
palette BMP; defect-free parts with an all-zero label; and a nested duplicate folder
(``kos<first>/kos<second>/``, a copy of another folder) that must be ignored. Everything is drawn
from ``seed``: the same call writes the same files.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from samis.imageio import atomic_write_bytes

PARTS = 8


def _surface(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Vertical copper lamellae of a commutator: bright bars with dark gaps, slightly noisy."""
    bars = 150 + 50 * (np.sin(np.linspace(0, 6 * np.pi, w)) > -0.6)
    img = np.repeat(bars[None, :], h, axis=0) + ndimage.gaussian_filter(rng.normal(0, 10, (h, w)), 1.0)
    return img


def _defect(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A thin crack: an elongated ellipse at a random place and slight angle."""
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = rng.uniform(0.25, 0.75) * h, rng.uniform(0.3, 0.7) * w
    angle = rng.uniform(-0.4, 0.4)
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    return (u / (0.08 * w + 2)) ** 2 + (v / (0.15 * h)) ** 2 <= 1.0


def _bmp(array: np.ndarray, palette: bool) -> bytes:
    img = Image.fromarray(array, mode="L")
    if palette:  # indices 0/1 with a grey palette, as some exports of the set store it
        img = Image.fromarray((array > 0).astype(np.uint8), mode="P")
        img.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    buf = io.BytesIO()
    img.save(buf, format="BMP")
    return buf.getvalue()


def make_ksdd_fixture(root: str | Path, n_folders: int = 3, defective: tuple[tuple[int, int], ...] = ((1, 2), (1, 5), (2, 0), (3, 7)),
                      seed: int = 0, size: tuple[int, int] = (48, 120), palette_part: tuple[int, int] = (2, 0),
                      nested: tuple[int, int] | None = (3, 1)) -> Path:
    """Write ``n_folders`` x 8 parts into ``root`` (the ``KolektorSDD`` folder); return ``root``.

    ``defective``: (folder number, part) pairs that get a crack; ``palette_part``: the one whose label
    is a palette BMP; ``nested``: (outer, inner) folder numbers, ``kos<outer>/kos<inner>/`` becomes a
    copy of ``kos<inner>``. ``size`` is (width, height).
    """
    root = Path(root)
    w, h = size
    for k in range(1, n_folders + 1):
        folder = root / f"kos{k:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for part in range(PARTS):
            rng = np.random.default_rng([seed, k, part])
            img = _surface(rng, h, w)
            mask = _defect(rng, h, w) if (k, part) in defective else np.zeros((h, w), bool)
            img[mask] -= 90
            buf = io.BytesIO()
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="L").save(buf, format="JPEG", quality=90)
            atomic_write_bytes(folder / f"Part{part}.jpg", buf.getvalue())
            label = mask.astype(np.uint8) * 255
            atomic_write_bytes(folder / f"Part{part}_label.bmp", _bmp(label, (k, part) == palette_part))
    if nested is not None:
        outer, inner = nested
        target = root / f"kos{outer:02d}" / f"kos{inner:02d}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(root / f"kos{inner:02d}", target)
    return root
