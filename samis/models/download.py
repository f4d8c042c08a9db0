"""Fetch an official SAM checkpoint with pooch: streamed to a temporary file, MD5 checked, then moved in.

Where the network does not allow it, the error gives the URL and where to put the file by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from samis.errors import CheckpointError
from samis.models.hashing import remember_md5
from samis.models.official import verify, where_to_put
from samis.models.registry import get_spec
from samis.paths import checkpoint_dir


def download(name: str, dest_dir: Path | None = None, timeout: float = 30.0, url: str | None = None,
             progress: bool = True, echo=print) -> Path:
    """Download ``name``'s official checkpoint into ``dest_dir`` (default: the checkpoint dir)."""
    import pooch
    import requests

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
    pooch.get_logger().setLevel("WARNING")
    try:
        pooch.retrieve(url, known_hash=f"md5:{spec.md5}", fname=spec.filename, path=dest_dir,
                       downloader=pooch.HTTPDownloader(progressbar=progress, timeout=timeout))
    except ValueError as exc:  # pooch's digest mismatch: the temporary file is already gone
        got = re.search(r"got ([0-9a-f]{32})", str(exc))
        raise CheckpointError(
            f"downloaded {url} but its MD5 {got.group(1) if got else '(another)'} is not the published {spec.md5} "
            f"(interrupted or altered transfer); nothing was kept: try again, or {where_to_put(spec)}"
        ) from None
    except (requests.exceptions.RequestException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CheckpointError(
            f"could not download {url} ({reason}); this machine may have no access to it: "
            f"fetch it elsewhere and put it at {dest} (or pass --checkpoint PATH, or set SAMIS_CHECKPOINT_DIR)"
        ) from None
    remember_md5(dest, spec.md5)
    return dest
