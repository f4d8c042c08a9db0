"""Automatic mode: threshold sweeps from one decoder pass, best_match, and the per-image records.

Real vit_t on real SD-saliency-900 and MT images. The reference for every threshold pair is the
stock ``segment_anything.SamAutomaticMaskGenerator`` run with that pair; best_match is checked by a
brute-force loop over every kept mask.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from segment_anything import SamAutomaticMaskGenerator

from samis.errors import ConfigError
from samis.imageio import read_gray, read_rgb
from samis.runners import predict_many
from samis.runners.automatic import AutomaticRunner, candidates, final_masks
from samis.runners.config import normalize
from samis.runners.embedding_cache import CachedSamPredictor
from samis.runners.fast_amg import mask_agreement
from samis.runners.runner import ImageFrame, RunModel

pytestmark = pytest.mark.model

SWEEP = {"mode": "automatic", "points_per_side": 4, "pred_iou_thresh": [0.88, 0.7, 0.5],
         "stability_score_thresh": [0.95, 0.8]}


@pytest.fixture(scope="module")
def images(datasets_root):
    """Two steel strips and two tiles (with their ground truth, > 128 as the datasets read it)."""
    sd = datasets_root / "SD-saliency-900"
    mt = datasets_root / "Magnetic-tile-defect"
    pairs = [(sd / "Source Images" / "In_1.bmp", sd / "Ground truth" / "In_1.png"),
             (sd / "Source Images" / "Sc_5.bmp", sd / "Ground truth" / "Sc_5.png"),
             (mt / "MT_Blowhole" / "Imgs" / "exp1_num_108719.jpg", mt / "MT_Blowhole" / "Imgs" / "exp1_num_108719.png"),
             (mt / "MT_Crack" / "Imgs" / "exp1_num_249594.jpg", mt / "MT_Crack" / "Imgs" / "exp1_num_249594.png")]
    return {img.stem: (read_rgb(img), read_gray(gt) > 128) for img, gt in pairs}


@pytest.fixture(scope="module")
def sd900(datasets_root):
    from samis.datasets import get_dataset

    return get_dataset("sd900", root=datasets_root, split="full")


@pytest.fixture(scope="module")
def runner(vit_t_model, tmp_path_factory):
    from samis.backends import get_backend

    sam, digest = vit_t_model
    return AutomaticRunner(RunModel(get_backend("vit_t"), sam, digest, cache_dir=tmp_path_factory.mktemp("sweep")))


def _stock(runner, image, pair, **kw):
    sam = runner.run_model.model
    gen = SamAutomaticMaskGenerator(sam, pred_iou_thresh=pair[0], stability_score_thresh=pair[1], **kw)
    gen.predictor = runner.run_model.predictor()
    return gen.generate(image)


def test_every_pair_equals_the_stock_generator(runner, images):
    cfg = normalize(SWEEP)
    assert len(cfg.pairs) == 6 and cfg.main_pair == (0.88, 0.95)
    lowest = 0
    for stem, (image, _) in images.items():
        before = runner.generated
        for pair in cfg.pairs:
            ours = runner.masks(image, cfg, pair)
            ref = _stock(runner, image, pair, points_per_side=4)
            agree = mask_agreement(ref, [{"segmentation": m} for m in ours.masks])
            assert agree["same_count"] and agree["min_iou"] >= 0.99, (stem, pair, len(ref), len(ours.masks), agree)
            # sorting moves no value further than the largest difference between the two sets
            assert np.allclose(sorted(ours.iou), sorted(r["predicted_iou"] for r in ref), atol=1e-3), (stem, pair)
        assert runner.generated - before == 1, stem  # one decoder pass served the six pairs
        lowest += len(ours.masks)
    assert lowest >= 3  # the lowest pair keeps masks to compare on these images (5 at 4 x 4 points)


def test_stock_candidates_give_the_stock_masks_exactly(runner, images):
    """With the stock generator's own candidates, every pair's masks equal stock ``generate`` bit for bit,
    in its order, with crops (second NMS) and small-region post-processing."""
    sam = runner.run_model.model
    image = images["exp1_num_108719"][0]
    kw = dict(points_per_side=4, crop_n_layers=1, min_mask_region_area=30, box_nms_thresh=0.7)
    gen = SamAutomaticMaskGenerator(sam, pred_iou_thresh=0.0, stability_score_thresh=0.0, **kw)  # filters off
    gen.predictor = runner.run_model.predictor()
    c = candidates(gen, image)
    assert len(c.crop_boxes) == 5 and len(set(c.crop.tolist())) > 1  # (at 0.5 / 0.8 only the whole image kept masks)
    for pair in [(0.0, 0.0), (0.5, 0.8), (0.88, 0.95)]:
        ref = _stock(runner, image, pair, **kw)
        ours = final_masks(c, pair[0], pair[1], kw["box_nms_thresh"], kw["min_mask_region_area"])
        assert len(ours.masks) == len(ref), pair
        for r, m, iou in zip(ref, ours.masks, ours.iou):
            assert (r["segmentation"] == m).all() and r["predicted_iou"] == iou, pair
    c.min_iou, c.min_stability = 0.5, 0.8  # candidates filtered at 0.5 / 0.8 cannot serve a lower pair
    with pytest.raises(ValueError, match="cannot give the pair"):
        final_masks(c, 0.4, 0.8, 0.7)


def test_best_match_is_the_highest_iou_mask_of_each_component(runner, images):
    from samis.prompts import components
    from samis.runners.automatic import best_match_map, best_matches

    cfg = normalize({**SWEEP, "policy": "best_match"})
    checked = 0
    for stem, (image, gt) in images.items():
        ms = runner.masks(image, cfg, (0.5, 0.8))
        best, best_iou, areas = best_matches(ms, gt)
        comps = components(gt)
        assert len(best) == len(comps) and [int(c.sum()) for c in comps] == areas.tolist()
        expected = np.zeros(gt.shape, dtype=bool)
        for k, comp in enumerate(comps):
            ious = [np.logical_and(m, comp).sum() / np.logical_or(m, comp).sum() for m in ms.masks]
            assert max(ious) == pytest.approx(best_iou[k], abs=1e-6), (stem, k)  # no mask beats the chosen one
            assert ious[best[k]] == pytest.approx(best_iou[k], abs=1e-6)
            if best_iou[k] > 0:
                expected |= ms.masks[best[k]]
            checked += len(ms.masks)
        assert (best_match_map(ms, gt) == expected * 255).all(), stem
    assert checked >= 5  # the brute force compared masks with components (9 pairs at 4 x 4 points)


def test_threshold_options(tmp_path):
    scalar = normalize({"mode": "automatic", "pred_iou_thresh": 0.7})
    listed = normalize({"mode": "automatic", "pred_iou_thresh": [0.7]})
    assert scalar == listed and scalar.pred_iou_thresh == 0.7 and not scalar.sweeps  # one value: as before
    assert scalar.as_dict()["pred_iou_thresh"] == 0.7
    sweep = normalize({"mode": "automatic", "pred_iou_thresh": "0.7,0.5", "stability_score_thresh": [0.95, 0.8]})
    assert sweep.pairs == [(0.7, 0.95), (0.7, 0.8), (0.5, 0.95), (0.5, 0.8)]
    assert sweep.method_name("vit_t") == "SAM-vit_t-auto-union-iou0.7" == scalar.method_name("vit_t")
    assert sweep.config_hash("vit_t", "d") != scalar.config_hash("vit_t", "d")  # the records differ
    for bad, why in (([0.9, 1.2], "in \\[0, 1\\]"), ([], "one or more"), ("x", "a number or a list")):
        with pytest.raises(ConfigError, match=why):
            normalize({"mode": "automatic", "pred_iou_thresh": bad})


def test_records_written_with_the_maps_and_resume_byte_identical(tmp_path, sd900, vit_t_model):
    from samis.runners.automatic_records import read_records, record_dir

    class Two:
        name, split = sd900.name, sd900.split

        def samples(self):
            return [s for s in sd900.samples() if s.stem in ("In_1", "Sc_5")]

    cfgs = [{**SWEEP, "policy": p} for p in ("union", "best_match")]
    out, cache = tmp_path / "out", tmp_path / "cache"
    rep = predict_many(Two(), "vit_t", cfgs, out, model=vit_t_model, progress=False, cache_dir=cache)
    assert rep.generated == 2
    folder = out / "SAM-vit_t-auto-union-pps4"
    records = read_records(folder)
    assert [r["stem"] for r in records] == ["In_1", "Sc_5"]
    files = {p.name: p.read_bytes() for p in record_dir(folder).iterdir()}
    # independent check of one record against the stock generator at each pair
    sam = vit_t_model[0]
    pred = CachedSamPredictor(sam, vit_t_model[1], cache_dir=False)
    sample = next(s for s in Two().samples() if s.stem == "Sc_5")
    image, gt = sample.load_image(), sample.load_mask()
    rec = next(r for r in records if r["stem"] == "Sc_5")
    assert rec["category"] == sample.category and rec["component_areas"] == [int(gt.sum())] * (len(rec["component_areas"]))
    assert [(p["pred_iou_thresh"], p["stability_score_thresh"]) for p in rec["pairs"]] == normalize(SWEEP).pairs
    for p in rec["pairs"]:
        gen = SamAutomaticMaskGenerator(sam, points_per_side=4, pred_iou_thresh=p["pred_iou_thresh"],
                                        stability_score_thresh=p["stability_score_thresh"])
        gen.predictor = pred
        ref = gen.generate(image)
        assert p["masks"] == len(ref)
        assert p["masks_foreground"] == sum(r["area"] <= 0.5 * gt.size for r in ref)
        best = max([(r["segmentation"] & gt).sum() / (r["segmentation"] | gt).sum() for r in ref], default=0.0)
        assert len(p["best_iou"]) == 1 and p["best_iou"][0] == pytest.approx(best, abs=0.01)
    # a crash after one record: the record of Sc_5 and its map gone, In_1's map gone but its record kept
    (record_dir(folder) / "Sc_5.json").unlink()
    (folder / "Sc_5.png").unlink()
    (folder / "In_1.png").unlink()
    rep = predict_many(Two(), "vit_t", cfgs, out, model=vit_t_model, progress=False, cache_dir=cache)
    assert rep.generated == 0  # the candidates came from the cache
    assert rep.methods["SAM-vit_t-auto-union-pps4"].written == 2
    assert {p.name: p.read_bytes() for p in record_dir(folder).iterdir()} == files
    # a map without its record is not done
    (record_dir(folder) / "In_1.json").unlink()
    rep = predict_many(Two(), "vit_t", cfgs, out, model=vit_t_model, progress=False, cache_dir=cache)
    assert rep.methods["SAM-vit_t-auto-union-pps4"].written == 1
    assert json.loads((record_dir(folder) / "In_1.json").read_text()) == records[0]
