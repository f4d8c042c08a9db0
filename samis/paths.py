"""Where things live: data roots, the weight cache, the results tree.

Environment variables let a user point samis at their own storage without editing definitions.
"""

from __future__ import annotations

import os
from pathlib import Path

from samis.errors import ConfigError


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """The folder holding the datasets: ``--data-root``, else ``SAMIS_DATA_ROOT``."""
    value = explicit if explicit is not None else os.environ.get("SAMIS_DATA_ROOT")
    if not value:
        raise ConfigError(
            "no data root given: pass --data-root DIR or set SAMIS_DATA_ROOT=DIR "
            "(the folder that holds SD-saliency-900/, Magnetic-tile-defect/, NRSD-MN/ ...)"
        )
    root = Path(value).expanduser()
    if not root.is_dir():
        raise ConfigError(f"data root {root} is not a directory: check --data-root / SAMIS_DATA_ROOT")
    return root


def cache_dir() -> Path:
    """Converted weights and image embeddings: ``SAMIS_CACHE_DIR``, else ``~/.cache/samis``."""
    value = os.environ.get("SAMIS_CACHE_DIR")
    root = Path(value).expanduser() if value else Path.home() / ".cache" / "samis"
    root.mkdir(parents=True, exist_ok=True)
    return root


def checkpoint_dir() -> Path:
    """Official SAM checkpoints a user downloaded: ``SAMIS_CHECKPOINT_DIR``, else the cache's ``checkpoints/``."""
    value = os.environ.get("SAMIS_CHECKPOINT_DIR")
    return Path(value).expanduser() if value else cache_dir() / "checkpoints"
