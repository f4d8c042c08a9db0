"""Magnetic tile defects: ``MT_<Class>/Imgs/<stem>.jpg`` image beside its ``<stem>.png`` mask.

Empty masks are real data (all 952 ``Free`` tiles and 4 ``Uneven`` ones), so ``full`` keeps them;
``defective`` leaves them out, which needs every mask read once (about a second, remembered for
the process, see ``samis.datasets.base.empty_mask_stems``).
"""

from __future__ import annotations

from pathlib import Path

from samis.datasets.base import Dataset, Sample, index_images, pair_images_with_masks, without_empty_masks

CLASSES = ("Blowhole", "Break", "Crack", "Fray", "Free", "Uneven")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".bmp")
MASK_SUFFIXES = (".png",)


def class_folder(cls: str) -> str:
    return f"MT_{cls}/Imgs"


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
        return samples if self.split == "full" else without_empty_masks(samples)
