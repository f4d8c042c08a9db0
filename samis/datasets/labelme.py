"""labelme annotations as ground truth: every polygon of an image rasterized and unioned.

A labelme JSON names its image (``imagePath``) and size (``imageHeight``, ``imageWidth``) and lists
``shapes``, each a polygon of (x, y) points in pixels. A pixel is foreground when its centre lies
inside a polygon (``skimage.draw.polygon``), the usual rasterization for segmentation ground truth.
The JSON is untrusted data: anything that is not such an annotation is a ``DataError`` naming the
file, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path, PureWindowsPath

import numpy as np
from skimage.draw import polygon as draw_polygon

from samis.errors import DataError

FIX = "re-export it from labelme or remove it"


def _read(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc}); {FIX}") from None
    missing = [key for key in ("shapes", "imagePath", "imageHeight", "imageWidth") if not isinstance(data, dict) or key not in data]
    if missing:
        raise DataError(f"{path}: not a labelme annotation (no {', '.join(missing)}); {FIX}")
    size = (data["imageHeight"], data["imageWidth"])
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise DataError(f"{path}: imageHeight/imageWidth must be positive integers, got {size[0]!r}/{size[1]!r}; {FIX}")
    if not isinstance(data["shapes"], list):
        raise DataError(f"{path}: 'shapes' must be a list of shapes; {FIX}")
    return data


def _points(path: Path, index: int, shape) -> np.ndarray:
    where = f"{path}: shapes[{index}]"
    if not isinstance(shape, dict):
        raise DataError(f"{where} is not a shape (a mapping with label and points); {FIX}")
    kind = shape.get("shape_type") or "polygon"
    if kind != "polygon":
        raise DataError(f"{where} is a {kind!r}; only polygons are read — convert it to a polygon in labelme")
    try:
        points = np.asarray(shape.get("points"), dtype=np.float64)
    except (TypeError, ValueError):
        points = np.empty((0,))
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise DataError(f"{where} ({shape.get('label')!r}): points must be a list of [x, y] numbers; {FIX}")
    if len(points) < 3:
        raise DataError(
            f"{where} ({shape.get('label')!r}): a polygon needs at least 3 points, it has {len(points)}; "
            "complete or delete it in labelme"
        )
    return points


def rasterize(path: str | Path, image_name: str | None = None) -> np.ndarray:
    """H x W bool: the union of the annotation's polygons, at the size the JSON gives.

    ``image_name`` (a file name) must match the file name in ``imagePath``, so an annotation copied
    beside the wrong image is caught rather than scored.
    """
    path = Path(path)
    data = _read(path)
    named = str(data["imagePath"])
    if image_name is not None and PureWindowsPath(named).name != image_name:
        raise DataError(
            f"{path}: imagePath is {named!r} but the annotation sits beside image {image_name!r}; "
            "this JSON belongs to another image — fix imagePath or pair the right files"
        )
    height, width = data["imageHeight"], data["imageWidth"]
    mask = np.zeros((height, width), dtype=bool)
    for index, shape in enumerate(data["shapes"]):
        points = _points(path, index, shape)
        rows, cols = draw_polygon(points[:, 1], points[:, 0], shape=(height, width))
        mask[rows, cols] = True
    return mask
