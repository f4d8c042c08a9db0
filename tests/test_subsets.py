"""Subsets: ``--limit N`` (seeded, category-stratified) and ``--stems FILE`` give the same images to every
mode, model and evaluation, from the command line and from a definition."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from samis.cli import main
from samis.datasets import Sample, get_dataset
from samis.datasets.ksdd_fixture import make_ksdd_fixture
from samis.datasets.subset import Subset, category_quotas, make_subset, read_stems, stratified_sample
from samis.errors import ConfigError, DataError


def _samples(sizes: dict[str, int]) -> list[Sample]:
    return [Sample(f"{c}_{i}", c, Path(f"{c}_{i}.png"), Path(f"{c}_{i}_m.png")) for c, n in sizes.items() for i in range(n)]


def test_quotas_are_proportional_largest_remainder():
    sizes = {"a": 115, "b": 85, "c": 57, "d": 32, "e": 952, "f": 103}
    quotas = category_quotas(sizes, 15)
    assert sum(quotas.values()) == 15
    for c, q in quotas.items():  # within one of the exact share, never above the category
        assert abs(q - 15 * sizes[c] / 1344) < 1 and q <= sizes[c]
    # by hand: exact shares 1.28 .95 .64 .36 10.63 1.15; floors 1 0 0 0 10 1; the three largest remainders b c e
    assert quotas == {"a": 1, "b": 1, "c": 1, "d": 0, "e": 11, "f": 1}


def test_mt_limit_is_stratified_and_in_split_order(datasets_root):
    full = get_dataset("mt", root=datasets_root).samples()
    ds = get_dataset("mt", root=datasets_root, subset=Subset(limit=15))
    assert ds.counts() == {"Blowhole": 1, "Break": 1, "Crack": 1, "Free": 11, "Uneven": 1}
    order = [s.stem for s in full]
    chosen = [s.stem for s in ds.samples()]
    assert chosen == sorted(chosen, key=order.index)
    again = get_dataset("mt", root=datasets_root, subset=Subset(limit=15))
    assert [s.stem for s in again.samples()] == chosen
    other = get_dataset("mt", root=datasets_root, subset=Subset(limit=15, seed=1))
    assert [s.stem for s in other.samples()] != chosen


def test_a_category_s_choice_does_not_depend_on_the_others():
    base = stratified_sample(_samples({"x": 40, "y": 40}), 10, seed=3)
    grown = stratified_sample(_samples({"x": 40, "y": 40, "z": 0}), 10, seed=3)
    assert [s.stem for s in base] == [s.stem for s in grown]
    with_more = stratified_sample(_samples({"x": 40, "y": 80}), 15, seed=3)  # x keeps its 5
    assert [s.stem for s in with_more if s.category == "x"] == [s.stem for s in base if s.category == "x"]
    assert stratified_sample(_samples({"x": 3}), 10) == _samples({"x": 3})


def test_stems_file(tmp_path, datasets_root):
    path = tmp_path / "stems.txt"
    path.write_text("# hand-picked\nIn_61\n\nSc_300   # a scratch\nPa_170\nIn_61\n")
    assert read_stems(path) == ["In_61", "Sc_300", "Pa_170"]
    ds = get_dataset("sd900", root=datasets_root, split="test", subset=make_subset(stems=path))
    assert [s.stem for s in ds.samples()] == ["In_61", "Pa_170", "Sc_300"]
    both = get_dataset("sd900", root=datasets_root, split="test", subset=make_subset(limit=2, stems=path))
    assert len(both) == 2 and {s.stem for s in both.samples()} <= {"In_61", "Pa_170", "Sc_300"}
    path.write_text("In_61\nIn_1\n")  # In_1 is a train image
    with pytest.raises(DataError, match=r"stems.txt: stem\(s\) not in sd900/test: In_1"):
        get_dataset("sd900", root=datasets_root, split="test", subset=make_subset(stems=path)).samples()
    lenient = get_dataset("sd900", root=datasets_root, split="test", subset=make_subset(stems=path, strict=False))
    assert [s.stem for s in lenient.samples()] == ["In_61"]
    path.write_text("# nothing\n")
    with pytest.raises(ConfigError, match=r"no stems in the stems file"):
        read_stems(path)
    with pytest.raises(ConfigError, match=r"stems file not found"):
        read_stems(tmp_path / "absent.txt")
    with pytest.raises(ConfigError, match=r"limit 0: expected a whole number"):
        Subset(limit=0)


@pytest.fixture(scope="module")
def ksdd_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    make_ksdd_fixture(root / "KolektorSDD", n_folders=3, seed=1)
    return root


def test_evaluate_scores_exactly_the_selected_images(ksdd_root, tmp_path):
    from samis.baselines import write_ft_maps

    write_ft_maps(get_dataset("ksdd", root=ksdd_root).samples(), tmp_path / "preds")
    main(["evaluate", "--dataset", "ksdd", "--data-root", str(ksdd_root), "--predictions", str(tmp_path / "preds"),
          "--protocol", "steel", "--out", str(tmp_path / "r.csv"), "--jobs", "1", "--no-progress", "--limit", "5"])
    chosen = [s.stem for s in get_dataset("ksdd", root=ksdd_root, subset=Subset(limit=5)).samples()]
    per_image = pd.read_csv(tmp_path / "r.per_image.csv")
    assert list(per_image["stem"]) == chosen and len(chosen) == 5
    summary = pd.read_csv(tmp_path / "r.csv")  # n_images: the images with a defect; n_free: scored apart
    assert (summary["n_images"] + summary["n_free"]).tolist() == [5]


def test_definition_limit_and_reproduce_flag(ksdd_root, tmp_path):
    """``limit:`` in a dataset entry, and ``reproduce --limit`` over a definition: evaluation sees the same images."""
    from samis.baselines import write_ft_maps
    from samis.cli.reproduce import reproduce as reproduce_cli
    from samis.experiments import load_definition

    write_ft_maps(get_dataset("ksdd", root=ksdd_root).samples(), tmp_path / "maps")
    data = {"name": "k", "output": "out", "predictions": "preds", "seed": 2,
            "datasets": [{"name": "ksdd", "label": "ksdd", "data_root": str(ksdd_root), "limit": 6, "protocols": ["steel"]}],
            "models": [{"name": "vit_t", "device": "cpu"}], "modes": [{"mode": "box"}],
            "baselines": {"ksdd": {"root": "maps", "methods": ["FT"]}}}
    path = tmp_path / "k.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    d = load_definition(path)
    assert d.datasets[0].subset == Subset(limit=6, seed=2)
    chosen = [s.stem for s in d.datasets[0].open("full").samples()]
    assert chosen == [s.stem for s in get_dataset("ksdd", root=ksdd_root, subset=Subset(limit=6, seed=2)).samples()]

    data["datasets"][0].pop("limit")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(
        reproduce_cli, [str(path), "--only", "evaluate", "--limit", "6", "--quiet", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out-limit6" / "results" / "ksdd" / "full"
    per_image = pd.read_csv(folder / "baselines.per_image.csv")
    assert list(per_image["stem"]) == chosen and set(per_image["method"]) == {"FT"}
    refs = pd.read_csv(folder / "sam.per_image.csv")  # no SAM maps yet: the reference rows, on the same images
    assert set(refs["method"]) == {"ref-empty", "ref-full", "ref-gt_box"} and list(dict.fromkeys(refs["stem"])) == chosen
    assert not (tmp_path / "out").exists()  # the full report's folder is not touched by a limited run
    assert "| ksdd | ksdd | full (limit 6 (seed 2)) |" in (tmp_path / "out-limit6" / "README.md").read_text()


@pytest.mark.model
def test_limit_gives_the_same_images_to_every_mode(ksdd_root, tmp_path, capsys):
    """Two separate `samis run --limit 3` calls (box, then point) segment the same three images."""
    try:
        from samis.runners.engine import get_model

        get_model("vit_t", device="cpu")
    except Exception as exc:  # weights not installed
        import os

        if os.environ.get("CI"):
            raise
        pytest.skip(f"vit_t weights unavailable ({exc})")
    out = tmp_path / "maps"
    base = ["run", "--dataset", "ksdd", "--data-root", str(ksdd_root), "--out", str(out), "--device", "cpu",
            "--no-progress", "--limit", "3"]
    main(base + ["--mode", "box"])
    main(base + ["--mode", "point", "--set", "n_points=1"])
    chosen = sorted(s.stem for s in get_dataset("ksdd", root=ksdd_root, subset=Subset(limit=3)).samples())
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert [p.name for p in folders] == ["SAM-vit_t-box", "SAM-vit_t-point1"]
    for folder in folders:
        assert sorted(p.stem for p in folder.glob("*.png")) == chosen


def test_changed_dataset_options_make_results_stale(tmp_path):
    """Categories come from a dataset option; changing it must redo the per-image results."""
    from samis.baselines import write_ft_maps
    from samis.demo import generate
    from samis.experiments.definition import load_definition
    from samis.experiments.reproduce import reproduce

    generate(tmp_path / "data", per_class=1, seed=0)
    write_ft_maps(get_dataset("folder", root=tmp_path / "data").samples(), tmp_path / "maps")
    data = {"name": "c", "output": "out", "predictions": "preds",
            "datasets": [{"name": "folder", "label": "syn", "data_root": "data", "protocols": ["steel"]}],
            "models": [{"name": "vit_t", "device": "cpu"}], "modes": [{"mode": "box"}],
            "baselines": {"syn": {"root": "maps", "methods": ["FT"]}}}
    path = tmp_path / "c.yaml"
    categories = []
    for option in (None, "folders"):
        if option:
            data["datasets"][0]["categories"] = option
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        reproduce(load_definition(path), only="evaluate", progress=False, echo=lambda *a: None, jobs=1)
        per_image = tmp_path / "out" / "results" / "syn" / "full" / "baselines.per_image.csv"
        categories.append(sorted(set(pd.read_csv(per_image)["category"])))
    assert categories == [["all"], ["In", "Pa", "Sc"]]
