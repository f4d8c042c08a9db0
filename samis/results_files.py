"""The files one evaluation writes, named in one place for the evaluator and everything that reads them.

    FILE.csv            one row per method
    FILE.per_image.csv  one row per image x method
    FILE.curves.npz     the mean curves, for a protocol that has curves (sod)
    FILE.image_curves.npz  each image's F and E curves, for a protocol that has them (the bootstrap's input)

With several protocols ``FILE`` gets the protocol appended (``res.csv`` -> ``res.steel.csv``), so each
file keeps exactly its protocol's columns.
"""

from __future__ import annotations

import os
from pathlib import Path

from samis.protocols import get_protocol

IMAGE_CURVES = ("fmeasure", "emeasure")  # per-image curves written for the report's bootstrap


def output_paths(out: str | os.PathLike, protocol: str, several: bool) -> dict[str, Path]:
    """``summary``, ``per_image``, ``curves`` and ``image_curves`` paths of one protocol's files."""
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


def written_files(out: str | os.PathLike, protocol: str, several: bool) -> dict[str, Path]:
    """The files of :func:`output_paths` the evaluation writes for ``protocol`` (curves only if it has some)."""
    files = output_paths(out, protocol, several)
    curves = get_protocol(protocol).curves
    if not curves:
        del files["curves"]
    if not set(IMAGE_CURVES) <= set(curves):
        del files["image_curves"]
    return files
