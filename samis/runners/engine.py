"""Running SAM over a dataset: every asked mode per image, one embedding per image, resumable.

Images are visited once; each image is encoded once (or read from the embedding cache) and every
pending mode is computed from that embedding, so asking for box and point together costs one
encoder pass. The engine only loops over images and mode runners (``samis.runners.runner``) and
writes maps: atomically, as they are produced, so an interrupted run loses nothing already written,
and a rerun skips the maps that exist.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samis.errors import ConfigError, DataError
from samis.imageio import write_png
from samis.runners import precision, store
from samis.runners.config import ModeConfig, normalize
from samis.runners.device import encoder_batch
from samis.runners.overlap import load_ahead

log = logging.getLogger("samis.runners")

_MODELS: dict[tuple, tuple] = {}


def get_model(model_name: str, checkpoint=None, device=None, encoder_backend: str | None = "torch"):
    """``(model, digest)`` from the variant's backend, loaded once per process and device.

    ``encoder_backend`` (``auto | torch | onnx``, SAM 1 only; ``samis.models.onnx_encoder``): a model
    with another image encoder shares the torch model's weights and decoder.
    """
    from samis.backends import get_backend
    from samis.models import resolve_device

    backend = get_backend(model_name)
    device = str(resolve_device(device))
    key = (model_name, str(checkpoint) if checkpoint else None, device)
    if key not in _MODELS:
        _MODELS[key] = backend.load(model_name, checkpoint=checkpoint, device=device)
    if encoder_backend in (None, "torch"):
        return _MODELS[key]
    if not hasattr(backend, "with_encoder"):
        if encoder_backend == "onnx":
            raise ConfigError(f"encoder_backend onnx is for SAM 1 variants; {model_name} runs its encoder in torch: "
                              "use encoder_backend torch or auto")
        return _MODELS[key]
    okey = key + (encoder_backend,)
    if okey not in _MODELS:
        _MODELS[okey] = backend.with_encoder(*_MODELS[key], model_name, encoder_backend)
    return _MODELS[okey]


def parse_shard(shard) -> tuple[int, int]:
    """``(i, n)`` or ``"i/n"``: this process does the i-th of n shares (0-based)."""
    if isinstance(shard, str):
        try:
            i, n = (int(v) for v in shard.split("/"))
        except ValueError:
            raise ConfigError(f"--shard {shard!r}: write it i/n, e.g. 0/4 for the first of four shares") from None
    else:
        i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"shard {i}/{n}: need n >= 1 and 0 <= i < n")
    return int(i), int(n)


def shard_samples(samples: list, shard) -> list:
    """The i-th of n shares by index in the sorted sample list: a fixed split, whoever runs it."""
    i, n = parse_shard(shard)
    stems = [s.stem for s in samples]
    if len(set(stems)) != len(stems):
        dup = sorted({s for s in stems if stems.count(s) > 1})[:5]
        raise DataError(f"the dataset has several images with the same stem ({', '.join(dup)}): maps would collide")
    return [s for k, s in enumerate(samples) if k % n == i]


@dataclass
class MethodReport:
    method: str
    folder: Path
    written: int = 0
    skipped: int = 0
    empty_gt: int = 0


@dataclass
class RunReport:
    methods: dict[str, MethodReport] = field(default_factory=dict)
    images: int = 0
    seconds: float = 0.0
    encoder_passes: int = 0
    embedding_hits: int = 0
    generated: int = 0


@dataclass
class _Job:
    cfg: ModeConfig
    report: MethodReport
    todo: set
    runner: object = None


def predict(dataset, model_name, mode_config, out_root, checkpoint=None, device=None, shard=(0, 1),
            progress=True, **kwargs) -> Path:
    """Write ``<out_root>/<method>/<stem>.png`` for every sample of the shard not done yet; return the folder."""
    report = predict_many(dataset, model_name, [mode_config], out_root, checkpoint=checkpoint, device=device,
                          shard=shard, progress=progress, **kwargs)
    return next(iter(report.methods.values())).folder


def predict_many(dataset, model_name, mode_configs, out_root, checkpoint=None, device=None, shard=(0, 1),
                 progress=True, overwrite=False, cache_dir=None, model=None, encoder_backend="torch") -> RunReport:
    """Several modes in one pass over the images, sharing each image's embedding and generated masks.

    ``mode_configs``: mappings or configurations (``samis.runners.config``). ``model``: an already
    loaded ``(model, digest)`` pair (skips loading; else ``encoder_backend`` picks its image encoder);
    ``cache_dir``: the cache root (default ``samis.paths.cache_dir()``), ``False`` for no disk cache.
    """
    from tqdm.auto import tqdm

    from samis.backends import get_backend
    from samis.runners.runner import RunModel, runner_class

    t_start = time.perf_counter()
    cfgs = [stored for c in mode_configs for stored in normalize(c).expand()]  # clicks: one method per saved count
    if not cfgs:
        raise ConfigError("no mode to run: give at least one --mode")
    names = [c.method_name(model_name) for c in cfgs]
    if len(set(names)) != len(names):
        raise ConfigError(f"two modes map to the same method name ({', '.join(names)}); set name=... to tell them apart")
    samples = shard_samples(list(dataset.samples()), shard)

    backend = get_backend(model_name)
    sam, digest = model if model is not None else get_model(model_name, checkpoint, device, encoder_backend)
    run_model = RunModel(backend, sam, digest, cache_dir=cache_dir, name=model_name)
    runners: dict[type, object] = {}
    run_device = getattr(sam, "device", "cpu")
    out_root = Path(out_root)
    nums = [precision.numerics(run_device, cfg.autocast) for cfg in cfgs]  # refuses autocast off CUDA
    jobs = []
    for cfg, name, num in zip(cfgs, names, nums):
        folder = out_root / name
        chash = cfg.config_hash(model_name, digest, numerics=num)
        store.prepare(folder, {**store.manifest_for(name, cfg, model_name, digest, chash, dataset), "numerics": num},
                      overwrite)
        done = set() if overwrite else store.done_stems(folder, cfg)
        todo = {s.stem for s in samples if s.stem not in done}
        cls = runner_class(cfg)
        if cls not in runners:
            runners[cls] = cls(run_model)
        if hasattr(runners[cls], "attach"):  # a runner that keeps per-image records beside the maps
            runners[cls].attach(cfg, folder, overwrite)
        jobs.append(_Job(cfg, MethodReport(name, folder, skipped=len(samples) - len(todo)), todo, runners[cls]))
    run = RunReport(methods={j.report.method: j.report for j in jobs})
    work = [s for s in samples if any(s.stem in j.todo for j in jobs)]
    batch = encoder_batch(run_device, [c.batch_size for c in cfgs])

    i_shard, n_shard = parse_shard(shard)
    bar = tqdm(total=len(work), unit="img", disable=not progress, dynamic_ncols=True,
               desc=f"{getattr(dataset, 'name', 'dataset')} {i_shard}/{n_shard}")
    try:
        chunks = (work[start:start + batch] for start in range(0, len(work), batch))
        with precision.run_context(run_device):  # exact float32 on CUDA unless a mode asks otherwise
            for chunk, images in load_ahead(chunks, lambda s: s.load_image()):
                if batch > 1:
                    for p in {id(p): p for p in (run_model.predictor(j.cfg.autocast) for j in jobs)}.values():
                        p.prefetch(images)
                for sample, image in zip(chunk, images):
                    _one_image(sample, image, jobs)
                    run.images += 1
                    bar.update(1)
    finally:
        bar.close()
        for p in run_model.predictors:
            p.flush()
        run.seconds = time.perf_counter() - t_start
        for p in run_model.predictors:
            run.encoder_passes += p.stats.misses
            run.embedding_hits += p.stats.hits
        run.generated = sum(r.generated for r in runners.values())
        for r in runners.values():
            if hasattr(r, "finish"):
                r.finish()  # records joined in stem order, also after an interruption
        for j in jobs:
            r = j.report
            line = (f"shard {i_shard}/{n_shard}: written {r.written}, skipped {r.skipped} (done before), "
                    f"empty ground truth {r.empty_gt}")
            log.info("%s: %s", r.method, line)
            if r.folder.is_dir():
                store.log_run(r.folder, line)
    return run


def _one_image(sample, image, jobs) -> None:
    """Every pending mode's map of one image; the ground truth is read once, before any map is written."""
    from samis.runners.runner import ImageFrame

    # prompted modes first: they share one set_image; the generator sets (and resets) its own
    pending = sorted((j for j in jobs if sample.stem in j.todo), key=lambda j: j.cfg.mode == "automatic")
    image = np.ascontiguousarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DataError(f"{sample.image_path}: expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")
    gt = sample.load_mask() if any(j.runner.needs_ground_truth(j.cfg) for j in pending) else None
    if gt is not None and gt.shape != image.shape[:2]:
        raise DataError(f"{sample.mask_path}: mask is {gt.shape}, image {sample.image_path} is {image.shape[:2]}")
    frame = ImageFrame(sample.stem, image, gt, category=getattr(sample, "category", None))
    for j in pending:
        out, empty = j.runner.map(frame, j.cfg)
        if hasattr(j.runner, "record"):  # before the map: a stem with a map has its record
            from samis.runners.automatic_records import write_record

            write_record(j.report.folder, j.runner.record(frame, j.cfg))
        j.report.empty_gt += int(empty)
        write_png(j.report.folder / f"{sample.stem}.png", out)
        j.report.written += 1
