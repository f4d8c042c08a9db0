"""Every table and figure a definition asks for, from the results files only, redrawn only when stale.

Each output has a stamp ``.<name>.stamp.json`` beside it recording the spec and the size and mtime
of every file it read; when neither changed and the outputs exist, the output is skipped. What a
table or figure needs but cannot find (a unit not evaluated yet, a method without results) is named
in one line and the rest is still rendered.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from samis.errors import ConfigError, DataError
from samis.experiments.definition import Definition, FigureSpec, TableSpec, match_methods
from samis.experiments.fingerprint import sidecar
from samis.experiments.layout import TABLE_SUFFIX, Layout
from samis.imageio import atomic_write_bytes

TIME_COLUMN = "time_per_image_s"


# --- staleness ----------------------------------------------------------------------------------
def _stamp_path(folder: Path, name: str) -> Path:
    return folder / f".{name}.stamp.json"


def _state(spec, inputs: list[Path]) -> dict:
    files = {}
    for p in inputs:
        st = Path(p).stat()
        files[str(p)] = [st.st_size, st.st_mtime_ns]
    return {"spec": json.loads(json.dumps(asdict(spec), default=str)), "inputs": files}


def _fresh(stamp: Path, state: dict) -> bool:
    try:
        old = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return old.get("state") == state and all(Path(p).is_file() for p in old.get("outputs", []))


def _stamp(stamp: Path, state: dict, outputs: list[Path]) -> None:
    atomic_write_bytes(stamp, json.dumps({"state": state, "outputs": [str(p) for p in outputs]}, indent=1).encode())


# --- reading results ----------------------------------------------------------------------------
def _unit_files(layout: Layout, definition: Definition, ref: str, protocol: str, kind: str) -> list[Path]:
    spec, split = definition.unit(ref)
    out = []
    for source in ("baselines", "sam"):  # baselines first: the tables' order (SAM rows after)
        path = layout.results_files(spec, split, source, protocol)[kind]
        if path.is_file():
            out.append(path)
    return out


def _relabel(frame: pd.DataFrame, definition: Definition, ref: str) -> pd.DataFrame:
    """A user's folder set is shown by its label, not as ``folder``."""
    spec, _ = definition.unit(ref)
    if spec.name == "folder" and "dataset" in frame.columns:
        frame = frame.copy()
        frame["dataset"] = spec.label
    return frame


def _select(frame: pd.DataFrame, patterns) -> pd.DataFrame:
    chosen = match_methods(patterns, list(dict.fromkeys(frame["method"])))
    picked = frame[frame["method"].isin(chosen)].copy()
    picked["_order"] = picked["method"].map({m: i for i, m in enumerate(chosen)})
    return picked.sort_values("_order", kind="stable").drop(columns="_order")


# --- tables -------------------------------------------------------------------------------------
def _table_frame(layout: Layout, definition: Definition, spec: TableSpec) -> tuple[pd.DataFrame | None, list[Path], list[str]]:
    from samis.experiments.timing import time_per_image
    from samis.report.categories import per_category
    from samis.report.inputs import read_per_image, read_results

    kind = "per_image" if spec.kind == "categories" else "summary"
    frames, inputs, missing = [], [], []
    for ref in spec.units:
        files = _unit_files(layout, definition, ref, spec.protocol, kind)
        if not files:
            missing.append(ref)
            continue
        inputs += files
        frame = read_per_image(files) if kind == "per_image" else read_results(files)
        frame = _select(frame, spec.methods if spec.methods is not None else (("SAM-*",) if spec.kind == "sam_modes" else None))
        if spec.kind == "sam_modes":
            label = definition.unit(ref)[0].label
            models = {name: m.name for m in definition.models for name in layout.sam_methods() if name.startswith(f"SAM-{m.name}-")}
            frame[TIME_COLUMN] = [time_per_image(layout, label, m, models.get(m, "")) for m in frame["method"]]
            inputs += sorted(layout.timing_dir(label).glob("*.json")) if layout.timing_dir(label).is_dir() else []
        frames.append(_relabel(frame, definition, ref))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return None, inputs, missing
    frame = pd.concat(frames, ignore_index=True, sort=False)
    if spec.kind == "categories":
        frame = per_category(frame, metrics=list(spec.metrics) if spec.metrics else None)
    return frame, inputs, missing


def render_tables(definition: Definition, echo=print) -> list[Path]:
    from samis.report.tables import render

    layout = Layout(definition)
    written = []
    for spec in definition.tables:
        frame, inputs, missing = _table_frame(layout, definition, spec)
        if missing:
            echo(f"tables: {spec.name}: no results yet for {', '.join(missing)}")
        if frame is None:
            echo(f"tables: {spec.name}: nothing to tabulate, skipped")
            continue
        outputs = [layout.tables / f"{spec.name}{TABLE_SUFFIX[f]}" for f in spec.formats]
        stamp, state = _stamp_path(layout.tables, spec.name), _state(spec, inputs)
        if _fresh(stamp, state):
            echo(f"tables: {spec.name}: up to date, skipped")
            written += outputs
            continue
        metrics = list(spec.metrics) if spec.metrics else None
        if spec.kind == "sam_modes" and metrics:
            metrics.append(TIME_COLUMN)
        for fmt, path in zip(spec.formats, outputs):
            text = render(frame, fmt=fmt, metrics=metrics, style=spec.protocol, label=f"tab:{spec.name}",
                          caption=f"{definition.name}: {spec.kind.replace('_', ' ')} ({spec.protocol} protocol)")
            atomic_write_bytes(path, text.encode())
        _stamp(stamp, state, outputs)
        echo(f"tables: {spec.name}: {', '.join(p.name for p in outputs)}")
        written += outputs
    return written


# --- figures ------------------------------------------------------------------------------------
def _method_dirs(layout: Layout, definition: Definition, ref: str, methods: list[str]) -> dict[str, Path]:
    spec, split = definition.unit(ref)
    dirs = {}
    for source in layout.sources(spec, split):
        for m in source.methods:
            if m in methods:
                dirs[m] = source.root / m
    return {m: dirs[m] for m in methods if m in dirs}


def _figure(layout: Layout, definition: Definition, index: int, spec: FigureSpec, ref: str, stem: Path) -> list[Path]:
    from samis.report import figures
    from samis.report.curves import plot_curves
    from samis.report.inputs import read_curves, read_per_image

    label, split = ref.split("/", 1)
    title = f"{label} ({split})"
    if spec.kind == "curves":
        files = _unit_files(layout, definition, ref, spec.protocol, "curves")
        _, curves, _ = read_curves(files)
        available = list(curves)
        methods = match_methods(spec.methods, available)
        return plot_curves(files, stem, methods=methods, title=title, kinds=spec.curves)
    per_image = _relabel(read_per_image(_unit_files(layout, definition, ref, spec.protocol, "per_image")), definition, ref)
    per_image = _select(per_image, spec.methods)
    methods = list(dict.fromkeys(per_image["method"]))
    if spec.kind == "category_bars":
        return figures.category_bars(per_image, spec.metric, stem, methods=methods, seed=definition.seed, title=title)
    rule = spec.examples
    full = _relabel(read_per_image(_unit_files(layout, definition, ref, spec.protocol, "per_image")), definition, ref)
    if rule.rule == "stems":
        reference = methods[0]
    else:
        matches = match_methods((rule.method,), list(dict.fromkeys(full["method"])))
        if len(matches) != 1:
            raise ConfigError(
                f"{definition.path}: figures[{index}].examples.method: {rule.method!r} must name exactly one method "
                f"with results on {ref}; it matches {', '.join(matches) or 'none'}"
            )
        reference = matches[0]
    chosen = figures.choose_examples(full, reference, rule.metric or "MAE", per_category=rule.per_category,
                                     stems=list(rule.stems) if rule.rule == "stems" else None)
    notes = {r.stem: (f"{r.which} {rule.metric} {r.value:.3f}" if rule.rule != "stems" else "") for r in chosen.itertuples()}
    unit, split = definition.unit(ref)
    samples = unit.open(split).samples()
    dirs = _method_dirs(layout, definition, ref, methods)
    rows = figures.examples_from_samples(samples, list(chosen["stem"]), dirs, notes=notes)
    return figures.qualitative_grid(rows, list(dirs), stem)


def render_figures(definition: Definition, echo=print) -> list[Path]:
    layout = Layout(definition)
    written = []
    for index, spec in enumerate(definition.figures):
        for ref in spec.units:
            kind = "curves" if spec.kind == "curves" else "per_image"
            inputs = _unit_files(layout, definition, ref, spec.protocol, kind)
            name = f"{spec.name}-{ref.replace('/', '-')}"
            if not inputs:
                echo(f"figures: {name}: no results yet for {ref}, skipped")
                continue
            if spec.kind == "qualitative":  # the maps themselves are drawn: their folders count too
                label, split = ref.split("/", 1)
                inputs += [sidecar(layout.results_base(label, split, s)) for s in ("baselines", "sam")]
                inputs = [p for p in inputs if p.is_file()]
            stamp, state = _stamp_path(layout.figures, name), _state(spec, inputs)
            if _fresh(stamp, state):
                echo(f"figures: {name}: up to date, skipped")
                written += json.loads(stamp.read_text())["outputs"]
                continue
            layout.figures.mkdir(parents=True, exist_ok=True)
            try:
                outputs = _figure(layout, definition, index, spec, ref, layout.figures / name)
            except DataError as exc:
                echo(f"figures: {name}: not drawn ({exc})")
                continue
            _stamp(stamp, state, outputs)
            echo(f"figures: {name}: {', '.join(Path(p).name for p in outputs)}")
            written += [Path(p) for p in outputs]
    return [Path(p) for p in written]
