"""Stored-baseline folders as users drop them: missing maps, extra files, other sizes, RGB and JPEG maps, broken maps.

Each case runs ``samis.evaluation.evaluate`` on copies of real maps (RCRR and FT as PNG, MCITF as
JPEG) for four real SD-saliency-900 images under an awkward path, and compares with the numbers of
maps prepared by hand the way the docs say they are read (cv2 bilinear resize, luminance, decoded
JPEG), so "same numbers" is checked value for value, not approximately.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from samis.datasets import get_dataset
from samis.errors import DataError
from samis.evaluation import MissingMapsWarning, evaluate

from .conftest import SD900_STEMS, baseline_copy

METHODS = ("RCRR", "FT", "MCITF")  # MCITF's maps are JPEG
STEEL = ["WF", "SM", "OR", "PFOM", "MAE"]


@pytest.fixture
def setup(sd900_copy, sd900_baselines, awkward_root):
    ds = get_dataset("sd900", root=sd900_copy.parent)
    preds = baseline_copy(sd900_baselines, awkward_root / "stored maps", METHODS)
    return ds, preds


def _eval(ds, preds, protocol="steel", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingMapsWarning)  # a warning where none is expected fails the test
        return evaluate(ds, preds, protocol, jobs=1, progress=False, **kw)


def _rows(table: pd.DataFrame) -> dict:
    return {r["method"]: r for r in table.to_dict("records")}


def _add_method(preds: Path, name: str, maps: dict[str, np.ndarray], suffix: str = ".png", **save) -> None:
    (preds / name).mkdir()
    for stem, arr in maps.items():
        Image.fromarray(arr).save(preds / name / f"{stem}{suffix}", **save)


def _maps(preds: Path, method: str) -> dict[str, np.ndarray]:
    out = {}
    for p in (preds / method).iterdir():
        out[p.stem] = np.asarray(Image.open(p))
    return out


def test_complete_folders_give_one_row_per_method(setup):
    ds, preds = setup
    table = _eval(ds, preds)
    assert list(table["method"]) == ["FT", "MCITF", "RCRR"]  # natural order of the folders
    assert (table["n_images"] == 4).all()
    assert np.isfinite(table[STEEL].to_numpy()).all()


def test_missing_maps_warn_and_leave_the_method_out(setup):
    ds, preds = setup
    full = _rows(_eval(ds, preds))
    (preds / "FT" / "Pa_1.png").unlink()
    with pytest.warns(MissingMapsWarning) as rec:
        table = evaluate(ds, preds, "steel", jobs=1, progress=False)
    msg = str(rec[0].message)
    assert "FT" in msg and "Pa_1" in msg and "1 of 4" in msg and "--strict" in msg
    assert list(table["method"]) == ["MCITF", "RCRR"]
    for method in ("MCITF", "RCRR"):  # the others' numbers do not change
        assert _rows(table)[method] == full[method]


def test_missing_maps_strict_is_an_error_naming_method_stem_and_fix(setup):
    ds, preds = setup
    (preds / "FT" / "Pa_1.png").unlink()
    with pytest.raises(DataError) as info:
        evaluate(ds, preds, "steel", strict=True, jobs=1, progress=False)
    msg = str(info.value)
    assert "FT" in msg and "Pa_1" in msg and str(preds / "FT") in msg and "--strict" in msg


def test_method_with_no_maps_for_the_split(setup):
    ds, preds = setup
    (preds / "Empty").mkdir()
    with pytest.warns(MissingMapsWarning, match="Empty"):
        table = evaluate(ds, preds, "steel", jobs=1, progress=False)
    assert "Empty" not in set(table["method"])


def test_no_method_complete_is_an_error(setup):
    ds, preds = setup
    for m in METHODS:
        next((preds / m).iterdir()).unlink()
    with pytest.warns(MissingMapsWarning), pytest.raises(DataError, match="nothing to score"):
        evaluate(ds, preds, "steel", jobs=1, progress=False)


def test_extra_maps_and_stray_files_are_ignored(setup, sd900_baselines):
    ds, preds = setup
    before = _eval(ds, preds, protocol="both")
    shutil.copy(sd900_baselines / "FT" / "In_50.png", preds / "FT" / "In_50.png")  # a map of another image
    shutil.copy(sd900_baselines / "FT" / "Sc_7.png", preds / "FT" / "Sc_7.png")
    (preds / "FT" / "notes.txt").write_text("maps from the authors' page\n")
    (preds / "FT" / ".DS_Store").write_bytes(b"\x00\x01junk")
    (preds / "RCRR" / "._In_1.png").write_bytes(b"macOS resource fork, not a PNG")
    (preds / ".hidden-method").mkdir()
    after = _eval(ds, preds, protocol="both")
    for proto in ("steel", "sod"):
        pd.testing.assert_frame_equal(before[proto], after[proto])


@pytest.mark.parametrize("size", [(300, 300), (128, 160)])
def test_maps_of_another_size_equal_resizing_them_yourself(setup, size):
    ds, preds = setup
    rcrr = _maps(preds, "RCRR")
    big = {s: np.asarray(Image.fromarray(m).resize(size, Image.BILINEAR)) for s, m in rcrr.items()}
    _add_method(preds, "RCRR-other-size", big)
    _add_method(preds, "RCRR-resized-by-hand",
                {s: cv2.resize(m, (200, 200), interpolation=cv2.INTER_LINEAR) for s, m in big.items()})
    out = preds.parent / "res.csv"
    tables = _eval(ds, preds, protocol="both", methods=["RCRR-other-size", "RCRR-resized-by-hand"], out=out)
    for proto, table in tables.items():
        a, b = (r for r in table.drop(columns="method").to_dict("records"))
        assert a == b, (proto, a, b)
    per = pd.read_csv(preds.parent / "res.steel.per_image.csv")
    a = per[per.method == "RCRR-other-size"][STEEL].to_numpy()
    b = per[per.method == "RCRR-resized-by-hand"][STEEL].to_numpy()
    assert np.array_equal(a, b, equal_nan=True)


def test_rgb_maps_are_read_as_luminance(setup):
    ds, preds = setup
    rcrr = _maps(preds, "RCRR")
    assert all(m.ndim == 2 for m in rcrr.values())
    _add_method(preds, "RCRR-rgb-gray", {s: np.repeat(m[:, :, None], 3, axis=2) for s, m in rcrr.items()})
    tint = np.array([1.0, 0.7, 0.4])
    colour = {s: np.clip(np.round(m[:, :, None] * tint), 0, 255).astype(np.uint8) for s, m in rcrr.items()}
    _add_method(preds, "RCRR-colour", colour)
    _add_method(preds, "RCRR-colour-lum", {s: np.asarray(Image.fromarray(c).convert("L")) for s, c in colour.items()})
    rows = _rows(_eval(ds, preds, protocol="steel"))
    strip = lambda r: {k: r[k] for k in STEEL}  # noqa: E731
    assert strip(rows["RCRR-rgb-gray"]) == strip(rows["RCRR"])
    assert strip(rows["RCRR-colour"]) == strip(rows["RCRR-colour-lum"])
    assert strip(rows["RCRR-colour"]) != strip(rows["RCRR"])  # the tint really changed the map


def test_rgba_maps_are_read_as_luminance(setup):
    ds, preds = setup
    rcrr = _maps(preds, "RCRR")
    rgba = {s: np.dstack([m, m, m, np.full_like(m, 255)]) for s, m in rcrr.items()}
    _add_method(preds, "RCRR-rgba", rgba)
    rows = _rows(_eval(ds, preds, protocol="steel"))
    assert {k: rows["RCRR-rgba"][k] for k in STEEL} == {k: rows["RCRR"][k] for k in STEEL}


def test_jpeg_maps_equal_their_decoded_pixels(setup):
    ds, preds = setup
    assert {p.suffix for p in (preds / "MCITF").iterdir()} == {".jpg"}
    decoded = {p.stem: np.asarray(Image.open(p).convert("L")) for p in (preds / "MCITF").iterdir()}
    _add_method(preds, "MCITF-as-png", decoded)
    _add_method(preds, "RCRR-jpeg", _maps(preds, "RCRR"), suffix=".jpeg", quality=90)
    rcrr_jpeg_decoded = {p.stem: np.asarray(Image.open(p).convert("L")) for p in (preds / "RCRR-jpeg").iterdir()}
    _add_method(preds, "RCRR-jpeg-decoded", rcrr_jpeg_decoded)
    tables = _eval(ds, preds, protocol="both")
    for table in tables.values():
        rows = _rows(table)
        for a, b in (("MCITF", "MCITF-as-png"), ("RCRR-jpeg", "RCRR-jpeg-decoded")):
            assert {k: v for k, v in rows[a].items() if k != "method"} == {k: v for k, v in rows[b].items() if k != "method"}


@pytest.mark.parametrize("damage", ["truncated", "zero_bytes", "not_an_image"])
def test_broken_map_is_an_error_naming_the_map(setup, damage):
    ds, preds = setup
    path = preds / "RCRR" / "Pa_1.png"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "zero_bytes":
        path.write_bytes(b"")
    else:
        path.write_text("<html>404 Not Found</html>")
    with pytest.raises(DataError) as info:
        evaluate(ds, preds, "steel", jobs=1, progress=False)
    assert str(path) in str(info.value)
    assert any(w in str(info.value) for w in ("re-export", "remove"))


def test_broken_map_in_a_worker_process_is_the_same_clear_error(setup):
    ds, preds = setup
    path = preds / "FT" / "Sc_1.png"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError) as info:
        evaluate(ds, preds, "steel", jobs=2, progress=False)
    assert str(path) in str(info.value)


def test_two_maps_with_one_stem_is_an_error(setup):
    ds, preds = setup
    shutil.copy(preds / "RCRR" / "In_1.png", preds / "RCRR" / "In_1.jpg")
    with pytest.raises(DataError) as info:
        evaluate(ds, preds, "steel", jobs=1, progress=False)
    assert "In_1" in str(info.value) and "RCRR" in str(info.value)


def test_missing_predictions_root_is_an_error(setup, tmp_path):
    ds, _ = setup
    with pytest.raises(DataError, match="not found"):
        evaluate(ds, tmp_path / "nowhere", "steel", jobs=1, progress=False)


def test_evaluation_is_repeatable_byte_for_byte(setup):
    ds, preds = setup
    a, b = preds.parent / "a.csv", preds.parent / "b.csv"
    evaluate(ds, preds, "both", jobs=1, progress=False, out=a)
    evaluate(ds, preds, "both", jobs=2, progress=False, out=b)  # and whatever the number of workers
    for suffix in ("steel.csv", "steel.per_image.csv", "sod.csv", "sod.per_image.csv", "sod.curves.npz"):
        assert (preds.parent / f"a.{suffix}").read_bytes() == (preds.parent / f"b.{suffix}").read_bytes(), suffix


def test_all_stems_evaluated_in_order(setup):
    ds, preds = setup
    out = preds.parent / "r.csv"
    _eval(ds, preds, protocol="steel", out=out)
    per = pd.read_csv(out.with_suffix(".per_image.csv"))
    assert list(per[per.method == "RCRR"].stem) == list(SD900_STEMS)


# --- through the command line ------------------------------------------------------------------------------


def _cli_eval(ds_root: Path, preds: Path, *extra):
    from .conftest import samis_cli

    return samis_cli("evaluate", "--dataset", "sd900", "--data-root", ds_root, "--predictions", preds,
                     "--protocol", "steel", "--no-progress", "--jobs", "1", *extra)


def test_cli_missing_maps_warning_and_strict(setup, sd900_copy):
    from .conftest import assert_clean_error, assert_ok

    ds, preds = setup
    (preds / "FT" / "Pa_1.png").unlink()
    out = preds.parent / "cli res.csv"
    proc = _cli_eval(sd900_copy.parent, preds, "--out", out)
    assert_ok(proc)
    warn = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warn) == 1 and "FT" in warn[0] and "Pa_1" in warn[0], proc.stderr
    assert list(pd.read_csv(out)["method"]) == ["MCITF", "RCRR"]
    strict_out = preds.parent / "strict.csv"
    proc = _cli_eval(sd900_copy.parent, preds, "--strict", "--out", strict_out)
    assert_clean_error(proc, "FT", "Pa_1", str(preds / "FT"), fix=("--strict", "add the maps"))
    assert not strict_out.exists()


def test_cli_numbers_equal_the_api(setup, sd900_copy):
    from .conftest import assert_ok

    ds, preds = setup
    out = preds.parent / "cli.csv"
    assert_ok(_cli_eval(sd900_copy.parent, preds, "--out", out))
    api = preds.parent / "api.csv"
    _eval(ds, preds, out=api)
    assert out.read_bytes() == api.read_bytes()


def test_cli_unknown_method_and_missing_predictions(setup, sd900_copy, tmp_path):
    from .conftest import assert_clean_error

    ds, preds = setup
    assert_clean_error(_cli_eval(sd900_copy.parent, preds, "--method", "RCCR"), "RCCR", fix=("RCRR",))
    missing = tmp_path / "no maps here"
    assert_clean_error(_cli_eval(sd900_copy.parent, missing), str(missing))


def test_cli_out_under_a_regular_file(setup, sd900_copy):
    from .conftest import assert_clean_error

    ds, preds = setup
    blocker = preds.parent / "results"
    blocker.write_text("not a folder\n")
    proc = _cli_eval(sd900_copy.parent, preds, "--out", blocker / "res.csv")
    assert_clean_error(proc, str(blocker), fix=("folder", "directory", "another", "--out"))
    assert blocker.read_text() == "not a folder\n"
