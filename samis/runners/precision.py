"""The numerics of a run: which device type and which precision computed an embedding or a map.

A result computed one way is never served as another: the numerics tag goes into the embedding-cache
key (and through it the automatic mask-cache key) and into the maps' configuration hash. The tag of
the CPU in float32 (``cpu-fp32``) adds nothing to either, so every cache and report made before
the tag existed stays valid.

Precisions (the mode option ``autocast``):

- unset: float32. On CUDA it is **exact** float32: TF32 is switched off for matmuls and cuDNN
  convolutions while samis runs (PyTorch would otherwise run convolutions in TF32, which moves
  embeddings by ~1e-3 relative and binary maps by up to 0.4% of pixels);
- ``tf32``: the image encoder with TF32 matmuls and convolutions (CUDA only);
- ``bf16`` / ``fp16``: the image encoder under CUDA autocast (CUDA only).

The decoder always runs in exact float32 (it is milliseconds). Reduced precision off CUDA is refused:
the CPU would silently compute float32 under a ``-bf16`` name.
"""

from __future__ import annotations

import contextlib

import torch

from samis.errors import ConfigError

REDUCED = ("tf32", "bf16", "fp16")
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: the numerics of every result made before this tag existed: adds nothing to keys and hashes.
LEGACY = "cpu-fp32"


def device_type(device) -> str:
    return torch.device(device).type if not isinstance(device, torch.device) else device.type


def check(device, autocast: str | None) -> None:
    """Refuse reduced precision where it would not happen (anything but CUDA)."""
    if autocast is None:
        return
    if autocast not in REDUCED:
        raise ConfigError(f"autocast={autocast!r}: use {', '.join(REDUCED)} or leave it unset (exact float32)")
    if device_type(device) != "cuda":
        raise ConfigError(
            f"autocast={autocast} needs a CUDA device, this run is on {device_type(device)}: the encoder would run "
            "in float32 under a reduced-precision name. Drop autocast (exact float32) or run with --device cuda"
        )


def numerics(device, autocast: str | None) -> str:
    """``<device type>-<precision>``, e.g. ``cpu-fp32``, ``cuda-fp32`` (exact), ``cuda-tf32``, ``cuda-bf16``."""
    check(device, autocast)
    return f"{device_type(device)}-{autocast or 'fp32'}"


def key_tag(tag: str) -> str | None:
    """What the numerics add to a cache key or hash: nothing for ``cpu-fp32`` (keys made before stay valid)."""
    return None if tag == LEGACY else tag


def _tf32_switches():
    """(object, attribute, value for TF32 on, value for off) of the flags this torch has.

    Recent torch has ``fp32_precision`` and refuses mixing it with the legacy ``allow_tf32`` flags.
    """
    matmul, conv = torch.backends.cuda.matmul, getattr(torch.backends.cudnn, "conv", None)
    if hasattr(matmul, "fp32_precision") and conv is not None and hasattr(conv, "fp32_precision"):
        return [(matmul, "fp32_precision", "tf32", "ieee"), (conv, "fp32_precision", "tf32", "ieee")]
    return [(matmul, "allow_tf32", True, False), (torch.backends.cudnn, "allow_tf32", True, False)]


@contextlib.contextmanager
def tf32(enabled: bool):
    """TF32 on or off for CUDA matmuls and convolutions inside the block; the old flags restored after."""
    switches = _tf32_switches()
    saved = [getattr(obj, name) for obj, name, _, _ in switches]
    try:
        for obj, name, on, off in switches:
            setattr(obj, name, on if enabled else off)
        yield
    finally:
        for (obj, name, _, _), value in zip(switches, saved):
            setattr(obj, name, value)


def run_context(device):
    """The whole run: exact float32 on CUDA (the encoder context below may loosen it); nothing elsewhere."""
    return tf32(False) if device_type(device) == "cuda" else contextlib.nullcontext()


@contextlib.contextmanager
def encoder_context(device, autocast: str | None):
    """The image encoder at the asked precision (``check`` has refused reduced precision off CUDA)."""
    if device_type(device) != "cuda":
        yield
        return
    with tf32(autocast == "tf32"):
        if autocast in AUTOCAST_DTYPES:
            with torch.autocast("cuda", dtype=AUTOCAST_DTYPES[autocast]):
                yield
        else:
            yield
