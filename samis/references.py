"""Reference rows: maps made from the ground truth alone, scored beside the models so a reader sees
what a number is worth.

- ``empty``: every pixel background (what predicting nothing scores);
- ``full``: every pixel foreground (what predicting everything scores);
- ``gt_box``: the tight box of every 8-connected ground-truth component, filled — exactly the
  information a box prompt gives SAM, with no model at all. With a ``jitter`` (and ``seed``,
  ``min_area``) the boxes are those a box mode with the same options draws (:mod:`samis.prompts`).

The maps are computed on the fly while scoring (never written as if a model had made them) and
scored by the same evaluator. Their method names start with ``ref-`` (``ref-empty``, ``ref-gt_box``,
``ref-gt_box-jit0.1-seed3``); the report marks them ‡ and never ranks them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samis.errors import ConfigError

KINDS = ("empty", "full", "gt_box")
DEFAULT = ("empty", "full", "gt_box")
PREFIX = "ref-"  # method names of reference rows

DESCRIPTIONS = {
    "empty": "all background",
    "full": "all foreground",
    "gt_box": "the tight box of every ground-truth component, filled (what a box prompt carries)",
}


@dataclass(frozen=True)
class Reference:
    """One reference map rule; ``jitter``, ``seed`` and ``min_area`` only matter for ``gt_box``."""

    kind: str
    jitter: float = 0.0
    seed: int = 0
    min_area: int = 0

    @property
    def name(self) -> str:
        parts = [PREFIX + self.kind]
        if self.jitter:
            parts.append(f"jit{self.jitter:g}")
            parts.append(f"seed{self.seed}")
        if self.min_area:
            parts.append(f"minc{self.min_area}")
        return "-".join(parts)

    def render(self, gt: np.ndarray, stem: str) -> np.ndarray:
        """The 8-bit map (0/255) of one image from its boolean ground truth."""
        gt = np.asarray(gt, dtype=bool)
        if self.kind == "empty":
            return np.zeros(gt.shape, np.uint8)
        if self.kind == "full":
            return np.full(gt.shape, 255, np.uint8)
        return box_map(gt, stem, self.jitter, self.seed, self.min_area)


def box_map(gt: np.ndarray, stem: str, jitter: float = 0.0, seed: int = 0, min_area: int = 0) -> np.ndarray:
    """The boxes box mode would prompt with (same generator, same seed), filled, as a 0/255 map.

    A box's corners are XYXY pixel centres with inclusive maxima; a jittered (fractional) corner is
    rounded to the nearest pixel.
    """
    from samis.prompts import ComponentPrompts

    prompts = ComponentPrompts(use_box=True, jitter=jitter, min_area=min_area, seed=seed)(gt, stem)
    out = np.zeros(gt.shape, np.uint8)
    for x0, y0, x1, y1 in np.rint(prompts.boxes if prompts.boxes is not None else np.zeros((0, 4))).astype(int):
        out[y0 : y1 + 1, x0 : x1 + 1] = 255
    return out


def parse_reference(text) -> Reference:
    """``gt_box`` or ``gt_box:jitter=0.1,seed=3,min_area=10`` (CLI), or a definition's
    ``{gt_box: {jitter: 0.1, seed: 3}}`` -> a :class:`Reference`."""
    if isinstance(text, dict):
        if len(text) != 1:
            raise ConfigError(f"reference {text!r}: write one kind, e.g. {{gt_box: {{jitter: 0.1, seed: 0}}}}")
        (kind, opts), = text.items()
        opts = dict(opts or {})
    else:
        kind, _, rest = str(text).strip().partition(":")
        opts = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"reference {text!r}: options are KEY=VALUE, e.g. gt_box:jitter=0.1,seed=0")
            opts[key.strip()] = value.strip()
    kind = str(kind).strip()
    if kind not in KINDS:
        raise ConfigError(f"unknown reference {kind!r}; choose {', '.join(KINDS)}")
    unknown = set(opts) - {"jitter", "seed", "min_area"}
    if unknown or (opts and kind != "gt_box"):
        raise ConfigError(f"reference {text!r}: only gt_box takes options (jitter, seed, min_area)")
    try:
        ref = Reference(kind, float(opts.get("jitter", 0.0)), int(opts.get("seed", 0)), int(opts.get("min_area", 0)))
    except (TypeError, ValueError):
        raise ConfigError(f"reference {text!r}: jitter is a number, seed and min_area integers") from None
    if ref.jitter < 0 or ref.seed < 0 or ref.min_area < 0:
        raise ConfigError(f"reference {text!r}: jitter, seed and min_area must be >= 0")
    return ref


def parse_references(items) -> tuple[Reference, ...]:
    """A comma-separated string (``empty,full,gt_box:jitter=0.1,seed=2``) or a list of strings or
    mappings -> references, each once, in order."""
    if items is None:
        return ()
    if isinstance(items, str):
        items = _split_top(items)
    refs = []
    for item in items:
        ref = parse_reference(item)
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def _split_top(text: str) -> list[str]:
    """``empty,full,gt_box:jitter=0.1,seed=2`` -> ``[empty, full, gt_box:jitter=0.1,seed=2]``: a comma
    followed by ``KEY=`` belongs to the reference before it."""
    out: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" in part and out and ":" in out[-1]:
            out[-1] += "," + part
        else:
            out.append(part)
    return out


def is_reference(method: str) -> bool:
    return str(method).startswith(PREFIX)


def describe(method: str) -> str:
    """What a reference row is, for a table footnote."""
    kind = str(method)[len(PREFIX):].split("-")[0]
    text = DESCRIPTIONS.get(kind, "")
    if kind == "gt_box" and "-jit" in str(method):
        text += ", jittered as box mode jitters its prompt"
    return text
