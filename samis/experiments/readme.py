"""``<output>/README.md``: what a study's folder holds and what produced it.

Someone opening a results folder months later must see which definition, model weights, data and
code commit made it, and find each table and figure without reading code.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from samis.experiments.definition import Definition
from samis.experiments.layout import Layout
from samis.imageio import atomic_write_bytes


def _rel(path: Path, base: Path) -> str:
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return str(path)


def _show(path, d: Definition) -> str:
    """A path as a reader of the report would type it: relative to the project (the definition's
    folder's parent) when it is in or beside it, else absolute — no one else's home folder in a
    committed report."""
    if path is None:
        return "$SAMIS_DATA_ROOT"
    import os

    rel = os.path.relpath(Path(path).resolve(), Path(d.path).resolve().parent.parent)
    return rel if rel.split(os.sep).count("..") <= 1 else str(path)


def _manifests(layout: Layout) -> list[dict]:
    out = []
    for spec in layout.definition.datasets:
        for method in layout.sam_methods():
            path = layout.sam_root(spec.label) / method / "manifest.json"
            if path.is_file():
                try:
                    m = json.loads(path.read_text())
                except ValueError:
                    continue
                maps = sum(1 for p in path.parent.iterdir() if p.suffix == ".png")
                out.append({"label": spec.label, "method": method, "maps": maps, **m})
    return out


def write_readme(definition: Definition) -> Path:
    from samis import __version__
    from samis.runners.store import git_commit

    layout = Layout(definition)
    out = layout.output
    d = definition
    lines = [f"# {d.name}", ""]
    if d.description:
        lines += [d.description, ""]
    lines += [
        f"Produced by `samis reproduce {_show(d.path, d)}` (samis {__version__}, git commit `{git_commit() or 'unknown'}`), "
        f"last updated {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}.",
        "",
        "Definition: " + " extends ".join(f"`{_show(p, d)}`" for p in d.sources),
        "",
        "## Data",
        "",
        "| label | dataset | splits | data root | protocols |",
        "|---|---|---|---|---|",
    ]
    for s in d.datasets:
        extra = [f"{k}: {v}" for k, v in s.options] + ([s.subset.describe()] if s.subset else [])
        splits = ", ".join(s.splits) + (f" ({'; '.join(extra)})" if extra else "")
        lines.append(f"| {s.label} | {s.name} | {splits} | `{_show(s.data_root, d)}` | {', '.join(s.protocols)} |")
    lines += ["", "## SAM runs", "", f"Maps: `{_show(d.predictions, d)}`", "",
              "| dataset | method | maps | model | weights digest | code commit |", "|---|---|---|---|---|---|"]
    for m in _manifests(layout):
        lines.append(f"| {m['label']} | {m['method']} | {m['maps']} | {m.get('model')} | `{str(m.get('model_digest'))[:16]}` | "
                     f"`{m.get('git_commit')}` |")
    if d.baselines:
        lines += ["", "## Stored baselines", ""]
        for label, b in d.baselines.items():
            lines.append(f"- {label}: `{_show(b.root, d)}`: {', '.join(b.method_names())}")
    lines += ["", "## Results", "",
              "The whole report in a browser: [index.html](index.html) (sortable tables with confidence intervals, "
              "figures, a per-image browser; opens from the file system).", "",
              "Scores per method and per image (kept out of version control; "
              f"`samis reproduce {_show(d.path, d)} --only evaluate` writes them from the maps):", ""]
    for p in sorted((out / "results").rglob("*.csv")) if (out / "results").is_dir() else []:
        lines.append(f"- `{_rel(p, out)}`")
    lines += ["", "## Tables", ""]
    for t in d.tables:
        md = layout.tables / f"{t.name}.md"
        files = [layout.tables / f"{t.name}{ext}" for ext in (".md", ".tex", ".csv")]
        links = ", ".join(f"[{p.suffix[1:]}]({_rel(p, out)})" for p in files if p.is_file())
        what = t.kind + (f", {t.protocol} protocol" if t.protocol else "")  # the click tables have none
        lines.append(f"### {t.name} ({what}): {links or 'not rendered yet'}")
        lines.append("")
        if md.is_file():
            lines += [md.read_text().rstrip(), ""]
    lines += ["## Figures", ""]
    for f in d.figures:
        for name, _ in f.outputs():
            stem = layout.figures / name
            pngs = sorted(layout.figures.glob(stem.name + "*.png")) if layout.figures.is_dir() else []
            if not pngs:
                lines.append(f"- {stem.name} ({f.kind}): not drawn yet")
            for png in pngs:
                lines += [f"### {png.stem}", "", f"![{png.stem}]({_rel(png, out)}) ([pdf]({_rel(png.with_suffix('.pdf'), out)}))", ""]
    path = out / "README.md"
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path
