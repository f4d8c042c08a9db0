"""The dataset names a user can type, and the one function that turns a name into a ``Dataset``."""

from __future__ import annotations

from pathlib import Path

from samis.datasets.base import Dataset
from samis.datasets.bsdata import BSData
from samis.datasets.folder import Folder
from samis.datasets.ksdd import KolektorSDD
from samis.datasets.mvtec import MVTec
from samis.datasets.mt import MagneticTile
from samis.datasets.nrsd import NRSD
from samis.datasets.sd900 import SD900
from samis.errors import ConfigError

DATASETS: dict[str, type[Dataset]] = {cls.name: cls for cls in (SD900, MagneticTile, NRSD, BSData, KolektorSDD, MVTec, Folder)}


def get_dataset(name: str, root: str | Path | None = None, split: str | None = None, options: dict | None = None,
                subset=None) -> Dataset:
    """The dataset ``name`` in ``split`` (default ``full``) under ``root`` (default ``SAMIS_DATA_ROOT``).

    ``root`` may be the data root that holds the set's folder or the set's folder itself.
    ``options``: the adapter's options (``Dataset.options``, e.g. ``{"object": "bottle"}`` for mvtec);
    ``subset``: a ``samis.datasets.subset.Subset`` (``--limit``/``--stems``), None for the whole split.
    """
    cls = DATASETS.get(name)
    if cls is None:
        raise ConfigError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return cls(root=root, split=split, options=options, subset=subset)


def describe() -> list[dict[str, str]]:
    """One row per dataset: name, folder under the data root, splits, description (for ``samis datasets list``)."""
    return [
        {
            "name": cls.name,
            "folder": cls.folder or "(the root itself)",
            "splits": ", ".join(cls.splits),
            "description": cls.description,
        }
        for cls in DATASETS.values()
    ]
