"""SD-saliency-900 (strip steel, NEU): ``Source Images/<Cls>_<n>.bmp`` with ``Ground truth/<Cls>_<n>.png``.

The split is the one every published saliency model on this set uses (EDRNet, DACNet, CSEPNet ...):
ids 61-100, 161-200 and 261-300 of each class are the test images, the rest train; zero-shot methods
are also reported on all 900.
"""

from __future__ import annotations

import re
from pathlib import Path

from samis.datasets.base import Dataset, Sample, index_images, pair_images_with_masks
from samis.errors import DataError

IMAGE_DIR = "Source Images"
MASK_DIR = "Ground truth"
CLASSES = ("In", "Pa", "Sc")  # inclusion, patches, scratches
TEST_IDS = frozenset(range(61, 101)) | frozenset(range(161, 201)) | frozenset(range(261, 301))
_STEM = re.compile(r"^(In|Pa|Sc)_(\d+)$")


def sample_id(stem: str) -> int:
    """The number ``n`` of a ``<Cls>_<n>`` stem."""
    return int(stem.rsplit("_", 1)[1])


class SD900(Dataset):
    name = "sd900"
    folder = "SD-saliency-900"
    splits = ("full", "test", "train")
    description = "SD-saliency-900 strip steel, 900 images 200x200, classes In/Pa/Sc (test 360, train 540)"
    layout = (
        "  Source Images/<Cls>_<n>.bmp   (Cls in In, Pa, Sc; n = 1..300)\n"
        "  Ground truth/<Cls>_<n>.png    (same stem, values 0/255)"
    )

    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        return (path / IMAGE_DIR).is_dir() or (path / MASK_DIR).is_dir()

    def required_folders(self) -> list[str]:
        return [IMAGE_DIR, MASK_DIR]

    def scan(self) -> list[Sample]:
        image_dir, mask_dir = self.root / IMAGE_DIR, self.root / MASK_DIR
        images, masks = index_images(image_dir), index_images(mask_dir)
        for stem, path in (*images.items(), *masks.items()):
            if not _STEM.match(stem):
                raise DataError(
                    f"{path}: unexpected file name; SD-saliency-900 files are named <Cls>_<n> with Cls one of "
                    f"{', '.join(CLASSES)} (e.g. In_1.bmp) — rename or remove it"
                )
        pairs = pair_images_with_masks(images, masks, image_dir, mask_dir, ".png")
        return [Sample(stem, stem.split("_", 1)[0], image, mask) for stem, image, mask in pairs]

    def in_split(self, sample: Sample) -> bool:
        if self.split == "full":
            return True
        is_test = sample_id(sample.stem) in TEST_IDS
        return is_test if self.split == "test" else not is_test
