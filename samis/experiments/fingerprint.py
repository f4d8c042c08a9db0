"""Whether a results file still describes the maps it was computed from.

Evaluating thousands of maps takes minutes, so ``reproduce`` evaluates again only when something it
read has changed. A results file gets a sidecar ``<file>.fingerprint.json`` holding, for every map
folder it covers, the number of files, the newest mtime and a hash of the run manifest, plus the
method list, the image list and the protocols. Any change in those makes the file stale; a missing
or unreadable sidecar does too. Reading a fingerprint costs one directory listing per folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from samis.imageio import atomic_write_bytes

MANIFEST = "manifest.json"


def folder_fingerprint(folder: str | os.PathLike) -> dict:
    """``{files, newest_mtime_ns, manifest}`` of a map folder (hidden files ignored); empty when absent."""
    folder = Path(folder)
    if not folder.is_dir():
        return {"files": 0, "newest_mtime_ns": 0, "manifest": None}
    count, newest = 0, 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            count += 1
            newest = max(newest, entry.stat().st_mtime_ns)
    manifest = folder / MANIFEST
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()[:16] if manifest.is_file() else None
    return {"files": count, "newest_mtime_ns": newest, "manifest": digest}


def fingerprint(root: str | os.PathLike, methods: list[str], stems: list[str], protocols: tuple[str, ...],
                extra: dict | None = None) -> dict:
    """Everything a results file over ``methods`` under ``root`` depends on."""
    return {
        "root": str(root),
        "protocols": list(protocols),
        "stems": hashlib.sha256("\n".join(stems).encode()).hexdigest()[:16],
        "methods": {m: folder_fingerprint(Path(root) / m) for m in methods},
        **(extra or {}),
    }


def sidecar(results: str | os.PathLike) -> Path:
    return Path(str(results) + ".fingerprint.json")


def is_fresh(results: str | os.PathLike, current: dict, outputs: list[Path]) -> bool:
    """True when every output exists and the sidecar of ``results`` matches ``current``."""
    if not all(Path(p).is_file() for p in outputs):
        return False
    try:
        stored = json.loads(sidecar(results).read_text())
    except (OSError, ValueError):
        return False
    return stored == json.loads(json.dumps(current))


def record(results: str | os.PathLike, current: dict) -> None:
    """Write the sidecar after the results files are complete (so a crash leaves them stale, not trusted)."""
    atomic_write_bytes(sidecar(results), (json.dumps(current, indent=1, sort_keys=True) + "\n").encode())
