"""Meta's official SAM checkpoints (vit_h, vit_l, vit_b): find the file, verify it, load it.

A file is used only if its MD5 is the published one (the hex in its name is the start of it); the
MD5 is cached per (path, size, mtime), so a 2.5 GB file is hashed once, not every run.
"""

from __future__ import annotations

import os
from pathlib import Path

from samis.errors import CheckpointError
from samis.models.hashing import cached_md5
from samis.models.registry import MODEL_REGISTRY, ModelSpec
from samis.paths import checkpoint_dir


def where_to_put(spec: ModelSpec) -> str:
    return (
        f"download {spec.url} and put it in {checkpoint_dir()} (set SAMIS_CHECKPOINT_DIR to use another folder), "
        f"or pass --checkpoint PATH, or run `samis models download {spec.name}`"
    )


def locate(spec: ModelSpec, checkpoint: str | os.PathLike | None = None) -> Path:
    """The checkpoint file: ``checkpoint`` (a file, or a folder holding the official name), else the checkpoint dir."""
    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if path.is_dir():
            path = path / spec.filename
        if not path.is_file():
            raise CheckpointError(f"{spec.name} checkpoint {path} does not exist: {where_to_put(spec)}")
        return path
    path = checkpoint_dir() / spec.filename
    if not path.is_file():
        raise CheckpointError(f"{spec.name} weights not found at {path}: {where_to_put(spec)}")
    return path


def verify(spec: ModelSpec, path: Path, progress: bool = True) -> str:
    """The file's MD5 if it is the official ``spec`` checkpoint, else a CheckpointError saying what it is."""
    md5 = cached_md5(path, progress=progress)
    if md5 == spec.md5:
        return md5
    for other in MODEL_REGISTRY.values():
        if other.md5 == md5:
            raise CheckpointError(
                f"{path} is the official {other.name} checkpoint ({other.filename}), not {spec.name}: "
                f"use it as {other.name}, or {where_to_put(spec)}"
            )
    size = path.stat().st_size
    raise CheckpointError(
        f"{path} ({size} bytes) has MD5 {md5}, not the published {spec.md5} of {spec.filename}: "
        f"the file is truncated, damaged or not {spec.name}; delete it and {where_to_put(spec)}"
    )


def load_state_dict(spec: ModelSpec, path: Path):
    """Read a verified checkpoint (tensors only: ``weights_only``) and check it fits the architecture."""
    import torch

    from samis.models.checks import check_state_dict

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # whatever torch raises for an unreadable file
        raise CheckpointError(f"{path} cannot be read as a PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    check_state_dict(spec.name, state, path)
    return state


def verified_state_dict(spec: ModelSpec, checkpoint: str | os.PathLike | None = None):
    """``(state_dict, digest)`` of the official checkpoint of ``spec`` (found, MD5-verified, shape-checked)."""
    path = locate(spec, checkpoint)
    digest = verify(spec, path)
    return load_state_dict(spec, path), digest
