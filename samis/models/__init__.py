"""Model variants: a registry, verified weights, and ``load_sam`` that returns a ready model.

``load_sam("vit_t")`` gives a ``segment_anything.modeling.Sam`` whatever the SAM 1 variant; the
runners reach it only through its backend (``samis.backends``, family ``sam1``).
"""

from samis.models.registry import DEFAULT_MODEL, MODEL_REGISTRY, ModelSpec, get_spec


def load_sam(name, checkpoint=None, device=None):
    """Build ``name``, load verified weights, ``eval()``, move to ``device``: ``(sam, digest)``."""
    from samis.models.loading import load_sam as _load

    return _load(name, checkpoint=checkpoint, device=device)


def encoder_autocast(device, dtype=None):
    """Autocast context for the image encoder (``bf16``/``fp16``), a no-op for ``fp32``/None."""
    from samis.models.loading import encoder_autocast as _autocast

    return _autocast(device, dtype)


def resolve_device(device=None):
    """``--device`` if given, else CUDA when present, else CPU."""
    from samis.models.loading import resolve_device as _resolve

    return _resolve(device)


__all__ = ["DEFAULT_MODEL", "MODEL_REGISTRY", "ModelSpec", "encoder_autocast", "get_spec", "load_sam", "resolve_device"]
