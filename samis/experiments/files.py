"""Reading definition files: YAML, ``extends`` chains and ``${VAR}`` expansion.

Every value remembers which file wrote it (a map from key path to file), so an error in a value a
base file set names that base file, and a relative path resolves against the file that wrote it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from samis.errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# --- reading and merging files ---------------------------------------------------------------
KeyPath = tuple


def fmt_key(path: KeyPath) -> str:
    """``("modes", 2, "k")`` -> ``modes[2].k``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _read_yaml(path: Path, via: Path | None, key: KeyPath) -> dict:
    if not path.is_file():
        where = f"{via}: {fmt_key(key)}: " if via else ""
        raise ConfigError(f"{where}definition file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: (top level): expected a mapping of keys (name:, datasets:, ...), got {kind_of(data)}")
    return data


def _origins(value: Any, path: KeyPath, source: Path, into: dict) -> None:
    into[path] = source
    if isinstance(value, dict):
        for key, item in value.items():
            _origins(item, path + (key,), source, into)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _origins(item, path + (i,), source, into)


def _merge(base: Any, child: Any, path: KeyPath, origins: dict, child_origins: dict) -> Any:
    """Deep merge: mappings key by key, everything else (lists included) replaced by the child."""
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            out[key] = _merge(base.get(key), value, path + (key,), origins, child_origins) if key in base else value
            if key not in base or not (isinstance(base[key], dict) and isinstance(value, dict)):
                _replace_origins(path + (key,), origins, child_origins)
        return out
    _replace_origins(path, origins, child_origins)
    return child


def _replace_origins(path: KeyPath, origins: dict, child_origins: dict) -> None:
    n = len(path)
    for key in [k for k in origins if k[:n] == path]:
        del origins[key]
    origins.update({k: v for k, v in child_origins.items() if k[:n] == path})


def load_tree(path: Path, chain: tuple[Path, ...], via: Path | None = None) -> tuple[dict, dict, tuple[Path, ...]]:
    """(merged data, key path -> file that wrote it, files read) with ``extends`` resolved."""
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigError(f"{chain[-1]}: extends: cycle in definitions: {cycle}")
    data = _read_yaml(path, via, ("extends",))
    origins: dict = {}
    _origins(data, (), path, origins)
    parent = data.pop("extends", None)
    if parent is None:
        return data, origins, (path,)
    if not isinstance(parent, str) or not parent.strip():
        raise ConfigError(f"{path}: extends: expected the path of a base definition (a string), got {kind_of(parent)}")
    try:
        parent_text = expand_env(parent)
    except KeyError as exc:
        raise ConfigError(f"{path}: extends: environment variable {exc.args[0]} is not set") from None
    base_path = Path(parent_text).expanduser()
    if not base_path.is_absolute():
        base_path = path.parent / base_path
    base, base_origins, files = load_tree(base_path, chain + (path,), via=path)
    child_origins = {k: v for k, v in origins.items() if k != ("extends",)}
    merged = _merge(base, data, (), base_origins, child_origins)
    base_origins[()] = path
    return merged, base_origins, (path, *files)


def expand_env(text: str) -> str:
    def sub(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        raise KeyError(name)

    return _ENV.sub(sub, text)


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__

