"""The fast automatic generator gives the stock generator's masks (real vit_t, real images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything import SamAutomaticMaskGenerator

from samis.imageio import read_rgb
from samis.runners import fast_decoder
from samis.runners.embedding_cache import CachedSamPredictor
from samis.runners.fast_amg import FastSamAutomaticMaskGenerator, mask_agreement


@pytest.fixture(scope="module")
def vit_t(vit_t_model):
    return vit_t_model


@pytest.fixture(scope="module")
def images(datasets_root):
    sd = datasets_root / "SD-saliency-900" / "Source Images"
    mt = datasets_root / "Magnetic-tile-defect" / "MT_Blowhole" / "Imgs"
    paths = [sd / "In_1.bmp", sd / "In_187.bmp", mt / "exp1_num_108719.jpg"]
    return {p.name: read_rgb(p) for p in paths}


class CountingPredictor(CachedSamPredictor):
    """A real cached predictor that counts ``set_image`` calls."""

    calls = 0

    def set_image(self, image, image_format="RGB"):
        self.calls += 1
        super().set_image(image, image_format)


@pytest.fixture(scope="module")
def predictor(vit_t):
    sam, digest = vit_t
    return CountingPredictor(sam, digest, cache_dir=False)


@pytest.mark.parametrize("blocked", [True, False], ids=["cpu-blocks", "accelerator-layout"])
def test_decoder_matches_stock_mask_decoder(vit_t, images, predictor, blocked, monkeypatch):
    """Both layouts of the fast decoder: prompt by prompt in cache-sized blocks (the CPU's) and the
    whole batch per op (an accelerator's, forced here on the CPU)."""
    monkeypatch.setattr(fast_decoder, "_cache_blocked", lambda x: blocked)
    sam, _ = vit_t
    predictor.set_image(images["In_1.bmp"])
    gen = torch.Generator().manual_seed(0)
    coords = torch.rand(24, 2, 2, generator=gen) * 1024
    labels = torch.tensor([[1, 1], [1, 0], [0, 1]]).repeat(8, 1)
    with torch.no_grad():
        sparse, dense = sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        for multimask in (True, False):
            ref_masks, ref_iou = sam.mask_decoder(
                predictor.features, sam.prompt_encoder.get_dense_pe(), sparse, dense, multimask
            )
            masks, iou = fast_decoder.fast_decode(sam, predictor.features, sparse, multimask)
            assert masks.shape == ref_masks.shape and iou.shape == ref_iou.shape
            scale = ref_masks.abs().max().item()
            assert scale > 1.0  # real logits, not a degenerate model
            assert (masks - ref_masks).abs().max().item() < 1e-4 * scale
            assert (iou - ref_iou).abs().max().item() < 1e-4


@pytest.mark.parametrize("blocked", [True, False], ids=["cpu-blocks", "accelerator-layout"])
def test_decoder_with_a_mask_input_matches_stock_mask_decoder(vit_t, images, predictor, blocked, monkeypatch):
    """A previous round's low-res logits as mask input (corrective clicks): boxes and points of several
    prompts, one mask and three, against the stock decoder fed the prompt encoder's dense embedding."""
    monkeypatch.setattr(fast_decoder, "_cache_blocked", lambda x: blocked)
    sam, _ = vit_t
    predictor.set_image(images["exp1_num_108719.jpg"])
    gen = torch.Generator().manual_seed(1)
    boxes = torch.tensor([[100.0, 120.0, 400.0, 300.0], [500.0, 80.0, 560.0, 600.0], [20.0, 20.0, 900.0, 640.0]])
    coords = torch.rand(3, 2, 2, generator=gen) * 640
    labels = torch.tensor([[1, 0], [1, 1], [0, 1]])
    with torch.no_grad():
        first, _ = sam.prompt_encoder(points=None, boxes=boxes, masks=None)
        previous, _ = sam.mask_decoder(predictor.features, sam.prompt_encoder.get_dense_pe(), first,
                                       sam.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
                                       .expand(3, -1, *predictor.features.shape[-2:]), False)
        sparse, dense = sam.prompt_encoder(points=(coords, labels), boxes=boxes, masks=previous)
        state = fast_decoder.image_state(predictor)
        for multimask in (True, False):
            ref_masks, ref_iou = sam.mask_decoder(
                predictor.features, sam.prompt_encoder.get_dense_pe(), sparse, dense, multimask
            )
            masks, iou = fast_decoder.fast_decode(sam, predictor.features, sparse, multimask, state=state,
                                                  mask_input=previous)
            scale = ref_masks.abs().max().item()
            assert scale > 1.0
            assert (masks - ref_masks).abs().max().item() < 1e-4 * scale
            assert (iou - ref_iou).abs().max().item() < 1e-4
            # the mask input matters: without it the logits are another function
            plain, _ = fast_decoder.fast_decode(sam, predictor.features, sparse, multimask, state=state)
            assert (plain - ref_masks).abs().max().item() > 1e-2 * scale


@pytest.mark.parametrize(
    "in_size,orig", [((1024, 1024), (200, 200)), ((681, 1024), (248, 373)), ((1024, 816), (246, 196))]
)
def test_resize_logits_matches_postprocess_masks(vit_t, in_size, orig):
    sam, _ = vit_t
    low = torch.randn(6, 256, 256, generator=torch.Generator().manual_seed(1)) * 5
    ref = sam.postprocess_masks(low[:, None], in_size, orig)[:, 0]
    out = fast_decoder.resize_logits(sam, low, in_size, orig)
    assert out.shape == ref.shape == (6, *orig)
    assert (out - ref).abs().max().item() < 1e-3
    assert ((out > 0) != (ref > 0)).float().mean().item() < 1e-4


@pytest.mark.parametrize(
    "in_size,orig,extent", [((681, 1024), (248, 373), (43, 64)), ((1024, 816), (246, 196), (64, 52)),
                            ((413, 1024), (500, 1240), (26, 64)), ((1024, 1024), (200, 200), (64, 64))]
)
def test_only_the_low_res_part_the_resize_reads_is_upscaled(vit_t, in_size, orig, extent):
    """The padding of a non-square image is never upscaled: the top-left part ``low_res_extent`` names gives
    the stock ``postprocess_masks`` of the whole low-res mask, and one row/column less does not."""
    sam, _ = vit_t
    # the extent by hand: bilinear 256 -> 1024 reads low-res pixel floor((y + 0.5) / 4 - 0.5) + 1 at most
    last = [min(255, int((n - 1 + 0.5) / 4 - 0.5) + 1) for n in in_size]
    assert fast_decoder.low_res_extent(sam, in_size, orig) == tuple(-(-(v + 1) // 4) for v in last) == extent
    low = torch.randn(3, 256, 256, generator=torch.Generator().manual_seed(2)) * 5
    ref = sam.postprocess_masks(low[:, None], in_size, orig)[:, 0]
    rows, cols = extent
    out = fast_decoder.resize_logits(sam, low[:, :4 * rows, :4 * cols], in_size, orig)
    assert (out - ref).abs().max().item() < 1e-3
    if extent != (64, 64):
        with pytest.raises(ValueError, match="leave out pixels"):
            fast_decoder.resize_logits(sam, low[:, :4 * rows - 4, :4 * cols - 4], in_size, orig)


@pytest.mark.parametrize("blocked", [True, False], ids=["cpu-blocks", "accelerator-layout"])
def test_upscaling_a_part_equals_that_part_of_the_whole(vit_t, images, predictor, blocked, monkeypatch):
    sam, _ = vit_t
    monkeypatch.setattr(fast_decoder, "_cache_blocked", lambda x: blocked)
    predictor.set_image(images["exp1_num_108719.jpg"])
    state = fast_decoder.image_state(predictor)
    pts = torch.tensor([[[300.0, 400.0]], [[700.0, 200.0]]])
    with torch.no_grad():
        sparse, _ = sam.prompt_encoder(points=(pts, torch.ones(2, 1, dtype=torch.int)), boxes=None, masks=None)
    hs, keys = fast_decoder.decode_tokens(sam, state, sparse, [0, 2, 3, 4])
    whole = fast_decoder.mask_logits(sam, state, hs[:, 1:], keys, [1, 2, 3])
    part = fast_decoder.mask_logits(sam, state, hs[:, 1:], keys, [1, 2, 3], extent=(26, 43))
    assert part.shape == (2, 3, 104, 172)
    assert (part - whole[..., :104, :172]).abs().max().item() < 1e-5 * whole.abs().max().item()


def _compare(stock_records, fast_records):
    agree = mask_agreement(stock_records, fast_records)
    assert agree["same_count"], (len(stock_records), len(fast_records))
    assert agree["min_iou"] >= 0.99
    assert all(set(r) == set(stock_records[0]) for r in fast_records)
    key = lambda r: (r["point_coords"], r["area"])  # noqa: E731
    for s, f in zip(sorted(stock_records, key=key), sorted(fast_records, key=key)):
        assert s["point_coords"] == f["point_coords"] and s["crop_box"] == f["crop_box"]
        assert abs(s["predicted_iou"] - f["predicted_iou"]) < 1e-4
        assert abs(s["stability_score"] - f["stability_score"]) < 1e-2
        assert f["segmentation"].shape == s["segmentation"].shape and f["segmentation"].dtype == bool


@pytest.mark.parametrize("thresholds", [(0.5, 0.8), (0.88, 0.95)], ids=["lowered", "default"])
def test_same_masks_as_stock(vit_t, images, predictor, thresholds):
    sam, _ = vit_t
    kw = dict(points_per_side=8, pred_iou_thresh=thresholds[0], stability_score_thresh=thresholds[1])
    stock = SamAutomaticMaskGenerator(sam, **kw)
    stock.predictor = predictor
    fast = FastSamAutomaticMaskGenerator(predictor, **kw)
    total = 0
    for name, image in images.items():
        ref = stock.generate(image)
        before = predictor.calls
        out = fast.generate(image)
        assert predictor.calls - before == 1  # one set_image per crop, as the stock
        _compare(ref, out)
        total += len(ref)
    if thresholds == (0.5, 0.8):
        assert total >= 3  # there were masks to compare


def test_crops_and_sam_argument(vit_t, images, tmp_path):
    sam, digest = vit_t
    predictor = CountingPredictor(sam, digest, cache_dir=tmp_path)  # crops encoded once, then cached
    kw = dict(points_per_side=4, crop_n_layers=1, pred_iou_thresh=0.5, stability_score_thresh=0.8)
    gen = FastSamAutomaticMaskGenerator(sam, **kw)  # stock signature: a Sam
    assert type(gen.predictor).__name__ == "SamPredictor"
    stock = SamAutomaticMaskGenerator(sam, **kw)
    stock.predictor = predictor
    fast = FastSamAutomaticMaskGenerator(predictor, **kw)
    image = images["exp1_num_108719.jpg"]
    ref = stock.generate(image)
    before = predictor.calls
    out = fast.generate(image)
    assert predictor.calls - before == 5  # whole image + 4 crops
    _compare(ref, out)
    assert np.all([r["segmentation"].shape == image.shape[:2] for r in out])
