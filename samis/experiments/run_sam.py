"""The SAM share of a study: maps for every model x mode x dataset that are not there yet, timed.

Each dataset entry is run once over the union of its splits (the test split of SD-saliency-900 is
part of ``full``), so no image is segmented twice. Work is grouped as the runners share it: each
prompted mode alone, automatic policies with one generator together (one mask generation per
image). Before the groups, one encoder pass fills the embedding cache and is timed on its own, so
every group's time is decoder-side only and the "time per image" of a method is encoder + its group,
whatever order the groups ran in. Timing is written per shard and only when images were processed,
so a resumed run never overwrites a real measurement with a near-zero one.
"""

from __future__ import annotations

import time

from samis.experiments.definition import DatasetSpec, Definition
from samis.experiments.layout import Layout
from samis.experiments.timing import write_timing
from samis.sorting import natural_key


class AllSplits:
    """A dataset entry's samples over all its splits (deduplicated by stem, sorted), for the runners."""

    def __init__(self, spec: DatasetSpec):
        self.spec = spec
        self.name = spec.name
        self.split = "+".join(spec.splits)
        self.sets = [spec.open(s) for s in spec.splits]
        self.root = self.sets[0].root
        self._samples = None

    def samples(self) -> list:
        if self._samples is None:
            by_stem = {}
            for ds in self.sets:
                for s in ds.samples():
                    by_stem.setdefault(s.stem, s)
            self._samples = sorted(by_stem.values(), key=lambda s: (natural_key(s.category), natural_key(s.stem)))
        return list(self._samples)


def groups(configs: tuple) -> list[list]:
    """Configs that the runners process together: prompted modes one by one, automatic by generator."""
    out: list[list] = []
    auto: dict[tuple, list] = {}
    for cfg in configs:
        if cfg.mode == "automatic":
            key = cfg.generator_key
            if key not in auto:
                auto[key] = []
                out.append(auto[key])
            auto[key].append(cfg)
        else:
            out.append([cfg])
    return out


def shard_tag(shard) -> str:
    from samis.runners.engine import parse_shard

    i, n = parse_shard(shard)
    return f"{i}-of-{n}"


def run_sam(definition: Definition, shard=(0, 1), progress: bool = True, echo=print) -> None:
    """Write the missing SAM maps of this shard for every model and dataset of the definition.

    Prompted modes (seconds per image) run on every dataset before the automatic mode (up to minutes
    per image on a CPU) starts on any, so an interrupted or time-limited run has complete box and
    point results for every dataset first.
    """
    layout = Layout(definition)
    prompted = tuple(c for c in definition.modes if c.mode != "automatic")
    automatic = tuple(c for c in definition.modes if c.mode == "automatic")
    for phase in (prompted, automatic):
        if not phase:
            continue
        for model in definition.models:
            for spec in definition.datasets:
                _run_phase(definition, layout, model, spec, phase, shard, progress, echo)


def _run_phase(definition, layout, model, spec, modes, shard, progress, echo) -> None:
    """The maps of ``modes`` for one model and dataset entry: one timed encoder pass, then each group."""
    from tqdm.auto import tqdm

    from samis.backends import get_backend
    from samis.runners import predict_many
    from samis.runners.engine import get_model, shard_samples
    from samis.runners.store import done_stems, same_options

    tag = shard_tag(shard)
    kind = "automatic" if modes[0].mode == "automatic" else "prompted"
    dataset = AllSplits(spec)
    mine = shard_samples(dataset.samples(), shard)
    root = layout.sam_root(spec.label)
    names = [cfg.method_name(model.name) for cfg in modes]
    # maps of other options under the same name are not done: the runner refuses or replaces them
    done = {name: done_stems(root / name) if same_options(root / name, cfg, model.name) else set()
            for name, cfg in zip(names, modes)}
    pending = [s for s in mine if any(s.stem not in done[n] for n in names)]
    if not pending:
        echo(f"run: {model.name} {kind} on {spec.label} (shard {tag}): all {len(mine)} images done, skipped")
        return
    echo(f"run: {model.name} {kind} on {spec.label} (shard {tag}): {len(pending)} of {len(mine)} images to do")
    sam, digest = get_model(model.name, model.checkpoint, model.device)
    predictor = get_backend(model.name).predictor(sam, digest)
    start = time.perf_counter()
    for sample in tqdm(pending, unit="img", disable=not progress, dynamic_ncols=True,
                       desc=f"{spec.label} image encoder"):
        predictor.set_image(sample.load_image())
    if predictor.stats.misses:
        per_image = (time.perf_counter() - start) / predictor.stats.misses
        write_timing(layout.timing_dir(spec.label), f"{model.name}-encoder.{tag}",
                      {"images": predictor.stats.misses, "seconds_per_image": per_image})
    for group in groups(modes):
        report = predict_many(dataset, model.name, group, root, checkpoint=model.checkpoint,
                              device=model.device, shard=shard, progress=progress, model=(sam, digest))
        if report.images:
            for name, method in report.methods.items():
                write_timing(layout.timing_dir(spec.label), f"{name}.{tag}", {
                    "images": report.images, "seconds": report.seconds,
                    "seconds_per_image": report.seconds / report.images,
                    "methods_in_group": sorted(report.methods), "model": model.name,
                    "written": method.written,
                })
