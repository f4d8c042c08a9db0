"""A user's own set: ``images/`` and ``masks/`` matched by stem, the root being the set itself.

Images may sit directly in ``images/`` (category ``all``) or one level down in
``images/<category>/``; masks are matched by stem anywhere in ``masks/`` or ``masks/<sub>/``, so
stems must be unique across the set (predictions are stored by stem). Masks may be 8-bit (> 127
is foreground), 0/1 label images or palette PNGs (label > 0 is foreground).
"""

from __future__ import annotations

from pathlib import Path

from samis.datasets.base import Dataset, Sample, index_images, pair_images_with_masks
from samis.sorting import natural_key
from samis.errors import DataError

FLAT_CATEGORY = "all"


def _index_tree(top: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """stem -> path and stem -> category for ``top`` and its direct subfolders."""
    files: dict[str, Path] = {}
    categories: dict[str, str] = {}
    folders = [(top, FLAT_CATEGORY)] + [
        (sub, sub.name) for sub in sorted(top.iterdir(), key=lambda p: natural_key(p.name))
        if sub.is_dir() and not sub.name.startswith(".")
    ]
    for folder, category in folders:
        for stem, path in index_images(folder).items():
            if stem in files:
                raise DataError(
                    f"{top}: the stem {stem!r} occurs twice ({files[stem]} and {path}); predictions are "
                    "stored by stem, so stems must be unique across the set — rename one of them"
                )
            files[stem], categories[stem] = path, category
    return files, categories


class Folder(Dataset):
    name = "folder"
    folder = None
    splits = ("full",)
    description = "your own set: images/ and masks/ matched by stem (category = subfolder of images/, else 'all')"
    layout = (
        "  images/<stem>.<png|jpg|jpeg|bmp|tif>   or images/<category>/<stem>.<ext>\n"
        "  masks/<stem>.<png|jpg|jpeg|bmp|tif>    (or masks/<category>/<stem>.<ext>; same size as the image)"
    )

    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        return True

    def required_folders(self) -> list[str]:
        return ["images", "masks"]

    def scan(self) -> list[Sample]:
        images, categories = _index_tree(self.root / "images")
        masks, _ = _index_tree(self.root / "masks")
        pairs = pair_images_with_masks(images, masks, self.root / "images", self.root / "masks", ".png")
        return [Sample(stem, categories[stem], image, mask, mask_rule="labels") for stem, image, mask in pairs]
