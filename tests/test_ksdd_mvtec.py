"""KolektorSDD (generated in exactly its original layout) and the MVTec AD layout (generated), end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from samis.cli.datasets import datasets as datasets_cli
from samis.datasets import get_dataset
from samis.datasets.ksdd_fixture import make_ksdd_fixture
from samis.errors import ConfigError, DataError

DEFECTIVE = ((1, 2), (1, 5), (2, 0), (3, 7))  # the fixture's default (folder, part) pairs with a crack


@pytest.fixture(scope="module")
def ksdd_root(tmp_path_factory) -> Path:
    data_root = tmp_path_factory.mktemp("data")
    make_ksdd_fixture(data_root / "KolektorSDD", n_folders=3, defective=DEFECTIVE, seed=0)
    return data_root


# --- KolektorSDD -----------------------------------------------------------------------------------


def test_fixture_is_the_original_layout(ksdd_root):
    set_root = ksdd_root / "KolektorSDD"
    assert sorted(p.name for p in set_root.iterdir()) == ["kos01", "kos02", "kos03"]
    assert sorted(p.name for p in (set_root / "kos01").iterdir()) == sorted(
        [f"Part{i}.jpg" for i in range(8)] + [f"Part{i}_label.bmp" for i in range(8)])
    assert (set_root / "kos03" / "kos01" / "Part0.jpg").is_file()  # the nested duplicate folder
    with Image.open(set_root / "kos02" / "Part0_label.bmp") as pal, Image.open(set_root / "kos01" / "Part2_label.bmp") as grey:
        assert (pal.format, pal.mode, grey.format, grey.mode) == ("BMP", "P", "BMP", "L")


def test_ksdd_splits_stems_and_nested_folder_ignored(ksdd_root):
    full = get_dataset("ksdd", root=ksdd_root)
    assert len(full) == 3 * 8 and full.counts() == {"commutator": 24}
    stems = [s.stem for s in full.samples()]
    assert stems[:3] == ["kos01_Part0", "kos01_Part1", "kos01_Part2"] and len(set(stems)) == 24
    assert not any("kos03_kos01" in s or s.count("kos") > 1 for s in stems)
    defective = get_dataset("ksdd", root=ksdd_root / "KolektorSDD", split="defective")  # the set folder as root
    assert [s.stem for s in defective.samples()] == [f"kos{k:02d}_Part{p}" for k, p in DEFECTIVE]


def test_ksdd_masks_palette_grey_and_empty(ksdd_root):
    samples = {s.stem: s for s in get_dataset("ksdd", root=ksdd_root).samples()}
    palette = samples["kos02_Part0"]
    image, mask = palette.load()
    with Image.open(palette.mask_path) as img:
        shown = np.asarray(img.convert("L"))  # the palette's colours applied: 255 where the defect is
    assert image.shape == (120, 48, 3) and mask.any() and np.array_equal(mask, shown == 255)
    grey_mask = samples["kos01_Part2"].load_mask()
    assert np.array_equal(grey_mask, np.asarray(Image.open(samples["kos01_Part2"].mask_path)) == 255) and grey_mask.any()
    empty = samples["kos01_Part0"].load_mask()
    assert empty.shape == (120, 48) and not empty.any()


def test_ksdd_errors(tmp_path):
    root = make_ksdd_fixture(tmp_path / "KolektorSDD", n_folders=2, nested=None)
    (root / "kos02" / "Part3_label.bmp").unlink()
    with pytest.raises(DataError, match=r"kos02/Part3.jpg: no ground-truth mask; expected .*kos02/Part3_label.bmp"):
        get_dataset("ksdd", root=root).samples()
    (tmp_path / "other" / "KolektorSDD" / "misc").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no kosNN/ folders; found misc/"):
        get_dataset("ksdd", root=tmp_path / "other").samples()
    with pytest.raises(ConfigError, match=r"dataset 'ksdd' has no option 'object'; its options: none"):
        get_dataset("ksdd", root=root, options={"object": "x"})


def test_ksdd_through_evaluate_without_conversion(ksdd_root, tmp_path):
    """A KolektorSDD copy in its original layout is scored by `samis evaluate` as it is."""
    from samis.baselines import write_ft_maps
    from samis.cli import main

    samples = get_dataset("ksdd", root=ksdd_root).samples()
    folder = write_ft_maps(samples, tmp_path / "preds")
    assert len(list(folder.glob("*.png"))) == 24
    out = tmp_path / "res.csv"
    main(["evaluate", "--dataset", "ksdd", "--split", "defective", "--data-root", str(ksdd_root), "--predictions",
          str(tmp_path / "preds"), "--protocol", "sod", "--out", str(out), "--jobs", "1", "--no-progress"])
    per_image = pd.read_csv(tmp_path / "res.per_image.csv")
    assert sorted(per_image["stem"]) == sorted(f"kos{k:02d}_Part{p}" for k, p in DEFECTIVE)


# --- MVTec AD layout -----------------------------------------------------------------------------


def make_mvtec(root: Path) -> Path:
    """bottle: good 2, broken_large 2; screw: good 1, scratch_head 3; plus train/ images that must not be read."""
    layout = {"bottle": {"good": 2, "broken_large": 2}, "screw": {"good": 1, "scratch_head": 3}}
    rng = np.random.default_rng(0)
    for obj, defects in layout.items():
        for defect, n in defects.items():
            for i in range(n):
                image = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
                (root / obj / "test" / defect).mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(root / obj / "test" / defect / f"{i:03d}.png")
                if defect != "good":
                    mask = np.zeros((24, 32), np.uint8)
                    mask[2 + i: 8 + i, 3:10] = 255
                    (root / obj / "ground_truth" / defect).mkdir(parents=True, exist_ok=True)
                    Image.fromarray(mask).save(root / obj / "ground_truth" / defect / f"{i:03d}_mask.png")
        (root / obj / "train" / "good").mkdir(parents=True)
        Image.fromarray(np.zeros((24, 32), np.uint8)).save(root / obj / "train" / "good" / "000.png")
    return root


def test_mvtec_every_object_categories_and_stems(tmp_path):
    root = make_mvtec(tmp_path / "mvtec")
    test = get_dataset("mvtec", root=root)
    assert test.split == "test" and len(test) == 8
    assert test.counts() == {"bottle/broken_large": 2, "bottle/good": 2, "screw/good": 1, "screw/scratch_head": 3}
    assert "bottle_good_000" in {s.stem for s in test.samples()}
    assert not any("train" in str(s.image_path) for s in test.samples())
    defective = get_dataset("mvtec", root=root, split="defective")
    assert defective.counts() == {"bottle/broken_large": 2, "screw/scratch_head": 3}


def test_mvtec_one_object_good_is_empty_mask(tmp_path):
    root = make_mvtec(tmp_path / "mvtec")
    ds = get_dataset("mvtec", root=root, options={"object": "bottle"})
    assert ds.counts() == {"broken_large": 2, "good": 2}
    by_stem = {s.stem: s for s in ds.samples()}
    good = by_stem["bottle_good_001"]
    image, mask = good.load()
    assert good.mask_path is None and mask.shape == (24, 32) and not mask.any() and image.shape == (24, 32, 3)
    broken = by_stem["bottle_broken_large_001"].load_mask()
    assert broken.sum() == 6 * 7 and broken[3:9, 3:10].all()


def test_mvtec_errors_name_what_was_found(tmp_path):
    root = make_mvtec(tmp_path / "mvtec")
    with pytest.raises(DataError, match=r"mvtec/cable/test: not found; objects with a test/ folder here: bottle, screw"):
        get_dataset("mvtec", root=root, options={"object": "cable"})
    (root / "screw" / "ground_truth" / "scratch_head" / "002_mask.png").unlink()
    with pytest.raises(DataError, match=r"scratch_head/002.png: no ground-truth mask; expected .*ground_truth/scratch_head/002_mask.png"):
        get_dataset("mvtec", root=root, options={"object": "screw"}).samples()
    for p in sorted((root / "screw" / "ground_truth" / "scratch_head").iterdir()):
        p.unlink()
    (root / "screw" / "ground_truth" / "scratch_head").rmdir()
    with pytest.raises(DataError, match=r"ground_truth/scratch_head: missing; the masks of .*test/scratch_head go there"):
        get_dataset("mvtec", root=root).samples()
    with pytest.raises(ConfigError, match=r"dataset 'mvtec' has no option 'objects'; its options: object"):
        get_dataset("mvtec", root=root, options={"objects": "bottle"})
    with pytest.raises(DataError, match=r"no <object>/test/ folder"):
        get_dataset("mvtec", root=tmp_path / "mvtec" / "bottle" / "train").samples()


def test_cli_dataset_option_selects_the_object(tmp_path):
    root = make_mvtec(tmp_path / "mvtec")
    result = CliRunner().invoke(datasets_cli, ["check", "mvtec", "--data-root", str(root), "--dataset-option", "object=screw",
                                               "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "mvtec split test" in result.output and ": 4 images" in result.output
    assert [line.split() for line in result.output.splitlines() if "good" in line] == [["good", "1", "1"]]
    bad = CliRunner().invoke(datasets_cli, ["check", "mvtec", "--data-root", str(root), "--dataset-option", "object"])
    assert "write it key=value" in str(bad.exception)


def test_more_data_definition_reads_ksdd_and_mvtec_from_environment(ksdd_root, tmp_path, monkeypatch, datasets_root):
    from samis.experiments import load_definition

    definition = Path(__file__).resolve().parents[1] / "experiments" / "more-data.yaml"
    monkeypatch.delenv("KSDD_ROOT", raising=False)
    with pytest.raises(ConfigError, match=r"more-data.yaml: datasets\[0\].data_root: environment variable KSDD_ROOT is not set"):
        load_definition(definition)
    make_mvtec(tmp_path / "mvtec")
    monkeypatch.setenv("KSDD_ROOT", str(ksdd_root))
    monkeypatch.setenv("MVTEC_ROOT", str(tmp_path / "mvtec"))
    monkeypatch.setenv("SAMIS_DATA_ROOT", str(datasets_root))
    d = load_definition(definition)
    units = {f"{spec.label}/{split}": len(spec.open(split)) for spec, split in d.units()}
    assert units == {"KolektorSDD/defective": 4, "KolektorSDD/full": 24, "MVTec-bottle/defective": 2,
                     "MVTec-bottle/test": 4, "BSData/test": 70}
    assert dict(d.dataset("MVTec-bottle").options) == {"object": "bottle"}


def test_ksdd_broken_label_is_named(tmp_path):
    root = make_ksdd_fixture(tmp_path / "KolektorSDD", n_folders=1, nested=None)
    (root / "kos01" / "Part4_label.bmp").write_bytes(b"BM not really")
    sample = next(s for s in get_dataset("ksdd", root=root).samples() if s.stem == "kos01_Part4")
    with pytest.raises(DataError, match=r"kos01/Part4_label.bmp: cannot be decoded as an image"):
        sample.load_mask()
    with pytest.raises(DataError, match=r"Part4_label.bmp: cannot be decoded"):
        get_dataset("ksdd", root=root, split="defective").samples()
