"""Fetch an official SAM checkpoint: stream to ``.part`` with a progress bar, verify the MD5, rename.

Where the network does not allow it, the error gives the URL and where to put the file by hand.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from samis.errors import CheckpointError
from samis.models.hashing import remember_md5
from samis.models.official import verify, where_to_put
from samis.models.registry import get_spec
from samis.paths import checkpoint_dir


def download(name: str, dest_dir: Path | None = None, timeout: float = 30.0, url: str | None = None,
             progress: bool = True, echo=print) -> Path:
    """Download ``name``'s official checkpoint into ``dest_dir`` (default: the checkpoint dir)."""
    from samis.errors import ConfigError

    spec = get_spec(name)
    if spec.source != "official":
        raise ConfigError(f"{name} has no official checkpoint to download: run `samis models install {name}`")
    url = url or spec.url
    dest_dir = Path(dest_dir) if dest_dir is not None else checkpoint_dir()
    dest = dest_dir / spec.filename
    if dest.is_file():
        verify(spec, dest, progress=progress)
        echo(f"{dest} already present and verified")
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    md5 = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=spec.filename)
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                md5.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise CheckpointError(
            f"could not download {url} ({reason}); this machine may have no access to it: "
            f"fetch it elsewhere and put it at {dest} (or pass --checkpoint PATH, or set SAMIS_CHECKPOINT_DIR)"
        ) from None
    if md5.hexdigest() != spec.md5:
        part.unlink(missing_ok=True)
        raise CheckpointError(
            f"downloaded {url} but its MD5 {md5.hexdigest()} is not the published {spec.md5} "
            f"(interrupted or altered transfer); nothing was kept: try again, or {where_to_put(spec)}"
        )
    os.replace(part, dest)
    remember_md5(dest, spec.md5)
    return dest
