"""Reading images, masks and maps the way the saliency toolboxes do, and writing maps atomically.

Every reader turns a decoding failure into a ``DataError`` that names the file, so a broken file
never surfaces as a traceback from inside an image library. Every writer goes through a temporary
file and ``os.replace``, so a crash never leaves a half-written map that a later run would trust.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from samis.errors import DataError, output_error

_UMASK = os.umask(0)
os.umask(_UMASK)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _open(path: Path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes); re-export or remove it")
    try:
        img = Image.open(path)
        img.load()  # decode now, so a truncated file fails here and not later
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(
            f"{path}: cannot be decoded as an image ({exc}); it is truncated or not an image — "
            "re-export it as PNG/JPEG/BMP or remove it"
        ) from None
    return img


def _to_uint8(img: Image.Image) -> np.ndarray:
    """Array of the image in 8 bits; 16-bit and 32-bit integer images are rescaled, not clipped."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img)
        if arr.dtype != np.uint16 and arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DataError(f"{img.filename}: integer image outside 0..65535; convert it to 8 or 16 bits")
        return np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        hi = 1.0 if arr.size and arr.max() <= 1.0 else 255.0
        return np.clip(np.round(arr / hi * 255.0), 0, 255).astype(np.uint8)
    return None  # handled by PIL conversion


def read_gray(path: str | os.PathLike) -> np.ndarray:
    """An H x W uint8 array: grayscale as stored, or the luminance of a colour image (as cv2/MATLAB do)."""
    img = _open(Path(path))
    arr = _to_uint8(img)
    if arr is not None:
        return arr
    if img.mode not in ("L", "1"):
        img = img.convert("RGB").convert("L")
    elif img.mode == "1":
        img = img.convert("L")
    return np.asarray(img, dtype=np.uint8)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """An H x W x 3 uint8 array, grayscale replicated to three channels (what SAM takes)."""
    img = _open(Path(path))
    arr = _to_uint8(img)
    if arr is not None:
        return np.repeat(arr[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def read_mask(path: str | os.PathLike, threshold: int = 128) -> np.ndarray:
    """A boolean H x W ground-truth mask: pixel > ``threshold`` (a colour mask is read as its luminance)."""
    return read_gray(path) > threshold


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an 8-bit map (grayscale H x W or RGB H x W x 3)."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise ValueError(f"maps are written as uint8, got {arr.dtype}")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader sees either the old file, no file, or the complete new file — never a partial one.
    ``durable=False`` skips the ``fsync`` (for caches, whose readers recompute a damaged entry).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise output_error(path, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are meant to be shared
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise output_error(path, exc) from None
        raise


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Atomically write an 8-bit map as PNG."""
    atomic_write_bytes(path, encode_png(array))
