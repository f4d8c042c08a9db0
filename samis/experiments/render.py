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
from samis.experiments.definition import RECORD_KINDS, Definition, FigureSpec, TableSpec, match_methods
from samis.experiments.fingerprint import sidecar
from samis.experiments.layout import TABLE_SUFFIX, Layout
from samis.imageio import atomic_write_bytes
from samis.report.names import display_name

TIME_COLUMN = "time_per_image_s"
# tables drawn from per-image results, one per dataset, categories as column groups
BY_CATEGORY = ("categories", "mask_choice")
# the rows of a mask-choice table or figure without methods: one point under every multimask rule, then three
MASK_CHOICE_METHODS = ("SAM-*-point1", "SAM-*-point1-mmsingle", "SAM-*-point1-mmsmallest", "SAM-*-point1-mmlargest",
                       "SAM-*-point1-mm[0-9]", "SAM-*-point1-mmoracle", "SAM-*-point3", "SAM-*-point3-mmsmallest",
                       "SAM-*-point3-mm*")


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


def _with_references(patterns, available: list[str]) -> list[str]:
    """The methods a table or figure asks for, then every reference row (always shown, never ranked)."""
    from samis.report.style import is_reference

    chosen = match_methods(patterns, available)
    return chosen + [m for m in available if is_reference(m) and m not in chosen]


def _select(frame: pd.DataFrame, patterns) -> pd.DataFrame:
    chosen = _with_references(patterns, list(dict.fromkeys(frame["method"])))
    picked = frame[frame["method"].isin(chosen)].copy()
    picked["_order"] = picked["method"].map({m: i for i, m in enumerate(chosen)})
    return picked.sort_values("_order", kind="stable").drop(columns="_order")


# --- tables -------------------------------------------------------------------------------------
def _table_frame(layout: Layout, definition: Definition, spec: TableSpec) -> tuple[pd.DataFrame | None, list[Path], list[str]]:
    from samis.experiments.timing import time_per_image
    from samis.report.categories import per_category
    from samis.report.inputs import read_per_image, read_results

    by_category = spec.kind in BY_CATEGORY
    kind = "per_image" if by_category or spec.kind == "significance" else "summary"
    frames, inputs, missing = [], [], []
    image_curves = {}  # (method, dataset, split) -> per-image curves: a category's maxF/maxE come from them
    for ref in spec.units:
        files = _unit_files(layout, definition, ref, spec.protocol, kind)
        if not files:
            missing.append(ref)
            continue
        inputs += files
        frame = read_per_image(files) if kind == "per_image" else read_results(files)
        frame = _select(frame, _method_patterns(spec))
        if spec.kind == "sam_modes":
            label = definition.unit(ref)[0].label
            models = {name: m.name for m in definition.models for name in layout.sam_methods() if name.startswith(f"SAM-{m.name}-")}
            frame[TIME_COLUMN] = pd.to_numeric(pd.Series([time_per_image(layout, label, m, models.get(m, "")) for m in frame["method"]],
                                                         index=frame.index, dtype=object), errors="coerce")
            inputs += sorted(layout.timing_dir(label).glob("*.json")) if layout.timing_dir(label).is_dir() else []
        frame = _relabel(frame, definition, ref)
        if by_category and not frame.empty:
            image_curves.update(_unit_image_curves(layout, definition, ref, spec.protocol, frame))
        frames.append(frame)
    frames = [f for f in frames if not f.empty]
    if not frames:
        return None, inputs, missing
    frame = pd.concat(frames, ignore_index=True, sort=False)
    if by_category:
        frame = per_category(frame, image_curves=image_curves)  # every metric: the CSV keeps the wide form
    return frame, inputs, missing


def _unit_image_curves(layout: Layout, definition: Definition, ref: str, protocol: str, frame: pd.DataFrame) -> dict:
    """One unit's per-image curves keyed (method, dataset, split) as the (relabelled) frame names them."""
    from samis.report.bootstrap import read_image_curves

    dataset, split = frame["dataset"].iloc[0], frame["split"].iloc[0]
    out = {}
    for path in _unit_files(layout, definition, ref, protocol, "image_curves"):
        out.update({(m, dataset, split): c for m, c in read_image_curves(path).items()})
    return out


def _per_image_units(layout: Layout, definition: Definition, spec: TableSpec):
    """Per unit: (per-image frame of the table's methods, per-image curves by method, files read)."""
    from samis.report.bootstrap import read_image_curves
    from samis.report.inputs import read_per_image

    out, inputs = [], []
    for ref in spec.units:
        files = _unit_files(layout, definition, ref, spec.protocol, "per_image")
        if not files:
            continue
        frame = _select(read_per_image(files), _method_patterns(spec))
        curve_files = _unit_files(layout, definition, ref, spec.protocol, "image_curves") if spec.protocol == "sod" else []
        curves = {}
        for path in curve_files:
            curves.update(read_image_curves(path))
        inputs += files + curve_files
        out.append((_relabel(frame, definition, ref), curves))
    return out, inputs


def _method_patterns(spec):
    """A table's or figure's ``methods:``; unset: every method, the SAM rows (sam_modes) or the mask choices."""
    if spec.methods is not None:
        return spec.methods
    return {"sam_modes": ("SAM-*",), "mask_choice": MASK_CHOICE_METHODS}.get(spec.kind)


def _statistics(units, every, metrics, spec: TableSpec, seed: int):
    """CIs of ``every`` metric (always: they go into the CSV) and, with ``significance: true``, a mark on
    each SAM cell of the shown ``metrics`` that differs from the best ranked non-SAM method of its column
    (Wilcoxon, Holm across the shown cells)."""
    from samis.protocols import get_protocol
    from samis.report.bootstrap import CURVE_METRICS, confidence_intervals

    # a pooled column (pixel AUROC, pooled IoU) is no mean of per-image values: resampling those says nothing
    proto = get_protocol(spec.protocol)
    every, metrics = ([m for m in ms if m in CURVE_METRICS or m not in proto.columns or proto.is_image_mean(m)]
                      for ms in (every, metrics))
    cis = pd.concat([confidence_intervals(frame, every, curves, seed=seed) for frame, curves in units], ignore_index=True) if units and every else None
    sups = {}
    if spec.significance and units and metrics:
        from samis.report.significance import marks_against_best

        sups = marks_against_best(pd.concat([f for f, _ in units], ignore_index=True), metrics, seed=seed)
    return cis, sups


def _caption(definition: Definition, spec: TableSpec) -> str:
    if spec.caption:
        return spec.caption
    from samis.report.style import dataset_label

    units = ", ".join(dataset_label(definition.unit(r)[0].name, definition.unit(r)[1]) if definition.unit(r)[0].name != "folder" else r
                      for r in spec.units)
    what = {"main": "Results", "categories": "Results per defect category", "sam_modes": "SAM prompt modes, with seconds per image",
            "significance": "Paired comparisons"}[spec.kind]
    return f"{what} ({spec.protocol} protocol; {units})."


# --- the automatic mode's records (samis.report.automatic) ------------------------------------------
def _automatic_methods(layout: Layout, definition: Definition, patterns) -> list[tuple[str, object]]:
    """``(method, config)`` of the automatic methods asked for, one per generator and background_frac
    (the policies of one generator write the same records)."""
    seen, out = set(), []
    for model in definition.models:
        for cfg in definition.modes:
            if cfg.mode != "automatic":
                continue
            name = cfg.method_name(model.name)
            key = (model.name, cfg.generator_key, cfg.background_frac)
            if key not in seen and match_methods(patterns or ("SAM-*",), [name]):
                seen.add(key)
                out.append((name, cfg))
    return out


def _automatic_frame(layout: Layout, definition: Definition, spec) -> tuple[pd.DataFrame | None, list[Path], list[str]]:
    """The per-pair statistics of every unit from the records beside the maps; (frame, files read, units missing)."""
    from samis.report.automatic import sweep_frame
    from samis.report.style import dataset_label
    from samis.runners.automatic_records import read_records, record_dir

    from samis.report.inputs import read_per_image

    methods = _automatic_methods(layout, definition, spec.methods)
    frames, inputs, missing = [], [], []
    for ref in spec.units:
        unit, split = definition.unit(ref)
        label = dataset_label(unit.name, split) if unit.name != "folder" else ref
        # the unit's images are those its evaluation scored (records cover every split of the dataset entry)
        path = layout.results_files(unit, split, "sam", spec.protocol)["per_image"]
        stems = set(read_per_image([path])["stem"].astype(str)) if path.is_file() else set()
        found = False
        for name, _ in methods:
            folder = layout.sam_root(unit.label) / name
            records = [r for r in read_records(folder) if r["stem"] in stems]
            if not records:
                continue
            found = True
            inputs += [path] + sorted(record_dir(folder).glob("*.json"))
            categories = {r["stem"]: r.get("category") or "All" for r in records}
            frames.append(sweep_frame(records, categories, label if len(methods) == 1 else f"{label} {name}"))
        if not found:
            missing.append(ref)
    frames = [f for f in frames if not f.empty]
    return (pd.concat(frames, ignore_index=True) if frames else None), inputs, missing


def _automatic_texts(definition: Definition, spec, frame: pd.DataFrame) -> dict[str, str]:
    from samis.report.automatic import render_latex, render_markdown

    caption = spec.caption or "What the automatic mode could find, per threshold pair"
    return {"csv": frame.to_csv(index=False, float_format="%.6g"), "md": render_markdown(frame, caption),
            "latex": render_latex(frame, caption, spec.label or f"tab:{spec.name}")}


def render_tables(definition: Definition, echo=print) -> list[Path]:
    from samis.report.presets import default_metrics

    layout = Layout(definition)
    written = []
    for spec in definition.tables:
        if spec.kind in RECORD_KINDS:  # read from the click CSVs beside the maps
            from samis.experiments.render_clicks import render_record_table

            written += render_record_table(layout, definition, spec, echo)
            continue
        if spec.kind == "automatic":
            frame, inputs, missing = _automatic_frame(layout, definition, spec)
        else:
            frame, inputs, missing = _table_frame(layout, definition, spec)
        if missing:
            echo(f"tables: {spec.name}: no results yet for {', '.join(missing)}")
        if frame is None:
            echo(f"tables: {spec.name}: nothing to tabulate, skipped")
            continue
        units, stat_inputs = (_per_image_units(layout, definition, spec)
                              if spec.kind not in BY_CATEGORY + ("automatic",) else ([], []))
        outputs = [layout.tables / f"{spec.name}{TABLE_SUFFIX[f]}" for f in spec.formats]
        stamp, state = _stamp_path(layout.tables, spec.name), _state(spec, inputs + stat_inputs)
        state["display_names"] = definition.display_names
        if _fresh(stamp, state):
            echo(f"tables: {spec.name}: up to date, skipped")
            written += outputs
            continue
        metrics = list(spec.metrics or default_metrics(spec.kind, spec.protocol))
        if not spec.metrics and spec.kind == "main" and "n_free" in frame.columns:
            metrics += ["clean", "FPA"]  # defect-free images, scored apart (samis.evaluation)
        if spec.kind == "automatic":
            texts = _automatic_texts(definition, spec, frame)
        elif spec.kind == "significance":
            texts = _significance_texts(definition, spec, units, metrics)
        else:
            texts = _table_texts(definition, spec, frame, units, metrics)
        for fmt, path in zip(spec.formats, outputs):
            atomic_write_bytes(path, texts[fmt].encode())
        _stamp(stamp, state, outputs)
        echo(f"tables: {spec.name}: {', '.join(p.name for p in outputs)}")
        written += outputs
    return written


_ENV = {"auto": "auto", "column": "table", "page": "table*"}


def _table_texts(definition: Definition, spec: TableSpec, frame: pd.DataFrame, units, metrics) -> dict[str, str]:
    from samis.report.categories import metric_columns
    from samis.report.tables import render

    every = [m for m in metric_columns(frame) if m != TIME_COLUMN]  # the CSV keeps every metric, with its CI
    cis, sups = _statistics(units, every, metrics, spec, definition.seed) if units else (None, {})
    if spec.kind == "sam_modes":
        metrics = metrics + [TIME_COLUMN]
    opts = dict(metrics=metrics, style=spec.protocol, display_names=definition.display_names, cis=cis, show_ci=spec.ci,
                sups=sups, sup_note="* differs from the best baseline of its column (Wilcoxon signed-rank, Holm-corrected, p < .05).",
                latex_env=_ENV[spec.placement], layout=spec.layout)
    label = spec.label or f"tab:{spec.name}"
    out = {"csv": render(frame, fmt="csv", **dict(opts, metrics=None))}
    if spec.kind not in BY_CATEGORY:
        caption = _caption(definition, spec)
        out["md"] = render(frame, fmt="md", caption=caption, **opts)
        out["latex"] = render(frame, fmt="latex", caption=caption, label=label, **opts)
        return out
    # One table per dataset: categories as column groups; a wide breakdown of every dataset fits no page.
    parts = list(frame.groupby(["dataset", "split"], sort=False))
    md, tex = [], []
    for i, ((ds, sp), part) in enumerate(parts):
        from samis.report.style import dataset_label

        what = {"categories": "Results per defect category",
                "mask_choice": "Which of SAM's masks a point prompt keeps, per defect category,"}[spec.kind]
        caption = (f"{spec.caption.rstrip('.')}: {dataset_label(ds, sp)}." if spec.caption
                   else f"{what} on {dataset_label(ds, sp)} ({spec.protocol} protocol).")
        md.append(render(part, fmt="md", caption=caption, **opts))
        tex.append(render(part, fmt="latex", caption=caption, label=label if len(parts) == 1 else f"{label}-{i + 1}", **opts))
    return {"csv": out["csv"], "md": "\n".join(md), "latex": "\n".join(tex)}


def _significance_texts(definition: Definition, spec: TableSpec, units, metrics) -> dict[str, str]:
    from samis.report.significance import default_pairs, paired_tests, render_significance

    against = None
    if spec.against is not None:
        available = list(dict.fromkeys(m for f, _ in units for m in f["method"]))
        against = match_methods(spec.against, available)
    per_image = pd.concat([f for f, _ in units], ignore_index=True)
    tests = paired_tests(per_image, metrics, lambda ms: default_pairs(ms, against), seed=definition.seed)
    label = spec.label or f"tab:{spec.name}"
    return {fmt: render_significance(tests, fmt, caption=spec.caption, label=label, style=spec.protocol,
                                     display_names=definition.display_names, placement=_ENV[spec.placement])
            for fmt in ("csv", "md", "latex")}


# --- figures ------------------------------------------------------------------------------------
def experiment_palette(layout: Layout) -> dict[str, dict]:
    """One line style and colour per method of the whole experiment (every stored baseline of every
    dataset, then every SAM method), so a method looks the same in every curve, bar chart and grid."""
    from samis.report.plotstyle import method_styles

    methods = []
    for spec, split in layout.definition.units():
        for source in layout.sources(spec, split):
            methods += [m for m in source.methods if m not in methods]
    return method_styles(methods)



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
    palette = experiment_palette(layout)
    names = {m: display_name(m, definition.display_names) for m in palette}
    if spec.kind == "curves":
        files = _unit_files(layout, definition, ref, spec.protocol, "curves")
        _, curves, _ = read_curves(files)
        available = list(curves)
        methods = _with_references(spec.methods, available)
        return plot_curves(files, stem, methods=methods, title=title, kinds=spec.curves, styles=palette, names=names)
    per_image = _relabel(read_per_image(_unit_files(layout, definition, ref, spec.protocol, "per_image")), definition, ref)
    per_image = _select(per_image, spec.methods)
    methods = list(dict.fromkeys(per_image["method"]))
    if spec.kind == "category_bars":
        return figures.category_bars(per_image, spec.metric, stem, methods=methods, seed=definition.seed, title=title,
                                     colors={m: st["color"] for m, st in palette.items()}, names=names)
    from samis.report.style import is_reference

    methods = [m for m in methods if not is_reference(m)]  # reference maps are never stored: nothing to show
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
    return figures.qualitative_grid(rows, list(dirs), stem, column_titles={m: names.get(m, m) for m in dirs},
                                    contour=spec.outline, colors={m: st["color"] for m, st in palette.items()})


def _sweep_figure(layout: Layout, definition: Definition, spec, echo) -> list[Path]:
    """The ``automatic_sweep`` figure: one figure over all its units (one line each), from the records."""
    from samis.report.automatic import plot_sweep

    frame, inputs, missing = _automatic_frame(layout, definition, spec)
    if missing:
        echo(f"figures: {spec.name}: no automatic records yet for {', '.join(missing)}")
    if frame is None:
        echo(f"figures: {spec.name}: nothing to draw, skipped")
        return []
    stamp, state = _stamp_path(layout.figures, spec.name), _state(spec, inputs)
    if _fresh(stamp, state):
        echo(f"figures: {spec.name}: up to date, skipped")
        return [Path(p) for p in json.loads(stamp.read_text())["outputs"]]
    layout.figures.mkdir(parents=True, exist_ok=True)
    outputs = plot_sweep(frame, layout.figures / spec.name)
    _stamp(stamp, state, outputs)
    echo(f"figures: {spec.name}: {', '.join(Path(p).name for p in outputs)}")
    return [Path(p) for p in outputs]


def _mask_choice_figure(layout: Layout, definition: Definition, spec: FigureSpec, stem: Path) -> list[Path]:
    """One figure for every unit of the spec: a panel per dataset, bars by mask choice and category."""
    from samis.report import figures
    from samis.report.inputs import read_per_image

    frames = [_relabel(read_per_image(files), definition, ref) for ref in spec.units
              if (files := _unit_files(layout, definition, ref, spec.protocol, "per_image"))]
    frame = pd.concat(frames, ignore_index=True, sort=False)
    methods = match_methods(_method_patterns(spec), list(dict.fromkeys(frame["method"])))
    if not methods:
        raise DataError("no mask-choice method has results (point modes under several multimask rules)")
    palette = experiment_palette(layout)
    names = {m: display_name(m, definition.display_names) for m in methods}
    return figures.mask_choice_bars(frame[frame["method"].isin(methods)], spec.metric or "IoU", stem, methods=methods,
                                    seed=definition.seed, colors={m: st["color"] for m, st in palette.items()}, names=names)


def _figure_jobs(layout: Layout, definition: Definition, spec: FigureSpec):
    """(output name, input files, unit or None for a figure over every unit) of one figure spec."""
    for name, ref in spec.outputs():
        kind = "curves" if spec.kind == "curves" else "per_image"
        inputs = [p for r in ([ref] if ref else spec.units) for p in _unit_files(layout, definition, r, spec.protocol, kind)]
        if inputs and spec.kind == "qualitative":  # the maps themselves are drawn: their folders count too
            label, split = ref.split("/", 1)
            inputs += [sidecar(layout.results_base(label, split, s)) for s in ("baselines", "sam")]
            inputs = [p for p in inputs if p.is_file()]
        yield name, inputs, ref


def render_figures(definition: Definition, echo=print) -> list[Path]:
    layout = Layout(definition)
    written = []
    for index, spec in enumerate(definition.figures):
        if spec.kind in RECORD_KINDS:  # one figure over every unit, from the click CSVs
            from samis.experiments.render_clicks import render_clicks_figure

            written += render_clicks_figure(layout, definition, spec, echo)
            continue
        if spec.kind == "automatic_sweep":
            written += _sweep_figure(layout, definition, spec, echo)
            continue
        for name, inputs, ref in _figure_jobs(layout, definition, spec):
            if not inputs:
                echo(f"figures: {name}: no results yet for {ref or ', '.join(spec.units)}, skipped")
                continue
            stamp, state = _stamp_path(layout.figures, name), _state(spec, inputs)
            state["look"] = {"names": definition.display_names, "palette": list(experiment_palette(layout))}
            if _fresh(stamp, state):
                echo(f"figures: {name}: up to date, skipped")
                written += json.loads(stamp.read_text())["outputs"]
                continue
            layout.figures.mkdir(parents=True, exist_ok=True)
            try:
                if ref is None:
                    outputs = _mask_choice_figure(layout, definition, spec, layout.figures / name)
                else:
                    outputs = _figure(layout, definition, index, spec, ref, layout.figures / name)
            except DataError as exc:
                echo(f"figures: {name}: not drawn ({exc})")
                continue
            _stamp(stamp, state, outputs)
            echo(f"figures: {name}: {', '.join(Path(p).name for p in outputs)}")
            written += [Path(p) for p in outputs]
    return [Path(p) for p in written]
