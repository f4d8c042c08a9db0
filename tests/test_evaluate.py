"""``samis evaluate`` end to end on a small set built from real SD-saliency-900 images and maps."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from samis.cli import main
from samis.datasets import get_dataset
from samis.evaluation import MissingMapsWarning, evaluate
from samis.imageio import read_gray

STEMS = ["In_61", "In_75", "Pa_170", "Pa_199", "Sc_262", "Sc_300"]
STEEL = ["method", "dataset", "split", "n_images", "WF", "SM", "OR", "PFOM", "MAE"]
SOD = ["method", "dataset", "split", "n_images", "MAE", "Sm", "wF", "maxF", "meanF", "adpF", "maxE", "meanE",
       "adpE", "IoU", "Dice"]


@pytest.fixture(scope="module")
def small(tmp_path_factory, datasets_root, sd900_baselines):
    """A 6-image ``folder`` set and a predictions tree whose methods are variants of the same real maps."""
    root = tmp_path_factory.mktemp("small")
    sd = datasets_root / "SD-saliency-900"
    for sub in ("images", "masks"):
        (root / "set" / sub).mkdir(parents=True)
    preds = root / "preds"
    for name in ("Gray", "RGB", "RGBLuma", "Small", "SmallUp", "Gappy", "Jpeg"):
        (preds / name).mkdir(parents=True)
    for stem in STEMS:
        shutil.copy(sd / "Source Images" / f"{stem}.bmp", root / "set" / "images" / f"{stem}.bmp")
        shutil.copy(sd / "Ground truth" / f"{stem}.png", root / "set" / "masks" / f"{stem}.png")
        gray = read_gray(sd900_baselines / "RCRR" / f"{stem}.png")
        Image.fromarray(gray).save(preds / "Gray" / f"{stem}.png")
        colour = np.stack([gray, np.roll(gray, 7, axis=1), np.flipud(gray)], axis=2)  # a real colour map
        Image.fromarray(colour).save(preds / "RGB" / f"{stem}.png")
        Image.fromarray(read_gray(preds / "RGB" / f"{stem}.png")).save(preds / "RGBLuma" / f"{stem}.png")
        small_map = cv2.resize(gray, (120, 80), interpolation=cv2.INTER_AREA)
        Image.fromarray(small_map).save(preds / "Small" / f"{stem}.png")
        up = cv2.resize(small_map, (200, 200), interpolation=cv2.INTER_LINEAR)
        Image.fromarray(up).save(preds / "SmallUp" / f"{stem}.png")
        shutil.copy(sd900_baselines / "MIL" / f"{stem}.jpg", preds / "Jpeg" / f"{stem}.jpg")
        if stem not in ("Pa_170", "Sc_300"):
            Image.fromarray(gray).save(preds / "Gappy" / f"{stem}.png")
    Image.fromarray(np.zeros((200, 200), np.uint8)).save(preds / "Gray" / "Extra_1.png")  # not in the set
    return root


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_cli_writes_both_protocols_and_leaves_out_incomplete_methods(small, tmp_path, capsys):
    out = tmp_path / "res.csv"
    args = ["evaluate", "--dataset", "folder", "--data-root", str(small / "set"), "--predictions",
            str(small / "preds"), "--protocol", "both", "--out", str(out), "--jobs", "1", "--no-progress"]
    main(args)  # returns normally on success
    err = capsys.readouterr().err
    assert "warning: method 'Gappy': 2 of 6 maps missing" in err
    steel = pd.read_csv(tmp_path / "res.steel.csv")
    sod = pd.read_csv(tmp_path / "res.sod.csv")
    assert list(steel.columns) == STEEL and list(sod.columns) == SOD
    assert sorted(steel["method"]) == ["Gray", "Jpeg", "RGB", "RGBLuma", "Small", "SmallUp"]  # Gappy left out
    assert (steel["n_images"] == 6).all() and (steel["dataset"] == "folder").all()
    per_image = pd.read_csv(tmp_path / "res.steel.per_image.csv")
    assert list(per_image.columns) == ["method", "dataset", "split", "stem", "category", "scored", "WF", "SM", "OR",
                                       "PFOM", "MAE", "fg_area"]
    assert len(per_image) == 6 * 6 and "Extra_1" not in set(per_image["stem"])
    # summaries derive from the per-image rows
    gray_rows = per_image[per_image["method"] == "Gray"]
    gray = steel.set_index("method").loc["Gray"]
    for col in ("WF", "SM", "OR", "PFOM", "MAE"):
        assert gray[col] == pytest.approx(gray_rows[col].mean(), abs=1e-12)
    # RGB maps score as their luminance, small maps as their bilinear resize to the ground truth
    for table, cols in ((steel, STEEL[4:]), (sod, SOD[4:])):
        t = table.set_index("method")
        for col in cols:
            assert t.loc["RGB", col] == t.loc["RGBLuma", col], col
            assert t.loc["Small", col] == t.loc["SmallUp", col], col
        assert t.loc["Small", cols[0]] != t.loc["Gray", cols[0]]  # the resize did change the map
        assert t.loc["RGB", cols[0]] != t.loc["Gray", cols[0]]  # and the colour map is not the gray one
    curves = np.load(tmp_path / "res.sod.curves.npz")
    s = sod.set_index("method")
    for method in s.index:
        assert s.loc[method, "maxF"] == pytest.approx(curves[f"{method}::fmeasure"].max(), abs=1e-12)
        assert s.loc[method, "meanE"] == pytest.approx(curves[f"{method}::emeasure"].mean(), abs=1e-12)
    assert not (tmp_path / "res.steel.curves.npz").exists()
    # each image's curves (for the bootstrap): their mean is the mean curve, in the same threshold order
    image_curves = np.load(tmp_path / "res.sod.image_curves.npz")
    sod_rows = pd.read_csv(tmp_path / "res.sod.per_image.csv")
    assert list(image_curves["stems"]) == list(dict.fromkeys(sod_rows["stem"]))
    for method in s.index:
        f, e = image_curves[f"{method}::fmeasure"], image_curves[f"{method}::emeasure"]
        assert f.shape == (6, 256) and f.dtype == np.float32
        np.testing.assert_allclose(f.mean(axis=0), curves[f"{method}::fmeasure"], atol=1e-6)
        np.testing.assert_allclose(e.mean(axis=0), curves[f"{method}::emeasure"], atol=1e-6)
        mine = sod_rows[sod_rows["method"] == method]["maxF"].to_numpy()
        np.testing.assert_allclose(f.max(axis=1), mine, atol=1e-6)  # an image's maxF is its own curve's max


def test_strict_names_the_method_and_count(small, tmp_path, capsys):
    code, _, err = run_cli(["evaluate", "--dataset", "folder", "--data-root", str(small / "set"), "--predictions",
                            str(small / "preds"), "--protocol", "steel", "--strict", "--no-progress",
                            "--out", str(tmp_path / "x.csv")], capsys)
    assert code == 2
    assert "error: method 'Gappy': 2 of 6 maps missing" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_single_protocol_keeps_the_plain_file_name(small, tmp_path):
    ds = get_dataset("folder", root=small / "set")
    table = evaluate(ds, small / "preds", "steel", methods=["Gray", "Jpeg"], jobs=1, out=tmp_path / "s.csv",
                     progress=False)
    assert list(table.columns) == STEEL and list(table["method"]) == ["Gray", "Jpeg"]
    assert (tmp_path / "s.csv").exists() and (tmp_path / "s.per_image.csv").exists()
    # a process pool gives exactly the same numbers
    pooled = evaluate(ds, small / "preds", "steel", methods=["Gray", "Jpeg"], jobs=2, progress=False)
    pd.testing.assert_frame_equal(table, pooled)


def test_missing_maps_warn_in_the_api(small):
    ds = get_dataset("folder", root=small / "set")
    with pytest.warns(MissingMapsWarning, match="'Gappy': 2 of 6"):
        table = evaluate(ds, small / "preds", "sod", methods=["Gappy", "Gray"], jobs=1, progress=False)
    assert list(table["method"]) == ["Gray"]


def test_unreadable_map_is_a_clear_error(small, tmp_path, capsys):
    preds = tmp_path / "preds"
    shutil.copytree(small / "preds" / "Gray", preds / "Broken")
    (preds / "Broken" / "In_75.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, _, err = run_cli(["evaluate", "--dataset", "folder", "--data-root", str(small / "set"), "--predictions",
                            str(preds), "--no-progress", "--jobs", "2"], capsys)
    assert code == 2 and "In_75.png" in err and "Traceback" not in err


def test_evaluate_does_not_import_torch(small, tmp_path):
    code = (
        "import sys\n"
        "from samis.cli import main\n"
        "try:\n"
        f"    main(['evaluate', '--dataset', 'folder', '--data-root', {str(small / 'set')!r}, '--predictions',"
        f" {str(small / 'preds')!r}, '--method', 'Gray', '--no-progress', '--jobs', '1'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('no torch')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no torch" in result.stdout


def test_user_errors_are_one_line(small, tmp_path, capsys):
    base = ["evaluate", "--dataset", "folder", "--data-root", str(small / "set"), "--no-progress"]
    code, _, err = run_cli(base + ["--predictions", str(small / "preds"), "--method", "Nope"], capsys)
    assert code == 2 and "no method folder" in err and "Gray" in err  # lists what is there
    code, _, err = run_cli(base + ["--predictions", str(tmp_path / "absent")], capsys)
    assert code == 2 and "predictions folder" in err and "absent" in err
    (tmp_path / "empty" / "Blank").mkdir(parents=True)
    code, _, err = run_cli(base + ["--predictions", str(tmp_path / "empty")], capsys)
    assert code == 2 and "6 of 6 maps missing" in err and "nothing to score" in err


def test_worker_pool_starts_after_opencv_has_run_threads(datasets_root, sd900_baselines):
    """A caller that has used OpenCV's thread pool (any resize) forks workers that do not hang.

    Before the fix a forked worker hung forever in its first OpenCV call; here that is a timeout.
    """
    script = f"""
import cv2, numpy as np
cv2.setNumThreads(2)
a = np.random.default_rng(0).random((3000, 3000), dtype=np.float32)
for _ in range(3):
    cv2.GaussianBlur(a, (31, 31), 5)
    cv2.resize(a, (5000, 5000))
from samis.datasets import get_dataset
from samis.evaluation import evaluate
ds = get_dataset("sd900", root={str(datasets_root)!r}, split="test")
row = evaluate(ds, {str(sd900_baselines)!r}, "steel", methods=["FT"], jobs=2, progress=False).iloc[0]
print(int(row["n_images"]), cv2.getNumThreads())
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: hung workers are killed with it
    try:
        out, err = proc.communicate(timeout=90)  # about 5 s when it works
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("evaluate's worker processes hung after the caller had used OpenCV's thread pool")
    assert proc.returncode == 0, err
    assert out.split() == ["360", "2"]  # every test image scored; the caller's OpenCV threads restored
