"""What a metric protocol is: its columns, which way each improves, how images become one number.

A protocol is data. ``measure`` turns one map (a :class:`samis.metrics.score.MapMetrics`, whose metrics
are computed on first use and shared by every protocol asked for) into that image's values and,
optionally, arrays; the evaluator keeps the values image by image and adds the arrays up over the
split. A reducer then makes each summary column from those: the mean of the per-image values (the
default), the mean over the images where the value is defined, a statistic of a mean curve, or any
dataset-level quantity (pixels pooled over all images, counts summed before a ratio) built from the
summed arrays and the per-image values. Arrays named in ``curves`` are written, as means over the
images, to ``FILE.curves.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

HIGHER = "higher"  # higher is better
LOWER = "lower"  # lower is better


@dataclass(frozen=True)
class Accumulated:
    """One method's scores on a split: per-image values by name (image order) and the summed arrays."""

    per_image: Mapping[str, np.ndarray]  # name -> float64 array, one value per image
    sums: Mapping[str, np.ndarray]  # name -> the per-image arrays added up over the images
    n: int  # number of images

    def mean_array(self, name: str) -> np.ndarray:
        """A summed array divided by the number of images: the mean over images (e.g. a mean curve)."""
        return self.sums[name] / self.n


Reducer = Callable[[Accumulated, str], float]  # (the split's scores, the column) -> the summary value


def mean(acc: Accumulated, column: str) -> float:
    """The mean of the per-image values: every image counts once."""
    return float(np.mean(acc.per_image[column]))


def mean_where_defined(acc: Accumulated, column: str) -> float:
    """The mean over the images where the value is defined (not NaN); NaN when it is defined nowhere."""
    values = acc.per_image[column]
    return float(np.nanmean(values)) if not np.isnan(values).all() else float(np.mean(values))


def curve_max(curve: str) -> Reducer:
    """The maximum of the mean curve ``curve`` (e.g. maxF: the best threshold for the whole split)."""
    return lambda acc, column: float(acc.mean_array(curve).max())


def curve_mean(curve: str) -> Reducer:
    """The mean of the mean curve ``curve`` over its thresholds (e.g. meanF)."""
    return lambda acc, column: float(acc.mean_array(curve).mean())


# (a samis.metrics.score.MapMetrics) -> (per-image values by name, per-image arrays by name)
Measure = Callable[[Any], "tuple[dict[str, float], dict[str, np.ndarray]]"]


@dataclass(frozen=True)
class Protocol:
    """A metric convention: the columns of its results files and how each is computed and read.

    ``measure(map_metrics) -> (values, arrays)``: ``values`` holds every column (the per-image file) and
    may hold more per-image numbers a reducer needs; ``arrays`` (same names and shapes for every image)
    are summed over the split. ``reducers`` maps a column to its :data:`Reducer` (default :func:`mean`).
    ``curves``: names of summed arrays written as mean curves to ``FILE.curves.npz``, index ``i`` the
    threshold ``i``; ``curves_descending`` when ``measure`` gives them from threshold 255 down to 0.
    ``decimals`` and ``leading_zero``: how the protocol's literature prints its numbers in tables.
    ``uses_ground_truth``: set (to the reason) when maps that used the ground truth cannot be scored.
    ``scores_defect_free``: every image counts, defect-free ones included, whatever ``empty_gt`` says.
    """

    name: str
    description: str
    columns: tuple[str, ...]
    directions: Mapping[str, str]  # column -> HIGHER or LOWER
    measure: Measure
    reducers: Mapping[str, Reducer] = field(default_factory=dict)
    curves: tuple[str, ...] = ()
    curves_descending: bool = False
    decimals: int = 3
    leading_zero: bool = True
    # why the protocol cannot score maps made with the ground truth (prompted modes, the best_match policy);
    # empty when it can. The evaluator refuses such methods (by their manifest) for this protocol.
    uses_ground_truth: str = ""
    # the protocol is defined over defect-free and defective images together (anomaly detection): the
    # evaluator's default of scoring defect-free images apart (``empty_gt="apart"``) does not apply to it
    scores_defect_free: bool = False

    def __post_init__(self):
        undirected = [c for c in self.columns if self.directions.get(c) not in (HIGHER, LOWER)]
        if undirected:
            raise ValueError(f"protocol {self.name}: no direction ({HIGHER} or {LOWER}) for {', '.join(undirected)}")
        stray = [c for c in self.reducers if c not in self.columns]
        if stray:
            raise ValueError(f"protocol {self.name}: reducers for unknown column(s) {', '.join(stray)}")

    def lower_is_better(self, column: str) -> bool:
        return self.directions[column] == LOWER

    def is_image_mean(self, column: str) -> bool:
        """Whether the split's value is a mean of the per-image values (so resampling those reproduces it)."""
        return self.reducers.get(column, mean) in (mean, mean_where_defined)

    def summary(self, acc: Accumulated) -> dict[str, float]:
        """Every column's summary value for one method on one split."""
        return {c: self.reducers.get(c, mean)(acc, c) for c in self.columns}

    def mean_curves(self, acc: Accumulated) -> dict[str, np.ndarray]:
        """The ``curves`` as written to ``FILE.curves.npz``: means over images, index i = threshold i."""
        out = {}
        for name in self.curves:
            curve = acc.mean_array(name)
            out[name] = np.flip(curve).copy() if self.curves_descending else curve
        return out
