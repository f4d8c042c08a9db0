"""Box and point modes: every component's prompt in one batched decoder call per image."""

from __future__ import annotations

import numpy as np
import torch

from samis.prompts import Prompts, image_rng, make_prompts
from samis.runners.maps import choose, empty_map, soft_map


def prompts_for(mask: np.ndarray, cfg: dict, stem: str) -> Prompts:
    """The prompts a normalised box/point/box+point configuration asks for on this ground truth."""
    mode = cfg["mode"]
    return make_prompts(
        mask,
        use_box=mode in ("box", "box+point"),
        n_points=cfg.get("n_points", 0) if mode != "box" else 0,
        n_negative=cfg.get("n_negative", 0) if mode != "box" else 0,
        jitter=cfg.get("jitter", 0.0),
        min_area=cfg["min_area"],
        neg_ring=tuple(cfg.get("neg_ring", (5.0, 20.0))),
        rng=image_rng(cfg["seed"], stem),
    )


@torch.no_grad()
def _fast_logits(predictor, coords, labels, boxes, multimask: bool):
    """``predict_torch(..., return_logits=True)`` through :mod:`samis.runners.fast_decoder`.

    The image side of the decoder is prepared once per image, and the low-res logits go to the
    original size by the separable form of ``postprocess_masks``; equal to the stock path up to
    float32 rounding (``tests/test_runners.py`` checks the maps).
    """
    from samis.runners import fast_decoder

    sam = predictor.model
    points = (coords, labels) if coords is not None else None
    sparse, _ = sam.prompt_encoder(points=points, boxes=boxes, masks=None)
    low, iou = fast_decoder.fast_decode(sam, predictor.features, sparse, multimask,
                                        state=fast_decoder.image_state(predictor))
    return fast_decoder.resize_logits(sam, low, predictor.input_size, predictor.original_size), iou


@torch.no_grad()
def decode(predictor, prompts: Prompts, rule, decoder: str = "fast") -> torch.Tensor:
    """Per-prompt logits at the original size (N x H x W) for a predictor whose image is set."""
    size = predictor.original_size
    device = predictor.device
    boxes = coords = labels = None
    if prompts.boxes is not None:
        boxes = predictor.transform.apply_boxes_torch(
            torch.as_tensor(prompts.boxes, dtype=torch.float, device=device), size)
    if prompts.point_coords is not None:
        coords = predictor.transform.apply_coords_torch(
            torch.as_tensor(prompts.point_coords, dtype=torch.float, device=device), size)
        labels = torch.as_tensor(prompts.point_labels, dtype=torch.int, device=device)
    if decoder == "fast":
        logits, iou = _fast_logits(predictor, coords, labels, boxes, multimask=rule != "single")
    else:
        logits, iou, _ = predictor.predict_torch(
            coords, labels, boxes, multimask_output=rule != "single", return_logits=True)
    return choose(logits, iou, rule)


def prompted_map(predictor, mask: np.ndarray, cfg: dict, stem: str) -> tuple[np.ndarray, bool]:
    """The soft map of one image and whether it had no prompt (empty ground truth -> all zero).

    The predictor's image must already be set (the caller sets it once for every mode).
    """
    prompts = prompts_for(mask, cfg, stem)
    if len(prompts) == 0:
        return empty_map(predictor.original_size), True
    return soft_map(decode(predictor, prompts, cfg["multimask"], cfg.get("decoder", "fast"))), False
