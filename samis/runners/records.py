"""Per-image rows of a run (a click sequence's IoUs), kept so that a crash or a resume changes nothing.

Each image's rows go to their own small file as soon as they are known (atomically, like the maps),
in a hidden folder beside the method folders; ``consolidate`` joins them into one CSV in natural stem
order. A run that is interrupted and resumed therefore writes the same CSV, byte for byte, as one
that ran through. A manifest guards the folder as ``store.prepare`` guards a method folder: rows of
another configuration are refused, or deleted with ``overwrite``.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from samis.errors import ConfigError
from samis.imageio import atomic_write_bytes
from samis.runners.store import read_manifest
from samis.sorting import natural_key

PARTS = ".records"
MANIFEST = "manifest.json"


def _csv_text(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


class RecordStore:
    """Rows per image under ``<root>/.records/<name>/``, joined into ``<root>/<name><suffix>``."""

    def __init__(self, root: Path, name: str, header: list[str], manifest: dict, suffix: str = ".csv",
                 overwrite: bool = False):
        self.root = Path(root)
        self.parts = self.root / PARTS / name
        self.path = self.root / f"{name}{suffix}"
        self.header = list(header)
        manifest = {**manifest, "columns": self.header}
        path = self.parts / MANIFEST
        old = read_manifest(path)
        if self.parts.is_dir() and old != json.loads(json.dumps(manifest, default=str)):
            if not overwrite and any(self.parts.glob("*.csv")):
                raise ConfigError(f"{self.parts} holds rows of another configuration; give this one another "
                                  "name (mode option name=...) or another --out, or pass --overwrite")
            shutil.rmtree(self.parts)
        if not path.is_file() or overwrite:
            atomic_write_bytes(path, (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode())

    def put(self, stem: str, rows: list[list]) -> None:
        """An image's rows (values already formatted), written atomically."""
        atomic_write_bytes(self.parts / f"{stem}.csv", _csv_text(rows).encode(), durable=False)

    def has(self, stem: str) -> bool:
        return (self.parts / f"{stem}.csv").is_file()

    def consolidate(self) -> Path:
        """Every image's rows under one header, images in natural stem order."""
        files = sorted(self.parts.glob("*.csv"), key=lambda p: natural_key(p.stem))
        text = _csv_text([self.header]) + "".join(p.read_text() for p in files if not p.name.startswith("."))
        atomic_write_bytes(self.path, text.encode())
        return self.path
