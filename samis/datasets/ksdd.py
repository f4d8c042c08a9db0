"""KolektorSDD (commutator surfaces), original layout: ``kosNN/PartN.jpg`` beside ``kosNN/PartN_label.bmp``.

50 folders of 8 parts (400 images), 52 of them with a defect. The label BMPs are 8-bit grey or
palette images, foreground wherever non-zero. Part names repeat in every folder, so stems are
``kosNN_PartN``. Some copies of the set carry a nested duplicate folder (``kos13/kos08/``, a stray
copy of ``kos08``): only files directly inside a ``kosNN/`` folder are read.
"""

from __future__ import annotations

import re
from pathlib import Path

from samis.datasets.base import Dataset, Sample, natural_key, pair_images_with_masks, without_empty_masks
from samis.errors import DataError

LABEL_SUFFIX = "_label"
CATEGORY = "commutator"
_FOLDER = re.compile(r"^kos\d+$")


def part_folders(root: Path) -> list[Path]:
    return sorted((p for p in root.iterdir() if p.is_dir() and _FOLDER.match(p.name)), key=lambda p: natural_key(p.name))


def _index(folder: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Images (``PartN.jpg``) and labels (``PartN_label.bmp``) of one folder, keyed by the part's stem."""
    images: dict[str, Path] = {}
    labels: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        suffix = path.suffix.lower()
        if suffix == ".bmp" and path.stem.endswith(LABEL_SUFFIX):
            labels[path.stem[: -len(LABEL_SUFFIX)]] = path
        elif suffix in (".jpg", ".jpeg"):
            images[path.stem] = path
    return images, labels


class KolektorSDD(Dataset):
    name = "ksdd"
    folder = "KolektorSDD"
    splits = ("full", "defective")
    description = "KolektorSDD commutators, 50 folders x 8 parts = 400 images (defective: 52), BMP labels"
    layout = (
        "  kos01/Part0.jpg  kos01/Part0_label.bmp  ...  kos01/Part7.jpg  kos01/Part7_label.bmp\n"
        "  ... kos50/       (labels: 8-bit grey or palette BMP, defect where non-zero; nested folders ignored)"
    )

    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        return path.is_dir() and bool(part_folders(path))

    def required_folders(self) -> list[str]:
        return []

    def scan(self) -> list[Sample]:
        folders = part_folders(self.root)
        if not folders:
            found = sorted(p.name + ("/" if p.is_dir() else "") for p in self.root.iterdir())[:8]
            raise DataError(f"{self.root}: no kosNN/ folders; found {', '.join(found) or 'nothing'}; {self._expected()}")
        samples = []
        for folder in folders:
            images, labels = _index(folder)
            for part, image, label in pair_images_with_masks(images, labels, folder, folder, LABEL_SUFFIX + ".bmp"):
                samples.append(Sample(f"{folder.name}_{part}", CATEGORY, image, label, mask_rule="nonzero"))
        return samples

    def select(self, samples: list[Sample]) -> list[Sample]:
        return samples if self.split == "full" else without_empty_masks(samples)
