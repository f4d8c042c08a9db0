"""``SamAutomaticMaskGenerator`` with the same masks, computed faster on the CPU.

The stock generator runs the full mask decoder per prompt (the image embedding
copied per prompt, every projection over 4096 positions, mask upscaling and
full-resolution post-processing for every candidate mask) and then throws most
candidates away on their predicted IoU. This subclass changes only how the
candidates are computed, never which are kept:

* the decoder runs through :mod:`samis.runners.fast_decoder` (per-image work once
  per crop, few-token attentions with folded projections);
* the predicted-IoU filter is applied *before* mask upscaling: the IoU head needs
  only the output tokens, so prompts whose three masks all fail
  ``pred_iou_thresh`` never reach the upscaling convolutions, and only the kept
  masks are resized to the image. The filter is per mask, so moving it earlier
  does not change the kept set;
* on the CPU, prompts go through the decoder two at a time (``DECODE_CHUNK``), so that
  its per-prompt 4096 x 256 tensors stay in the CPU cache instead of streaming a whole
  ``points_per_batch`` through memory for every elementwise op (about 1.6x on 2 cores);
  on an accelerator the whole ``points_per_batch`` goes in one call (a chunk costs a
  kernel launch per op and a host synchronisation);
* on a CPU with two or more torch threads, the chunks run side by side, one single-threaded
  chunk per core (``parallel_chunks``), each finished through the stock post-processing
  in its thread (every step after the decoder works mask by mask);
* only the part of the low-res mask that the resize to the image reads is upscaled (a
  non-square image's padding never is).

Everything after that (stability score, boxes, crop-edge filter, RLE, NMS, crops,
small-region post-processing, output records) is the stock code, in the stock order.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.amg import (
    MaskData,
    batched_mask_to_box,
    calculate_stability_score,
    is_box_near_crop_edge,
    mask_to_rle_pytorch,
    uncrop_masks,
)

from samis.runners import fast_decoder
from samis.runners.device import decode_chunk, parallel_chunks


# Prompts decoded together. Every per-prompt tensor of the decoder holds 4096 x 256
# floats (4 MB); a few prompts at a time keep them in the CPU cache, where a whole
# ``points_per_batch`` (64 prompts, 268 MB each) streams through memory for every
# elementwise op. The result does not depend on it (prompts never interact).
DECODE_CHUNK = 2


def _is_predictor(obj: Any) -> bool:
    return hasattr(obj, "set_image") and hasattr(obj, "model") and hasattr(obj, "transform")


class FastSamAutomaticMaskGenerator(SamAutomaticMaskGenerator):
    """Drop-in for ``SamAutomaticMaskGenerator``: same arguments, same ``generate``
    output. ``model`` may be a ``Sam`` or any ``SamPredictor`` (e.g. a
    ``CachedSamPredictor``); with a predictor, its ``set_image`` is called once per
    crop exactly as the stock generator does, so a cached embedding is reused.
    """

    def __init__(self, model, *args, **kwargs) -> None:
        predictor = model if _is_predictor(model) else None
        super().__init__(predictor.model if predictor is not None else model, *args, **kwargs)
        if predictor is not None:
            self.predictor = predictor
        self.decode_chunk = DECODE_CHUNK

    def _candidates(self, sam, state, sparse: torch.Tensor, lo: int, chunk: int) -> MaskData | None:
        """Masks (full-resolution logits) and IoU predictions of one chunk's candidates that pass
        ``pred_iou_thresh``, in the stock order (prompt-major); None when none passes."""
        pred = self.predictor
        tokens = list(range(1, sam.mask_decoder.num_mask_tokens))  # multimask_output=True
        hs, keys = fast_decoder.decode_tokens(sam, state, sparse[lo:lo + chunk], [0] + [1 + i for i in tokens])
        iou = fast_decoder.iou_predictions(sam, hs[:, 0])[:, tokens]
        keep = iou > self.pred_iou_thresh if self.pred_iou_thresh > 0.0 else torch.ones_like(iou, dtype=torch.bool)
        rows = keep.any(dim=1).nonzero().flatten()
        if len(rows) == 0:
            return None
        if len(rows) < len(keep):
            hs, keys = hs[rows], keys[rows]
        extent = fast_decoder.low_res_extent(sam, pred.input_size, pred.original_size)  # no padding upscaled
        low_res = fast_decoder.mask_logits(sam, state, hs[:, 1:], keys, tokens, extent)
        masks = fast_decoder.resize_logits(sam, low_res[keep[rows]], pred.input_size, pred.original_size)
        prompt = (lo + torch.arange(keep.shape[0])).repeat_interleave(len(tokens))[keep.flatten().cpu()]
        return MaskData(masks=masks, iou_preds=iou[keep], prompt=prompt)

    def _process_batch(
        self,
        points: np.ndarray,
        im_size: Tuple[int, ...],
        crop_box: list,
        orig_size: Tuple[int, ...],
    ) -> MaskData:
        """The stock ``_process_batch``, chunk by chunk: every step after the decoder filters or
        transforms masks one at a time, so each chunk is finished on its own (on the CPU, two chunks at a
        time on two cores: ``parallel_chunks``) and the chunks are concatenated in the stock order."""
        pred = self.predictor
        sam = pred.model
        state = fast_decoder.image_state(pred)  # shared with the prompted modes of this image
        transformed = pred.transform.apply_coords(points, im_size)
        in_points = torch.as_tensor(transformed, device=pred.device)
        in_labels = torch.ones(in_points.shape[0], dtype=torch.int, device=in_points.device)
        with torch.no_grad():
            sparse, _ = sam.prompt_encoder(points=(in_points[:, None, :], in_labels[:, None]), boxes=None, masks=None)
        chunk = decode_chunk(pred.device, self.decode_chunk, sparse.shape[0])
        points = torch.as_tensor(points)  # on the CPU, as stock

        def finish(lo: int) -> MaskData | None:
            with torch.no_grad():  # grad mode is per thread
                data = self._candidates(sam, state, sparse, lo, chunk)
                if data is None:
                    return None
                data["points"] = points[data["prompt"]]
                del data["prompt"]
                return self._postprocess(data, crop_box, orig_size)

        parts = [d for d in parallel_chunks(finish, range(0, sparse.shape[0], chunk), pred.device) if d is not None]
        if not parts:  # what the stock steps make of no candidates
            empty = MaskData(masks=torch.zeros((0, *pred.original_size), device=pred.device),
                             iou_preds=torch.zeros(0, device=pred.device), points=points[:0])
            return self._postprocess(empty, crop_box, orig_size)
        data = parts[0]
        for part in parts[1:]:
            data.cat(part)
        return data

    def _postprocess(self, data: MaskData, crop_box: list, orig_size: Tuple[int, ...]) -> MaskData:
        """From here on: the stock ``SamAutomaticMaskGenerator._process_batch``."""
        orig_h, orig_w = orig_size
        data["stability_score"] = calculate_stability_score(
            data["masks"], self.predictor.model.mask_threshold, self.stability_score_offset
        )
        if self.stability_score_thresh > 0.0:
            data.filter(data["stability_score"] >= self.stability_score_thresh)
        data["masks"] = data["masks"] > self.predictor.model.mask_threshold
        data["boxes"] = batched_mask_to_box(data["masks"])
        keep_mask = ~is_box_near_crop_edge(data["boxes"], crop_box, [0, 0, orig_w, orig_h])
        if not torch.all(keep_mask):
            data.filter(keep_mask)
        data["masks"] = uncrop_masks(data["masks"], crop_box, orig_h, orig_w)
        data["rles"] = mask_to_rle_pytorch(data["masks"])
        del data["masks"]
        return data


def mask_agreement(stock: list[dict], fast: list[dict]) -> dict:
    """How closely two ``generate`` outputs agree: count equality and the smallest
    IoU of a mask with its best match in the other set (both directions).
    ``min_iou`` is 1.0 for two empty sets, 0.0 when only one is empty."""

    def as_masks(records):
        from segment_anything.utils.amg import rle_to_mask

        return [r["segmentation"] if isinstance(r["segmentation"], np.ndarray) else rle_to_mask(r["segmentation"]) for r in records]

    a, b = as_masks(stock), as_masks(fast)
    if not a or not b:
        return {"same_count": len(a) == len(b), "min_iou": 1.0 if len(a) == len(b) else 0.0}
    fa = np.stack([m.reshape(-1) for m in a]).astype(np.float32)
    fb = np.stack([m.reshape(-1) for m in b]).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return {"same_count": len(a) == len(b), "min_iou": float(min(iou.max(1).min(), iou.max(0).min()))}
