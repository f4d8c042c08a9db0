"""The anomaly and seg protocols through `samis evaluate` and `samis reproduce` on real data.

Expected values come from the metric classes (`samis.metrics.anomaly`, checked against brute force in
test_metrics_anomaly.py) and from direct numpy sums, computed here from the map files on disk.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from samis.baselines import write_ft_maps
from samis.cli import cli, main
from samis.cli.selection import open_dataset
from samis.errors import ConfigError
from samis.evaluation import evaluate
from samis.imageio import write_png
from samis.metrics.anomaly import ANOMALY_COLUMNS, anomaly_scores
from samis.metrics.seg import SEG_COLUMNS
from samis.protocols import PROTOCOLS
from samis.runners.config import normalize

MT_LIMIT = 40  # a stratified subset of MT `full`: Free tiles and every defect class


def _read(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def _maps(folder, samples):
    return [_read(folder / f"{s.stem}.png") for s in samples]


@pytest.fixture(scope="module")
def mt_maps(tmp_path_factory, datasets_root):
    """FT maps and dark-pixel maps (255 - grey: their maxima differ, so image AUROC is not 0.5) of MT `full`."""
    root = tmp_path_factory.mktemp("mt_maps")
    samples = list(open_dataset("mt", datasets_root, "full", limit=MT_LIMIT).samples())
    write_ft_maps(samples, root)
    (root / "dark").mkdir()
    for s in samples:
        write_png(root / "dark" / f"{s.stem}.png", 255 - np.asarray(Image.open(s.image_path).convert("L")))
    return root, samples


def test_protocol_columns_are_the_metric_modules(datasets_root):
    assert PROTOCOLS["anomaly"].columns == ANOMALY_COLUMNS
    assert PROTOCOLS["seg"].columns == SEG_COLUMNS


def test_anomaly_protocol_on_magnetic_tile_full_matches_the_metric_classes(mt_maps, datasets_root, tmp_path):
    root, samples = mt_maps
    masks = [s.load_mask() for s in samples]
    assert 20 <= sum(not m.any() for m in masks) < len(masks)  # defect-free and defective images
    out = tmp_path / "mt.csv"
    result = CliRunner().invoke(cli, ["evaluate", "--dataset", "mt", "--split", "full", "--data-root",
                                       str(datasets_root), "--limit", str(MT_LIMIT), "--predictions", str(root),
                                       "--protocol", "anomaly", "--out", str(out), "--jobs", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "anomaly protocol, mt/full" in result.output
    table = pd.read_csv(out).set_index("method")
    assert list(table.columns) == ["dataset", "split", "n_images", *ANOMALY_COLUMNS]
    for method in ("FT", "dark"):
        expected = anomaly_scores(zip(_maps(root / method, samples), masks))
        for column in ANOMALY_COLUMNS:
            assert table.loc[method, column] == pytest.approx(expected[column], abs=1e-9), (method, column)
    assert table.loc["FT", "image_AUROC"] == 0.5  # FT stretches every map to 255
    assert table.loc["dark", "image_AUROC"] != 0.5
    per_image = pd.read_csv(tmp_path / "mt.per_image.csv")
    assert list(per_image["stem"][per_image["method"] == "FT"]) == [s.stem for s in samples]
    defect_free = per_image["stem"].isin([s.stem for s, m in zip(samples, masks) if not m.any()])
    assert per_image.loc[defect_free, "pixel_AUROC"].isna().all()  # undefined on a defect-free image
    assert per_image.loc[~defect_free, "AUPRO_0.3"].notna().all()
    assert per_image["image_AUROC"].isna().all()


def _manifest(folder, mode: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps({"method": folder.name, "config": normalize(mode).as_dict()}))


def test_anomaly_refuses_maps_made_with_the_ground_truth(mt_maps, datasets_root, tmp_path, capsys):
    root, samples = mt_maps
    ds = open_dataset("mt", datasets_root, "full", limit=MT_LIMIT)
    for name, mode in (("SAM-box", {"mode": "box"}), ("SAM-bm", {"mode": "automatic", "policy": "best_match"}),
                       ("SAM-union", {"mode": "automatic", "policy": "union"})):
        shutil.copytree(root / "FT", tmp_path / name)
        _manifest(tmp_path / name, mode)
    with pytest.raises(ConfigError, match=r"protocol anomaly does not score SAM-bm \(mode automatic/best_match\), SAM-box "
                                          r"\(mode box\): .*ground truth.*--method"):
        evaluate(ds, tmp_path, "anomaly", jobs=1, progress=False)
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--dataset", "mt", "--data-root", str(datasets_root), "--limit", str(MT_LIMIT),
              "--predictions", str(tmp_path), "--protocol", "anomaly"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: protocol anomaly does not score ") and "SAM-box (mode box)" in err
    table = evaluate(ds, tmp_path, "anomaly", methods=["SAM-union"], jobs=1, progress=False)
    assert table["AUPRO_0.3"].notna().all()  # the automatic mode's union policy never sees the ground truth
    assert len(evaluate(ds, tmp_path, "seg", methods=["SAM-box"], jobs=1, progress=False)) == 1


def test_protocols_are_grouped_by_the_methods_they_score(tmp_path):
    from samis.experiments.evaluate_step import _groups

    for name in ("FT", "boxed", "broken"):
        (tmp_path / name).mkdir()
    _manifest(tmp_path / "boxed", {"mode": "box"})
    lines = []
    groups = _groups(("sod", "anomaly", "steel"), tmp_path, ["FT", "boxed"], lines.append)
    assert groups == [(("sod", "steel"), ["FT", "boxed"]), (("anomaly",), ["FT"])]
    assert lines == ["protocol anomaly does not score boxed (mode box): " + PROTOCOLS["anomaly"].uses_ground_truth
                     + "; left out of its results"]
    assert _groups(("anomaly",), tmp_path, ["boxed"], lines.append) == []  # nothing to score: no results files
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match="broken/manifest.json: unreadable manifest"):
        _groups(("anomaly",), tmp_path, ["broken"], lines.append)
    assert _groups(("sod",), tmp_path, ["broken"], lines.append) == [(("sod",), ["broken"])]  # sod reads no manifest


def test_reproduce_scores_prompted_modes_with_sod_but_not_with_anomaly(mt_maps, datasets_root, tmp_path):
    from samis.cli.reproduce import reproduce as reproduce_cli

    root, _ = mt_maps
    maps = tmp_path / "maps"
    shutil.copytree(root / "FT", maps / "FT")
    shutil.copytree(root / "FT", maps / "boxed")  # a baseline folder whose manifest says: prompted
    _manifest(maps / "boxed", {"mode": "box"})
    data = {"name": "a", "output": "out", "predictions": "preds",
            "datasets": [{"name": "mt", "label": "MT", "data_root": str(datasets_root), "splits": ["full"],
                          "limit": MT_LIMIT, "protocols": ["anomaly", "steel"]}],
            "models": [{"name": "vit_t", "device": "cpu"}], "modes": [{"mode": "box"}],
            "baselines": {"MT": {"root": "maps", "methods": ["FT", "boxed"]}},
            "tables": [{"kind": "main", "name": "main-anomaly", "protocol": "anomaly"},
                       {"kind": "main", "name": "main-steel", "protocol": "steel"}]}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(reproduce_cli, [str(tmp_path / "a.yaml"), "--only", "evaluate", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "protocol anomaly does not score boxed (mode box)" in result.output
    results = tmp_path / "out" / "results" / "MT" / "full"
    anomaly = pd.read_csv(results / "baselines.anomaly.csv")
    steel = pd.read_csv(results / "baselines.steel.csv")
    assert list(anomaly["method"]) == ["FT"] and list(steel["method"]) == ["FT", "boxed"]
    again = CliRunner().invoke(reproduce_cli, [str(tmp_path / "a.yaml"), "--only", "evaluate", "--jobs", "1"])
    assert "up to date, skipped" in again.output

    tables = CliRunner().invoke(reproduce_cli, [str(tmp_path / "a.yaml"), "--only", "tables", "--jobs", "1", "--quiet"])
    assert tables.exit_code == 0, tables.output
    main_anomaly = pd.read_csv(tmp_path / "out" / "tables" / "main-anomaly.csv")
    # the reference rows come along, except gt_box: it is made from the ground truth, like a prompted mode
    assert list(main_anomaly["method"]) == ["FT", "ref-empty", "ref-full"]
    assert main_anomaly.loc[0, "AUPRO_0.3"] == pytest.approx(anomaly.loc[0, "AUPRO_0.3"], abs=1e-9)
    # pooled columns are no mean of per-image values: no bootstrap interval; steel's means have one
    assert not [c for c in main_anomaly.columns if c.endswith(("_lo", "_hi"))]
    assert "WF_lo" in pd.read_csv(tmp_path / "out" / "tables" / "main-steel.csv").columns
    assert "AUPRO\\_0.3" in (tmp_path / "out" / "tables" / "main-anomaly.tex").read_text()


def test_seg_protocol_on_bsdata_test_matches_numpy(datasets_root, tmp_path):
    samples = list(open_dataset("bsdata", datasets_root, "test", limit=5).samples())
    write_ft_maps(samples, tmp_path)
    table = evaluate(open_dataset("bsdata", datasets_root, "test", limit=5), tmp_path, "seg", jobs=1,
                     progress=False, out=tmp_path / "seg.csv")
    tp = fp = fn = tn = 0
    ious = []
    for sample, pred in zip(samples, _maps(tmp_path / "FT", samples)):
        gt, hit = sample.load_mask(), pred > 127
        a, b, c = int((hit & gt).sum()), int((hit & ~gt).sum()), int((~hit & gt).sum())
        tp, fp, fn, tn = tp + a, fp + b, fn + c, tn + int((~hit & ~gt).sum())
        ious.append(a / (a + b + c) if a + b + c else 1.0)
    row = table.iloc[0]
    assert row["IoU_defect_pooled"] == pytest.approx(tp / (tp + fp + fn), abs=1e-12)
    assert row["mIoU_pooled"] == pytest.approx((tp / (tp + fp + fn) + tn / (tn + fp + fn)) / 2, abs=1e-12)
    assert row["IoU_per_image_mean"] == pytest.approx(np.mean(ious), abs=1e-12)
    per_image = pd.read_csv(tmp_path / "seg.per_image.csv")
    assert np.allclose(per_image["IoU_per_image_mean"], ious, atol=1e-12)
