"""From SAM's outputs to one 8-bit map per image.

Prompted modes keep SAM's soft output: the logits upsampled to the original size exactly as
segment-anything does (``postprocess_masks``), then ``round(255 * sigmoid)``. Components are merged
by the pixel-wise maximum of their probabilities (the maximum of the logits, sigmoid being
monotone), so a pixel is as salient as the most confident component that covers it.
"""

from __future__ import annotations

import numpy as np
import torch


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
