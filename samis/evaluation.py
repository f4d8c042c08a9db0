"""Scoring stored prediction maps against a dataset's ground truth: per-image values, summaries, curves.

    from samis.datasets import get_dataset
    from samis.evaluation import evaluate
    ds = get_dataset("sd900", split="full")
    table = evaluate(ds, "baselines/SD-saliency-900", "steel", out="results/sd900.csv")

Work is organised by image, not by method: each worker reads a ground truth once, derives everything
the metrics need from it alone (distance transforms, edges, centroid split) once, and scores every
method's map against it; a metric several protocols report (WF/SM/MAE) is computed once. What each
protocol reports and how a split's summary is formed is the protocol's data (:mod:`samis.protocols`);
this module only collects per-image values and summed arrays and writes the files
(:mod:`samis.results_files`). Images are spread over a process pool in chunks. See docs/evaluation.md.
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
from samis.metrics.score import MapMetrics
from samis.predictions import index_method, list_methods, read_map
from samis.protocols import Accumulated, Protocol, get_protocol, parse_protocols
from samis.protocols.ground_truth import check_methods
from samis.results_files import IMAGE_CURVES, written_files

CHUNK = 8  # images per task: large enough to amortize pickling, small enough to balance two workers


class MissingMapsWarning(UserWarning):
    """A method's maps do not cover the split; the method is left out of the results."""


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # the pool is the parallelism; OpenCV threads would only fight over the cores


def _score_chunk(task):
    """Worker: score every method's map of each image in the chunk against that image's ground truth."""
    samples, method_paths, protocols = task
    protocols = [get_protocol(name) for name in protocols]
    results = []
    for i, sample in enumerate(samples):
        gt = GroundTruth(sample.load_mask())
        per_method = []
        for _, paths in method_paths:
            metrics = MapMetrics(read_map(paths[i], gt.shape), gt)
            per_method.append({p.name: p.measure(metrics) for p in protocols})
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
    check_methods(protocols, {m.name: m.folder for m in kept})  # e.g. anomaly refuses prompted SAM modes

    values = {(m.name, p): [] for m in kept for p in protocols}
    sums = {(m.name, p): {} for m in kept for p in protocols}
    # each image's F and E curves, for protocols that have them: the report's bootstrap resamples them
    image_curves = {(m.name, p): [] for m in kept for p in protocols
                    if set(IMAGE_CURVES) <= set(get_protocol(p).curves)}
    for image_results in _run(samples, kept, protocols, jobs, progress, where):
        for m, measured in zip(kept, image_results):
            for p, (vals, arrays) in measured.items():
                values[m.name, p].append(vals)
                total = sums[m.name, p]
                for name, array in arrays.items():
                    total[name] = total.get(name, 0) + array  # in image order, as numpy's mean over axis 0 adds them
                if (m.name, p) in image_curves:
                    image_curves[m.name, p].append([arrays[c] for c in IMAGE_CURVES])

    tables = {}
    for name in protocols:
        proto = get_protocol(name)
        scores = {m.name: _accumulated(values[m.name, name], sums[m.name, name]) for m in kept}
        summary, per_image = _tables(dataset, samples, kept, values, scores, proto)
        tables[name] = summary
        if out is not None:
            files = written_files(out, name, len(protocols) > 1)  # image_curves only for a protocol with F and E curves
            _write_csv(files["summary"], summary)
            _write_csv(files["per_image"], per_image)
            if proto.curves:
                _write_curves(files["curves"], proto, scores)
            if "image_curves" in files:
                _write_image_curves(files["image_curves"], proto, {m.name: image_curves[m.name, name] for m in kept},
                                    samples)
    return tables[protocols[0]] if len(protocols) == 1 else tables


def _accumulated(rows: list[dict], sums: dict) -> Accumulated:
    """One method's per-image values (every name the protocol's measure gave) and summed arrays."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    per_image = {k: np.array([row[k] for row in rows], dtype=np.float64) for k in names}
    return Accumulated(per_image=per_image, sums=sums, n=len(rows))


def _run(samples, kept, protocols, jobs, progress, where):
    """Yield, image by image in dataset order, for every kept method {protocol: (values, arrays)}."""
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


def _tables(dataset, samples, kept, values, scores, proto: Protocol):
    cols = proto.columns
    head = {"dataset": dataset.name, "split": dataset.split}
    rows, summary = [], []
    for m in kept:
        for sample, vals in zip(samples, values[m.name, proto.name]):
            rows.append({"method": m.name, **head, "stem": sample.stem, "category": sample.category,
                         **{c: vals[c] for c in cols}})
        summary.append({"method": m.name, **head, "n_images": len(samples), **proto.summary(scores[m.name])})
    per_image = pd.DataFrame(rows, columns=["method", "dataset", "split", "stem", "category", *cols])
    return pd.DataFrame(summary, columns=["method", "dataset", "split", "n_images", *cols]), per_image


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    # 12 significant digits: far below any reported precision, and above the last-digit noise of
    # floating-point reductions, so two runs of the same maps write byte-identical files
    atomic_write_bytes(path, frame.to_csv(index=False, float_format="%.12g").encode())


def _write_curves(path: Path, proto: Protocol, scores: dict) -> None:
    """The protocol's mean curves of every method, key ``<method>::<curve>``, index i = threshold i."""
    import io

    arrays = {"thresholds": np.arange(256)}
    for method, acc in scores.items():
        for name, curve in proto.mean_curves(acc).items():
            arrays[f"{method}::{name}"] = curve
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _write_image_curves(path: Path, proto, image_curves: dict, samples) -> None:
    """Each image's F- and E-measure curves (float32, index i = threshold i), so a bootstrap over images
    can recompute maxF/meanF/maxE/meanE from resampled mean curves (samis.report.bootstrap)."""
    import io

    arrays = {"stems": np.array([s.stem for s in samples])}
    for method, curves in image_curves.items():
        stacked = np.stack(curves).astype(np.float32)  # images x (F, E) x 256
        if proto.curves_descending:
            stacked = np.flip(stacked, axis=-1)
        for i, name in enumerate(IMAGE_CURVES):
            arrays[f"{method}::{name}"] = np.ascontiguousarray(stacked[:, i])
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
