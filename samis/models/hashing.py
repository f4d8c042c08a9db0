"""Digests of weight files and tensors, with a cache so a 2.5 GB MD5 is computed once.

The cache (``<cache_dir>/verified.json``) maps a file's resolved path to its size, mtime and MD5; a
file whose size or mtime changed is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from samis.paths import cache_dir

_CHUNK = 1 << 22


def file_digest(path: Path, algorithm: str = "sha256", progress: bool = False) -> str:
    """Hex digest of a file, read in chunks (with a progress bar for large files when asked)."""
    h = hashlib.new(algorithm)
    size = os.path.getsize(path)
    bar = None
    if progress and size > (200 << 20):
        from tqdm import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"{algorithm} {Path(path).name}")
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return h.hexdigest()


def _cache_file() -> Path:
    return cache_dir() / "verified.json"


def _read_cache() -> dict:
    try:
        return json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}  # a missing or damaged cache only costs a re-hash


def known_md5(path: Path) -> str | None:
    """The cached MD5 of ``path`` if its size and mtime are unchanged since it was hashed."""
    path = Path(path).resolve()
    st = path.stat()
    entry = _read_cache().get(str(path))
    if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        return entry["md5"]
    return None


def cached_md5(path: Path, progress: bool = True) -> str:
    """MD5 of ``path``, reused while the file's (size, mtime) stay the same."""
    known = known_md5(path)
    if known is not None:
        return known
    md5 = file_digest(path, "md5", progress=progress)
    remember_md5(path, md5)
    return md5


def remember_md5(path: Path, md5: str) -> None:
    """Record a file's MD5 (e.g. computed while downloading) in the verification cache."""
    path = Path(path).resolve()
    st = path.stat()
    data = _read_cache()
    data[str(path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": md5}
    tmp = _cache_file().with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, _cache_file())


def state_dict_digest(state_dict) -> str:
    """sha256 over sorted keys, dtypes, shapes and tensor bytes: the identity of a set of weights."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(np.ascontiguousarray(t.numpy()).tobytes() if t.numel() else b"")
    return h.hexdigest()
