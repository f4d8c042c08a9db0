"""The evaluation share of a study: one results file per (dataset, split, source), redone only when stale.

A method is scored only when its maps cover the whole split; an incomplete one (a run still going,
a shard not merged yet) is named and left out, and the fingerprint records it, so the results file
is redone once its maps are complete.
"""

from __future__ import annotations

from samis.experiments.definition import Definition
from samis.experiments.fingerprint import fingerprint, is_fresh, record
from samis.experiments.layout import Layout


def evaluate_all(definition: Definition, jobs: int | None = None, progress: bool = True, echo=print) -> None:
    from samis.evaluation import evaluate
    from samis.predictions import index_method

    from samis.protocols import get_protocol
    from samis.runners.config import PromptedConfig, method_name

    layout = Layout(definition)
    # prompts read off the ground truth: an empty one prompts nothing, so their defect-free scores are n/a
    prompted = [method_name(m.name, cfg) for m in definition.models for cfg in definition.modes
                if isinstance(cfg, PromptedConfig)]
    for spec, split in definition.units():
        dataset = spec.open(split)
        stems = [s.stem for s in dataset.samples()]
        for k, source in enumerate(layout.sources(spec, split)):
            references = definition.references if k == 0 else ()  # scored once, beside SAM's methods
            where = f"{spec.label}/{split} {source.name}"
            present = [m for m in source.methods if (source.root / m).is_dir()]
            complete = [m for m in present if index_method(source.root, m, stems).complete]
            for m in source.methods:
                if m not in complete:
                    state = "no maps" if m not in present else "maps incomplete"
                    echo(f"evaluate: {where}: {m} left out ({state} in {source.root / m})")
            if not complete and not references:
                continue
            base = layout.results_base(spec.label, split, source.name)
            groups = _groups(spec.protocols, source.root, complete, lambda line: echo(f"evaluate: {where}: {line}"))
            if references:  # the reference rows are scored under every protocol, with or without methods
                covered = {p for protocols, _ in groups for p in protocols}
                groups += [((p,), []) for p in spec.protocols if p not in covered]
            scored = [p for protocols, _ in groups for p in protocols]
            outputs = [f for p in scored for f in layout.written_results(spec, split, source.name, p)]
            extra = {"left_out": sorted(set(source.methods) - set(complete))}
            if references:
                extra["references"] = [r.name for r in references]
            if definition.empty_gt != "apart":
                extra["empty_gt"] = definition.empty_gt
            if spec.options:  # categories and masks depend on them (absent when none: older sidecars stay valid)
                extra["dataset_options"] = {k: v for k, v in spec.options}
            current = fingerprint(source.root, complete, stems, spec.protocols, extra=extra)
            if is_fresh(base, current, outputs):
                echo(f"evaluate: {where}: up to date, skipped")
                continue
            refs = f" + {len(references)} reference(s)" if references else ""
            echo(f"evaluate: {where}: {len(complete)} method(s){refs} x {len(stems)} images, {', '.join(spec.protocols)}")
            for protocols, methods in groups:
                # one protocol of several alone: its own file name, as if evaluated with the others
                out = layout.results_files(spec, split, source.name, protocols[0])["summary"] \
                    if len(protocols) == 1 and len(spec.protocols) > 1 else base
                # a protocol that refuses maps made with the ground truth refuses the gt_box reference too
                refs = tuple(r for r in references
                             if r.kind != "gt_box" or not any(get_protocol(p).uses_ground_truth for p in protocols))
                evaluate(dataset, source.root if methods else None, list(protocols), methods=methods, strict=True,
                         jobs=jobs, out=out, progress=progress, references=refs, prompted=prompted,
                         empty_gt=definition.empty_gt)
            record(base, current)


def _groups(protocols, root, methods, echo) -> list[tuple[tuple[str, ...], list[str]]]:
    """(protocols, the methods they score) with one evaluation each: a protocol that cannot score maps made
    with the ground truth (anomaly) scores the other methods only, and says which it leaves out and why."""
    from samis.protocols.ground_truth import refusal, refused_methods

    folders = {m: root / m for m in methods}
    groups: dict[tuple[str, ...], list[str]] = {}
    for protocol in protocols:
        refused = refused_methods(protocol, folders)
        if refused:
            echo(refusal(protocol, refused) + "; left out of its results")
        scored = tuple(m for m in methods if m not in refused)
        if scored:
            groups.setdefault(scored, []).append(protocol)
    return [(tuple(p), list(m)) for m, p in groups.items()]
