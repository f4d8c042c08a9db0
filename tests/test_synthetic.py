"""The embedded demo data: deterministic, in the folder layout, and defects of the promised shapes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from samis.demo.synthetic import CLASSES, generate, make_sample
from samis.imageio import read_gray

PER_CLASS = 4


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    generate(out, per_class=PER_CLASS, seed=0)
    return out


def test_same_seed_gives_byte_identical_files(demo_dir, tmp_path):
    generate(tmp_path, per_class=PER_CLASS, seed=0)
    files = sorted(p.relative_to(demo_dir) for p in demo_dir.rglob("*.png"))
    assert len(files) == 2 * PER_CLASS * len(CLASSES)
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.png"))
    for rel in files:
        assert (demo_dir / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel


def test_another_seed_gives_other_images():
    a, _ = make_sample("Pa", 1, seed=0)
    b, _ = make_sample("Pa", 1, seed=1)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 5


def test_more_images_leave_existing_ones_unchanged(demo_dir, tmp_path):
    generate(tmp_path, per_class=PER_CLASS + 2, seed=0)
    assert (tmp_path / "images" / "Sc" / "Sc_2.png").read_bytes() == (demo_dir / "images" / "Sc" / "Sc_2.png").read_bytes()


def test_rerun_does_not_touch_existing_files(tmp_path):
    generate(tmp_path, per_class=1)
    path = tmp_path / "images" / "In" / "In_1.png"
    before = path.stat().st_mtime_ns
    generate(tmp_path, per_class=1)
    assert path.stat().st_mtime_ns == before


def test_files_are_200px_gray_with_binary_nonempty_masks(demo_dir):
    for cls in CLASSES:
        for n in range(1, PER_CLASS + 1):
            image = read_gray(demo_dir / "images" / cls / f"{cls}_{n}.png")
            mask = read_gray(demo_dir / "masks" / cls / f"{cls}_{n}.png")
            assert image.shape == mask.shape == (200, 200)
            assert set(np.unique(mask)) == {0, 255}
            assert 0.001 < (mask > 0).mean() < 0.3
            # the defect is darker than the strip around it, by more than the grain noise
            assert image[mask == 0].mean() - image[mask > 0].mean() > 15


def test_folder_adapter_reads_categories_from_subfolders(demo_dir):
    from samis.datasets import get_dataset

    ds = get_dataset("folder", root=demo_dir, options={"categories": "folders"})
    assert ds.counts() == {cls: PER_CLASS for cls in CLASSES}
    sample = ds.samples()[0]
    assert sample.stem == "In_1" and sample.category == "In"
    image, mask = sample.load()
    assert image.shape == (200, 200, 3) and mask.dtype == bool and mask.any()


def _components(mask):
    labels, n = ndimage.label(mask)
    return labels, n


@pytest.mark.parametrize("n", range(1, 7))
def test_defect_shapes(n):
    _, scratch = make_sample("Sc", n)
    _, patch = make_sample("Pa", n)
    _, incl = make_sample("In", n)
    # scratch: one thin long line — long extent, small area per unit length
    ys, xs = np.nonzero(scratch)
    extent = np.hypot(ys.max() - ys.min(), xs.max() - xs.min())
    assert extent > 100 and (scratch > 0).sum() / extent < 6
    # patch: one blob, compact (area large against its bounding box)
    labels, count = _components(patch > 0)
    assert count == 1
    ys, xs = np.nonzero(patch)
    assert (patch > 0).sum() > 400 and (patch > 0).sum() / ((np.ptp(ys) + 1) * (np.ptp(xs) + 1)) > 0.4
    # inclusions: a few small spots, each wider than tall (elongated along the rolling direction)
    labels, count = _components(incl > 0)
    assert 1 <= count <= 5
    for sl in ndimage.find_objects(labels):
        height, width = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        assert width > height and height * width < 1000
