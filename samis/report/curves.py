"""Precision-recall and F-measure-vs-threshold curves of several methods on one dataset.

Reads only the evaluator's ``FILE.curves.npz`` (mean precision, recall, F-measure, E-measure at
thresholds 0..255); the dataset name comes from ``FILE.csv`` beside it. The legend sits below the
axes so it never covers a curve, whatever the number of methods.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from samis.errors import ConfigError
from samis.report.inputs import read_curves
from samis.report.plotstyle import COLUMN_WIDTH_IN, PAGE_WIDTH_IN, RC, fit_legend, legend_columns, method_styles, pyplot, save_figure
from samis.report.plotstyle import out_stem as strip_suffix
from samis.report.style import is_reference

PANELS = {
    "pr": ("Precision–recall", "Recall", "Precision"),
    "fm": ("F-measure vs threshold", "Threshold", "F-measure"),
    "em": ("E-measure vs threshold", "Threshold", "E-measure"),
}


def _select(curves: dict, methods) -> list[str]:
    if not methods:
        return list(curves)
    unknown = [m for m in methods if m not in curves]
    if unknown:
        raise ConfigError(f"method(s) {', '.join(unknown)} not in the curves file(s); they hold {', '.join(curves)}")
    return list(dict.fromkeys(methods))


def _draw(ax, kind: str, thresholds, curves, methods, styles, names=None) -> None:
    title, xlabel, ylabel = PANELS[kind]
    for m in methods:
        c = curves[m]
        if kind == "pr":
            if "precision" not in c or "recall" not in c:
                continue
            x, y = c["recall"], c["precision"]
        else:
            key = "fmeasure" if kind == "fm" else "emeasure"
            if key not in c:
                continue
            x, y = thresholds, c[key]
        ok = np.isfinite(x) & np.isfinite(y)
        label = (names or {}).get(m, m) + ("‡" if is_reference(m) else "")
        ax.plot(x[ok], y[ok], label=label, **styles[m])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if kind == "pr":
        ax.set_xlim(0, 1)
    else:
        ax.set_xlim(float(np.nanmin(thresholds)), float(np.nanmax(thresholds)))
    ax.set_ylim(0, 1.0)
    ax.grid(True)


def _legend(fig, axes, width_in: float) -> None:
    handles, labels = axes[0].get_legend_handles_labels()
    fit_legend(fig, handles, labels, width_in, handlelength=2.8, columnspacing=1.2, handletextpad=0.5)


def plot_curves(npz_paths, out_stem, methods=None, title: str | None = None, separate: bool = False,
                kinds=("pr", "fm"), styles: dict | None = None, names: dict | None = None) -> list[Path]:
    """Draw the curves of ``methods`` (default: all, in file order) and save PDF + 300 dpi PNG.

    Side by side (default): ``STEM.pdf``/``STEM.png``, page width. ``separate=True``: one column-width
    figure per kind, ``STEM-pr.*``, ``STEM-fm.*`` (and ``STEM-em.*`` when ``kinds`` has ``em``).
    The title defaults to the dataset named in ``FILE.csv`` beside each NPZ. Returns the written paths.
    ``styles``: method -> line style (an experiment's palette, so a method keeps its colour in every
    figure); ``names``: method -> legend label.
    """
    bad = [k for k in kinds if k not in PANELS]
    if bad or not kinds:
        raise ConfigError(f"curve kind(s) {', '.join(bad) or '(none)'}: use {', '.join(PANELS)}")
    paths = [npz_paths] if isinstance(npz_paths, (str, Path)) else list(npz_paths)
    thresholds, curves, labels = read_curves(paths)
    chosen = _select(curves, methods)
    if title is None:
        if len(labels) > 1:
            raise ConfigError(
                f"the curves files are of different datasets ({', '.join(labels)}); curves compare methods on one "
                "dataset, so plot each dataset on its own (or pass --title to overrule)"
            )
        title = labels[0] if labels else Path(paths[0]).name.split(".")[0]
    # SAM rows are drawn last so they sit on top, but the legend keeps the requested order.
    styles = {**method_styles(chosen), **(styles or {})}
    # reference rows (made from the ground truth, ‡) are thin grey dotted lines: context, not contenders
    refs = [m for m in chosen if is_reference(m)]
    greys = {m: str(0.25 + 0.45 * i / max(len(refs) - 1, 1)) for i, m in enumerate(refs)}
    styles = {m: {**st, "color": greys[m], "linestyle": (0, (1, 1)), "linewidth": 1.2} if m in greys else st
              for m, st in styles.items()}
    plt = pyplot()
    written = []
    with plt.rc_context(RC):
        if not separate:
            width = PAGE_WIDTH_IN if len(kinds) > 1 else COLUMN_WIDTH_IN
            fig, axes = plt.subplots(1, len(kinds), figsize=(width, 2.7 + 0.17 * -(-len(chosen) // legend_columns(chosen, width))),
                                     layout="constrained", squeeze=False)
            axes = list(axes[0])
            for ax, kind in zip(axes, kinds):
                _draw(ax, kind, thresholds, curves, chosen, styles, names)
            fig.suptitle(title, fontweight="bold")
            _legend(fig, axes, width)
            written += save_figure(fig, out_stem)
            plt.close(fig)
        else:
            stem = strip_suffix(out_stem)
            for kind in kinds:
                rows = -(-len(chosen) // legend_columns(chosen, COLUMN_WIDTH_IN))
                fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 2.8 + 0.17 * rows), layout="constrained")
                _draw(ax, kind, thresholds, curves, chosen, styles, names)
                ax.set_title(f"{title}: {PANELS[kind][0].lower().replace('f-measure', 'F-measure').replace('e-measure', 'E-measure')}")
                _legend(fig, [ax], COLUMN_WIDTH_IN)
                written += save_figure(fig, stem.with_name(f"{stem.name}-{kind}"))
                plt.close(fig)
    return written
