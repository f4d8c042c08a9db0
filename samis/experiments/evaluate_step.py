"""The evaluation share of a study: one results file per (dataset, split, source), redone only when stale.

A method is scored only when its maps cover the whole split; an incomplete one (a run still going,
a shard not merged yet) is named and left out, and the fingerprint records it, so the results file
is redone once its maps are complete.
"""

from __future__ import annotations

from samis.datasets import get_dataset
from samis.experiments.definition import Definition
from samis.experiments.fingerprint import fingerprint, is_fresh, record
from samis.experiments.layout import Layout


def evaluate_all(definition: Definition, jobs: int | None = None, progress: bool = True, echo=print) -> None:
    from samis.evaluation import evaluate
    from samis.predictions import index_method

    layout = Layout(definition)
    for spec, split in definition.units():
        dataset = get_dataset(spec.name, root=spec.data_root, split=split)
        stems = [s.stem for s in dataset.samples()]
        for source in layout.sources(spec, split):
            where = f"{spec.label}/{split} {source.name}"
            present = [m for m in source.methods if (source.root / m).is_dir()]
            complete = [m for m in present if index_method(source.root, m, stems).complete]
            for m in source.methods:
                if m not in complete:
                    state = "no maps" if m not in present else "maps incomplete"
                    echo(f"evaluate: {where}: {m} left out ({state} in {source.root / m})")
            if not complete:
                continue
            base = layout.results_base(spec.label, split, source.name)
            outputs = [f for p in spec.protocols for k, f in layout.results_files(spec, split, source.name, p).items()
                       if k not in ("curves", "image_curves") or p == "sod"]
            current = fingerprint(source.root, complete, stems, spec.protocols,
                                  extra={"left_out": sorted(set(source.methods) - set(complete))})
            if is_fresh(base, current, outputs):
                echo(f"evaluate: {where}: up to date, skipped")
                continue
            echo(f"evaluate: {where}: {len(complete)} method(s) x {len(stems)} images, {', '.join(spec.protocols)}")
            evaluate(dataset, source.root, list(spec.protocols), methods=complete, strict=True, jobs=jobs,
                     out=base, progress=progress)
            record(base, current)
