"""Scoring stored prediction maps against a dataset's ground truth: per-image values, summaries, curves.

    from samis.datasets import get_dataset
    from samis.evaluation import evaluate
    ds = get_dataset("sd900", split="full")
    table = evaluate(ds, "baselines/SD-saliency-900", "steel", out="results/sd900.csv")

Work is organised by image, not by method: each worker reads a ground truth once, derives everything
the metrics need from it alone (distance transforms, edges, centroid split) once, and scores every
method's map against it; with both protocols the shared metrics (WF/SM/MAE) are computed once.
Images are spread over a process pool in chunks. See docs/evaluation.md.
"""

from __future__ import annotations

import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from samis.errors import ConfigError, DataError
from samis.imageio import atomic_write_bytes
from samis.metrics.gt import GroundTruth
from samis.metrics.score import COLUMNS, CURVES, PROTOCOLS, protocol_row, score_map
from samis.predictions import index_method, list_methods, load_map

CHUNK = 8  # images per task: large enough to amortize pickling, small enough to balance two workers


class MissingMapsWarning(UserWarning):
    """A method's maps do not cover the split; the method is left out of the results."""


def parse_protocols(protocol) -> tuple[str, ...]:
    """``"sod"``, ``"steel"``, ``"both"`` or a list of them -> an ordered tuple of protocol names."""
    items = [protocol] if isinstance(protocol, str) else list(protocol or [])
    names: list[str] = []
    for item in items:
        for name in (PROTOCOLS if item == "both" else (item,)):
            if name not in PROTOCOLS:
                raise ConfigError(f"unknown protocol {name!r}; choose sod, steel or both")
            if name not in names:
                names.append(name)
    if not names:
        raise ConfigError("no protocol given; choose sod, steel or both")
    return tuple(names)


def output_paths(out: str | os.PathLike, protocol: str, several: bool) -> dict[str, Path]:
    """Files written for one protocol: ``FILE.csv``, ``FILE.per_image.csv``, ``FILE.curves.npz`` and
    ``FILE.image_curves.npz`` (sod).

    With several protocols ``FILE`` gets the protocol appended (``res.csv`` -> ``res.steel.csv``),
    so each file keeps exactly its protocol's columns.
    """
    out = Path(out)
    base = out.with_suffix("") if out.suffix.lower() == ".csv" else out
    if several:
        base = base.with_name(f"{base.name}.{protocol}")
    return {
        "summary": base.with_name(base.name + ".csv"),
        "per_image": base.with_name(base.name + ".per_image.csv"),
        "curves": base.with_name(base.name + ".curves.npz"),
        "image_curves": base.with_name(base.name + ".image_curves.npz"),
    }


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # the pool is the parallelism; OpenCV threads would only fight over the cores


def _score_chunk(task):
    """Worker: score every method's map of each image in the chunk against that image's ground truth."""
    samples, method_paths, protocols = task
    results = []
    for i, sample in enumerate(samples):
        gt = GroundTruth(sample.load_mask())
        per_method = []
        for _, paths in method_paths:
            values, curves = score_map(load_map(paths[i], gt.shape), gt, protocols)
            per_method.append((values, None if curves is None else np.stack(curves)))
        results.append(per_method)
    return results


def _chunks(samples, kept, protocols, size):
    for start in range(0, len(samples), size):
        part = samples[start : start + size]
        yield part, [(m.name, [m.paths[s.stem] for s in part]) for m in kept], protocols


def _check_coverage(indexed, n_samples, where, strict):
    kept = []
    for maps in indexed:
        if maps.complete:
            kept.append(maps)
            continue
        first = ", ".join(maps.missing[:3]) + (" ..." if len(maps.missing) > 3 else "")
        msg = (
            f"method {maps.name!r}: {len(maps.missing)} of {n_samples} maps missing for {where} "
            f"(e.g. {first} in {maps.folder})"
        )
        if strict:
            raise DataError(msg + "; add the maps or drop --strict to leave the method out")
        warnings.warn(MissingMapsWarning(msg + "; left out of the results (--strict makes this an error)"),
                      stacklevel=3)
    return kept


def evaluate(dataset, predictions_root, protocol="steel", methods=None, strict=False, jobs=None, out=None,
             progress=True):
    """Score every method under ``predictions_root`` on ``dataset``; one summary row per method.

    ``protocol``: ``"sod"``, ``"steel"``, ``"both"`` or a list. Returns a ``pandas.DataFrame``
    (``method, dataset, split, n_images, <metrics>``) for one protocol, a dict protocol -> DataFrame
    for several. ``methods`` restricts (and orders) the method folders; a method whose maps do not cover
    the split is left out with a ``MissingMapsWarning`` (``strict``: ``DataError``). ``jobs``: worker
    processes (default: all cores; 1 runs in this process). ``out``: write the summary, per-image and
    curves files (see :func:`output_paths`).
    """
    protocols = parse_protocols(protocol)
    samples = list(dataset.samples())
    where = f"{dataset.name}/{dataset.split}"
    if not samples:
        raise DataError(f"dataset {where} has no samples under {dataset.root}")
    names = list(dict.fromkeys(methods)) if methods else list_methods(predictions_root)
    indexed = [index_method(predictions_root, name, [s.stem for s in samples]) for name in names]
    kept = _check_coverage(indexed, len(samples), where, strict)
    if not kept:
        raise DataError(f"no method under {predictions_root} has maps for every image of {where}; nothing to score")

    values = {m.name: [] for m in kept}
    curve_sums = {m.name: np.zeros((len(CURVES), 256)) for m in kept} if "sod" in protocols else None
    image_curves = {m.name: [] for m in kept}  # per-image F and E curves: the bootstrap resamples them
    for image_results in _run(samples, kept, protocols, jobs, progress, where):
        for m, (vals, curves) in zip(kept, image_results):
            values[m.name].append(vals)
            if curve_sums is not None:
                curve_sums[m.name] += curves  # in image order, as numpy's mean over axis 0 adds them
                image_curves[m.name].append(curves[2:4].astype(np.float32))

    tables = {}
    for proto in protocols:
        summary, per_image = _tables(dataset, samples, kept, values, curve_sums, proto)
        tables[proto] = summary
        if out is not None:
            files = output_paths(out, proto, len(protocols) > 1)
            _write_csv(files["summary"], summary)
            _write_csv(files["per_image"], per_image)
            if proto == "sod":
                _write_curves(files["curves"], curve_sums, len(samples))
                _write_image_curves(files["image_curves"], image_curves, samples)
    return tables[protocols[0]] if len(protocols) == 1 else tables


def _run(samples, kept, protocols, jobs, progress, where):
    """Yield, image by image in dataset order, the list of (values, curves) of every kept method."""
    from tqdm import tqdm

    jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    tasks = list(_chunks(samples, kept, protocols, CHUNK))
    jobs = min(jobs, len(tasks))

    def bar():
        return tqdm(total=len(samples) * len(kept), unit="map", desc=f"evaluate {where}", file=sys.stderr,
                    disable=not progress, dynamic_ncols=True)

    if jobs == 1:
        with bar() as progress_bar:
            for task in tasks:
                chunk = _score_chunk(task)
                progress_bar.update(len(chunk) * len(kept))
                yield from chunk
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
        # submit (which forks the workers) before the bar starts its monitor thread: no fork with threads
        futures = [pool.submit(_score_chunk, task) for task in tasks]
        try:
            with bar() as progress_bar:
                for future in futures:
                    chunk = future.result()
                    progress_bar.update(len(chunk) * len(kept))
                    yield from chunk
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _tables(dataset, samples, kept, values, curve_sums, proto):
    cols = COLUMNS[proto]
    head = {"dataset": dataset.name, "split": dataset.split}
    rows, summary = [], []
    for m in kept:
        proto_rows = [protocol_row(v, proto) for v in values[m.name]]
        for sample, row in zip(samples, proto_rows):
            rows.append({"method": m.name, **head, "stem": sample.stem, "category": sample.category, **row})
        agg = {}
        for c in cols:
            column = np.array([r[c] for r in proto_rows], dtype=np.float64)
            agg[c] = float(np.nanmean(column)) if c == "PFOM" and not np.isnan(column).all() else float(np.mean(column))
        if proto == "sod":
            fm, em = curve_sums[m.name][2] / len(samples), curve_sums[m.name][3] / len(samples)
            agg.update(maxF=float(fm.max()), meanF=float(fm.mean()), maxE=float(em.max()), meanE=float(em.mean()))
        summary.append({"method": m.name, **head, "n_images": len(samples), **{c: agg[c] for c in cols}})
    per_image = pd.DataFrame(rows, columns=["method", "dataset", "split", "stem", "category", *cols])
    return pd.DataFrame(summary, columns=["method", "dataset", "split", "n_images", *cols]), per_image


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    # 12 significant digits: far below any reported precision, and above the last-digit noise of
    # floating-point reductions, so two runs of the same maps write byte-identical files
    atomic_write_bytes(path, frame.to_csv(index=False, float_format="%.12g").encode())


def _write_curves(path: Path, curve_sums: dict, n: int) -> None:
    """Mean curves per method, reordered so index i is threshold i (pysodmetrics stores 255 first)."""
    import io

    arrays = {"thresholds": np.arange(256)}
    for method, sums in curve_sums.items():
        for name, curve in zip(CURVES, sums / n):
            arrays[f"{method}::{name}"] = np.flip(curve).copy()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _write_image_curves(path: Path, image_curves: dict, samples) -> None:
    """Each image's F- and E-measure curves (float32, index i = threshold i), so a bootstrap over images
    can recompute maxF/meanF/maxE/meanE from resampled mean curves (samis.report.bootstrap)."""
    import io

    arrays = {"stems": np.array([s.stem for s in samples])}
    for method, curves in image_curves.items():
        stacked = np.flip(np.stack(curves), axis=-1)  # images x (F, E) x 256
        arrays[f"{method}::fmeasure"] = np.ascontiguousarray(stacked[:, 0])
        arrays[f"{method}::emeasure"] = np.ascontiguousarray(stacked[:, 1])
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
