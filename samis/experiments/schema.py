"""A tiny schema walker: typed accessors that fail with the file, the key path and what was expected.

Small enough to read in one sitting, so adding a key to the definition format is one line in
``definition.py`` and never a new dependency.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from samis.errors import ConfigError
from samis.experiments.files import KeyPath, expand_env, fmt_key, kind_of

MISSING = object()


class Checker:
    """Typed accessors over the merged tree that raise ``ConfigError`` with file, key path and expectation."""

    def __init__(self, top: Path, origins: dict, check_paths: bool):
        self.top, self.origins, self.check_paths = top, origins, check_paths

    def source(self, path: KeyPath) -> Path:
        for n in range(len(path), -1, -1):
            if path[:n] in self.origins:
                return self.origins[path[:n]]
        return self.top

    def fail(self, path: KeyPath, message: str) -> ConfigError:
        source = self.source(path)
        where = f"{source}" if source == self.top else f"{source} (extended by {self.top})"
        return ConfigError(f"{where}: {fmt_key(path)}: {message}")

    def expected(self, path: KeyPath, what: str, value: Any = MISSING) -> ConfigError:
        got = "" if value is MISSING else f", got {kind_of(value)}"
        return self.fail(path, f"expected {what}{got}")

    def mapping(self, value: Any, path: KeyPath, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.expected(path, f"a mapping with keys {', '.join(allowed)}", value)
        for key in value:
            if key not in allowed:
                raise self.fail(path + (key,), f"unknown key {key!r}; allowed here: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                raise self.fail(path + (key,), f"missing required key {key!r}")
        return value

    def string(self, value: Any, path: KeyPath, choices: tuple[str, ...] | None = None, pattern=None, what=None) -> str:
        if not isinstance(value, str) or not value:
            raise self.expected(path, what or (f"one of {', '.join(choices)}" if choices else "a non-empty string"), value)
        value = self.expand(value, path)
        if choices is not None and value not in choices:
            raise self.expected(path, f"one of {', '.join(choices)}", value)
        if pattern is not None and not pattern.match(value):
            raise self.expected(path, what or f"a string matching {pattern.pattern}", value)
        return value

    def expand(self, text: str, path: KeyPath) -> str:
        try:
            return expand_env(text)
        except KeyError as exc:
            raise self.fail(
                path, f"environment variable {exc.args[0]} is not set (in {text!r}); set it, "
                f"or write ${{{exc.args[0]}:-default}} or a literal path"
            ) from None

    def integer(self, value: Any, path: KeyPath, lo: int | None = None, hi: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.expected(path, _range_text("an integer", lo, hi), value)
        return value

    def number(self, value: Any, path: KeyPath, lo: float | None = None, hi: float | None = None, open_lo=False) -> float:
        bad = isinstance(value, bool) or not isinstance(value, (int, float))
        if not bad:
            bad = (lo is not None and (value <= lo if open_lo else value < lo)) or (hi is not None and value > hi)
        if bad:
            raise self.expected(path, _range_text("a number", lo, hi, open_lo), value)
        return float(value)

    def boolean(self, value: Any, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            raise self.expected(path, "true or false", value)
        return value

    def items(self, value: Any, path: KeyPath, what: str, allow_empty: bool = False) -> list:
        if not isinstance(value, list) or (not value and not allow_empty):
            raise self.expected(path, f"a {'' if allow_empty else 'non-empty '}list of {what}", value)
        return value

    def strings(self, value: Any, path: KeyPath, choices: tuple[str, ...] | None = None, unique=True) -> tuple[str, ...]:
        what = f"values from {', '.join(choices)}" if choices else "strings"
        out = tuple(self.string(v, path + (i,), choices) for i, v in enumerate(self.items(value, path, what)))
        if unique and len(set(out)) != len(out):
            dup = next(v for v in out if out.count(v) > 1)
            raise self.fail(path, f"{dup!r} is listed twice")
        return out

    def path(self, value: Any, path: KeyPath, kind: str | None) -> Path:
        """A path value resolved against the file that wrote it; ``kind`` "dir"/"file" is checked to exist."""
        text = self.string(value, path, what="a path (string)")
        resolved = Path(text).expanduser()
        if not resolved.is_absolute():
            resolved = self.source(path).parent / resolved
        resolved = Path(os.path.normpath(resolved))
        if self.check_paths and kind == "dir" and not resolved.is_dir():
            raise self.fail(path, f"expected an existing directory, but {resolved} {_missing_text(resolved)}")
        if self.check_paths and kind == "file" and not resolved.is_file():
            raise self.fail(path, f"expected an existing file, but {resolved} {_missing_text(resolved)}")
        return resolved


def _range_text(what: str, lo, hi, open_lo: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"{what} {'>' if open_lo else '>='} {lo} and <= {hi}"
    if lo is not None:
        return f"{what} {'>' if open_lo else '>='} {lo}"
    if hi is not None:
        return f"{what} <= {hi}"
    return what


def _missing_text(path: Path) -> str:
    return "is a file" if path.is_file() else ("is a directory" if path.is_dir() else "does not exist")


