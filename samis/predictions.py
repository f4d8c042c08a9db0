"""Stored prediction maps: ``<pred_root>/<Method>/<stem>.<png|jpg|jpeg|bmp>``, one 8-bit map per image.

This is the layout of the published baselines and of samis' own SAM runs. A map is read as the
toolboxes read it (luminance of a colour map, ``samis.imageio.read_gray``) and, when its size differs
from the ground truth's, resized to it bilinearly (``cv2.resize`` ``INTER_LINEAR``, as PySODEvalToolkit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from samis.sorting import natural_key
from samis.errors import ConfigError, DataError
from samis.imageio import read_gray

MAP_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class MethodMaps:
    """One method's maps for a list of stems: which are there, which are missing."""

    name: str
    folder: Path
    paths: dict  # stem -> Path, only stems of the split
    missing: tuple  # stems of the split without a map

    @property
    def complete(self) -> bool:
        return not self.missing


def list_methods(pred_root: str | Path) -> list[str]:
    """The method folders under a predictions root (hidden folders ignored), naturally sorted."""
    root = Path(pred_root)
    if not root.is_dir():
        raise DataError(f"predictions folder {root} not found: pass the folder holding one sub-folder per method")
    names = sorted((p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key)
    if not names:
        raise DataError(
            f"{root} holds no method folder; expected <Method>/<stem>.png (e.g. {root}/RCRR/In_1.png)"
        )
    return names


def index_maps(folder: Path) -> dict[str, Path]:
    """stem -> map file in ``folder`` (one directory scan, no stat per file); two files with one stem
    (``In_1.png`` and ``In_1.jpg``) are ambiguous and raise ``DataError``."""
    found: dict[str, Path] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            stem, suffix = os.path.splitext(entry.name)
            if entry.name.startswith(".") or suffix.lower() not in MAP_SUFFIXES or not entry.is_file():
                continue
            if stem in found:
                raise DataError(
                    f"{folder}: two maps share the stem {stem!r} ({found[stem].name}, {entry.name}); keep one of them"
                )
            found[stem] = folder / entry.name
    return found


def index_method(pred_root: str | Path, method: str, stems: list[str]) -> MethodMaps:
    """The maps of ``method`` for ``stems``; extra maps (stems not asked for) are ignored."""
    folder = Path(pred_root) / method
    if not folder.is_dir():
        available = ", ".join(list_methods(pred_root))
        raise ConfigError(f"no method folder {folder}; methods under {pred_root}: {available}")
    found = index_maps(folder)
    paths = {s: found[s] for s in stems if s in found}
    missing = tuple(s for s in stems if s not in found)
    return MethodMaps(method, folder, paths, missing)


def read_map(path: Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """An H x W uint8 map, resized bilinearly to ``shape`` (the ground truth's) when given and different.

    A plain 8-bit grayscale file is decoded by OpenCV (byte-identical to PIL's decoding on the stored
    PNG/JPEG baselines, ~30% faster); anything else — colour, palette, 16-bit, unreadable — goes through
    ``read_gray``, which gives the luminance or a ``DataError`` naming the file."""
    pred = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pred is None or pred.ndim != 2 or pred.dtype != np.uint8:
        pred = read_gray(path)
    if shape is not None and pred.shape != tuple(shape):
        pred = cv2.resize(pred, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return pred
