"""What every dataset adapter shares: the ``Sample`` a worker loads, and the ``Dataset`` that lists them.

A ``Sample`` holds paths only, so a list of samples is cheap to build, to pickle and to hand to
evaluation workers, which then decode images in parallel. Adapters only say where the files are
and which split a sample belongs to; finding the set under a data root, pairing images with masks
and reporting what is missing is done here, once, with the same error messages for every set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from samis import paths
from samis.errors import ConfigError, DataError
from samis.imageio import IMAGE_SUFFIXES, read_gray, read_rgb
from samis.sorting import natural_key

MASK_THRESHOLD = 128  # ground truth is foreground where the 8-bit value is > 128, as PySODMetrics (and so
# PySODEvalToolkit) binarizes it: scores and prompts read the same mask the published numbers read


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image read from its header only, without decoding the pixels."""
    try:
        with Image.open(path) as img:
            width, height = img.size
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot be read as an image ({exc}); re-export it or remove it") from None
    return height, width


@dataclass(frozen=True)
class Sample:
    """One image and its ground truth, as paths; decoding happens in ``load_*`` on demand.

    ``mask_rule`` says how the mask file becomes a boolean: ``"gt128"`` (pixel > 128, the
    published sets), ``"labels"`` (user masks: 0/1 label images and palette PNGs are
    foreground where the label is > 0, 8-bit masks are foreground where > 128), ``"nonzero"``
    (any non-zero value or palette index, KolektorSDD) or ``"labelme"`` (the mask file is a
    labelme JSON whose polygons are rasterized). ``mask_path`` None means a defect-free image
    whose set ships no mask (MVTec AD ``good``): its ground truth is empty.
    """

    stem: str
    category: str
    image_path: Path
    mask_path: Path | None
    mask_rule: str = "gt128"

    def load_image(self) -> np.ndarray:
        """H x W x 3 uint8 (grayscale replicated), the input SAM takes."""
        return read_rgb(self.image_path)

    def load_mask(self) -> np.ndarray:
        """H x W bool ground truth; raises ``DataError`` if its size differs from the image's."""
        mask = self._read_mask()
        self._check_size(mask.shape, image_size(self.image_path))
        return mask

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """(image, mask) decoded together, their sizes checked against each other."""
        image = self.load_image()
        mask = self._read_mask()
        self._check_size(mask.shape, image.shape[:2])
        return image, mask

    def _read_mask(self) -> np.ndarray:
        if self.mask_path is None:
            return np.zeros(image_size(self.image_path), dtype=bool)
        if self.mask_rule == "labelme":
            from samis.datasets.labelme import rasterize

            return rasterize(self.mask_path, self.image_path.name)
        gray = read_gray(self.mask_path)  # first: a broken file is a DataError naming it
        if self.mask_rule == "nonzero":
            with Image.open(self.mask_path) as img:
                if img.mode == "P":  # palette BMP/PNG: index 0 is background
                    return np.asarray(img) > 0
            return gray > 0
        if self.mask_rule == "gt128":
            return gray > MASK_THRESHOLD
        if self.mask_rule == "labels":
            with Image.open(self.mask_path) as img:
                mode = img.mode
                if mode == "P":  # palette PNG: index 0 is background, whatever colour it shows
                    return np.asarray(img) > 0
            if mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"):
                # a colour label mask (say pure red on black) is dark as luminance: any bright channel counts
                rgb = read_rgb(self.mask_path)
                top = rgb.max(axis=2) if rgb.size else gray
                return top > (0 if top.size and top.max() == 1 else MASK_THRESHOLD)
            if gray.size and gray.max() == 1:  # a 0/1 label image, invisible at threshold 128
                return gray > 0
            return gray > MASK_THRESHOLD
        raise ValueError(f"unknown mask rule {self.mask_rule!r}")

    def _check_size(self, mask_shape: tuple[int, ...], image_shape: tuple[int, ...]) -> None:
        if tuple(mask_shape) != tuple(image_shape):
            fix = ("its imageWidth/imageHeight must be the image's size — re-annotate the image or fix the JSON"
                   if self.mask_rule == "labelme" else "re-export the mask at the image's size")
            raise DataError(
                f"size mismatch for sample {self.stem!r}: image {self.image_path} is "
                f"{image_shape[1]}x{image_shape[0]} (WxH) but mask {self.mask_path} is "
                f"{mask_shape[1]}x{mask_shape[0]}; the ground truth must have the image's size — {fix}"
            )


_EMPTY_SCANS: dict[tuple, frozenset[str]] = {}


def empty_mask_stems(samples: list[Sample]) -> frozenset[str]:
    """Stems whose ground truth has no foreground pixel (each set's own mask rule).

    A ``defective`` split needs every mask read once; the answer is remembered for the rest of the
    process, keyed by the masks' paths, sizes and modification times, so an edited mask is noticed
    and an unchanged set is never scanned twice.
    """
    key = []
    for s in samples:
        st = s.mask_path.stat() if s.mask_path is not None else None
        key.append((s.stem, str(s.mask_path), s.mask_rule, st and st.st_size, st and st.st_mtime_ns))
    key = tuple(key)
    if key not in _EMPTY_SCANS:
        if len(_EMPTY_SCANS) >= 8:
            _EMPTY_SCANS.pop(next(iter(_EMPTY_SCANS)))
        _EMPTY_SCANS[key] = frozenset(s.stem for s in samples if s.mask_path is None or not s._read_mask().any())
    return _EMPTY_SCANS[key]


def without_empty_masks(samples: list[Sample]) -> list[Sample]:
    """The samples whose ground truth has a foreground pixel (a ``defective`` split)."""
    empty = empty_mask_stems(samples)
    return [s for s in samples if s.stem not in empty]


@dataclass(frozen=True)
class Option:
    """One adapter option (a key of a dataset entry, or ``--dataset-option key=value``)."""

    default: Any
    help: str
    choices: tuple[str, ...] | None = None

    def parse(self, key: str, value: Any, dataset: str) -> Any:
        """The option's value from YAML (typed) or the command line (a string); ``ConfigError`` if invalid."""
        if isinstance(self.default, bool):
            if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
                return value.strip().lower() in ("true", "yes", "1")
            if isinstance(value, bool):
                return value
            raise ConfigError(f"dataset option {key} of {dataset!r}: expected true or false, got {value!r}")
        if not isinstance(value, str) or (not value and self.choices):
            raise ConfigError(f"dataset option {key} of {dataset!r}: expected a string, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"dataset option {key} of {dataset!r}: expected one of {', '.join(self.choices)}, got {value!r}")
        return value


def index_images(folder: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> dict[str, Path]:
    """stem -> path of the image files in ``folder`` (hidden and non-image files are ignored).

    Two files with one stem (``In_1.bmp`` and ``In_1.png``) are ambiguous and raise ``DataError``.
    """
    found: dict[str, Path] = {}
    for path in folder.iterdir():
        if path.name.startswith(".") or path.suffix.lower() not in suffixes or not path.is_file():
            continue
        if path.stem in found:
            raise DataError(
                f"{folder}: two files share the stem {path.stem!r} ({found[path.stem].name}, {path.name}); "
                "keep one of them"
            )
        found[path.stem] = path
    return found


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" ... ({len(names)} in all)" if len(names) > limit else "")


def pair_images_with_masks(
    images: dict[str, Path], masks: dict[str, Path], image_dir: Path, mask_dir: Path, mask_suffix: str
) -> list[tuple[str, Path, Path]]:
    """(stem, image, mask) for every image; an image without mask or a mask without image is a ``DataError``."""
    lacking = sorted(set(images) - set(masks), key=natural_key)
    if lacking:
        first = images[lacking[0]]
        raise DataError(
            f"{first}: no ground-truth mask; expected {mask_dir / (lacking[0] + mask_suffix)}. "
            f"{len(lacking)} image(s) in {image_dir} lack a mask: {_listing(lacking)}"
        )
    orphans = sorted(set(masks) - set(images), key=natural_key)
    if orphans:
        first = masks[orphans[0]]
        raise DataError(
            f"{first}: mask without an image; expected an image with stem {orphans[0]!r} in {image_dir}. "
            f"{len(orphans)} mask(s) in {mask_dir} have no image: {_listing(orphans)} — "
            "restore the images or remove the masks"
        )
    return [(stem, images[stem], masks[stem]) for stem in images]


def check_unique_stems(samples: list[Sample], where: Path) -> None:
    """Predictions are stored as ``<Method>/<stem>.png``, so a stem may occur only once per set."""
    seen: dict[str, Sample] = {}
    for sample in samples:
        if sample.stem in seen:
            raise DataError(
                f"{where}: the stem {sample.stem!r} occurs twice ({seen[sample.stem].image_path} and "
                f"{sample.image_path}); predictions are stored by stem, so rename one of them"
            )
        seen[sample.stem] = sample


class Dataset:
    """A set of samples in one split; adapters fill in the class attributes and the hooks below."""

    name: ClassVar[str]
    folder: ClassVar[str | None] = None  # the set's folder under a data root; None: the root is the set
    splits: ClassVar[tuple[str, ...]] = ("full",)
    default_split: ClassVar[str] = "full"
    description: ClassVar[str] = ""
    layout: ClassVar[str] = ""  # the expected layout, shown in every "not found" message
    options: ClassVar[dict[str, Option]] = {}  # adapter options: name -> default, help, choices

    def __init__(self, root: str | Path | None = None, split: str | None = None, options: dict | None = None,
                 subset=None):
        split = self.default_split if split is None else split
        if split not in self.splits:
            raise ConfigError(
                f"unknown split {split!r} for dataset {self.name!r}; valid splits: {', '.join(self.splits)}"
            )
        self.split = split
        self.option = self.parse_options(options or {})
        self.subset = subset  # a samis.datasets.subset.Subset, or None for the whole split
        self.root = self._resolve_root(root)
        self._samples: list[Sample] | None = None

    @classmethod
    def parse_options(cls, given: dict) -> dict[str, Any]:
        """Every option of this adapter: the given values checked and typed, the rest at their defaults."""
        unknown = [k for k in given if k not in cls.options]
        if unknown:
            valid = ", ".join(cls.options) if cls.options else "none"
            raise ConfigError(f"dataset {cls.name!r} has no option {unknown[0]!r}; its options: {valid}")
        return {key: opt.parse(key, given[key], cls.name) if key in given else opt.default
                for key, opt in cls.options.items()}

    # --- hooks for adapters -------------------------------------------------------------
    @classmethod
    def looks_like_set(cls, path: Path) -> bool:
        """Whether ``path`` is the set's own folder (rather than a data root holding it)."""
        raise NotImplementedError

    def required_folders(self) -> list[str]:
        """Folders (relative to the set root) this split needs."""
        raise NotImplementedError

    def scan(self) -> list[Sample]:
        """Every sample of the set root needed by this split, pairs already checked."""
        raise NotImplementedError

    def in_split(self, sample: Sample) -> bool:
        """Whether a sample belongs to this split (from its name alone)."""
        return True

    def select(self, samples: list[Sample]) -> list[Sample]:
        """The samples of this split; override when membership needs more than the name."""
        return [s for s in samples if self.in_split(s)]

    # --- shared behaviour ---------------------------------------------------------------
    def samples(self) -> list[Sample]:
        """The split's samples sorted by (category, natural stem); listed once, then reused."""
        if self._samples is None:
            everything = self.scan()
            if not everything:
                raise DataError(f"{self.root}: no images found; {self._expected()}")
            check_unique_stems(everything, self.root)
            chosen = sorted(self.select(everything), key=lambda s: (natural_key(s.category), natural_key(s.stem)))
            self._samples = self.subset.apply(chosen, f"{self.name}/{self.split}") if self.subset else chosen
        return list(self._samples)

    def counts(self) -> dict[str, int]:
        """Number of samples per category, in sample order."""
        out: dict[str, int] = {}
        for sample in self.samples():
            out[sample.category] = out.get(sample.category, 0) + 1
        return out

    def __len__(self) -> int:
        return len(self.samples())

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples())

    def __repr__(self) -> str:
        subset = f", subset={self.subset!r}" if self.subset else ""
        return f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, root={str(self.root)!r}{subset})"

    def _expected(self) -> str:
        return f"expected layout of {self.folder or self.name}/:\n{self.layout}"

    def _resolve_root(self, root: str | Path | None) -> Path:
        if root is None:
            base = paths.data_root()
        else:
            base = Path(root).expanduser()
            if not base.is_dir():
                where = f"the data root holding {self.folder}/, or that folder itself" if self.folder else "the set"
                raise DataError(f"{base}: dataset root not found (give {where}); {self._expected()}")
        if self.folder is None or self.looks_like_set(base):
            set_root = base
        elif (base / self.folder).is_dir():
            set_root = base / self.folder
        else:
            raise DataError(
                f"{base}: no {self.folder}/ folder here and {base} is not that set itself; "
                f"put the set at {base / self.folder} or pass its folder as root; {self._expected()}"
            )
        missing = [rel for rel in self.required_folders() if not (set_root / rel).is_dir()]
        if missing:
            raise DataError(
                f"{set_root}: missing folder(s) {', '.join(m + '/' for m in missing)} needed by split "
                f"{self.split!r} of {self.name!r}; {self._expected()}"
            )
        return set_root
