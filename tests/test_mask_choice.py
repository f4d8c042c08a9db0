"""``multimask: oracle``: of SAM's four masks, the one closest to each component's ground truth.

The rule is checked against hand-made logits (where the winner is known) and, on real SD-900 and MT
images with the real vit_t, against every other choice computed here from ``SamPredictor.predict``
(segment-anything's own API, one prompt at a time), not from samis' decoder.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samis.errors import ConfigError
from samis.prompts import components, interior_point
from samis.runners import method_name
from samis.runners.config import normalize
from samis.runners.maps import decode_choice, oracle_choice


def _square(h, w, y0, x0, y1, x1):
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


# ---------------------------------------------------------------- the rule on hand-made masks
def test_oracle_picks_the_mask_with_the_highest_iou():
    target = _square(20, 20, 5, 5, 15, 15)  # 100 pixels
    masks = [
        _square(20, 20, 0, 0, 20, 20),  # IoU 100/400 = .25
        _square(20, 20, 5, 5, 15, 10),  # 50/100 = .5
        _square(20, 20, 5, 5, 15, 14),  # 90/100 = .9  <- the winner
        _square(20, 20, 6, 6, 8, 8),  # 4/100 = .04
    ]
    logits = torch.as_tensor(np.stack(masks)[None], dtype=torch.float) * 2 - 1  # inside +1, outside -1
    out = oracle_choice(logits, target[None])
    assert torch.equal(out[0], logits[0, 2])


def test_oracle_ties_go_to_the_lowest_index_and_each_prompt_has_its_own_target():
    a, b = _square(10, 10, 0, 0, 5, 5), _square(10, 10, 5, 5, 10, 10)
    masks = np.stack([np.stack([a, b, a, b]), np.stack([a, b, a, b])]).astype(np.float32) * 2 - 1
    logits = torch.as_tensor(masks)
    logits[:, 2] *= 3  # same binary mask as index 0, other logits: a tie that must go to index 0
    logits[:, 3] *= 3
    out = oracle_choice(logits, np.stack([a, b]))
    assert torch.equal(out[0], logits[0, 0])  # prompt 0's component is a: index 0 ties with 2
    assert torch.equal(out[1], logits[1, 1])  # prompt 1's component is b: index 1 ties with 3


def test_oracle_without_a_four_mask_decoder_calls_each_kind_once_single_first():
    calls = []
    single = torch.full((1, 1, 4, 4), -1.0)
    multi = torch.full((1, 3, 4, 4), -1.0)
    single[0, 0, :2] = 1  # the top half: the component
    multi[0, 1] = 1  # everything

    def run(multimask):
        calls.append(multimask)
        return (multi, torch.zeros(1, 3)) if multimask else (single, torch.zeros(1, 1))

    target = np.zeros((1, 4, 4), dtype=bool)
    target[0, :2] = True
    out = decode_choice(run, "oracle", target)
    assert calls == [False, True]
    assert torch.equal(out[0], single[0, 0])
    with pytest.raises(ValueError, match="targets"):
        decode_choice(run, "oracle", None)


def test_oracle_configuration_and_name():
    assert method_name("vit_t", {"mode": "point", "multimask": "oracle"}) == "SAM-vit_t-point1-mmoracle"
    assert method_name("vit_t", {"mode": "box", "multimask": "oracle"}) == "SAM-vit_t-box-mmoracle"
    assert normalize({"mode": "point", "multimask": "oracle"}).uses_ground_truth
    with pytest.raises(ConfigError, match="oracle"):
        normalize({"mode": "point", "multimask": "best"})  # the error lists oracle among the choices


def test_oracle_rows_are_unranked_with_a_dagger():
    from samis.report.style import is_unranked, unranked_mark

    assert is_unranked("SAM-vit_t-point1-mmoracle") and unranked_mark("SAM-vit_t-point1-mmoracle") == "†"
    assert not is_unranked("SAM-vit_t-point1-mmsmallest")


# ---------------------------------------------------------------- real images, real vit_t
def _iou(pred: np.ndarray, gt: np.ndarray) -> float:
    union = (pred | gt).sum()
    return float((pred & gt).sum() / union) if union else 1.0


def _stock_choices(predictor, comp) -> dict[str, float]:
    """The IoU each rule's mask has for one component, from ``SamPredictor.predict`` (one point prompt)."""
    point = interior_point(comp)[None]
    single, _, _ = predictor.predict(point, np.array([1]), multimask_output=False, return_logits=True)
    multi, scores, _ = predictor.predict(point, np.array([1]), multimask_output=True, return_logits=True)
    masks = [single[0] > 0, *(m > 0 for m in multi)]
    areas = [int(m.sum()) for m in masks[1:]]
    ious = [_iou(m, comp) for m in masks]
    return {
        "single": ious[0],
        "highest_iou": ious[1 + int(np.argmax(scores))],
        "smallest": ious[1 + int(np.argmin(areas))],
        "largest": ious[1 + int(np.argmax(areas))],
        "best_of_four": max(ious),
    }


@pytest.fixture(scope="module")
def real_images(datasets_root):
    """An SD-900 test image per class (In_61 has three components) and an MT defective tile."""
    from samis.datasets import get_dataset

    sd = get_dataset("sd900", root=datasets_root, split="test").samples()
    mt = get_dataset("mt", root=datasets_root, split="defective").samples()
    return [next(x for x in sd if x.stem.startswith(prefix)) for prefix in ("In_", "Pa_", "Sc_")] + [mt[200]]


@pytest.mark.model
def test_oracle_is_at_least_every_other_choice_per_component(real_images, vit_t_model):
    """Fast decoder (all four masks in one call) and stock decoder (one call per kind) both give, per
    component, the IoU of the best of the four masks SamPredictor.predict returns, so >= every rule's."""
    from mobile_sam import SamPredictor

    from samis.backends import get_backend
    from samis.prompts import make_prompts

    sam, _ = vit_t_model
    backend = get_backend("vit_t")
    predictor = SamPredictor(sam)  # segment-anything's own: one encoder pass per image, no samis cache
    n, gains = 0, []
    for sample in real_images:
        image, gt = sample.load()
        predictor.set_image(image)
        comps = components(gt)
        prompts = make_prompts(gt, use_box=False, n_points=1, rng=np.random.default_rng(0))
        chosen = {d: backend.decode(predictor, prompts, "oracle", d, targets=np.stack(comps)).cpu().numpy() > 0
                  for d in ("fast", "stock")}
        for j, comp in enumerate(comps):
            ref = _stock_choices(predictor, comp)
            others = {k: v for k, v in ref.items() if k != "best_of_four"}
            for decoder, masks in chosen.items():
                got = _iou(masks[j], comp)
                assert got >= max(others.values()) - 1e-3, (sample.stem, decoder, got, ref)
                assert got == pytest.approx(ref["best_of_four"], abs=1e-3), (sample.stem, decoder, got, ref)
            gains.append(_iou(chosen["fast"][j], comp) - ref["highest_iou"])
            n += 1
    assert n >= len(real_images)
    assert max(gains) > 0.05  # on these images the stock rule is not already the best everywhere


# ---------------------------------------------------------------- the report: table, figure, definition
def test_exclusion_patterns_keep_the_ablation_out_of_other_tables():
    from samis.experiments.definition import match_methods

    available = ["CSEPNet", "SAM-vit_t-box", "SAM-vit_t-point1", "SAM-vit_t-point1-mmoracle", "SAM-vit_t-point3-mmsmallest"]
    assert match_methods(("*", "!SAM-*-mm*"), available) == ["CSEPNet", "SAM-vit_t-box", "SAM-vit_t-point1"]
    assert match_methods(("!SAM-*",), available) == ["CSEPNet"]  # exclusions only: from every method


@pytest.fixture(scope="module")
def mask_choice_report(tmp_path_factory):
    import dataclasses
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from report_study import default_shaped_study

    from samis.experiments.render import render_figures, render_tables

    d = default_shaped_study(tmp_path_factory.mktemp("mask-choice"))
    d = dataclasses.replace(d, tables=tuple(t for t in d.tables if t.kind in ("mask_choice", "main")),
                            figures=tuple(f for f in d.figures if f.kind == "mask_choice"))
    lines = []
    render_tables(d, echo=lines.append)
    render_figures(d, echo=lines.append)
    return d, lines


def test_mask_choice_table_rows_columns_and_dagger(mask_choice_report):
    import pandas as pd

    d, lines = mask_choice_report
    tables = d.output / "tables"
    md = (tables / "mask-choice.md").read_text()
    rows = [line.split(" | ")[0].lstrip("| ") for line in md.splitlines() if line.startswith("| SAM")]
    choices = ["SAM (1 point)", "SAM (1 point, one-mask)", "SAM (1 point, smallest)", "SAM (1 point, largest)",
               "SAM (1 point, oracle)†", "SAM (3 points)", "SAM (3 points, smallest)"]
    assert rows == choices, lines  # SD-900 test; MT defective has its own table (md and csv)
    tile = (tables / "mask-choice-tile.md").read_text()
    assert [line.split(" | ")[0].lstrip("| ") for line in tile.splitlines() if line.startswith("| SAM")] == choices
    assert "| Method | In IoU↑ | In Dice↑ | Pa IoU↑" in md and "All IoU↑ | All Dice↑ |" in md and "Blowhole IoU↑" in tile
    oracle = next(line for line in md.splitlines() if line.startswith("| SAM (1 point, oracle)"))
    assert "**" not in oracle and "<u>" not in oracle  # never ranked
    assert "highest IoU with that defect's ground truth" in md
    tex = (tables / "mask-choice.tex").read_text()
    assert tex.count(r"\begin{table}[") == 1 and r"\begin{table*}" not in tex  # one column float
    csv = pd.read_csv(tables / "mask-choice.csv")
    assert set(csv["category"]) >= {"In", "Pa", "Sc", "All"} and {"IoU", "Dice"} <= set(csv.columns)
    assert "Blowhole" in set(pd.read_csv(tables / "mask-choice-tile.csv")["category"])
    main = (tables / "main-sod.md").read_text()
    assert "SAM (1 point)" in main and "one-mask" not in main and "1 point, oracle" not in main


def test_mask_choice_figure_one_file_with_a_panel_per_dataset(mask_choice_report):
    from PIL import Image

    d, lines = mask_choice_report
    png = d.output / "figures" / "mask-choice.png"
    assert png.is_file() and png.with_suffix(".pdf").is_file(), lines
    w, h = Image.open(png).size
    assert 7.0 * 300 <= w <= 7.2 * 300 and h > 0.5 * w  # page width, two stacked panels


def test_mask_choice_figure_metric_is_checked(tmp_path):
    from pathlib import Path

    from samis.experiments import load_definition

    base = (Path(__file__).resolve().parents[1] / "experiments" / "default.yaml").read_text()
    bad = base.replace("{kind: mask_choice, name: mask-choice, protocol: sod, metric: IoU,",
                       "{kind: mask_choice, name: mask-choice, protocol: sod, metric: IOU,")
    assert bad != base
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(ConfigError, match=r"figures\[\d\]\.metric"):
        load_definition(tmp_path / "bad.yaml", check_paths=False)
