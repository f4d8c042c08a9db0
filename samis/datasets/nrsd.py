"""NRSD-MN rail surface defects, test layout: ``{craft,real}/images/*.png`` with ``{craft,real}/annotations/*.jpg``.

``craft`` holds the man-made defects (965 test images), ``real`` the natural ones (165). The masks
are stored as JPEG, so their edges carry compression artifacts; they are binarized at > 128 like
every other ground truth.
"""

from __future__ import annotations

from pathlib import Path

from samis.datasets.base import Dataset, Sample, index_images, pair_images_with_masks

SUBSETS = ("craft", "real")


class NRSD(Dataset):
    name = "nrsd"
    folder = "NRSD-MN"
    splits = ("full", "craft", "real")
    description = "NRSD-MN rail, test images: craft (man-made, 965) and real (natural, 165); JPEG masks"
    layout = (
        "  craft/images/<stem>.png   craft/annotations/<stem>.jpg   (man-made defects)\n"
        "  real/images/<stem>.png    real/annotations/<stem>.jpg    (natural defects)"
    )

    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        return any((path / sub / "images").is_dir() or (path / sub / "annotations").is_dir() for sub in SUBSETS)

    def _subsets(self) -> tuple[str, ...]:
        return SUBSETS if self.split == "full" else (self.split,)

    def required_folders(self) -> list[str]:
        return [f"{sub}/{kind}" for sub in self._subsets() for kind in ("images", "annotations")]

    def scan(self) -> list[Sample]:
        samples = []
        for sub in self._subsets():
            image_dir, mask_dir = self.root / sub / "images", self.root / sub / "annotations"
            pairs = pair_images_with_masks(index_images(image_dir), index_images(mask_dir), image_dir, mask_dir, ".jpg")
            samples += [Sample(stem, sub, image, mask) for stem, image, mask in pairs]
        return samples
