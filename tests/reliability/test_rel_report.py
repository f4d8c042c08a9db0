"""Damaged results files fed to `samis table` and `samis curves`: one clear error naming the file, never a traceback.

The results come from a real evaluation (copies of the stored RCRR and MCITF maps on four real
SD-saliency-900 images); copies of them are then cut, emptied, replaced by another tool's CSV, or
have their curves file truncated.
"""

from __future__ import annotations

import pytest

from samis.datasets import get_dataset
from samis.evaluation import evaluate

from .conftest import assert_clean_error, assert_ok, baseline_copy, samis_cli

FIX = ("samis evaluate", "rerun", "re-run", "written by", "expected", "regenerate", "evaluate --out")


@pytest.fixture
def results(sd900_copy, sd900_baselines, awkward_root):
    preds = baseline_copy(sd900_baselines, awkward_root / "maps", ("RCRR", "MCITF"))
    out = awkward_root / "results ü" / "sd900.csv"
    evaluate(get_dataset("sd900", root=sd900_copy.parent), preds, "sod", jobs=1, progress=False, out=out)
    return out


def test_intact_results_render(results):
    out = assert_ok(samis_cli("table", results))
    assert "RCRR" in out and "MCITF" in out
    stem = results.parent / "curves"
    assert_ok(samis_cli("curves", results.with_name("sd900.curves.npz"), "--out", stem))
    assert stem.with_suffix(".png").stat().st_size > 0


@pytest.mark.parametrize("damage", ["truncated", "empty", "other_tool", "binary"])
def test_damaged_results_csv(results, damage):
    bad = results.with_name(f"bad {damage}.csv")
    text = results.read_text()
    if damage == "truncated":
        bad.write_text(text[: len(text) // 2])  # cut in the middle of a row
    elif damage == "empty":
        bad.write_text("")
    elif damage == "other_tool":
        bad.write_text("image,score\nIn_1,0.5\nIn_2,0.7\n")
    else:
        bad.write_bytes(results.with_name("sd900.curves.npz").read_bytes())
    proc = samis_cli("table", bad)
    assert_clean_error(proc, str(bad))


@pytest.mark.parametrize("damage", ["truncated", "not_npz", "missing"])
def test_damaged_curves_npz(results, damage):
    npz = results.with_name("sd900.curves.npz")
    bad = results.with_name(f"bad {damage}.curves.npz")
    if damage == "truncated":
        bad.write_bytes(npz.read_bytes()[:1000])
    elif damage == "not_npz":
        bad.write_text("method,MAE\nRCRR,0.1\n")
    proc = samis_cli("curves", bad, "--out", results.parent / "fig")
    assert_clean_error(proc, str(bad))
    assert not (results.parent / "fig.png").exists()
