"""Small copies of images, ground truths and maps for the HTML report's per-image browser.

A browser shows hundreds of rows; full-size images would make the page slow and the folder huge.
Each thumbnail is written once (skipped when newer than its source), at most ``SIZE`` px on its long
side with the aspect kept: the image as JPEG, masks and maps as 8-bit gray PNG.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from samis.imageio import atomic_write_bytes

SIZE = 128  # px, long side (the report asks for at most 160)


def _fresh(out: Path, source: Path) -> bool:
    return out.is_file() and out.stat().st_mtime_ns >= source.stat().st_mtime_ns


def _save(img: Image.Image, out: Path, fmt: str) -> None:
    img.thumbnail((SIZE, SIZE), Image.Resampling.BILINEAR if fmt == "PNG" else Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 80} if fmt == "JPEG" else {"optimize": True}))
    atomic_write_bytes(out, buf.getvalue())


def image_thumb(source: Path, out: Path) -> Path:
    """The image (RGB) as a JPEG thumbnail."""
    if not _fresh(out, source):
        from samis.imageio import read_rgb

        _save(Image.fromarray(read_rgb(source)), out, "JPEG")
    return out


def mask_thumb(mask: np.ndarray, source: Path, out: Path) -> Path:
    """A boolean mask (already binarized by the dataset's rule) as a gray PNG thumbnail."""
    if not _fresh(out, source):
        _save(Image.fromarray(mask.astype(np.uint8) * 255), out, "PNG")
    return out


def map_thumb(source: Path, out: Path) -> Path:
    """A stored 8-bit map (gray or RGB) as a gray PNG thumbnail in 16 gray levels: a soft map's
    thumbnail shrinks threefold (9 kB -> 3 kB at 128 px) and looks the same at that size."""
    if not _fresh(out, source):
        from samis.imageio import read_gray

        img = Image.fromarray(read_gray(source))
        img.thumbnail((SIZE, SIZE), Image.Resampling.BILINEAR)
        _save(Image.fromarray((np.asarray(img) // 16 * 17).astype(np.uint8)), out, "PNG")
    return out
