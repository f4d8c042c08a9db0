"""Reading the evaluator's files (results CSV, per-image CSV, curves NPZ) and refusing bad ones early.

A table built from a half-written or mixed-up file looks plausible and is wrong; every check here
turns such a file into a ``DataError`` that names it and says what to do, before anything is drawn.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from samis.errors import ConfigError, DataError

CURVE_KINDS = ("precision", "recall", "fmeasure", "emeasure")


def _as_list(sources):
    if isinstance(sources, (str, os.PathLike, pd.DataFrame)):
        return [sources]
    return list(sources)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found; pass the CSV written by `samis evaluate --out`")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty; rerun `samis evaluate` to rewrite it")
    try:
        frame = pd.read_csv(path)
        with open(path, "rb") as fh:  # a file cut short (a copy or a write that did not finish)
            fh.seek(-1, os.SEEK_END)
            complete = fh.read(1) == b"\n"
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc}); rerun `samis evaluate` to rewrite it") from None
    if not complete:
        raise DataError(f"{path}: the file is cut short (its last row does not end); rerun `samis evaluate` to rewrite it")
    return frame


def _frames(sources, what: str):
    """(name, frame) for every source; a frame's name is its path, or ``<DataFrame n>``."""
    items = _as_list(sources)
    if not items:
        raise ConfigError(f"no {what} given; pass at least one file")
    out = []
    for i, src in enumerate(items):
        if isinstance(src, pd.DataFrame):
            out.append((f"<DataFrame {i}>", src.copy()))
        else:
            path = Path(src)
            out.append((str(path), _read_csv(path)))
    return out


def _check_columns(name: str, frame: pd.DataFrame, required, what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: not a {what} (missing column(s) {', '.join(missing)}; has {', '.join(map(str, frame.columns))}); "
            "pass a file written by `samis evaluate --out`"
        )


def _normalise_ids(frame: pd.DataFrame, columns) -> pd.DataFrame:
    for col in columns:
        if col not in frame.columns:
            frame[col] = ""
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def read_results(sources) -> pd.DataFrame:
    """All result rows in one frame, in the order given; one row per (method, dataset, split[, category]).

    The same method on the same dataset twice (for instance one file given twice, or two runs with
    one method name) is refused: a table cannot say which of the two numbers is the real one.
    """
    frames = []
    keys_seen: dict[tuple, str] = {}
    for name, frame in _frames(sources, "results file"):
        _check_columns(name, frame, ("method", "dataset"), "results file")
        if "stem" in frame.columns:
            raise DataError(
                f"{name}: this is a per-image file (it has a `stem` column); pass the summary results CSV, "
                "or use `--by-category` to tabulate the per-image file per category"
            )
        frame = _normalise_ids(frame, ("method", "dataset", "split"))
        key_cols = ["method", "dataset", "split"] + (["category"] if "category" in frame.columns else [])
        if "category" in frame.columns:
            frame = _normalise_ids(frame, ("category",))
        for key in frame[key_cols].itertuples(index=False, name=None):
            if key in keys_seen:
                where = "twice in it" if keys_seen[key] == name else f"also in {keys_seen[key]}"
                raise DataError(
                    f"{name}: method {key[0]!r} on {'/'.join(k for k in key[1:] if k)} appears {where}; "
                    "pass each result once, or rename one of the methods"
                )
            keys_seen[key] = name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True, sort=False)


def read_per_image(sources, scored_only: bool = True) -> pd.DataFrame:
    """All per-image rows (``method, dataset, split, stem, category, <metrics>``) in one frame.

    ``scored_only``: only the images the summary's means count (``scored`` 1; the evaluator scores
    defect-free images apart), so a category or bootstrap mean is formed over the same images as the
    main table's."""
    frames = []
    for name, frame in _frames(sources, "per-image file"):
        _check_columns(name, frame, ("method", "dataset", "stem"), "per-image file")
        frame = _normalise_ids(frame, ("method", "dataset", "split", "category", "stem"))
        frames.append(frame)
    merged = pd.concat(frames, ignore_index=True, sort=False)
    dup = merged.duplicated(["method", "dataset", "split", "stem"], keep=False)
    if dup.any():
        row = merged[dup].iloc[0]
        raise DataError(
            f"per-image rows repeat: method {row['method']!r}, image {row['stem']!r} on {row['dataset']} "
            "appears more than once across the files given; pass each per-image file once"
        )
    if scored_only and "scored" in merged.columns:
        merged = merged[merged["scored"].fillna(1).astype(int) == 1].reset_index(drop=True)
    return merged


def is_per_image(path) -> bool:
    """True for a per-image CSV (has a ``stem`` column), judged from its header only."""
    try:
        header = pd.read_csv(path, nrows=0).columns
    except Exception:  # unreadable files are reported by the real reader
        return False
    return "stem" in header


def per_image_sibling(results_path) -> Path:
    """``FILE.per_image.csv`` beside ``FILE.csv`` (the evaluator writes both)."""
    p = Path(results_path)
    stem = p.name[: -len(".csv")] if p.name.endswith(".csv") else p.name
    return p.with_name(stem + ".per_image.csv")


def results_sibling_of_curves(npz_path) -> Path:
    """``FILE.csv`` beside ``FILE.curves.npz``: where the dataset name of a curve file is written."""
    p = Path(npz_path)
    name = p.name
    for suffix in (".curves.npz", ".npz"):
        if name.endswith(suffix):
            return p.with_name(name[: -len(suffix)] + ".csv")
    return p.with_name(name + ".csv")


def read_curves(paths) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]], list[str]]:
    """Thresholds, ``{method: {kind: array}}`` in file order, and the dataset labels found beside the files.

    Several files may be given (for instance the baselines' file and the SAM runs' file of one
    dataset); they must share the thresholds, and a method in two files must carry the same curves.
    """
    from samis.report.style import dataset_label

    thresholds = None
    curves: dict[str, dict[str, np.ndarray]] = {}
    origin: dict[str, str] = {}
    labels: list[str] = []
    for src in _as_list(paths):
        path = Path(src)
        if not path.is_file():
            raise DataError(f"{path}: file not found; pass the FILE.curves.npz written by `samis evaluate --out FILE.csv`")
        try:
            with np.load(path, allow_pickle=False) as npz:
                data = {k: np.asarray(npz[k]) for k in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DataError(f"{path}: not a readable NPZ ({exc}); rerun `samis evaluate` to rewrite it") from None
        if "thresholds" not in data:
            raise DataError(f"{path}: has no `thresholds` array, so it is not a curves file from `samis evaluate`")
        thr = data.pop("thresholds").astype(float)
        if thresholds is None:
            thresholds = thr
        elif thr.shape != thresholds.shape or not np.allclose(thr, thresholds):
            raise DataError(f"{path}: its thresholds differ from the first curves file's; curves files must come from one evaluator")
        found = {}
        for key, arr in data.items():
            if "::" not in key:
                continue  # metadata the evaluator may add
            method, kind = key.rsplit("::", 1)
            if kind not in CURVE_KINDS:
                continue
            if arr.shape != thr.shape:
                raise DataError(f"{path}: `{key}` has {arr.shape[0] if arr.ndim else 0} values for {thr.shape[0]} thresholds; rerun `samis evaluate`")
            found.setdefault(method, {})[kind] = arr.astype(float)
        if not found:
            raise DataError(f"{path}: holds no `<method>::<curve>` arrays; was it written by `samis evaluate` with the sod protocol?")
        for method, kinds in found.items():
            if method in curves:
                same = all(k in curves[method] and np.allclose(v, curves[method][k], equal_nan=True) for k, v in kinds.items())
                if not same:
                    raise DataError(
                        f"{path}: method {method!r} is also in {origin[method]} with other curves; "
                        "pass one of the two files, or rename one method"
                    )
                continue
            curves[method] = kinds
            origin[method] = str(path)
        sibling = results_sibling_of_curves(path)
        if sibling.is_file():
            try:
                res = pd.read_csv(sibling, usecols=lambda c: c in ("dataset", "split"))
            except Exception:
                res = pd.DataFrame()
            if "dataset" in res.columns:
                for ds, sp in res.drop_duplicates().itertuples(index=False, name=None) if "split" in res.columns else (
                    (d, None) for d in res["dataset"].drop_duplicates()
                ):
                    lab = dataset_label(ds, sp)
                    if lab not in labels:
                        labels.append(lab)
    return thresholds, curves, labels
