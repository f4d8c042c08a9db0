"""The ``folder`` adapter as users have their data: every option, its errors, and options from a
definition and from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from samis.cli.datasets import datasets as datasets_cli
from samis.datasets import get_dataset
from samis.datasets.ksdd_fixture import make_ksdd_fixture
from samis.errors import ConfigError, DataError
from samis.experiments import load_definition

KSDD_OPTIONS = {"images_dir": ".", "masks_dir": ".", "mask_suffix": "_label", "recursive": "true"}


@pytest.fixture(scope="module")
def kolektor(tmp_path_factory) -> Path:
    """A KolektorSDD copy (2 folders + the nested duplicate kos02/kos01), read here as a plain folder."""
    return make_ksdd_fixture(tmp_path_factory.mktemp("k") / "KolektorSDD", n_folders=2, nested=(2, 1),
                             defective=((1, 3), (2, 6)))


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_recursive_same_folder_with_mask_suffix_reads_kolektor_as_is(kolektor):
    ds = get_dataset("folder", root=kolektor, options=KSDD_OPTIONS)
    stems = [s.stem for s in ds.samples()]
    # 8 parts per folder; the nested copy is the user's data here, kept apart by its longer stem
    assert len(stems) == 24 and ds.counts() == {"all": 24}
    assert {"kos01_Part0", "kos02_Part0", "kos02_kos01_Part0"} <= set(stems)
    sample = next(s for s in ds.samples() if s.stem == "kos01_Part3")
    assert sample.image_path.name == "Part3.jpg" and sample.mask_path.name == "Part3_label.bmp"
    assert sample.load_mask().any()
    defective = get_dataset("folder", root=kolektor, split="defective", options=KSDD_OPTIONS)
    assert [s.stem for s in defective.samples()] == ["kos01_Part3", "kos02_kos01_Part3", "kos02_Part6"]


def test_categories_folders_takes_the_first_subfolder(kolektor):
    ds = get_dataset("folder", root=kolektor, options={**KSDD_OPTIONS, "categories": "folders"})
    assert ds.counts() == {"kos01": 8, "kos02": 16}


def test_non_recursive_repeated_names_suggest_recursive(kolektor):
    with pytest.raises(DataError, match=r"stem 'Part0' occurs twice.*set the dataset option recursive: true"):
        get_dataset("folder", root=kolektor, options={**KSDD_OPTIONS, "recursive": "false"}).samples()


def test_mask_ext_tells_masks_from_images_in_one_folder(tmp_path):
    img = np.full((10, 12), 100, np.uint8)
    mask = np.zeros((10, 12), np.uint8)
    mask[2:5, 3:9] = 255
    for stem in ("t1", "t2"):
        _write(tmp_path / "Imgs" / f"{stem}.jpg", img)
        _write(tmp_path / "Imgs" / f"{stem}.png", mask if stem == "t1" else mask * 0)
    ds = get_dataset("folder", root=tmp_path, options={"images_dir": "Imgs", "masks_dir": "Imgs", "mask_ext": "png"})
    assert [(s.image_path.name, s.mask_path.name) for s in ds.samples()] == [("t1.jpg", "t1.png"), ("t2.jpg", "t2.png")]
    assert int(ds.samples()[0].load_mask().sum()) == 18
    assert [s.stem for s in get_dataset("folder", root=tmp_path, split="defective",
                                        options={"images_dir": "Imgs", "masks_dir": "Imgs", "mask_ext": ".PNG"}).samples()] == ["t1"]


def test_separate_folders_with_suffix_and_ext(tmp_path):
    _write(tmp_path / "img" / "a.png", np.zeros((6, 6), np.uint8))
    _write(tmp_path / "gt" / "a_mask.bmp", np.full((6, 6), 255, np.uint8))
    _write(tmp_path / "gt" / "a_mask.png", np.zeros((6, 6), np.uint8))  # another export, ignored by mask_ext
    ds = get_dataset("folder", root=tmp_path, options={"images_dir": "img", "masks_dir": "gt", "mask_suffix": "_mask", "mask_ext": "bmp"})
    (sample,) = ds.samples()
    assert sample.mask_path.name == "a_mask.bmp" and sample.load_mask().all()


def test_missing_folder_names_what_is_there(kolektor):
    with pytest.raises(DataError, match=r"KolektorSDD/images: no such folder; found in .*KolektorSDD: kos01/, kos02/ — "
                                        r"set the dataset option images_dir"):
        get_dataset("folder", root=kolektor)
    with pytest.raises(DataError, match=r"KolektorSDD/gt: no such folder.*set the dataset option masks_dir"):
        get_dataset("folder", root=kolektor, options={"images_dir": ".", "masks_dir": "gt"})


def test_missing_mask_names_what_was_found_instead(kolektor):
    with pytest.raises(DataError, match=r"kos01/Part0.jpg: no ground-truth mask; expected .*kos01/Part0_mask.bmp; "
                                        r"found instead: Part0.jpg, Part0_label.bmp"):
        get_dataset("folder", root=kolektor, options={**KSDD_OPTIONS, "mask_suffix": "_mask", "mask_ext": "bmp"}).samples()


def test_bad_option_values_are_config_errors(kolektor):
    cases = [
        ({"images_dir": ".", "masks_dir": "."}, r"images and masks are in one folder.*set the dataset option mask_suffix"),
        ({**KSDD_OPTIONS, "categories": "subfolders"}, r"categories of 'folder': expected one of none, folders"),
        ({**KSDD_OPTIONS, "recursive": "maybe"}, r"recursive of 'folder': expected true or false"),
        ({**KSDD_OPTIONS, "mask_ext": "gif"}, r"mask_ext 'gif': expected one of png, jpg"),
        ({"mask_sufix": "_label"}, r"dataset 'folder' has no option 'mask_sufix'; its options: images_dir, masks_dir, mask_suffix"),
    ]
    for options, message in cases:
        with pytest.raises(ConfigError, match=message):
            get_dataset("folder", root=kolektor, options=options)


def test_cli_dataset_options(kolektor):
    args = ["check", "folder", "--data-root", str(kolektor), "--quick"]
    for key, value in KSDD_OPTIONS.items():
        args += ["--dataset-option", f"{key}={value}"]
    result = CliRunner().invoke(datasets_cli, args + ["--dataset-option", "categories=folders"])
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.output.splitlines()[1:]] == [["kos01", "8"], ["kos02", "16"]]


def test_definition_takes_options_as_keys_of_the_entry(kolektor, tmp_path, monkeypatch):
    monkeypatch.setenv("KSDD_ROOT", str(kolektor))
    entry = {"name": "folder", "label": "kolektor", "data_root": "${KSDD_ROOT}", "splits": ["full", "defective"],
             "images_dir": ".", "masks_dir": ".", "mask_suffix": "_label", "recursive": True}
    data = {"name": "k", "datasets": [entry], "models": [{"name": "vit_t"}], "modes": [{"mode": "box"}]}
    path = tmp_path / "k.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    spec = load_definition(path).datasets[0]
    assert dict(spec.options) == {"images_dir": ".", "masks_dir": ".", "mask_suffix": "_label", "recursive": True}
    assert len(spec.open("full")) == 24 and len(spec.open("defective")) == 3

    entry["recursive"] = "often"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match=r"k.yaml: datasets\[0\].recursive: dataset option recursive of 'folder': expected true or false"):
        load_definition(path)
    entry["recursive"] = True
    entry["object"] = "bottle"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match=r"datasets\[0\].object: unknown key 'object'; allowed here: .*limit, stems, .*images_dir"):
        load_definition(path)


def test_masks_folder_inside_the_images_folder_is_not_read_as_images(tmp_path):
    for stem in ("p1", "p2"):
        _write(tmp_path / f"{stem}.png", np.full((5, 5), 80, np.uint8))
        _write(tmp_path / "gt" / f"{stem}.png", np.full((5, 5), 255, np.uint8))
    for recursive in ("false", "true"):
        ds = get_dataset("folder", root=tmp_path, options={"images_dir": ".", "masks_dir": "gt", "recursive": recursive})
        assert [(s.stem, s.image_path.parent.name, s.mask_path.parent.name) for s in ds.samples()] == [
            ("p1", tmp_path.name, "gt"), ("p2", tmp_path.name, "gt")]
