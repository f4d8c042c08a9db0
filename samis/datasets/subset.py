"""Subsets of a split: a seeded, category-stratified sample of N images, or the stems listed in a file.

A subset is a pure function of the split's sample list, N, the stems file and the seed, so every
mode and model of a study, and the evaluation that scores them, see exactly the same images.
Stratified: each category gets its share of N (largest remainders, so the shares add up to N),
and within a category the images are drawn by a generator seeded with the seed and the category's
name, so adding images to one category never changes the choice in another.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samis.errors import ConfigError, DataError


def read_stems(path: str | Path) -> list[str]:
    """The stems of a stems file: one per line; blank lines and ``#`` comments ignored; order kept."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: stems file not found (one image stem per line)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the stems file ({exc}); write one image stem per line as UTF-8 text") from None
    stems = []
    for line in text.splitlines():
        stem = line.split("#", 1)[0].strip()
        if stem and stem not in stems:
            stems.append(stem)
    if not stems:
        raise ConfigError(f"{path}: no stems in the stems file; write one image stem per line")
    return stems


def category_quotas(sizes: dict[str, int], n: int) -> dict[str, int]:
    """How many of ``n`` images each category gets: proportional, largest remainders first.

    Ties go to the larger category, then to the earlier one, so the result is deterministic.
    """
    total = sum(sizes.values())
    exact = {c: n * size / total for c, size in sizes.items()}
    quota = {c: int(v) for c, v in exact.items()}
    order = sorted(sizes, key=lambda c: (-(exact[c] - quota[c]), -sizes[c], list(sizes).index(c)))
    for c in order[: n - sum(quota.values())]:
        quota[c] += 1
    return quota


def stratified_sample(samples: list, n: int, seed: int = 0) -> list:
    """``n`` of ``samples`` drawn per category (see module docstring), in the samples' own order."""
    if n >= len(samples):
        return list(samples)
    by_category: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        by_category.setdefault(s.category, []).append(i)
    keep: set[int] = set()
    for category, k in category_quotas({c: len(ix) for c, ix in by_category.items()}, n).items():
        rng = np.random.default_rng([seed, zlib.crc32(category.encode("utf-8"))])
        members = by_category[category]
        keep.update(members[j] for j in rng.permutation(len(members))[:k])
    return [s for i, s in enumerate(samples) if i in keep]


@dataclass(frozen=True)
class Subset:
    """``limit``: keep a stratified sample of this many images; ``stems``: keep only the stems in this file.

    With both, the stems file is applied first and the sample drawn from what it keeps. ``strict``:
    a listed stem the split lacks is an error; otherwise (one list for several sets, ``reproduce
    --stems``) it is skipped, and only a split that keeps no image at all is an error.
    """

    limit: int | None = None
    stems: Path | None = None
    seed: int = 0
    strict: bool = True

    def __post_init__(self):
        if self.limit is not None and (isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1):
            raise ConfigError(f"limit {self.limit!r}: expected a whole number of images >= 1")

    def __bool__(self) -> bool:
        return self.limit is not None or self.stems is not None

    def apply(self, samples: list, where: str = "the split") -> list:
        """The selected samples, in the split's order; a listed stem the split lacks is a ``DataError``."""
        chosen = list(samples)
        if self.stems is not None:
            wanted = read_stems(self.stems)
            present = {s.stem for s in samples}
            unknown = [s for s in wanted if s not in present]
            if unknown and (self.strict or len(unknown) == len(wanted)):
                shown = ", ".join(unknown[:5]) + (f" ... ({len(unknown)} in all)" if len(unknown) > 5 else "")
                raise DataError(f"{self.stems}: stem(s) not in {where}: {shown}; fix the list or choose the split that has them")
            keep = set(wanted)
            chosen = [s for s in chosen if s.stem in keep]
        if self.limit is not None:
            chosen = stratified_sample(chosen, self.limit, self.seed)
        return chosen

    def describe(self) -> str:
        parts = ([f"stems from {self.stems}"] if self.stems else []) + ([f"limit {self.limit} (seed {self.seed})"] if self.limit else [])
        return ", ".join(parts)


def make_subset(limit: int | None = None, stems: str | Path | None = None, seed: int = 0,
                strict: bool = True) -> Subset | None:
    """A ``Subset`` when a limit or a stems file is given, else None (the whole split)."""
    if limit is None and stems is None:
        return None
    return Subset(limit=limit, stems=Path(stems) if stems is not None else None, seed=seed, strict=strict)


def restrict_definition(definition, limit: int | None = None, stems: str | Path | None = None):
    """``definition`` with every dataset entry limited (``reproduce --limit/--stems``, seeded by its ``seed``).

    The report goes to ``<output>-limit<N>`` / ``<output>-stems-<file>`` so the study's full report
    is never overwritten by a partial one; the maps stay where they are (stored by stem, a map of a
    limited run is the same map a full run makes, so the full run reuses it).
    """
    from dataclasses import replace

    subset = make_subset(limit, stems, definition.seed, strict=False)
    if subset is None:
        return definition
    tag = "".join(([f"-stems-{subset.stems.stem}"] if subset.stems else []) + ([f"-limit{limit}"] if limit else []))
    return replace(definition, output=definition.output.with_name(definition.output.name + tag),
                   datasets=tuple(replace(d, subset=subset) for d in definition.datasets))
