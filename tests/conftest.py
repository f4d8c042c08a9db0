"""Shared test fixtures: where the real data is (``../shared``), and temporary trees.

The real data sits beside the repository (``../shared``) on every developer machine and in CI; tests
read it by path and never copy it. ``SAMIS_SHARED`` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAMIS_SHARED", REPO.parent / "shared")).resolve()


def _require(path: Path) -> Path:
    if not path.exists():
        msg = f"real data not found at {path}: put the project's shared/ folder beside the repository or set SAMIS_SHARED"
        if os.environ.get("CI"):
            pytest.fail(msg)  # in CI missing data is a failure, never a silent skip
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def shared_root() -> Path:
    return _require(SHARED)


@pytest.fixture(scope="session")
def datasets_root(shared_root) -> Path:
    return _require(shared_root / "datasets")


@pytest.fixture(scope="session")
def sd900_baselines(shared_root) -> Path:
    return _require(shared_root / "baselines" / "SD-saliency-900")
