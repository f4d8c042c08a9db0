"""Checkpoints whose authors publish no digest (SAM 2.1, HQ-SAM): checked by shape, then pinned at first use.

Meta publishes an MD5 for SAM 1's checkpoints (``official.py`` enforces it); SAM 2.1's and HQ-SAM's
authors publish none. For those, a file is accepted only if its tensors are exactly the variant's
architecture (names and shapes, so a file of another family or size is named for what it is), and
its MD5 is then recorded in ``cache_dir()/pinned.json``. From then on that variant runs only on
that file: a replaced or damaged checkpoint is refused instead of silently changing the study.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from samis.errors import CheckpointError
from samis.models.checks import identify_variant
from samis.models.hashing import cached_md5
from samis.paths import cache_dir, checkpoint_dir

def where_to_put(spec) -> str:
    return (f"download {spec.url} (about {spec.size_mb} MB) into {checkpoint_dir()} "
            f"(or set SAMIS_CHECKPOINT_DIR, or pass --checkpoint PATH)")


def locate(spec, checkpoint: str | os.PathLike | None = None) -> Path:
    """The checkpoint file: ``checkpoint`` (a file, or a folder holding the official name), else the checkpoint dir."""
    path = Path(checkpoint).expanduser() if checkpoint is not None else checkpoint_dir()
    if path.is_dir():
        path = path / spec.filename
    if not path.is_file():
        raise CheckpointError(f"{spec.name} weights not found at {path}: {where_to_put(spec)}")
    return path


def read_state_dict(spec, path: Path) -> dict:
    """The tensors of a checkpoint (``weights_only``: a checkpoint is data, never code)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # whatever torch raises for an unreadable file
        raise CheckpointError(f"{path} cannot be read as a PyTorch checkpoint ({type(exc).__name__}: {exc}); "
                              f"{where_to_put(spec)}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # SAM 2's training checkpoints wrap the weights
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state dict: {where_to_put(spec)}")
    return state


def check_fits(spec, state: dict, model, path: Path) -> None:
    """Refuse a state dict that is not exactly ``model``'s tensors, naming what the file is instead."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or wrong):
        return
    what = identify_variant(state)
    if what is not None and what != spec.name:
        raise CheckpointError(f"{path} is a {what} checkpoint, not {spec.name}: use it as model {what}, "
                              f"or {where_to_put(spec)}")
    detail = (f"{len(missing)} tensors missing (e.g. {missing[:2]})" if missing else
              f"{len(unexpected)} unexpected tensors (e.g. {unexpected[:2]})" if unexpected else
              f"{len(wrong)} tensors of another shape (e.g. {wrong[0]}: {tuple(state[wrong[0]].shape)} "
              f"instead of {tuple(expected[wrong[0]].shape)})")
    raise CheckpointError(f"{path} does not fit {spec.name} ({spec.architecture}): {detail}; the file is damaged "
                          f"or of another model: {where_to_put(spec)}")


def _record_file() -> Path:
    return cache_dir() / "pinned.json"


def _records() -> dict:
    try:
        return json.loads(_record_file().read_text())
    except (OSError, ValueError):
        return {}


def pinned_md5(name: str) -> str | None:
    """The MD5 recorded for variant ``name`` at its first use, or None."""
    entry = _records().get(name)
    return entry.get("md5") if entry else None


def check_pinned(spec, path: Path, progress: bool = True) -> tuple[str, bool]:
    """``(md5, first_use)``: the file's MD5, refused when it differs from the one recorded for the variant."""
    md5 = cached_md5(path, progress=progress)
    recorded = _records().get(spec.name)
    if recorded is None:
        return md5, True
    if recorded["md5"] != md5:
        raise CheckpointError(
            f"{path} (MD5 {md5}) is not the {spec.name} checkpoint first used here ({recorded['file']}, MD5 "
            f"{recorded['md5']}, recorded {recorded['date']} in {_record_file()}): it was replaced or damaged. "
            f"Put the original back, or, if the new file is what you want, run `samis models forget {spec.name}`")
    return md5, False


def pin(spec, path: Path, md5: str) -> None:
    """Record ``md5`` as variant ``spec.name``'s checkpoint (after it passed the shape check)."""
    data = _records()
    data[spec.name] = {"md5": md5, "file": str(Path(path).resolve()), "size": Path(path).stat().st_size,
                       "date": _dt.date.today().isoformat()}
    _write(data)


def forget(name: str) -> bool:
    """Drop the record of ``name`` (the next file used becomes its checkpoint); whether there was one."""
    data = _records()
    if name not in data:
        return False
    del data[name]
    _write(data)
    return True


def _write(data: dict) -> None:
    target = _record_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, target)


def load_pinned(spec, checkpoint, model, progress: bool = True) -> str:
    """Load ``spec``'s checkpoint into ``model`` (checked, pinned); return its MD5 (the weights' digest)."""
    path = locate(spec, checkpoint)
    md5, first = check_pinned(spec, path, progress=progress)
    state = read_state_dict(spec, path)
    check_fits(spec, state, model, path)
    model.load_state_dict(state)
    if first:
        pin(spec, path, md5)
    return md5
