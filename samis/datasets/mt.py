"""Magnetic tile defects: ``MT_<Class>/Imgs/<stem>.jpg`` image beside its ``<stem>.png`` mask.

Empty masks are real data (all 952 ``Free`` tiles and 4 ``Uneven`` ones), so ``full`` keeps them;
``defective`` leaves them out, which needs every mask read once. That scan (about a second) is
remembered for the rest of the process, keyed by the masks' paths, sizes and modification times,
so an edited mask is noticed and an unchanged set is never scanned twice.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from samis.datasets.base import MASK_THRESHOLD, Dataset, Sample, index_images, pair_images_with_masks
from samis.imageio import read_gray

CLASSES = ("Blowhole", "Break", "Crack", "Fray", "Free", "Uneven")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".bmp")
MASK_SUFFIXES = (".png",)


def class_folder(cls: str) -> str:
    return f"MT_{cls}/Imgs"


@lru_cache(maxsize=8)
def _empty_stems(masks: tuple[tuple[str, str, int, int], ...]) -> frozenset[str]:
    return frozenset(stem for stem, path, _size, _mtime in masks if not (read_gray(path) > MASK_THRESHOLD).any())


def empty_mask_stems(samples: list[Sample]) -> frozenset[str]:
    """Stems whose mask has no foreground pixel; read once per process for an unchanged set."""
    key = []
    for s in samples:
        st = s.mask_path.stat()
        key.append((s.stem, str(s.mask_path), st.st_size, st.st_mtime_ns))
    return _empty_stems(tuple(key))


class MagneticTile(Dataset):
    name = "mt"
    folder = "Magnetic-tile-defect"
    splits = ("full", "defective")
    description = "Magnetic tile, 1344 images of variable size, 6 classes incl. defect-free Free (defective: 388)"
    layout = "  MT_<Class>/Imgs/<stem>.jpg and <stem>.png (mask, same stem and size)\n  for Class in " + ", ".join(
        CLASSES
    )

    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        return any(p.is_dir() for p in path.glob("MT_*"))

    def required_folders(self) -> list[str]:
        return [class_folder(c) for c in CLASSES]

    def scan(self) -> list[Sample]:
        samples = []
        for cls in CLASSES:
            folder = self.root / class_folder(cls)
            images, masks = index_images(folder, IMAGE_SUFFIXES), index_images(folder, MASK_SUFFIXES)
            for stem, image, mask in pair_images_with_masks(images, masks, folder, folder, ".png"):
                samples.append(Sample(stem, cls, image, mask))
        return samples

    def select(self, samples: list[Sample]) -> list[Sample]:
        if self.split == "full":
            return samples
        empty = empty_mask_stems(samples)
        return [s for s in samples if s.stem not in empty]
