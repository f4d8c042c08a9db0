"""The method folder: its manifest, what is already done, and the guard against stale maps.

``<out_root>/<method>/manifest.json`` records the full mode configuration, the model and its weight
digest, package versions, the git commit and a config hash. A rerun with the same hash resumes
(maps already written are skipped); a different hash is refused, because mixing maps from two
configurations under one name would silently corrupt a table. ``overwrite=True`` deletes the old
maps and starts again
(with the same hash it recomputes the maps of the running shard only, so shards never delete each
other's fresh work). Shards running on several machines write the same manifest (same hash).
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
from importlib import metadata
from pathlib import Path

from samis.errors import ConfigError
from samis.imageio import IMAGE_SUFFIXES, atomic_write_bytes

MANIFEST = "manifest.json"
RUN_LOG = "run.log"


def versions() -> dict:
    out = {}
    for dist in ("samis", "torch", "segment-anything", "mobilesam-mirror", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def git_commit() -> str | None:
    """HEAD of the repository samis runs from (``+dirty`` if it has local changes), or None."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def manifest_for(method: str, cfg, model_name: str, digest: str, chash: str, dataset) -> dict:
    """The manifest of a method folder; ``cfg`` is a mode configuration (``samis.runners.config``)."""
    return {
        "method": method,
        "config_hash": chash,
        "config": cfg.as_dict(),
        "model": model_name,
        "model_digest": digest,
        "dataset": getattr(dataset, "name", None),
        "split": getattr(dataset, "split", None),
        "versions": versions(),
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _maps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


def read_manifest(path: Path) -> dict | None:
    """A manifest's content, or None when it is missing or unreadable (an unknown configuration)."""
    try:
        return json.loads(Path(path).read_text()) if Path(path).is_file() else None
    except (OSError, ValueError):
        return None


def prepare(folder: Path, manifest: dict, overwrite: bool = False) -> None:
    """Make ``folder`` ready for maps of this configuration, or refuse with the way out."""
    folder = Path(folder)
    path = folder / MANIFEST
    if folder.is_dir():
        old = read_manifest(path)
        maps = _maps(folder)
        same = old is not None and old.get("config_hash") == manifest["config_hash"]
        if not same and (maps or old is not None) and not overwrite:
            if old is None:
                why = f"{len(maps)} maps without a readable {MANIFEST} (unknown configuration)"
            else:
                why = (f"maps of another configuration (config hash {old.get('config_hash')}, "
                       f"model digest {str(old.get('model_digest'))[:12]}, {old.get('numerics', 'cpu-fp32')}; "
                       f"now {manifest['config_hash']}, {manifest['model_digest'][:12]}, "
                       f"{manifest.get('numerics', 'cpu-fp32')})")
            raise ConfigError(
                f"{folder} holds {why}. Give this configuration another method name (mode option "
                f"name=...) or another --out, or pass --overwrite to delete those maps and recompute them."
            )
        if same:
            return  # resume (or, with overwrite, recompute this shard): keep the first manifest
        if overwrite:
            for p in maps:  # another configuration: every old map is stale, whichever shard wrote it
                p.unlink()
    atomic_write_bytes(path, (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode())


def same_options(folder: Path, cfg, model_name: str, numerics: str = "cpu-fp32") -> bool:
    """True if ``folder``'s manifest was written for these map options, this model (digest not checked)
    and these numerics (device and precision; manifests without them are ``cpu-fp32``).

    The cheap check a planner makes before loading a model: a folder whose maps came from other
    options is not "done", so the runner reaches :func:`prepare`, which refuses or overwrites it.
    """
    from samis.runners.config import normalize

    try:
        old = json.loads((Path(folder) / MANIFEST).read_text())
        return (old.get("model") == model_name and old.get("numerics", "cpu-fp32") == numerics
                and normalize(old["config"]).map_options() == json.loads(json.dumps(normalize(cfg).map_options(), default=str)))
    except (OSError, ValueError, KeyError, TypeError, ConfigError):
        return False


def done_stems(folder: Path, cfg=None) -> set[str]:
    """Stems that already have a map (writes are atomic, so an existing map is complete) and, for an
    automatic configuration, its per-image record (``samis.runners.automatic_records``)."""
    folder = Path(folder)
    if not folder.is_dir():
        return set()
    done = {p.stem for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith(".")}
    if cfg is not None and getattr(cfg, "mode", None) == "automatic":
        from samis.runners.automatic_records import recorded_stems

        done &= recorded_stems(folder)
    return done


def log_run(folder: Path, line: str) -> None:
    """Append one line to the method's run log (counts per run and shard)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with open(Path(folder) / RUN_LOG, "a", encoding="utf-8") as fh:
        fh.write(f"{stamp} {line}\n")
