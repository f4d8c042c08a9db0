"""Printed names of methods: a definition's ``display_names`` map (id or glob -> name) applied in one place.

Method ids such as ``SAM-vit_t-point1-neg2`` are file-system names; a paper prints ``SAM (1 point)``.
Tables, figures and the HTML report all ask here, so a method is called the same everywhere.
"""

from __future__ import annotations

import fnmatch


def display_name(method: str, names: dict | None) -> str:
    """The printed name of ``method``: an exact key first, else the first glob key that matches, else the id."""
    if not names:
        return str(method)
    if method in names:
        return str(names[method])
    for pattern, printed in names.items():
        if any(ch in pattern for ch in "*?[") and fnmatch.fnmatchcase(str(method), pattern):
            return str(printed)
    return str(method)


def parse_pairs(items) -> dict:
    """``["SAM-*-box=SAM (box)", ...]`` (the CLI's --display-name) -> an ordered map."""
    from samis.errors import ConfigError

    out = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--display-name {item!r}: write METHOD=NAME, e.g. 'SAM-*-box=SAM (box)'")
        out[key.strip()] = value.strip()
    return out
