"""The SAM share of a study: maps for every model x mode x dataset that are not there yet, timed.

Each dataset entry is run once over the union of its splits (the test split of SD-saliency-900 is
part of ``full``), so no image is segmented twice. Work is grouped as the runners share it: each
prompted mode alone, automatic policies with one generator together (one mask generation per
image). Before the groups, one encoder pass per precision (``autocast``) fills the embedding cache,
``batch_size`` images per encoder call on an accelerator, and is timed on its own, so every group's
time is decoder-side only and the "time per image" of a method is its precision's encoder + its
group, whatever order the groups ran in. Timing is written per shard and only when images were processed,
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

    def __init__(self, spec: DatasetSpec, splits: tuple[str, ...] | None = None):
        self.spec = spec
        self.name = spec.name
        splits = splits or spec.splits
        self.split = "+".join(splits)
        self.sets = [spec.open(s) for s in splits]
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
    """Configs that the runners process together: prompted modes one by one, automatic by generator,
    the saved click counts of one click sequence together."""
    out: list[list] = []
    auto: dict[tuple, list] = {}
    for cfg in configs:
        if cfg.mode == "automatic" or hasattr(cfg, "trajectory_key"):
            key = cfg.generator_key if cfg.mode == "automatic" else cfg.trajectory_key
            if key not in auto:
                auto[key] = []
                out.append(auto[key])
            auto[key].append(cfg)
        else:
            out.append([cfg])
    return out


def encoder_passes(modes: tuple, device) -> list[tuple[str | None, int]]:
    """``(autocast, images per encoder call)`` of each encoder pass the modes need, in first-seen order."""
    from samis.runners.device import encoder_batch

    out: dict = {}
    for cfg in modes:
        out.setdefault(cfg.autocast, []).append(cfg.batch_size)
    return [(autocast, encoder_batch(device, sizes)) for autocast, sizes in out.items()]


def encoder_timing_name(model: str, autocast: str | None) -> str:
    """The timing file stem of an encoder pass: ``<model>-encoder`` (float32) or ``<model>-encoder-bf16``."""
    return f"{model}-encoder" + (f"-{autocast}" if autocast else "")


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
                by_splits: dict[tuple, list] = {}  # modes restricted to some splits (mode_splits:) run apart
                for cfg in phase:
                    if spec.runs(cfg):
                        by_splits.setdefault(spec.splits_of(cfg), []).append(cfg)
                for splits, mine in by_splits.items():
                    _run_phase(definition, layout, model, spec, tuple(mine), shard, progress, echo, splits)


def _run_phase(definition, layout, model, spec, modes, shard, progress, echo, splits=None) -> None:
    """The maps of ``modes`` for one model and dataset entry: one timed encoder pass, then each group."""
    from tqdm.auto import tqdm

    from samis.backends import get_backend
    from samis.models import resolve_device
    from samis.runners import precision, predict_many
    from samis.runners.engine import get_model, shard_samples
    from samis.runners.store import done_stems, same_options

    tag = shard_tag(shard)
    kind = "automatic" if modes[0].mode == "automatic" else "prompted"
    dataset = AllSplits(spec, splits)
    where = spec.label if splits in (None, spec.splits) else f"{spec.label}/{dataset.split}"
    mine = shard_samples(dataset.samples(), shard)
    root = layout.sam_root(spec.label)
    names = [cfg.method_name(model.name) for cfg in modes]
    # maps of other options or numerics under the same name are not done: the runner refuses or replaces them
    device = resolve_device(model.device)
    nums = [precision.numerics(device, cfg.autocast) for cfg in modes]  # refuses autocast off CUDA
    done = {name: done_stems(root / name, cfg) if same_options(root / name, cfg, model.name, num) else set()
            for name, cfg, num in zip(names, modes, nums)}
    pending = [s for s in mine if any(s.stem not in done[n] for n in names)]
    if not pending:
        echo(f"run: {model.name} {kind} on {where} (shard {tag}): all {len(mine)} images done, skipped")
        return
    echo(f"run: {model.name} {kind} on {where} (shard {tag}): {len(pending)} of {len(mine)} images to do")
    sam, digest = get_model(model.name, model.checkpoint, model.device, model.encoder_backend)
    backend = get_backend(model.name)
    for autocast, batch in encoder_passes(modes, sam.device):
        bar = tqdm(total=len(pending), unit="img", disable=not progress, dynamic_ncols=True,
                   desc=f"{spec.label} image encoder" + (f" ({autocast})" if autocast else ""))
        with bar:
            predictor = backend.predictor(sam, digest, autocast=autocast)
            misses, seconds = _encoder_pass(predictor, sam.device, pending, batch, bar.update)
        if misses:
            write_timing(layout.timing_dir(spec.label), f"{encoder_timing_name(model.name, autocast)}.{tag}",
                         {"images": misses, "seconds_per_image": seconds / misses, "batch_size": batch,
                          "numerics": precision.numerics(sam.device, autocast),
                          "encoder_backend": getattr(sam.image_encoder, "backend", "torch")})
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
                    "encoder_timing": encoder_timing_name(model.name, group[0].autocast),
                })


def _encoder_pass(predictor, device, samples, batch, advance) -> tuple[int, float]:
    """Fill the embedding cache for ``samples`` through ``predictor``: ``batch`` images per encoder call,
    the next batch read while this one is encoded, the cache written behind. Returns (images encoded, seconds)."""
    from samis.runners import precision
    from samis.runners.device import synchronize
    from samis.runners.overlap import load_ahead

    synchronize(device)
    start = time.perf_counter()
    with precision.run_context(device):
        chunks = (samples[i:i + batch] for i in range(0, len(samples), batch))
        for chunk, images in load_ahead(chunks, lambda s: s.load_image()):
            if len(images) < 2 or predictor.prefetch(images) == 0:
                for image in images:  # at most one of them is new: no batch to make
                    predictor.set_image(image)
            advance(len(images))
    predictor.flush()
    synchronize(device)
    return predictor.stats.misses, time.perf_counter() - start
