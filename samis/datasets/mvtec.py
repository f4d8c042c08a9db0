"""MVTec AD layout: ``<object>/test/<defect>/<id>.png`` with ``<object>/ground_truth/<defect>/<id>_mask.png``.

MVTec AD and the industrial sets that follow its layout share it. Defect-free test images sit in
``test/good/`` and have no mask: their ground truth is empty. ``train/`` (defect-free images for
training anomaly detectors) is not read. The category is the defect type; with every object read
(no ``object`` option) it is ``<object>/<defect>``. Stems are ``<object>_<defect>_<id>`` either
way, so maps of one object stay valid when all objects are run.
"""

from __future__ import annotations

from pathlib import Path

from samis.datasets.base import Dataset, Option, Sample, index_images, natural_key, pair_images_with_masks
from samis.errors import DataError

GOOD = "good"
MASK_SUFFIX = "_mask"


def _subfolders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: natural_key(p.name))


class MVTec(Dataset):
    name = "mvtec"
    folder = None  # the root is the set (e.g. mvtec_anomaly_detection/), whatever its name
    splits = ("test", "defective")
    default_split = "test"
    description = "MVTec AD layout (MVTec AD, MV-AD2025 ...): test images per defect type, good ones without mask"
    layout = (
        "  <object>/test/<defect>/<id>.png              (test/good/: defect-free, no masks)\n"
        "  <object>/ground_truth/<defect>/<id>_mask.png (same size as the image)"
    )
    options = {"object": Option(None, "read only this object (e.g. bottle); default: every object")}

    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        return True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.option["object"] is not None:
            self.objects()  # a wrong object name fails here, naming the objects that are there

    def objects(self) -> list[Path]:
        """The object folders read: the chosen one, or every folder holding ``test/``."""
        chosen = self.option["object"]
        found = [p for p in _subfolders(self.root) if (p / "test").is_dir()]
        if chosen is None:
            if not found:
                raise DataError(f"{self.root}: no <object>/test/ folder; {self._expected()}")
            return found
        if not (self.root / chosen / "test").is_dir():
            names = ", ".join(p.name for p in found) or "none"
            raise DataError(f"{self.root / chosen / 'test'}: not found; objects with a test/ folder here: {names} "
                            "(set the dataset option object to one of them)")
        return [self.root / chosen]

    def required_folders(self) -> list[str]:
        return []

    def scan(self) -> list[Sample]:
        samples = []
        several = self.option["object"] is None
        for obj in self.objects():
            for defect_dir in _subfolders(obj / "test"):
                defect = defect_dir.name
                category = f"{obj.name}/{defect}" if several else defect
                images = index_images(defect_dir)
                if defect == GOOD:
                    pairs = [(stem, path, None) for stem, path in images.items()]
                else:
                    mask_dir = obj / "ground_truth" / defect
                    if not mask_dir.is_dir():
                        raise DataError(f"{mask_dir}: missing; the masks of {defect_dir} go there as <id>{MASK_SUFFIX}.png")
                    masks = {stem[: -len(MASK_SUFFIX)] if stem.endswith(MASK_SUFFIX) else stem: path
                             for stem, path in index_images(mask_dir).items()}
                    pairs = pair_images_with_masks(images, masks, defect_dir, mask_dir, MASK_SUFFIX + ".png")
                samples += [Sample(f"{obj.name}_{defect}_{stem}", category, image, mask) for stem, image, mask in pairs]
        return samples

    def in_split(self, sample: Sample) -> bool:
        return self.split == "test" or sample.mask_path is not None
