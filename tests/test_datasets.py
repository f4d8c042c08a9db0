"""Dataset adapters on the real sets in ../shared, the generated NRSD-MN fixture, and every bad-input error."""

from __future__ import annotations

import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from samis.cli.datasets import datasets as datasets_cli
from samis.datasets import DATASETS, Sample, describe, get_dataset
from samis.datasets import base as base_module
from samis.datasets.nrsd_fixture import make_nrsd_fixture, render_nrsd_sample
from samis.errors import ConfigError, DataError
from samis.imageio import read_gray

EMPTY_UNEVEN = {"exp3_num_45042", "exp4_num_124690", "exp4_num_352527", "exp4_num_45057"}
MT_COUNTS = {"Blowhole": 115, "Break": 85, "Crack": 57, "Fray": 32, "Free": 952, "Uneven": 103}


def copy_sd900(datasets_root: Path, dest: Path, stems: list[str]) -> Path:
    """A tiny SD-saliency-900 under ``dest`` with copies of a few real files (the real set is never touched)."""
    src = datasets_root / "SD-saliency-900"
    root = dest / "SD-saliency-900"
    (root / "Source Images").mkdir(parents=True)
    (root / "Ground truth").mkdir(parents=True)
    for stem in stems:
        shutil.copy(src / "Source Images" / f"{stem}.bmp", root / "Source Images")
        shutil.copy(src / "Ground truth" / f"{stem}.png", root / "Ground truth")
    return root


# --- SD-saliency-900 ------------------------------------------------------------------------------


@pytest.mark.parametrize("split,total,per_class", [("test", 360, 120), ("train", 540, 180), ("full", 900, 300)])
def test_sd900_split_counts(datasets_root, split, total, per_class):
    ds = get_dataset("sd900", root=datasets_root, split=split)
    assert (ds.name, ds.split, ds.root) == ("sd900", split, datasets_root / "SD-saliency-900")
    assert len(ds.samples()) == total
    assert ds.counts() == {"In": per_class, "Pa": per_class, "Sc": per_class}


def test_sd900_test_split_is_ids_61_100_161_200_261_300(datasets_root):
    test = get_dataset("sd900", root=datasets_root, split="test").samples()
    train = get_dataset("sd900", root=datasets_root, split="train").samples()
    ids = sorted({int(s.stem.split("_")[1]) for s in test})
    assert ids == [*range(61, 101), *range(161, 201), *range(261, 301)]
    assert not {s.stem for s in test} & {s.stem for s in train}
    assert len({s.stem for s in test} | {s.stem for s in train}) == 900


def test_sd900_natural_order_and_set_folder_as_root(datasets_root):
    full = get_dataset("sd900", root=datasets_root).samples()  # default split: full
    assert [s.stem for s in full[:11]] == [f"In_{n}" for n in range(1, 12)]
    assert [s.stem for s in full[299:302]] == ["In_300", "Pa_1", "Pa_2"]
    assert full[-1].stem == "Sc_300"
    direct = get_dataset("sd900", root=datasets_root / "SD-saliency-900").samples()
    assert direct == full


def test_sd900_loads_rgb_image_and_binary_mask(datasets_root):
    samples = {s.stem: s for s in get_dataset("sd900", root=datasets_root, split="test").samples()}
    s = samples["In_61"]
    assert s.image_path.name == "In_61.bmp" and s.mask_path.name == "In_61.png" and s.category == "In"
    image, mask = s.load()
    assert image.shape == (200, 200, 3) and image.dtype == np.uint8
    assert np.array_equal(image[:, :, 0], image[:, :, 2])  # grayscale replicated
    assert mask.shape == (200, 200) and mask.dtype == bool
    assert int(mask.sum()) == 3282
    assert np.array_equal(s.load_mask(), read_gray(s.mask_path) == 255)  # stored as {0, 255}
    for stem in ("Pa_161", "Sc_300"):
        assert 0 < samples[stem].load_mask().sum() < 200 * 200


def test_samples_are_picklable_paths_for_workers(datasets_root):
    samples = get_dataset("sd900", root=datasets_root, split="test").samples()
    assert pickle.loads(pickle.dumps(samples)) == samples
    assert all(isinstance(s, Sample) and s.image_path.is_file() for s in samples[:5])


def test_data_root_from_environment(datasets_root, monkeypatch):
    monkeypatch.setenv("SAMIS_DATA_ROOT", str(datasets_root))
    assert len(get_dataset("sd900", split="test")) == 360
    monkeypatch.delenv("SAMIS_DATA_ROOT")
    with pytest.raises(ConfigError, match="SAMIS_DATA_ROOT"):
        get_dataset("sd900")


# --- Magnetic tile --------------------------------------------------------------------------------


def test_mt_full_counts_per_class(datasets_root):
    ds = get_dataset("mt", root=datasets_root, split="full")
    assert ds.counts() == MT_COUNTS
    assert len(ds) == 1344


def test_mt_defective_leaves_out_the_956_empty_masks(datasets_root):
    full = get_dataset("mt", root=datasets_root, split="full").samples()
    defective = get_dataset("mt", root=datasets_root, split="defective")
    assert len(defective) == 388
    assert defective.counts() == {"Blowhole": 115, "Break": 85, "Crack": 57, "Fray": 32, "Uneven": 99}
    left_out = {s.stem for s in full} - {s.stem for s in defective.samples()}
    uneven = {s.stem for s in full if s.category == "Uneven"}
    assert left_out & uneven == EMPTY_UNEVEN


def test_mt_empty_mask_scan_runs_once_per_process(datasets_root, monkeypatch):
    assert len(get_dataset("mt", root=datasets_root, split="defective")) == 388  # scanned (or cached) here

    def no_reading(path):
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(base_module, "read_gray", no_reading)
    assert len(get_dataset("mt", root=datasets_root, split="defective")) == 388


def test_mt_variable_sizes_and_binarized_antialiased_masks(datasets_root):
    samples = {s.stem: s for s in get_dataset("mt", root=datasets_root).samples()}
    empty = samples["exp3_num_45042"]
    assert empty.category == "Uneven" and not empty.load_mask().any()
    checked = 0
    for s in [samples[k] for k in sorted(samples)[::97]]:
        image, mask = s.load()
        assert image.dtype == np.uint8 and image.ndim == 3 and mask.dtype == bool
        assert mask.shape == image.shape[:2]
        raw = read_gray(s.mask_path)
        assert np.array_equal(mask, raw > 128)
        checked += 1
    assert checked >= 10
    # some MT masks carry anti-aliased edge values; find one and check they are thresholded, not kept
    blowholes = [s for s in samples.values() if s.category == "Blowhole"]
    raws = [(s, read_gray(s.mask_path)) for s in blowholes[:40]]
    soft = [(s, r) for s, r in raws if ((r > 0) & (r < 255)).any()]
    assert soft, "expected anti-aliased MT masks among the first 40 Blowhole masks"
    s, r = soft[0]
    assert np.array_equal(s.load_mask(), r > 128)


# --- NRSD-MN (generated fixture in the published layout) -------------------------------------------


@pytest.fixture(scope="module")
def nrsd_root(tmp_path_factory) -> Path:
    data_root = tmp_path_factory.mktemp("data")
    make_nrsd_fixture(data_root / "NRSD-MN", n_craft=6, n_real=3, seed=0)
    return data_root


def test_nrsd_fixture_layout_and_split_counts(nrsd_root):
    set_root = nrsd_root / "NRSD-MN"
    assert sorted(p.name for p in (set_root / "craft" / "images").iterdir())[0] == "craft_0001.png"
    assert sorted(p.name for p in (set_root / "real" / "annotations").iterdir()) == [
        "real_0001.jpg",
        "real_0002.jpg",
        "real_0003.jpg",
    ]
    assert get_dataset("nrsd", root=nrsd_root).counts() == {"craft": 6, "real": 3}
    assert get_dataset("nrsd", root=nrsd_root, split="craft").counts() == {"craft": 6}
    assert [s.stem for s in get_dataset("nrsd", root=set_root, split="real")] == ["real_0001", "real_0002", "real_0003"]


def test_nrsd_jpeg_masks_have_artifacts_and_binarize_clean(nrsd_root):
    for s in get_dataset("nrsd", root=nrsd_root).samples():
        raw = read_gray(s.mask_path)
        assert ((raw > 0) & (raw < 255)).sum() > 50  # real JPEG ringing at the edges
        image, mask = s.load()
        assert image.shape == (160, 160, 3) and image.dtype == np.uint8
        _, drawn = render_nrsd_sample(0, s.category, int(s.stem.split("_")[1]) - 1)
        assert drawn.sum() > 100
        assert (mask != drawn).sum() <= 0.01 * drawn.sum()  # binarizing at > 127 recovers the drawn defect
        assert image[mask].mean() < image[~mask].mean()  # defects are dark on the rail


def test_nrsd_fixture_is_deterministic(tmp_path):
    a = make_nrsd_fixture(tmp_path / "a", n_craft=2, n_real=1, seed=3)
    b = make_nrsd_fixture(tmp_path / "b", n_craft=2, n_real=1, seed=3)
    c = make_nrsd_fixture(tmp_path / "c", n_craft=2, n_real=1, seed=4)
    rel = "craft/images/craft_0002.png"
    assert (a / rel).read_bytes() == (b / rel).read_bytes() != (c / rel).read_bytes()


def test_nrsd_split_needs_only_its_own_subset(tmp_path):
    root = make_nrsd_fixture(tmp_path / "NRSD-MN", n_craft=2, n_real=1)
    shutil.rmtree(root / "real")
    assert len(get_dataset("nrsd", root=root, split="craft")) == 2
    with pytest.raises(DataError, match=r"real/images/, real/annotations/"):
        get_dataset("nrsd", root=root, split="full")


def test_nrsd_stem_in_both_subsets_is_an_error(tmp_path):
    root = make_nrsd_fixture(tmp_path / "NRSD-MN", n_craft=1, n_real=1)
    for kind, ext in (("images", "png"), ("annotations", "jpg")):
        shutil.copy(root / "craft" / kind / f"craft_0001.{ext}", root / "real" / kind)
    assert len(get_dataset("nrsd", root=root, split="real")) == 2
    with pytest.raises(DataError, match=r"stem 'craft_0001' occurs twice"):
        get_dataset("nrsd", root=root).samples()


# --- folder (a user's own data) --------------------------------------------------------------------


def _write(path: Path, array: np.ndarray, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, **kw).save(path)


def test_folder_flat_with_mixed_formats(tmp_path):
    img = np.full((20, 30), 90, np.uint8)
    m = np.zeros((20, 30), np.uint8)
    m[5:10, 5:15] = 255
    _write(tmp_path / "images" / "b10.jpg", img)
    _write(tmp_path / "images" / "b2.tif", img)
    _write(tmp_path / "masks" / "b10.png", m)
    _write(tmp_path / "masks" / "b2.bmp", m)
    (tmp_path / "images" / "notes.txt").write_text("ignored")
    ds = get_dataset("folder", root=tmp_path)
    assert ds.root == tmp_path
    assert [(s.stem, s.category) for s in ds.samples()] == [("b2", "all"), ("b10", "all")]
    image, mask = ds.samples()[1].load()
    assert image.shape == (20, 30, 3) and int(mask.sum()) == 50


def test_folder_categories_from_subfolders_and_label_masks(tmp_path):
    img = np.full((16, 16, 3), 120, np.uint8)
    labels01 = np.zeros((16, 16), np.uint8)
    labels01[2:6, 2:6] = 1  # a 0/1 label image: invisible at threshold 127, foreground here
    _write(tmp_path / "images" / "crack" / "c1.png", img)
    _write(tmp_path / "images" / "pit" / "p1.png", img)
    _write(tmp_path / "masks" / "c1.png", labels01)
    palette = Image.fromarray(labels01, mode="L").convert("P")
    palette.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)  # VOC-style dark red: luminance < 127
    (tmp_path / "masks" / "pit").mkdir(parents=True)
    palette.save(tmp_path / "masks" / "pit" / "p1.png")
    assert get_dataset("folder", root=tmp_path).counts() == {"all": 2}  # categories: none by default
    ds = get_dataset("folder", root=tmp_path, options={"categories": "folders"})
    assert ds.counts() == {"crack": 1, "pit": 1}
    for s in ds.samples():
        assert int(s.load_mask().sum()) == 16


def test_folder_duplicate_stem_is_an_error(tmp_path):
    img = np.zeros((8, 8), np.uint8)
    _write(tmp_path / "images" / "a" / "x.png", img)
    _write(tmp_path / "images" / "b" / "x.png", img)
    _write(tmp_path / "masks" / "x.png", img)
    with pytest.raises(DataError, match=r"stem 'x' occurs twice"):
        get_dataset("folder", root=tmp_path).samples()


# --- bad input --------------------------------------------------------------------------------------


def test_unknown_name_and_split_list_valid_ones(datasets_root):
    with pytest.raises(ConfigError, match=r"unknown dataset 'sd9000'.*sd900, mt, nrsd, bsdata, ksdd, mvtec, folder"):
        get_dataset("sd9000", root=datasets_root)
    with pytest.raises(ConfigError, match=r"unknown split 'val'.*full, test, train"):
        get_dataset("sd900", root=datasets_root, split="val")
    assert set(DATASETS) == {row["name"] for row in describe()}


def test_missing_root_and_missing_set_folder_show_layout(tmp_path):
    with pytest.raises(DataError, match=r"(?s)nowhere: dataset root not found.*Source Images/<Cls>_<n>.bmp"):
        get_dataset("sd900", root=tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"(?s)no Magnetic-tile-defect/ folder here.*MT_<Class>/Imgs/<stem>.jpg"):
        get_dataset("mt", root=tmp_path)


def test_missing_subfolder_is_named(datasets_root, tmp_path):
    root = copy_sd900(datasets_root, tmp_path, ["In_1"])
    shutil.rmtree(root / "Ground truth")
    with pytest.raises(DataError, match=r"(?s)missing folder\(s\) Ground truth/.*Ground truth/<Cls>_<n>.png"):
        get_dataset("sd900", root=tmp_path)
    mt_root = tmp_path / "Magnetic-tile-defect" / "MT_Crack" / "Imgs"
    mt_root.mkdir(parents=True)
    with pytest.raises(DataError, match=r"missing folder\(s\) MT_Blowhole/Imgs/, MT_Break/Imgs/, MT_Fray/Imgs/"):
        get_dataset("mt", root=tmp_path)


def test_image_without_mask_and_mask_without_image(datasets_root, tmp_path):
    root = copy_sd900(datasets_root, tmp_path, ["In_1", "In_2", "Pa_7"])
    (root / "Ground truth" / "In_2.png").unlink()
    with pytest.raises(DataError, match=r"In_2.bmp: no ground-truth mask; expected .*Ground truth/In_2.png"):
        get_dataset("sd900", root=tmp_path).samples()
    shutil.copy(datasets_root / "SD-saliency-900" / "Ground truth" / "In_2.png", root / "Ground truth")
    (root / "Source Images" / "Pa_7.bmp").unlink()
    with pytest.raises(DataError, match=r"Pa_7.png: mask without an image"):
        get_dataset("sd900", root=tmp_path).samples()


def test_unexpected_sd900_name_and_empty_set(datasets_root, tmp_path):
    root = copy_sd900(datasets_root, tmp_path, ["In_1"])
    shutil.copy(root / "Source Images" / "In_1.bmp", root / "Source Images" / "In_1 copy.bmp")
    with pytest.raises(DataError, match=r"In_1 copy.bmp: unexpected file name"):
        get_dataset("sd900", root=tmp_path).samples()
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "masks").mkdir()
    with pytest.raises(DataError, match=r"no images found"):
        get_dataset("folder", root=empty).samples()


def test_unreadable_image_is_named_at_load_time(datasets_root, tmp_path):
    root = copy_sd900(datasets_root, tmp_path, ["Sc_5"])
    path = root / "Source Images" / "Sc_5.bmp"
    path.write_bytes(path.read_bytes()[:200])  # truncated
    (sample,) = get_dataset("sd900", root=tmp_path).samples()  # listing needs no decoding
    with pytest.raises(DataError, match=re.escape(str(path))):
        sample.load_image()
    path.write_bytes(b"this is not a bitmap")
    with pytest.raises(DataError, match=re.escape(str(path))):
        sample.load_mask()  # the size check reads the image header
    mask_path = root / "Ground truth" / "Sc_5.png"
    mask_path.write_bytes(b"")
    with pytest.raises(DataError, match=re.escape(str(mask_path)) + ".*empty"):
        sample.load_mask()


def test_size_mismatch_names_both_files_and_sizes(datasets_root, tmp_path):
    root = copy_sd900(datasets_root, tmp_path, ["Pa_100"])
    mask_path = root / "Ground truth" / "Pa_100.png"
    Image.open(mask_path).resize((100, 120)).save(mask_path)
    (sample,) = get_dataset("sd900", root=tmp_path).samples()
    pattern = r"Source Images/Pa_100.bmp is 200x200 \(WxH\) but mask .*Ground truth/Pa_100.png is 100x120"
    with pytest.raises(DataError, match=pattern):
        sample.load_mask()
    with pytest.raises(DataError, match=pattern):
        sample.load()


# --- command line -----------------------------------------------------------------------------------


def test_cli_check_counts_and_reports_broken_files(nrsd_root, tmp_path):
    runner = CliRunner()
    result = runner.invoke(datasets_cli, ["check", "nrsd", "--data-root", str(nrsd_root), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert re.search(r"craft\s+6\s+0", result.output) and re.search(r"real\s+3\s+0", result.output)
    assert "all 9 samples decode" in result.output

    broken = make_nrsd_fixture(tmp_path / "NRSD-MN", n_craft=2, n_real=1)
    (broken / "craft" / "annotations" / "craft_0002.jpg").write_bytes(b"not a jpeg")
    result = runner.invoke(datasets_cli, ["check", "nrsd", "--data-root", str(broken), "--no-progress"])
    assert isinstance(result.exception, DataError)
    assert "1 of 3 samples" in str(result.exception)
    assert "craft_0002.jpg" in result.output


def test_cli_list_says_where_sets_are(datasets_root):
    result = CliRunner().invoke(datasets_cli, ["list", "--data-root", str(datasets_root)])
    assert result.exit_code == 0, result.output
    assert f"found at {datasets_root / 'SD-saliency-900'}" in result.output
    assert "NRSD-MN/  not found" in result.output
