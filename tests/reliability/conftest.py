"""Helpers for the reliability suite: copies of real data under awkward paths, and the CLI as a user runs it.

Every case ends in a correct result or in one clear ``error:`` line that names the file and the fix.
The command line is run in a subprocess (``python -m samis``), exactly as a user runs it, so a
traceback anywhere — import time, click, a worker — is caught, not hidden by an in-process runner.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# SD-saliency-900's own folders ("Source Images", "Ground truth") contain spaces; the data root the
# copies live under adds non-ASCII characters and spaces of its own.
AWKWARD = "dätä röot ü 数据"
SD900_STEMS = ("In_1", "In_2", "Pa_1", "Sc_1")


def samis_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run ``python -m samis ARGS`` as a user would; the finished process (text stdout/stderr)."""
    full_env = dict(os.environ)
    full_env.pop("SAMIS_DATA_ROOT", None)  # every test names its data explicitly
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env["PYTHONIOENCODING"] = "utf-8"
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "samis", *map(str, args)],
        cwd=str(cwd or REPO), env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def error_line(proc) -> str:
    """The single ``error:`` line of a failed command, after checking there is no traceback and exit code 2."""
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both, f"traceback instead of a clear error:\n{both}"
    assert proc.returncode == 2, f"exit code {proc.returncode}, expected 2:\n{both}"
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, f"expected exactly one 'error:' line on stderr, got {len(lines)}:\n{proc.stderr}"
    return lines[0]


def assert_clean_error(proc, *names: str, fix: tuple[str, ...] = ()) -> str:
    """Exit 2, one ``error:`` line, no traceback; every string in ``names`` and one of ``fix`` in stderr.

    Returns the stderr text. ``names`` are files (or stems) the message must name; ``fix`` are words of
    which at least one must occur (the remedy: "re-export", "remove", "install" ...).
    """
    error_line(proc)
    err = proc.stderr
    for name in names:
        assert str(name) in err, f"{name!r} not named in the error:\n{err}"
    if fix:
        assert any(word.lower() in err.lower() for word in fix), f"no fix ({' / '.join(fix)}) in the error:\n{err}"
    return err


def assert_ok(proc) -> str:
    both = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in both, f"exit code {proc.returncode}:\n{both}"
    return proc.stdout


def copy_sd900(datasets_root: Path, dest: Path, stems=SD900_STEMS) -> Path:
    """A tiny SD-saliency-900 (copies of real files) at ``dest/SD-saliency-900``; returns the set folder."""
    src = datasets_root / "SD-saliency-900"
    root = dest / "SD-saliency-900"
    (root / "Source Images").mkdir(parents=True)
    (root / "Ground truth").mkdir(parents=True)
    for stem in stems:
        shutil.copy2(src / "Source Images" / f"{stem}.bmp", root / "Source Images")
        shutil.copy2(src / "Ground truth" / f"{stem}.png", root / "Ground truth")
    return root


@pytest.fixture(scope="session")
def installed_weights(vit_t_weights) -> Path:
    """The user's installed vit_t weights folder (tests/conftest.py's fixture; only read here)."""
    return vit_t_weights


@pytest.fixture
def awkward_root(tmp_path) -> Path:
    """An empty data root whose path has spaces and non-ASCII characters."""
    root = tmp_path / AWKWARD
    root.mkdir()
    return root


@pytest.fixture
def sd900_copy(datasets_root, awkward_root) -> Path:
    """Four real SD-saliency-900 samples (In_1, In_2, Pa_1, Sc_1) copied under an awkward data root."""
    return copy_sd900(datasets_root, awkward_root)


def baseline_copy(sd900_baselines: Path, dest: Path, methods, stems=SD900_STEMS) -> Path:
    """Copies of the stored maps of ``methods`` for ``stems`` at ``dest/<Method>/``; returns ``dest``."""
    for method in methods:
        (dest / method).mkdir(parents=True, exist_ok=True)
        for stem in stems:
            (src,) = [p for p in (sd900_baselines / method).iterdir() if p.stem == stem]
            shutil.copy2(src, dest / method / src.name)
    return dest
