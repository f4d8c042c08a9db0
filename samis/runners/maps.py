"""From SAM's outputs to one 8-bit map per image.

Prompted modes keep SAM's soft output: the logits upsampled to the original size exactly as
segment-anything does (``postprocess_masks``), then ``round(255 * sigmoid)``. Components are merged
by the pixel-wise maximum of their probabilities (the maximum of the logits, sigmoid being
monotone), so a pixel is as salient as the most confident component that covers it.
"""

from __future__ import annotations

import numpy as np
import torch


#: the ``multimask`` rule that reads the ground truth: of all four of SAM's masks, the best for the component
ORACLE = "oracle"


def decode_choice(run, rule, targets=None, run_all=None) -> torch.Tensor:
    """One mask per prompt by ``rule``, from ``run(multimask_output) -> (B x C x H x W logits, B x C IoU)``,
    a backend's decoder call at the original size.

    Every rule but ``oracle`` asks the decoder once, as ``SamPredictor`` would (``single``: the one-mask
    output; the others: the three multimask outputs). ``oracle`` picks among all four with ``targets``
    (each prompt's ground-truth component): from ``run_all() -> B x 4 x H x W`` (the one-mask output
    first) when the backend computes the four in one call, else from one call of each kind.
    """
    if rule == ORACLE:
        if targets is None:
            raise ValueError("multimask=oracle picks by the ground truth: pass each prompt's component as targets")
        if run_all is not None:
            return oracle_choice(run_all(), targets)
        return oracle_choice(torch.cat([run(False)[0], run(True)[0]], dim=1), targets)
    logits, iou = run(rule != "single")
    return choose(logits, iou, rule)


def oracle_choice(logits: torch.Tensor, targets) -> torch.Tensor:
    """Per prompt, the mask (logit > 0) with the highest IoU against that prompt's own ground-truth
    component: B x C x H x W logits, B x H x W targets -> B x H x W. Ties go to the lowest index.

    It reads the ground truth beyond the prompt, so it is no zero-shot rule (its methods are named
    ``...-mmoracle`` and never ranked); it is the best of SAM's masks for that component, nothing more.
    """
    idx = mask_ious(logits > 0, torch.as_tensor(targets, device=logits.device)).argmax(dim=1)  # first maximum
    return logits[torch.arange(logits.shape[0], device=logits.device), idx]


def mask_ious(masks: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of each of C binary masks against its prompt's target: B x C x H x W, B x H x W -> B x C (double)."""
    t = targets.bool()[:, None]
    inter = (masks & t).flatten(2).sum(-1).double()
    union = (masks | t).flatten(2).sum(-1).double()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def choose(logits: torch.Tensor, iou: torch.Tensor, rule) -> torch.Tensor:
    """One mask per prompt out of SAM's multimask output: B x C x H x W logits -> B x H x W.

    ``highest_iou``: the stock rule (highest predicted IoU); ``largest``/``smallest``: by area of
    the binarised mask (logit > 0), ties to the lower index; an int: that output. With ``single``
    the decoder was already asked for one mask (C == 1).
    """
    if logits.shape[1] == 1:
        return logits[:, 0]
    if isinstance(rule, int):
        idx = torch.full((logits.shape[0],), rule, dtype=torch.long, device=logits.device)
    elif rule == "highest_iou":
        idx = iou.argmax(dim=1)
    elif rule in ("largest", "smallest"):
        area = (logits > 0).flatten(2).sum(-1).double()
        # stable tie-break to the lower index: subtract a tiny index-proportional term
        bias = torch.arange(area.shape[1], device=area.device, dtype=area.dtype) * 1e-3
        idx = (area - bias).argmax(1) if rule == "largest" else (area + bias).argmin(1)
    else:
        raise ValueError(f"unknown multimask rule {rule!r}")
    return logits[torch.arange(logits.shape[0], device=logits.device), idx]


def soft_map(logits: torch.Tensor) -> np.ndarray:
    """Merge per-prompt logits (N x H x W) into one uint8 map: max over prompts, sigmoid, x255, round."""
    merged = logits.float().amax(dim=0)
    prob = torch.sigmoid(merged).cpu().numpy().astype(np.float64)
    return np.round(255.0 * prob).astype(np.uint8)


def empty_map(shape) -> np.ndarray:
    """All-zero map: what an image without a prompt (defect-free ground truth) gets."""
    return np.zeros(tuple(shape[:2]), dtype=np.uint8)
