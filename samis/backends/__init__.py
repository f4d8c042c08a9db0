"""Model backends: what a family of segmentation models must do for the runners, and the registry.

A backend is to the runners what segment-anything's ``sam_model_registry`` is to its predictor:
the one place that knows a model family. Each variant in ``samis.models.MODEL_REGISTRY`` names its
``family``; ``get_backend(variant)`` returns that family's backend object, which

- ``load(name, checkpoint, device) -> (model, digest)``: builds the variant with verified weights;
  the digest identifies the weights (embedding cache keys, manifests);
- ``predictor(model, digest, cache_dir=None, autocast=None)``: a predictor whose ``set_image``
  goes through the embedding cache (``key(image)``, ``prefetch(images)``, ``stats``,
  ``original_size`` after ``set_image``);
- ``decode(predictor, prompts, rule, decoder="fast", mask_input=None, targets=None) -> logits``: the
  per-prompt logits (N x H x W, original size) of batched box/point prompts (``samis.prompts.Prompts``)
  for the image the predictor holds, one mask per prompt chosen by ``rule``
  (``samis.runners.maps.decode_choice``), with an optional previous low-res mask per prompt
  (N x 1 x 256 x 256) for iterative prompting; ``targets`` (N x H x W, each prompt's ground-truth
  component) only for ``rule="oracle"``, the best of the four masks for its component;
- ``mask_generator(model, predictor, cfg)``: an automatic generator for an
  ``AutomaticConfig`` whose ``generate(image)`` returns segment-anything's records and encodes
  through ``predictor``;
- optionally ``with_encoder(model, digest, name, encoder_backend) -> (model, digest)``: the model with
  another image encoder (SAM 1: ONNX Runtime, ``samis.models.onnx_encoder``); a family without it
  runs its encoder in torch (``encoder_backend: onnx`` is refused for it).

Backends are named by ``"module:Class"`` and imported on first use, so listing them needs no torch.
"""

from __future__ import annotations

import importlib

from samis.errors import ConfigError

#: family -> "module:Class" of its backend.
BACKENDS: dict[str, str] = {
    "sam1": "samis.backends.sam1:Sam1Backend",  # segment-anything's Sam: vit_h/l/b and MobileSAM's vit_t
    "sam2": "samis.backends.sam2:Sam2Backend",  # the sam2 package: SAM 2.1 Hiera t/s/b+/l
    "hq": "samis.backends.hq:HqSamBackend",  # the segment-anything-hq package: HQ-SAM tiny/b/l/h
}

#: family -> the package its backend needs (an optional extra) and how to install it
PACKAGES: dict[str, tuple[str, str]] = {
    "sam2": ("sam2", "pip install 'samis[sam2]'"),
    "hq": ("segment_anything_hq", "pip install 'samis[hq]'"),
}

_LOADED: dict[str, object] = {}


def family_available(family: str):
    """True when the family's package is importable, else a short note saying how to install it."""
    import importlib.util

    if family not in PACKAGES:
        return True
    module, how = PACKAGES[family]
    return True if importlib.util.find_spec(module) is not None else f"needs {how}"


def generator_kwargs(cfg) -> dict:
    """An automatic configuration as the keyword arguments every family's stock generator takes."""
    return dict(points_per_side=cfg.points_per_side, points_per_batch=cfg.points_per_batch,
                pred_iou_thresh=cfg.pred_iou_thresh, stability_score_thresh=cfg.stability_score_thresh,
                box_nms_thresh=cfg.box_nms_thresh, crop_n_layers=cfg.crop_n_layers,
                min_mask_region_area=cfg.min_mask_region_area, output_mode="binary_mask")


def load_object(ref: str):
    """The object a ``"module:Name"`` reference names (backends and mode runners are registered so)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def get_backend(model_name: str):
    """The backend object of a model variant's family (one instance per family and process)."""
    from samis.models.registry import get_spec

    family = get_spec(model_name).family
    if family not in BACKENDS:
        raise ConfigError(f"model {model_name!r} has family {family!r}, which no backend serves: known {', '.join(BACKENDS)}")
    if family not in _LOADED:
        _LOADED[family] = load_object(BACKENDS[family])()
    return _LOADED[family]
