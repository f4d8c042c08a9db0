"""A user's own set, as users have it: images and masks matched by stem, the root being the set itself.

By default images sit in ``images/`` (or one level down, ``images/<sub>/``) and masks in ``masks/``
(or ``masks/<sub>/``) under the same stem. Options describe other shapes without copying anything:
``images_dir``/``masks_dir`` (``.`` for the root; both may be one folder), ``mask_suffix``
(``Part0.jpg`` <-> ``Part0_label.bmp``), ``mask_ext``, ``recursive`` (any depth; the stem is the
relative path with ``/`` -> ``_``, so ``kos01/Part0`` and ``kos02/Part0`` stay apart) and
``categories`` (``folders``: the first subfolder names the category; ``none``: one category
``all``). Masks may be 8-bit (> 128 is foreground), 0/1 label images or palette images (label > 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from samis.datasets.base import Dataset, Option, Sample, _listing, pair_images_with_masks, without_empty_masks
from samis.errors import ConfigError, DataError
from samis.imageio import IMAGE_SUFFIXES
from samis.sorting import natural_key

FLAT_CATEGORY = "all"


@dataclass(frozen=True)
class Entry:
    """One file found: its key (the stem samis uses), path, folder relative to the top, and category."""

    key: str
    path: Path
    parent: Path
    category: str


def _files(top: Path, recursive: bool, skip: Path | None = None) -> list[Path]:
    """Image files in ``top`` and its direct subfolders, or at any depth; hidden files and folders skipped,
    and so is ``skip`` (the other kind's folder when it lies inside ``top``: ``images_dir: .``, ``masks_dir: masks``)."""
    if recursive:
        found = [p for p in top.rglob("*") if not any(part.startswith(".") for part in p.relative_to(top).parts)]
    else:
        found = [p for p in top.iterdir() if not p.name.startswith(".")]
        found += [q for sub in found if sub.is_dir() for q in sub.iterdir() if not q.name.startswith(".")]
    if skip is not None and skip != top and skip.is_relative_to(top):
        found = [p for p in found if not p.is_relative_to(skip)]
    return sorted((p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                  key=lambda p: natural_key(str(p.relative_to(top))))


def _found_text(folder: Path, limit: int = 6) -> str:
    if not folder.is_dir():
        return f"{folder} does not exist"
    names = sorted((p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if not p.name.startswith(".")), key=natural_key)
    return f"found in {folder}: {_listing(names, limit) if names else 'nothing'}"


class Folder(Dataset):
    name = "folder"
    folder = None
    splits = ("full", "defective")
    description = "your own set: images and masks matched by stem (options: images_dir, masks_dir, mask_suffix, ...)"
    layout = (
        "  images/<stem>.<png|jpg|jpeg|bmp|tif>   or images/<sub>/<stem>.<ext>\n"
        "  masks/<stem>.<png|jpg|jpeg|bmp|tif>    (or masks/<sub>/<stem>.<ext>; same size as the image)\n"
        "  (other shapes: dataset options images_dir, masks_dir, mask_suffix, mask_ext, recursive, categories)"
    )
    options = {
        "images_dir": Option("images", "folder of the images, relative to the root ('.' for the root)"),
        "masks_dir": Option("masks", "folder of the masks, relative to the root; may be images_dir"),
        "mask_suffix": Option("", "what the mask's name adds to the image's stem, e.g. _label or _mask"),
        "mask_ext": Option("", "the masks' file type, e.g. png or bmp (default: any image type)"),
        "recursive": Option(False, "read subfolders at any depth; stems are relative paths with / -> _"),
        "categories": Option("none", "folders: the first subfolder is the category; none: one category 'all'",
                             choices=("none", "folders")),
    }

    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        return True

    def required_folders(self) -> list[str]:
        return []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ext = self.option["mask_ext"].lower()
        self.mask_ext = "" if not ext else (ext if ext.startswith(".") else "." + ext)
        if self.mask_ext and self.mask_ext not in IMAGE_SUFFIXES:
            raise ConfigError(f"dataset option mask_ext {ext!r}: expected one of {', '.join(s[1:] for s in IMAGE_SUFFIXES)}")
        self.image_dir = self._folder("images_dir")
        self.mask_dir = self._folder("masks_dir")
        self.shared = self.image_dir.resolve() == self.mask_dir.resolve()
        if self.shared and not (self.option["mask_suffix"] or self.mask_ext):
            raise ConfigError(
                f"{self.image_dir}: images and masks are in one folder, so masks must be told apart by name: "
                "set the dataset option mask_suffix (e.g. _label) or mask_ext (e.g. png when images are jpg)"
            )

    def _folder(self, key: str) -> Path:
        folder = self.root / self.option[key]
        if not folder.is_dir():
            raise DataError(
                f"{folder}: no such folder; {_found_text(self.root)} — set the dataset option {key} to the "
                f"folder holding the {'images' if key == 'images_dir' else 'masks'} ('.' for {self.root} itself); "
                f"expected layout:\n{self.layout}"
            )
        return folder

    def _is_mask(self, path: Path) -> bool:
        return path.stem.endswith(self.option["mask_suffix"]) and (not self.mask_ext or path.suffix.lower() == self.mask_ext)

    def _entries(self, top: Path, masks: bool) -> dict[str, Entry]:
        suffix = self.option["mask_suffix"]
        out: dict[str, Entry] = {}
        other = self.image_dir if masks else self.mask_dir
        for path in _files(top, self.option["recursive"], other):
            is_mask = self._is_mask(path)
            if (masks and not is_mask) or (not masks and self.shared and is_mask):
                continue  # not a mask, or a mask beside the images
            rel = path.relative_to(top)
            stem = path.stem[: len(path.stem) - len(suffix)] if masks and suffix else path.stem
            key = "_".join((*rel.parent.parts, stem)) if self.option["recursive"] else stem
            category = rel.parts[0] if self.option["categories"] == "folders" and len(rel.parts) > 1 else FLAT_CATEGORY
            if key in out:
                raise DataError(
                    f"{top}: the stem {key!r} occurs twice ({out[key].path} and {path}); predictions are stored by "
                    "stem, so stems must be unique across the set — rename one of them"
                    + ("" if self.option["recursive"] else ", or set the dataset option recursive: true "
                       "(stems then include the subfolder)")
                )
            out[key] = Entry(key, path, rel.parent, category)
        return out

    def _missing_mask(self, lacking: list[str], images: dict[str, Entry]) -> DataError:
        entry = images[lacking[0]]
        where = self.mask_dir / entry.parent
        expected = where / f"{entry.path.stem}{self.option['mask_suffix']}{self.mask_ext or '.<png|bmp|...>'}"
        similar = sorted(p.name for p in where.glob(f"{entry.path.stem}*") if p.is_file()) if where.is_dir() else []
        found = f"found instead: {', '.join(similar)}" if similar else _found_text(where)
        return DataError(
            f"{entry.path}: no ground-truth mask; expected {expected}; {found} — set the dataset options "
            f"masks_dir / mask_suffix / mask_ext to match. {len(lacking)} image(s) lack a mask: {_listing(lacking)}"
        )

    def scan(self) -> list[Sample]:
        images, masks = self._entries(self.image_dir, False), self._entries(self.mask_dir, True)
        if not images:
            raise DataError(f"{self.image_dir}: no images found; {_found_text(self.image_dir)}"
                            + ("" if self.option["recursive"] else " (set recursive: true to read deeper subfolders)"))
        lacking = sorted(set(images) - set(masks), key=natural_key)
        if lacking:
            raise self._missing_mask(lacking, images)
        pairs = pair_images_with_masks({k: e.path for k, e in images.items()}, {k: e.path for k, e in masks.items()},
                                       self.image_dir, self.mask_dir, self.option["mask_suffix"] + (self.mask_ext or ".png"))
        return [Sample(key, images[key].category, image, mask, mask_rule="labels") for key, image, mask in pairs]

    def select(self, samples: list[Sample]) -> list[Sample]:
        return samples if self.split == "full" else without_empty_masks(samples)
