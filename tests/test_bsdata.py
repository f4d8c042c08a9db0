"""BSData on the real set in ../shared: splits, polygon rasterization checked pixel by pixel, and every
bad-input error on small generated copies of its layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.draw import polygon as skimage_polygon

from samis.datasets import get_dataset
from samis.datasets.labelme import rasterize
from samis.errors import DataError


@pytest.fixture(scope="module")
def bsdata_root(datasets_root) -> Path:
    root = datasets_root / "BSData"
    if not root.is_dir():
        pytest.fail(f"BSData not found at {root}")
    return root


def _release_splits(root: Path) -> dict[str, list[str]]:
    """Stems per split straight from image_data.json (the release's own list, read without samis)."""
    entries = json.loads((root / "image_data.json").read_text())["images"]
    out: dict[str, list[str]] = {"train": [], "test": []}
    for e in entries:
        if e["train_test_split"] in out:
            out[e["train_test_split"]].append(Path(e["filename"]).stem)
    return out


@pytest.mark.parametrize("split,total", [("full", 394), ("train", 324), ("test", 70)])
def test_bsdata_split_counts(datasets_root, split, total):
    ds = get_dataset("bsdata", root=datasets_root, split=split)
    assert len(ds) == total and ds.counts() == {"Pitting": total}


def test_bsdata_splits_are_the_releases_and_root_may_be_the_set(datasets_root, bsdata_root):
    release = _release_splits(bsdata_root)
    for split in ("train", "test"):
        stems = {s.stem for s in get_dataset("bsdata", root=bsdata_root, split=split).samples()}
        assert stems == set(release[split])
    full = get_dataset("bsdata", root=datasets_root).samples()
    assert {s.stem for s in full} == set(release["train"]) | set(release["test"])


def test_bsdata_polygons_match_a_direct_skimage_rasterization(bsdata_root):
    """The image with the most polygons (6), rasterized here straight from its JSON and unioned."""
    labels = sorted((bsdata_root / "label").glob("*.json"))
    counts = {p: len(json.loads(p.read_text())["shapes"]) for p in labels}
    path = max(counts, key=lambda p: (counts[p], p.name))
    assert counts[path] == 6
    sample = next(s for s in get_dataset("bsdata", root=bsdata_root).samples() if s.stem == path.stem)
    image, mask = sample.load()

    data = json.loads(path.read_text())
    expected = np.zeros((data["imageHeight"], data["imageWidth"]), bool)
    for shape in data["shapes"]:
        xy = np.array(shape["points"])
        rr, cc = skimage_polygon(xy[:, 1], xy[:, 0], shape=expected.shape)
        expected[rr, cc] = True
    with Image.open(sample.image_path) as img:
        assert img.size == (expected.shape[1], expected.shape[0])
    assert image.shape[:2] == mask.shape == expected.shape
    assert mask.dtype == bool and np.array_equal(mask, expected)
    # a union, not the last polygon: every polygon's pixels are in the mask
    assert mask.sum() >= max(len(skimage_polygon(np.array(s["points"])[:, 1], np.array(s["points"])[:, 0], expected.shape)[0])
                             for s in data["shapes"])


def test_bsdata_every_test_mask_has_pitting_inside_the_image(datasets_root):
    for sample in get_dataset("bsdata", root=datasets_root, split="test").samples():
        mask = sample.load_mask()  # also checks the JSON's size against the image's header
        assert 0 < mask.sum() < mask.size * 0.2, sample.stem


# --- bad input on a generated copy of the layout -------------------------------------------------


def _polygon(points, label="Pitting"):
    return {"label": label, "points": points, "group_id": None, "shape_type": "polygon", "flags": {}}


def make_bsdata(root: Path, stems=("a_crop_1", "b_crop_2"), size=(30, 20)) -> Path:
    """A two-image BSData: 30 x 20 grey JPEGs, one triangle each, image_data.json with both in test."""
    (root / "data").mkdir(parents=True)
    (root / "label").mkdir()
    for stem in stems:
        Image.fromarray(np.full((size[1], size[0]), 90, np.uint8)).save(root / "data" / f"{stem}.jpg")
        write_label(root, stem, {"version": "4.5.6", "flags": {}, "shapes": [_polygon([[2, 2], [12, 3], [5, 15]])],
                                 "imagePath": f"{stem}.jpg", "imageData": None, "imageHeight": size[1], "imageWidth": size[0]})
    entries = [{"filename": f"{s}.jpg", "train_test_split": "test", "type": 2, "annotations": f"{s}.json"} for s in stems]
    entries.append({"filename": "unannotated.jpg", "train_test_split": None, "type": 2, "annotations": None})
    (root / "image_data.json").write_text(json.dumps({"images": entries}))
    return root


def write_label(root: Path, stem: str, data) -> Path:
    path = root / "label" / f"{stem}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _label(root: Path, stem: str) -> dict:
    return json.loads((root / "label" / f"{stem}.json").read_text())


def test_generated_copy_reads_and_rasterizes(tmp_path):
    root = make_bsdata(tmp_path / "BSData")
    ds = get_dataset("bsdata", root=tmp_path, split="test")
    assert [s.stem for s in ds.samples()] == ["a_crop_1", "b_crop_2"]
    assert len(get_dataset("bsdata", root=root, split="train")) == 0
    mask = ds.samples()[0].load_mask()
    expected = np.zeros((20, 30), bool)
    rr, cc = skimage_polygon(np.array([2, 3, 15]), np.array([2, 12, 5]), (20, 30))
    expected[rr, cc] = True
    assert np.array_equal(mask, expected)


@pytest.mark.parametrize("content,message", [
    ("{not json", r"not a readable JSON file"),
    ({"annotations": []}, r"not a labelme annotation \(no shapes, imagePath, imageHeight, imageWidth\)"),
    ({"shapes": [], "imagePath": "a_crop_1.jpg", "imageHeight": "20", "imageWidth": 30}, r"imageHeight/imageWidth must be positive integers"),
    ({"shapes": [_polygon([[1, 1], [5, 5]])], "imagePath": "a_crop_1.jpg", "imageHeight": 20, "imageWidth": 30},
     r"shapes\[0\] \('Pitting'\): a polygon needs at least 3 points, it has 2"),
    ({"shapes": [_polygon([[1, 1], [5, 5], [2, 8]]), {"label": "Pitting", "points": [[1, 1], [4, 4]], "shape_type": "rectangle"}],
      "imagePath": "a_crop_1.jpg", "imageHeight": 20, "imageWidth": 30}, r"shapes\[1\] is a 'rectangle'; only polygons are read"),
    ({"shapes": [_polygon([[1, "x"], [5, 5], [2, 8]])], "imagePath": "a_crop_1.jpg", "imageHeight": 20, "imageWidth": 30},
     r"points must be a list of \[x, y\] numbers"),
    ({"shapes": [_polygon([[1, 1], [5, 5], [2, 8]])], "imagePath": "..\\data\\b_crop_2.jpg", "imageHeight": 20, "imageWidth": 30},
     r"imagePath is '..\\\\data\\\\b_crop_2.jpg' but the annotation sits beside image 'a_crop_1.jpg'"),
])
def test_bad_labelme_json_names_the_file(tmp_path, content, message):
    root = make_bsdata(tmp_path / "BSData")
    path = write_label(root, "a_crop_1", content)
    sample = get_dataset("bsdata", root=root).samples()[0]
    with pytest.raises(DataError, match=message) as info:
        sample.load_mask()
    assert str(info.value).startswith(str(path))


def test_windows_image_path_with_the_right_name_is_accepted(tmp_path):
    root = make_bsdata(tmp_path / "BSData")
    data = _label(root, "a_crop_1")
    data["imagePath"] = "..\\data\\a_crop_1.jpg"
    write_label(root, "a_crop_1", data)
    assert rasterize(root / "label" / "a_crop_1.json", "a_crop_1.jpg").sum() > 0


def test_size_disagreement_names_json_and_image(tmp_path):
    root = make_bsdata(tmp_path / "BSData")
    data = _label(root, "b_crop_2")
    data["imageHeight"] = 21
    write_label(root, "b_crop_2", data)
    sample = get_dataset("bsdata", root=root).samples()[1]
    with pytest.raises(DataError, match=r"(?s)image .*b_crop_2.jpg is 30x20 \(WxH\) but mask .*b_crop_2.json is 30x21.*imageWidth/imageHeight"):
        sample.load()
    with pytest.raises(DataError, match=r"b_crop_2.json is 30x21"):
        sample.load_mask()


def test_layout_errors_name_the_file(tmp_path):
    root = make_bsdata(tmp_path / "BSData")
    (root / "label" / "b_crop_2.json").unlink()
    with pytest.raises(DataError, match=r"b_crop_2.jpg: no ground-truth mask; expected .*label/b_crop_2.json"):
        get_dataset("bsdata", root=root).samples()
    root = make_bsdata(tmp_path / "two" / "BSData")
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(root / "data" / "c_crop_0.jpg")
    with pytest.raises(DataError, match=r"c_crop_0.jpg: not in .*image_data.json with a train_test_split"):
        get_dataset("bsdata", root=root).samples()
    root = make_bsdata(tmp_path / "three" / "BSData")
    (root / "image_data.json").write_text(json.dumps([1, 2]))
    with pytest.raises(DataError, match=r"image_data.json: not BSData's image list"):
        get_dataset("bsdata", root=root).samples()
    (root / "image_data.json").unlink()
    with pytest.raises(DataError, match=r"image_data.json: file not found"):
        get_dataset("bsdata", root=root).samples()
    (tmp_path / "four" / "BSData" / "data").mkdir(parents=True)
    with pytest.raises(DataError, match=r"missing folder\(s\) label/"):
        get_dataset("bsdata", root=tmp_path / "four")
