"""Corrective clicks and the annotation protocol.

The click rule is checked on hand-made masks whose deepest error pixel is worked out by hand; the
runners on real SD-saliency-900 test images with the real vit_t (a few images, few clicks).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from samis.clicks import Click, component_iou, errors, next_click
from samis.errors import ConfigError
from samis.imageio import read_gray, read_mask
from samis.runners import predict_many
from samis.runners.config import normalize


def _mask(shape, *blocks):
    m = np.zeros(shape, dtype=bool)
    for r0, r1, c0, c1 in blocks:  # inclusive rows r0..r1, columns c0..c1
        m[r0:r1 + 1, c0:c1 + 1] = True
    return m


# ------------------------------------------------------------------------------ the click rule
def test_click_goes_to_the_centre_of_a_missed_square():
    comp = _mask((10, 10), (2, 6, 2, 6))  # 5 x 5: its centre (4, 4) is 3 px from the background
    assert next_click(np.zeros_like(comp), comp, comp) == Click(4, 4, True)


def test_border_counts_as_boundary_for_a_false_positive_at_the_corner():
    comp = _mask((12, 12), (1, 3, 1, 3))
    block = _mask((12, 12), (5, 11, 5, 11))  # 7 x 7 touching the bottom and right border
    pred = comp | block
    # without the border as boundary the deepest pixel would be the corner (11, 11), 7 px from the block's edge;
    # with it, the centre (8, 8) is 4 px from every side
    assert next_click(pred, comp, comp) == Click(8, 8, False)


def test_ties_go_to_the_first_pixel_in_row_major_order():
    comp = _mask((6, 9), (1, 3, 1, 7))
    pred = _mask((6, 9), (1, 3, 4, 4))  # the middle column found: two 3 x 3 misses with centres (2, 2) and (6, 2)
    assert next_click(pred, comp, comp) == Click(2, 2, True)
    strip = _mask((5, 8), (1, 3, 1, 5))  # 3 x 5: a ridge at distance 2 along row 2, columns 2..4
    assert next_click(np.zeros_like(strip), strip, strip) == Click(2, 2, True)


def test_equal_false_negative_and_false_positive_give_a_negative_click():
    comp = _mask((8, 12), (1, 3, 1, 3))
    fp = _mask((8, 12), (1, 3, 7, 9))
    assert next_click(fp, comp, comp) == Click(8, 2, False)  # both maxima 2: the negative one, as RITM


def test_other_components_are_neither_errors_nor_union():
    a = _mask((10, 20), (2, 5, 2, 5))  # 16 px
    b = _mask((10, 20), (2, 5, 12, 15))
    gt = a | b
    pred = _mask((10, 20), (2, 5, 2, 15))  # spans a, the gap (4 x 6 = 24 px of background) and b
    fn, fp = errors(pred, a, gt)
    assert not fn.any() and fp.sum() == 24 and not (fp & b).any()
    assert component_iou(pred, a, gt) == pytest.approx(16 / (16 + 24))
    # the gap (rows 2-5, cols 6-11) is 2 px deep on rows 3-4, columns 7-10 (4 rows: depth 1, 2, 2, 1);
    # the first of those in row-major order is (7, 3)
    assert next_click(pred, a, gt) == Click(7, 3, False)
    assert next_click(a, a, gt) is None


# ------------------------------------------------------------------------------ configuration
def test_clicks_configuration_names_and_errors():
    cfg = normalize({"mode": "clicks", "start": "point", "max_clicks": "5"})
    assert [c.method_name("vit_t") for c in cfg.expand()] == [
        "SAM-vit_t-clicks-point-max5-1", "SAM-vit_t-clicks-point-max5-3", "SAM-vit_t-clicks-point-max5-5"]
    assert [c.method_name("vit_t") for c in normalize({"mode": "clicks"}).expand()][-1] == "SAM-vit_t-clicks-box-10"
    assert normalize({"mode": "annotate"}).method_name("vit_t") == "SAM-vit_t-annotate"
    for bad in ({"mode": "clicks", "save_at": [1, 20]}, {"mode": "clicks", "start": "scribble"},
                {"mode": "annotate", "start": "point"}, {"mode": "clicks", "stop_iou": 0}):
        with pytest.raises(ConfigError):
            normalize(bad)


# ------------------------------------------------------------------------------ runners on real images
pytestmark_model = pytest.mark.model


class First:
    """The first ``n`` samples of a dataset."""

    def __init__(self, ds, n):
        self.ds, self.n, self.name, self.split = ds, n, ds.name, ds.split

    def samples(self):
        every = self.ds.samples()
        return [every[0], every[len(every) // 2], every[-1]][: self.n]  # inclusion, patches, scratches


@pytest.fixture(scope="module")
def three(datasets_root):
    from samis.datasets import get_dataset

    return First(get_dataset("sd900", root=datasets_root, split="test"), 3)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("clicks-cache")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and (p.suffix == ".png" or p.name.endswith(".clicks.csv"))}


@pytest.mark.model
def test_one_click_is_box_and_point_mode(tmp_path, three, vit_t_model, cache):
    modes = [{"mode": "box"}, {"mode": "point"},
             {"mode": "clicks", "start": "box", "max_clicks": 2, "save_at": [1]},
             {"mode": "clicks", "start": "point", "max_clicks": 2, "save_at": [1]}]
    predict_many(three, "vit_t", modes, tmp_path, model=vit_t_model, progress=False, cache_dir=cache)
    for s in three.samples():
        for plain, clicked in (("box", "clicks-box-max2-1"), ("point1", "clicks-point-max2-1")):
            a = (tmp_path / f"SAM-vit_t-{plain}" / f"{s.stem}.png").read_bytes()
            assert a == (tmp_path / f"SAM-vit_t-{clicked}" / f"{s.stem}.png").read_bytes()


@pytest.mark.model
def test_clicks_csv_follows_the_rule_and_improves(tmp_path, three, vit_t_model, cache):
    import pandas as pd

    from samis.clicks import next_click as rule
    from samis.prompts import components

    cfg = {"mode": "clicks", "start": "box", "max_clicks": 3, "save_at": [1, 2, 3]}
    single = next(s for s in three.ds.samples() if len(components(s.load_mask())) == 1)
    both = First(three.ds, 3)
    both.samples = lambda: three.samples() + [single]  # three images with several defects, one with one
    predict_many(both, "vit_t", [cfg], tmp_path, model=vit_t_model, progress=False, cache_dir=cache)
    rows = pd.read_csv(tmp_path / "SAM-vit_t-clicks-box-max3.clicks.csv", keep_default_na=False)
    comp_rows = rows[rows["level"] == "component"]
    checked = 0
    for s in both.samples():
        gt = s.load_mask()
        comps = components(gt)
        mine = comp_rows[comp_rows["stem"] == s.stem]
        assert sorted(set(mine["component"].astype(int))) == list(range(1, len(comps) + 1))
        assert (mine[mine["click"] == 1]["prompt"] == "box").all()
        # the IoU of the stored map after one click (one component: its own mask) against the CSV
        if len(comps) == 1:
            m = read_gray(tmp_path / "SAM-vit_t-clicks-box-max3-1" / f"{s.stem}.png") > 127
            assert component_iou(m, comps[0], gt) == pytest.approx(float(mine[mine["click"] == 1]["iou"].iloc[0]), abs=0.02)
            second = mine[mine["click"] == 2].iloc[0]
            expected = rule(m, comps[0], gt)  # the map rounds 255*sigmoid: logit > 0 is map > 127.5 up to ties
            if expected is not None and second["prompt"]:
                assert (int(second["x"]), int(second["y"]), second["prompt"] == "positive") == (
                    expected.x, expected.y, expected.positive)
                checked += 1
    assert checked >= 1
    image_rows = rows[rows["level"] == "image"]
    assert len(image_rows) == 3 * len(both.samples())


@pytest.mark.model
def test_fast_decoder_gives_the_stock_predictors_click_sequences(three, vit_t_model, cache):
    """Every click after the first feeds the previous logits back as mask input: the fast decoder's
    sequences (clicks, component and image IoU after every click) are SamPredictor's."""
    from samis.backends import get_backend
    from samis.runners.clicks import click_sequence

    sam, digest = vit_t_model
    backend = get_backend("vit_t")
    predictor = backend.predictor(sam, digest, cache_dir=cache)
    clicked = 0
    for s in three.samples():
        image, gt = s.load()
        predictor.set_image(image)
        for start in ("box", "point"):
            seq = {d: click_sequence(backend, predictor, gt, normalize(
                {"mode": "clicks", "start": start, "max_clicks": 4, "decoder": d}), s.stem) for d in ("fast", "stock")}
            fast, stock = seq["fast"], seq["stock"]
            assert fast.prompts == stock.prompts, (s.stem, start)
            assert np.abs(fast.iou - stock.iou).max() < 1e-3 and np.abs(fast.image_iou - stock.image_iou).max() < 1e-3
            assert (fast.logits - stock.logits).abs().max().item() < 1e-3 * stock.logits.abs().max().item()
            clicked += sum(p is not None for row in fast.prompts for p in row[1:])
    assert clicked >= 6  # the sequences did click (a mask input was decoded)


@pytest.mark.model
def test_interrupted_then_resumed_run_writes_the_same_maps_and_csv(tmp_path, three, vit_t_model, cache, monkeypatch):
    from samis.runners import engine

    cfg = {"mode": "clicks", "start": "point", "max_clicks": 3, "save_at": [1, 3]}
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    predict_many(three, "vit_t", [cfg], whole, model=vit_t_model, progress=False, cache_dir=cache)

    real_write, calls = engine.write_png, []

    def dying(path, array):
        if len(calls) == 3:  # after the first image's two maps and the second's first: Ctrl-C
            raise KeyboardInterrupt
        calls.append(path)
        real_write(path, array)

    monkeypatch.setattr(engine, "write_png", dying)
    with pytest.raises(KeyboardInterrupt):
        predict_many(three, "vit_t", [cfg], cut, model=vit_t_model, progress=False, cache_dir=cache)
    monkeypatch.setattr(engine, "write_png", real_write)
    partial = _files(cut)
    assert 0 < sum(k.endswith(".png") for k in partial) < 6
    predict_many(three, "vit_t", [cfg], cut, model=vit_t_model, progress=False, cache_dir=cache)
    assert _files(cut) == _files(whole)
    assert len(_files(whole)) == 2 * 3 + 1


@pytest.mark.model
def test_annotate_smoothing_is_opening_then_closing(tmp_path, three, vit_t_model, cache):
    import pandas as pd
    from skimage.morphology import closing, disk, opening

    modes = [{"mode": "annotate", "radius": 0, "max_clicks": 3}, {"mode": "annotate", "radius": 2, "max_clicks": 3}]
    predict_many(three, "vit_t", modes, tmp_path, model=vit_t_model, progress=False, cache_dir=cache)
    rows = pd.read_csv(tmp_path / "SAM-vit_t-annotate-max3-r2.annotate.csv", keep_default_na=False)
    for s in three.samples():
        raw = read_gray(tmp_path / "SAM-vit_t-annotate-max3-r0" / f"{s.stem}.png")
        smoothed = read_gray(tmp_path / "SAM-vit_t-annotate-max3-r2" / f"{s.stem}.png")
        assert set(np.unique(raw)) <= {0, 255}
        direct = closing(opening(raw, disk(2)), disk(2))  # grey-level morphology on the 0/255 map
        assert np.array_equal(smoothed, direct)
        gt = s.load_mask()
        img = rows[(rows["level"] == "image") & (rows["stem"] == s.stem)].iloc[0]
        for column, m in (("iou_before", raw > 0), ("iou_after", smoothed > 0)):
            assert float(img[column]) == pytest.approx((m & gt).sum() / (m | gt).sum(), abs=1e-6)
        comps = rows[(rows["level"] == "component") & (rows["stem"] == s.stem)]
        assert int(img["corrective_clicks"]) == comps["corrective_clicks"].astype(int).sum()
        assert comps["corrective_clicks"].astype(int).between(0, 2).all()


@pytest.mark.model
def test_cli_clicks_on_a_users_folder(tmp_path, three, vit_t_model, cache, monkeypatch):
    from click.testing import CliRunner

    from samis.cli import cli

    folder = tmp_path / "mine"
    for kind in ("images", "masks"):
        (folder / kind).mkdir(parents=True)
    for s in three.samples()[:2]:
        (folder / "images" / s.image_path.name).symlink_to(s.image_path)
        (folder / "masks" / f"{s.stem}.png").symlink_to(s.mask_path)
    monkeypatch.setenv("SAMIS_CACHE_DIR", str(cache))
    args = ["run", "--dataset", "folder", "--data-root", str(folder), "--mode", "clicks", "--set", "start=point",
            "--set", "max_clicks=5", "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    for k in (1, 3, 5):
        assert f"SAM-vit_t-clicks-point-max5-{k}: written 2, skipped as done 0, empty ground truth 0" in res.output
    rows = (tmp_path / "out" / "SAM-vit_t-clicks-point-max5.clicks.csv").read_text().splitlines()
    assert rows[0] == "level,stem,category,component,area,click,prompt,x,y,iou"
    assert {line.split(",")[5] for line in rows[1:]} == {"1", "2", "3", "4", "5"}


# ------------------------------------------------------------------------------ NoC, NoF, mIoU@k
def test_noc_and_nof_on_hand_made_trajectories():
    from samis.report.clicks import click_metrics, failures, noc

    ious = np.array([[.50, .80, .86, .91],   # reaches 85% at click 3, 90% at click 4 (the last)
                     [.90, .95, .95, .95],   # accepted at once
                     [.10, .20, .30, .40]])  # never: counted as max_clicks = 4
    assert noc(ious, .85).tolist() == [3, 1, 4] and noc(ious, .90).tolist() == [4, 1, 4]
    assert failures(ious, .90) == 1  # the first reaches 90% at the last click: not a failure
    m = click_metrics(ious)
    assert m["NoC@85"] == pytest.approx(8 / 3) and m["NoC@90"] == pytest.approx(3.0) and m["NoF@90"] == 1
    assert m["mIoU@1"] == pytest.approx(0.5) and m["mIoU@4"] == pytest.approx((.91 + .95 + .40) / 3)


def test_clicks_summary_per_category_and_level():
    import pandas as pd

    from samis.report.clicks import clicks_summary

    rows = []
    for stem, cat, traj in (("a1", "A", [.5, .9]), ("a2", "A", [.7, .8]), ("b1", "B", [.95, .95])):
        for k, v in enumerate(traj):
            rows.append({"level": "component", "stem": stem, "category": cat, "component": 1, "click": k + 1, "iou": v})
            rows.append({"level": "image", "stem": stem, "category": cat, "component": "", "click": k + 1, "iou": v / 2})
    out = clicks_summary(pd.DataFrame(rows)).set_index(["level", "category"])
    assert out.loc[("component", "all"), "mIoU@2"] == pytest.approx((.9 + .8 + .95) / 3)
    assert out.loc[("component", "A"), "NoC@90"] == pytest.approx((2 + 2) / 2)
    assert out.loc[("component", "A"), "NoF@90"] == 1 and out.loc[("component", "B"), "NoC@85"] == 1
    assert out.loc[("image", "all"), "NoF@90"] == 3
    only_b = clicks_summary(pd.DataFrame(rows), stems=["b1"])
    assert set(only_b["category"]) == {"all", "B"}


def test_clicks_table_and_figure_from_the_csv_beside_the_maps(tmp_path, datasets_root):
    from samis.experiments.definition import load_definition
    from samis.experiments.layout import Layout
    from samis.experiments.render import render_figures, render_tables

    (tmp_path / "d.yaml").write_text(f"""
name: t
output: {tmp_path / 'out'}
predictions: {tmp_path / 'pred'}
datasets: [{{name: sd900, label: SD, splits: [test], data_root: {datasets_root}, protocols: [sod], limit: 2}}]
models: [{{name: vit_t}}]
modes: [{{mode: clicks, start: box, max_clicks: 2, save_at: [1, 2]}}]
tables: [{{kind: clicks}}]
figures: [{{kind: clicks}}]
""")
    d = load_definition(tmp_path / "d.yaml")
    stems = [s.stem for s in d.datasets[0].open("test").samples()]
    lines = ["level,stem,category,component,area,click,prompt,x,y,iou"]
    for stem, traj in zip(stems, ([.5, .95], [.88, .89])):
        lines += [f"component,{stem},C,1,10,{k + 1},box,,,{v}" for k, v in enumerate(traj)]
        lines += [f"image,{stem},C,,10,{k + 1},,,,{v}" for k, v in enumerate(traj)]
    root = Layout(d).sam_root("SD")
    root.mkdir(parents=True)
    (root / "SAM-vit_t-clicks-box-max2.clicks.csv").write_text("\n".join(lines + ["component,other,C,1,1,1,box,,,0"]) + "\n")
    written = render_tables(d, echo=lambda *a: None)
    assert {p.name for p in written} == {"clicks.md", "clicks.tex", "clicks.csv"}
    import pandas as pd

    table = pd.read_csv(tmp_path / "out" / "tables" / "clicks.csv")
    row = table[(table["level"] == "component") & (table["category"] == "all")].iloc[0]
    assert row["n"] == 2  # the stem outside the split is left out
    assert row["mIoU@2"] == pytest.approx((.95 + .89) / 2) and row["NoC@85"] == pytest.approx(1.5)
    assert row["NoC@90"] == pytest.approx(2.0) and row["NoF@90"] == 1
    # the paper layout: per defect, mIoU@2 = (.95 + .89) / 2 printed as a paper prints it, and it compiles
    from latex_check import assert_fits

    tex = (tmp_path / "out" / "tables" / "clicks.tex").read_text()
    assert "mIoU@2" in tex and " & All & 2 & .690 & .920 & 1.50 & 2.00 & 1 \\\\" in tex, tex
    assert_fits([tmp_path / "out" / "tables" / "clicks.tex"], tmp_path / "latex")
    figures = render_figures(d, echo=lambda *a: None)
    assert {p.name for p in figures} == {"clicks.pdf", "clicks.png"}
