"""SAM 1 (segment-anything's ``Sam``: vit_h/l/b and MobileSAM's vit_t) as a samis model backend.

Every SAM 1 variant is a ``segment_anything.modeling.Sam``, so one backend serves them all: the
cached ``SamPredictor`` (:mod:`samis.runners.embedding_cache`), the fast prompted decoder
(:mod:`samis.runners.fast_decoder`) and the fast automatic generator (:mod:`samis.runners.fast_amg`)
are this family's implementations of the backend interface (``samis.backends``).
"""

from __future__ import annotations

import torch

from samis.backends import generator_kwargs
from samis.errors import ConfigError


class Sam1Backend:
    """Loads, encodes, decodes and generates for segment-anything's ``Sam``."""

    family = "sam1"

    def load(self, name: str, checkpoint=None, device=None):
        """``(sam, digest)``: the variant with verified weights, in eval mode, on ``device``."""
        from samis.models.loading import load_sam

        return load_sam(name, checkpoint=checkpoint, device=device)

    def with_encoder(self, model, digest: str, name: str, encoder_backend: str | None):
        """The model with the asked image encoder (``auto | torch | onnx``: ``samis.models.onnx_encoder``)."""
        from samis.models.onnx_encoder import with_encoder_backend

        return with_encoder_backend(model, name, digest, encoder_backend), digest

    def predictor(self, model, digest: str, cache_dir=None, autocast: str | None = None):
        """A ``SamPredictor`` whose ``set_image`` reads and fills the embedding cache."""
        from samis.runners.embedding_cache import CachedSamPredictor

        return CachedSamPredictor(model, digest, cache_dir=cache_dir, autocast=autocast)

    @torch.no_grad()
    def decode(self, predictor, prompts, rule, decoder: str = "fast", mask_input=None, targets=None) -> torch.Tensor:
        """Per-prompt logits at the original size (N x H x W) for a predictor whose image is set.

        ``decoder="fast"`` runs :mod:`samis.runners.fast_decoder`, ``"stock"`` ``SamPredictor.predict_torch``;
        ``mask_input``: N x 1 x 256 x 256 low-res logits of a previous round, or None.
        ``targets`` (N x H x W, each prompt's ground-truth component) is what ``rule="oracle"`` picks by;
        the fast decoder gives it all four masks in one call.
        """
        from samis.runners.maps import decode_choice

        coords, labels, boxes = prompt_tensors(predictor, prompts)
        fast = decoder == "fast"
        if mask_input is not None:
            mask_input = torch.as_tensor(mask_input, dtype=torch.float, device=predictor.device)

        def run(multimask):
            if fast:
                return _fast_logits(predictor, coords, labels, boxes, multimask, mask_input)
            logits, iou, _ = predictor.predict_torch(coords, labels, boxes, mask_input=mask_input,
                                                     multimask_output=multimask, return_logits=True)
            return logits, iou

        return decode_choice(run, rule, targets, run_all=(lambda: run(None)[0]) if fast else None)

    @torch.no_grad()
    def decode_low_res(self, predictor, prompts, rule, decoder: str = "fast", mask_input=None):
        """``decode``'s logits and, per prompt, the chosen mask's low-res logits (N x 1 x 256 x 256): the
        ``mask_input`` of the next round of an iterative mode (corrective clicks)."""
        from samis.runners.maps import choose

        coords, labels, boxes = prompt_tensors(predictor, prompts)
        multimask = rule != "single"
        if mask_input is not None:
            mask_input = torch.as_tensor(mask_input, dtype=torch.float, device=predictor.device)
        if decoder == "fast":
            low, iou = _fast_low_res(predictor, coords, labels, boxes, multimask, mask_input)
            from samis.runners import fast_decoder

            logits = fast_decoder.resize_logits(predictor.model, low, predictor.input_size, predictor.original_size)
        else:
            logits, iou, low = predictor.predict_torch(coords, labels, boxes, mask_input=mask_input,
                                                       multimask_output=multimask, return_logits=True)
        chosen = choose(logits, iou, rule)
        # the chosen output is a copy of one channel: its index picks the matching low-res logits
        same = (logits == chosen[:, None]).flatten(2).all(-1)
        idx = same.int().argmax(1)
        return chosen, low[torch.arange(len(low), device=low.device), idx][:, None]

    def mask_generator(self, model, predictor, cfg):
        """A mask generator with the configuration's parameters that encodes through ``predictor`` (the cache)."""
        cls = generator_class(cfg.generator)
        gen = cls(model, **generator_kwargs(cfg))
        gen.predictor = predictor  # every set_image (whole image and crops) goes through the embedding cache
        return gen


def prompt_tensors(predictor, prompts):
    """``(coords, labels, boxes)`` of batched prompts in a SAM 1-style predictor's input frame (None when absent)."""
    size, device = predictor.original_size, predictor.device
    boxes = coords = labels = None
    if prompts.boxes is not None:
        boxes = predictor.transform.apply_boxes_torch(
            torch.as_tensor(prompts.boxes, dtype=torch.float, device=device), size)
    if prompts.point_coords is not None:
        coords = predictor.transform.apply_coords_torch(
            torch.as_tensor(prompts.point_coords, dtype=torch.float, device=device), size)
        labels = torch.as_tensor(prompts.point_labels, dtype=torch.int, device=device)
    return coords, labels, boxes


@torch.no_grad()
def _fast_logits(predictor, coords, labels, boxes, multimask: bool | None, mask_input=None):
    """``predict_torch(..., return_logits=True)`` through :mod:`samis.runners.fast_decoder`
    (``multimask=None``: all four masks, the one-mask output first).

    The image side of the decoder is prepared once per image, and the low-res logits go to the
    original size by the separable form of ``postprocess_masks``; equal to the stock path up to
    float32 rounding (``tests/test_runners.py`` checks the maps).
    """
    from samis.runners import fast_decoder

    low, iou = _fast_low_res(predictor, coords, labels, boxes, multimask, mask_input)
    return fast_decoder.resize_logits(predictor.model, low, predictor.input_size, predictor.original_size), iou


@torch.no_grad()
def _fast_low_res(predictor, coords, labels, boxes, multimask: bool | None, mask_input=None):
    """The fast decoder's low-res logits and predicted IoUs."""
    from samis.runners import fast_decoder

    sam = predictor.model
    points = (coords, labels) if coords is not None else None
    sparse, _ = sam.prompt_encoder(points=points, boxes=boxes, masks=None)
    return fast_decoder.fast_decode(sam, predictor.features, sparse, multimask, state=fast_decoder.image_state(predictor),
                                    mask_input=mask_input)


def generator_class(name: str):
    """``fast`` (samis.runners.fast_amg) when asked or, for ``auto``, when importable; else stock."""
    if name in ("auto", "fast"):
        try:
            from samis.runners.fast_amg import FastSamAutomaticMaskGenerator

            return FastSamAutomaticMaskGenerator
        except ImportError as exc:
            if name == "fast":
                raise ConfigError(f"generator=fast asked but samis.runners.fast_amg is not importable ({exc}); "
                                  "use generator=stock") from None
    from segment_anything import SamAutomaticMaskGenerator

    return SamAutomaticMaskGenerator
