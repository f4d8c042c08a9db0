"""BSData (ball-screw drive pitting): ``data/<stem>.jpg`` with labelme polygons in ``label/<stem>.json``.

``image_data.json`` lists every image of the project with its ``train_test_split``; the 394
annotated images carry ``train`` (324) or ``test`` (70), the unannotated rest ``null`` and are not
shipped in ``data/``. Ground truth is the union of an image's ``Pitting`` polygons (samis.datasets.labelme).
"""

from __future__ import annotations

import json
from pathlib import Path

from samis.datasets.base import Dataset, Sample, index_images, pair_images_with_masks
from samis.errors import DataError

SPLIT_FILE = "image_data.json"
CATEGORY = "Pitting"


def read_splits(path: Path) -> dict[str, str]:
    """image file name -> ``train``/``test`` for every annotated image listed in ``image_data.json``."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["images"]
        return {e["filename"]: e["train_test_split"] for e in entries if e.get("train_test_split") is not None}
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; BSData ships it beside data/ and label/ (it holds the split)") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            f"{path}: not BSData's image list (expected {{\"images\": [{{\"filename\", \"train_test_split\"}}, ...]}}; "
            f"{type(exc).__name__}: {exc}); restore it from the release"
        ) from None


class BSData(Dataset):
    name = "bsdata"
    folder = "BSData"
    splits = ("full", "train", "test")
    description = "BSData ball-screw pitting, 394 images with labelme polygons (train 324, test 70)"
    layout = (
        "  data/<stem>.jpg          (images)\n"
        "  label/<stem>.json        (labelme polygons, label Pitting)\n"
        "  image_data.json          (each image's train_test_split)"
    )

    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        return (path / SPLIT_FILE).is_file() or (path / "label").is_dir()

    def required_folders(self) -> list[str]:
        return ["data", "label"]

    def scan(self) -> list[Sample]:
        image_dir, label_dir = self.root / "data", self.root / "label"
        splits = read_splits(self.root / SPLIT_FILE)
        images = index_images(image_dir)
        labels = index_images(label_dir, (".json",))
        unlisted = sorted(p.name for p in images.values() if p.name not in splits)
        if unlisted:
            raise DataError(
                f"{image_dir / unlisted[0]}: not in {self.root / SPLIT_FILE} with a train_test_split, so its split "
                f"is unknown ({len(unlisted)} such image(s)); restore image_data.json from the release or remove them"
            )
        self._split_of = {stem: splits[path.name] for stem, path in images.items()}
        pairs = pair_images_with_masks(images, labels, image_dir, label_dir, ".json")
        return [Sample(stem, CATEGORY, image, label, mask_rule="labelme") for stem, image, label in pairs]

    def in_split(self, sample: Sample) -> bool:
        return self.split == "full" or self._split_of[sample.stem] == self.split
