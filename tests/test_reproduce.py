"""reproduce: steps skip finished work, stale results are redone, shards add up to the unsharded run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from PIL import Image

from samis.baselines import write_ft_maps
from samis.datasets import get_dataset
from samis.demo import generate
from samis.errors import ConfigError
from samis.experiments import load_definition, reproduce


def make_study(tmp_path: Path, per_class: int = 1, modes=None, predictions: str = "preds") -> Path:
    generate(tmp_path / "data", per_class=per_class, seed=0)
    write_ft_maps(get_dataset("folder", root=tmp_path / "data").samples(), tmp_path / "maps")
    data = {
        "name": "t",
        "output": "out",
        "predictions": predictions,
        "datasets": [{"name": "folder", "data_root": "data", "label": "syn", "protocols": ["steel", "sod"],
                      "categories": "folders"}],
        "models": [{"name": "vit_t", "device": "cpu"}],
        "modes": modes or [{"mode": "box"}],
        "baselines": {"syn": {"root": "maps", "methods": ["FT"]}},
        "tables": [{"kind": "main", "protocol": "sod"}, {"kind": "categories", "protocol": "steel"}],
        "figures": [
            {"kind": "curves"},
            {"kind": "category_bars", "protocol": "sod", "metric": "IoU"},
            {"kind": "qualitative", "protocol": "sod", "examples": {"rule": "best_median_worst", "metric": "IoU", "method": "FT"}},
        ],
    }
    path = tmp_path / f"{predictions}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def steps(definition, **kw) -> list[str]:
    lines: list[str] = []
    reproduce(definition, progress=False, echo=lines.append, jobs=1, **kw)
    return lines


def test_evaluate_tables_figures_skip_done_work_and_redo_stale(tmp_path):
    d = load_definition(make_study(tmp_path))
    lines = steps(d, only="evaluate")
    assert any("syn/full sam: SAM-vit_t-box left out (no maps" in ln for ln in lines)
    assert "evaluate: syn/full baselines: 1 method(s) x 3 images, steel, sod" in lines
    results = d.output / "results" / "syn" / "full"
    assert {p.name for p in results.iterdir()} >= {"baselines.steel.csv", "baselines.sod.csv",
                                                   "baselines.sod.per_image.csv", "baselines.sod.curves.npz"}
    assert "evaluate: syn/full baselines: up to date, skipped" in steps(d, only="evaluate")

    # a map that changes makes the results stale
    ft = tmp_path / "maps" / "FT" / "In_1.png"
    st = ft.stat()
    os.utime(ft, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert "evaluate: syn/full baselines: 1 method(s) x 3 images, steel, sod" in steps(d, only="evaluate")

    lines = steps(d, only="tables")
    assert "tables: main-sod: main-sod.md, main-sod.tex, main-sod.csv" in lines
    assert "FT" in (d.output / "tables" / "main-sod.md").read_text()
    assert "In" in (d.output / "tables" / "categories-steel.csv").read_text()
    assert "tables: main-sod: up to date, skipped" in steps(d, only="tables")

    lines = steps(d, only="figures")
    for name in ("curves-sod-syn-full", "category_bars-sod-syn-full", "qualitative-sod-syn-full"):
        assert (d.output / "figures" / f"{name}.png").is_file(), (name, lines)
    again = steps(d, only="figures")
    assert all("up to date, skipped" in ln for ln in again if ln.startswith("figures:")), again
    readme = (d.output / "README.md").read_text()
    assert "# t" in readme and "tables/main-sod.md" in readme and "figures/curves-sod-syn-full.png" in readme


def test_shard_only_runs_sam(tmp_path):
    d = load_definition(make_study(tmp_path))
    with pytest.raises(ConfigError, match="--shard runs the SAM share only"):
        steps(d, only="evaluate", shard="0/2")
    with pytest.raises(ConfigError, match="choose one of run, evaluate, tables, figures"):
        steps(d, only="plots")


def test_cli_reports_definition_errors(tmp_path, capsys):
    from samis.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndatasets: []\nmodels: [{name: vit_t}]\nmodes: [{mode: box}]\n")
    with pytest.raises(SystemExit) as info:
        main(["reproduce", str(bad)])
    assert info.value.code == 2
    assert f"error: {bad}: datasets: expected a non-empty list" in capsys.readouterr().err


@pytest.mark.model
@pytest.mark.slow
def test_shards_give_the_same_maps_as_one_run(tmp_path):
    modes = [{"mode": "box"}, {"mode": "point", "k": 3, "negative": 1}]  # random prompts: seeded by stem
    whole = load_definition(make_study(tmp_path, modes=modes, predictions="whole"))
    split = load_definition(make_study(tmp_path, modes=modes, predictions="split"))
    steps(whole, only="run")
    first = steps(split, shard="0/2")
    assert "run: vit_t prompted on syn (shard 0-of-2): 2 of 2 images to do" in first
    steps(split, shard="1/2")
    a = {p.relative_to(whole.predictions): p.read_bytes() for p in whole.predictions.rglob("*.png")}
    b = {p.relative_to(split.predictions): p.read_bytes() for p in split.predictions.rglob("*.png")}
    assert len(a) == 2 * 3 and a == b
    assert "run: vit_t prompted on syn (shard 0-of-1): all 3 images done, skipped" in steps(whole, only="run")


def test_dataset_entry_modes_limit_what_runs_there(tmp_path):
    """``modes:`` on a dataset entry runs only those mode kinds there (e.g. automatic on defect-free images)."""
    path = make_study(tmp_path, modes=[{"mode": "box"}, {"mode": "point", "n_points": 1}])
    data = yaml.safe_load(path.read_text())
    second = dict(data["datasets"][0], label="syn-box", modes=["box"])
    data["datasets"].append(second)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    definition = load_definition(path)
    lines = steps(definition, only="run")
    preds = tmp_path / "preds"
    assert sorted(p.name for p in (preds / "syn").iterdir() if p.is_dir()) == ["SAM-vit_t-box", "SAM-vit_t-point1"]
    assert sorted(p.name for p in (preds / "syn-box").iterdir() if p.is_dir()) == ["SAM-vit_t-box"]
    assert not any("syn-box" in line and "point" in line for line in lines), lines
    steps(definition, only="evaluate")
    summary = (tmp_path / "out" / "results" / "syn-box" / "full" / "sam.steel.csv").read_text()
    assert "SAM-vit_t-box" in summary and "point1" not in summary

    data["datasets"][1]["modes"] = ["boxes"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match=r"datasets\[1\]\.modes\[0\]"):
        load_definition(path)


def test_mode_splits_run_a_mode_on_some_splits_only(tmp_path):
    """``mode_splits: {point: [defective]}``: point maps for the defective split only; the full split scores box alone."""
    path = make_study(tmp_path, per_class=2, modes=[{"mode": "box"}, {"mode": "point", "n_points": 1}])
    data = yaml.safe_load(path.read_text())
    data["datasets"][0].update(splits=["full", "defective"], mode_splits={"point": ["defective"]})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    mask = sorted((tmp_path / "data" / "masks").rglob("*.png"))[0]  # one defect-free image
    Image.open(mask).point(lambda v: 0).save(mask)
    definition = load_definition(path)
    spec = definition.datasets[0]
    full = {s.stem for s in spec.open("full").samples()}
    defective = {s.stem for s in spec.open("defective").samples()}
    assert defective < full, "the fixture needs defect-free images for this test"
    steps(definition, only="run")
    preds = tmp_path / "preds" / "syn"
    assert {p.stem for p in (preds / "SAM-vit_t-box").glob("*.png")} == full
    assert {p.stem for p in (preds / "SAM-vit_t-point1").glob("*.png")} == defective
    lines = steps(definition, only="evaluate")
    assert not any("left out" in line for line in lines), lines
    results = tmp_path / "out" / "results" / "syn"
    assert "point1" not in (results / "full" / "sam.steel.csv").read_text()
    assert "SAM-vit_t-point1" in (results / "defective" / "sam.steel.csv").read_text()

    data["datasets"][0]["mode_splits"] = {"point": ["test"]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match=r"datasets\[0\]\.mode_splits\.point\[0\]"):
        load_definition(path)
