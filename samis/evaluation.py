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
from contextlib import contextmanager
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


@contextmanager
def _opencv_single_threaded():
    """OpenCV's worker threads stopped while the pool forks, restored afterwards.

    A child forked from a process whose OpenCV thread pool is running inherits the pool's state but not
    its threads, and hangs in its first OpenCV call (seen in the test suite, after earlier tests had
    resized images: ``cv2.setNumThreads`` in the worker never returned). With one thread OpenCV has no
    pool to inherit.
    """
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # the pool is the parallelism; OpenCV threads would only fight over the cores


def _score_chunk(task):
    """Worker: score every method's map of each image in the chunk against that image's ground truth."""
    samples, method_paths, references, protocols = task
    protocols = [get_protocol(name) for name in protocols]
    results = []
    for i, sample in enumerate(samples):
        gt = GroundTruth(sample.load_mask())
        maps = [read_map(paths[i], gt.shape) for _, paths in method_paths]
        maps += [ref.render(gt.mask, sample.stem) for ref in references]  # made here, never stored
        scored = [MapMetrics(pred, gt) for pred in maps]
        results.append((gt.fg == 0, [({p.name: p.measure(m) for p in protocols}, m.positive_area) for m in scored]))
    return results


def _chunks(samples, kept, references, protocols, size):
    for start in range(0, len(samples), size):
        part = samples[start : start + size]
        yield part, [(m.name, [m.paths[s.stem] for s in part]) for m in kept], references, protocols


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


EMPTY_GT_RULES = ("apart", "include")


def evaluate(dataset, predictions_root, protocol="steel", methods=None, strict=False, jobs=None, out=None,
             progress=True, references=(), empty_gt="apart", prompted=()):
    """Score every method under ``predictions_root`` on ``dataset``; one summary row per method.

    ``protocol``: ``"sod"``, ``"steel"``, ``"both"`` or a list. Returns a ``pandas.DataFrame``
    (``method, dataset, split, n_images, <metrics>``) for one protocol, a dict protocol -> DataFrame
    for several. ``methods`` restricts (and orders) the method folders; a method whose maps do not cover
    the split is left out with a ``MissingMapsWarning`` (``strict``: ``DataError``). ``jobs``: worker
    processes (default: all cores; 1 runs in this process). ``out``: write the summary, per-image and
    curves files (see :func:`output_paths`). ``references``: reference rows made from the ground truth
    (:mod:`samis.references`; names or :class:`~samis.references.Reference`), scored after the methods;
    with references, ``predictions_root`` may be None (references only).

    Images whose ground truth is empty (defect-free) are, with ``empty_gt="apart"`` (the default),
    left out of every metric column (``n_images`` is then the number of images with a defect) and
    scored apart: ``n_free`` such images, ``clean`` the share of them whose map cut at 0.5 is all
    background, ``FPA`` the mean share of their pixels marked foreground (false-positive area).
    ``prompted`` methods (and the ``gt_box`` reference) read their prompts off the ground truth, so
    an empty one gives them no prompt: their ``clean``/``FPA`` are NaN (n/a). ``empty_gt="include"``
    keeps pysodmetrics' behaviour: every image counts in every column.
    """
    if empty_gt not in EMPTY_GT_RULES:
        raise ConfigError(f"empty_gt {empty_gt!r}: choose {' or '.join(EMPTY_GT_RULES)}")
    from samis.references import parse_references

    references = tuple(r if hasattr(r, "render") else parse_references([r])[0] for r in references or ())
    protocols = parse_protocols(protocol)
    samples = list(dataset.samples())
    where = f"{dataset.name}/{dataset.split}"
    if not samples:
        raise DataError(f"dataset {where} has no samples under {dataset.root}")
    if predictions_root is None:
        names = []
    else:
        names = list(dict.fromkeys(methods)) if methods else list_methods(predictions_root)
    indexed = [index_method(predictions_root, name, [s.stem for s in samples]) for name in names]
    kept = _check_coverage(indexed, len(samples), where, strict)
    if not kept and not references:
        raise DataError(f"no method under {predictions_root} has maps for every image of {where}; nothing to score")
    check_methods(protocols, {m.name: m.folder for m in kept})  # e.g. anomaly refuses prompted SAM modes
    clash = sorted({m.name for m in kept} & {r.name for r in references})
    if clash:
        raise DataError(f"method folder {clash[0]!r} under {predictions_root} has a reference row's name; rename the "
                        "folder (names starting with 'ref-' are reference rows) or drop that reference")
    rows = [*kept, *(_ReferenceRow(r.name) for r in references)]

    values = {(m.name, p): [] for m in rows for p in protocols}
    sums = {(m.name, p): {} for m in rows for p in protocols}
    # each image's F and E curves, for protocols that have them: the report's bootstrap resamples them
    image_curves = {(m.name, p): [] for m in rows for p in protocols
                    if set(IMAGE_CURVES) <= set(get_protocol(p).curves)}
    free = []  # per image: ground truth empty
    fg_area = {m.name: [] for m in rows}  # per image and method: share of pixels > 0.5
    for empty, image_results in _run(samples, kept, references, protocols, jobs, progress, where):
        free.append(empty)
        apart_here = empty and empty_gt == "apart"
        for m, (measured, area) in zip(rows, image_results):
            fg_area[m.name].append(area)
            for p, (vals, arrays) in measured.items():
                values[m.name, p].append(vals)
                if (m.name, p) in image_curves:  # every image's (the per-image file lists every image too)
                    image_curves[m.name, p].append([arrays[c] for c in IMAGE_CURVES])
                if apart_here and not get_protocol(p).scores_defect_free:
                    continue
                total = sums[m.name, p]
                for name, array in arrays.items():
                    total[name] = total.get(name, 0) + array  # in image order, as numpy's mean over axis 0 adds them

    free = np.array(free, dtype=bool)
    every = np.ones(len(samples), dtype=bool)
    counted_by_default = ~free if empty_gt == "apart" else every
    n_a = set(prompted) | {r.name for r in references if r.kind == "gt_box"}
    apart = _scored_apart(rows, fg_area, free, n_a) if free.any() and empty_gt == "apart" else None
    tables = {}
    for name in protocols:
        proto = get_protocol(name)
        counted = every if proto.scores_defect_free else counted_by_default
        scores = {m.name: _accumulated([v for v, c in zip(values[m.name, name], counted) if c], sums[m.name, name])
                  for m in rows}
        summary, per_image = _tables(dataset, samples, rows, values, scores, proto, counted, fg_area,
                                     None if proto.scores_defect_free else apart)
        tables[name] = summary
        if out is not None:
            files = written_files(out, name, len(protocols) > 1)  # image_curves only for a protocol with F and E curves
            _write_csv(files["summary"], summary)
            _write_csv(files["per_image"], per_image)
            if proto.curves:
                _write_curves(files["curves"], proto, scores)
            if set(IMAGE_CURVES) <= set(proto.curves):
                _write_image_curves(files["image_curves"], proto, {m.name: image_curves[m.name, name] for m in rows},
                                    samples)
    return tables[protocols[0]] if len(protocols) == 1 else tables


class _ReferenceRow:
    """A reference row among the method rows: a name, no maps on disk."""

    def __init__(self, name):
        self.name = name


def _scored_apart(rows, fg_area, free, n_a) -> dict:
    """Per method: (share of defect-free images whose map is all background, mean foreground share
    there); NaN for methods whose prompts come from the ground truth (an empty one prompts nothing)."""
    out = {}
    for m in rows:
        area = np.asarray(fg_area[m.name], dtype=np.float64)[free]
        out[m.name] = (np.nan, np.nan) if m.name in n_a else (float(np.mean(area == 0)), float(np.mean(area)))
    return out


def _accumulated(rows: list[dict], sums: dict) -> Accumulated:
    """One method's per-image values (every name the protocol's measure gave) and summed arrays."""
    names = list(dict.fromkeys(k for row in rows for k in row))
    per_image = {k: np.array([row[k] for row in rows], dtype=np.float64) for k in names}
    return Accumulated(per_image=per_image, sums=sums, n=len(rows))


def _run(samples, kept, references, protocols, jobs, progress, where):
    """Yield, image by image in dataset order, for every kept method {protocol: (values, arrays)}."""
    from tqdm import tqdm

    jobs = (os.cpu_count() or 1) if jobs is None else int(jobs)
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    tasks = list(_chunks(samples, kept, references, protocols, CHUNK))
    n_rows = len(kept) + len(references)
    jobs = min(jobs, len(tasks))

    def bar():
        return tqdm(total=len(samples) * n_rows, unit="map", desc=f"evaluate {where}", file=sys.stderr,
                    disable=not progress, dynamic_ncols=True)

    if jobs == 1:
        with bar() as progress_bar:
            for task in tasks:
                chunk = _score_chunk(task)
                progress_bar.update(len(chunk) * n_rows)
                yield from chunk
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
        # submit (which forks every worker at once) before the bar starts its monitor thread, and with
        # OpenCV's thread pool emptied: no fork while threads hold locks
        with _opencv_single_threaded():
            futures = [pool.submit(_score_chunk, task) for task in tasks]
        try:
            with bar() as progress_bar:
                for future in futures:
                    chunk = future.result()
                    progress_bar.update(len(chunk) * n_rows)
                    yield from chunk
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _tables(dataset, samples, kept, values, scores, proto: Protocol, counted, fg_area, apart):
    """The summary (one row per method) and per-image frames of one protocol.

    ``n_images``: the images every column is a mean over; ``n_<col>`` where a column is a mean over
    fewer (PFOM: the images where it is defined); ``n_free``, ``clean``, ``FPA``: the defect-free images
    scored apart (only when there are some). Per image, ``scored`` says whether the image counts in the
    summary's means and ``fg_area`` is the share of the map's pixels above 0.5.
    """
    cols = proto.columns
    head = {"dataset": dataset.name, "split": dataset.split}
    rows, summary = [], []
    n = int(np.sum(counted))
    for m in kept:
        for sample, vals, c, area in zip(samples, values[m.name, proto.name], counted, fg_area[m.name]):
            rows.append({"method": m.name, **head, "stem": sample.stem, "category": sample.category,
                         "scored": int(c), **{col: vals[col] for col in cols}, "fg_area": area})
        acc = scores[m.name]
        row = {"method": m.name, **head, "n_images": n, **_summary(proto, acc)}
        # a mean over fewer images than the row's (PFOM) says so; a pooled column has no per-image count
        row.update({f"n_{col}": int(np.isfinite(acc.per_image[col]).sum()) for col in cols
                    if acc.n and proto.is_image_mean(col)})
        if apart is not None:
            row.update(n_free=len(samples) - n, clean=apart[m.name][0], FPA=apart[m.name][1])
        summary.append(row)
    counts = [f"n_{c}" for c in cols if any(r.get(f"n_{c}", n) != n for r in summary)]
    extra = ["n_free", "clean", "FPA"] if apart is not None else []
    per_image = pd.DataFrame(rows, columns=["method", "dataset", "split", "stem", "category", "scored", *cols, "fg_area"])
    return pd.DataFrame(summary, columns=["method", "dataset", "split", "n_images", *cols, *counts, *extra]), per_image


def _summary(proto: Protocol, acc: Accumulated) -> dict:
    """The protocol's summary of the counted images; NaN everywhere when no image counts."""
    if acc.n == 0:
        return {c: float("nan") for c in proto.columns}
    return proto.summary(acc)


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    # 12 significant digits: far below any reported precision, and above the last-digit noise of
    # floating-point reductions, so two runs of the same maps write byte-identical files
    atomic_write_bytes(path, frame.to_csv(index=False, float_format="%.12g").encode())


def _write_curves(path: Path, proto: Protocol, scores: dict) -> None:
    """The protocol's mean curves of every method, key ``<method>::<curve>``, index i = threshold i."""
    import io

    arrays = {"thresholds": np.arange(256)}
    for method, acc in scores.items():
        if acc.n == 0:  # every image defect-free: no curve to average
            continue
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
