"""Does a state dict fit the variant it is loaded as? Clear errors instead of random weights."""

from __future__ import annotations

from pathlib import Path

from samis.errors import CheckpointError


#: (family, encoder width, encoder depth) -> variant: how a state dict is recognised, whatever its family
_SIGNATURES = {
    ("sam2", 96, 12): "sam2.1_hiera_tiny",
    ("sam2", 96, 16): "sam2.1_hiera_small",
    ("sam2", 112, 24): "sam2.1_hiera_base_plus",
    ("sam2", 144, 48): "sam2.1_hiera_large",
    ("hq", 768, 12): "hq_vit_b",
    ("hq", 1024, 24): "hq_vit_l",
    ("hq", 1280, 32): "hq_vit_h",
    ("hq", "tinyvit", 0): "hq_vit_tiny",
    ("sam1", 768, 12): "vit_b",
    ("sam1", 1024, 24): "vit_l",
    ("sam1", 1280, 32): "vit_h",
    ("sam1", "tinyvit", 0): "vit_t",
}


def identify_variant(state_dict) -> str | None:
    """The registry name whose weights these tensors are (by the encoder's keys and shapes), if recognisable.

    SAM 2 has a Hiera trunk, HQ-SAM is SAM 1 plus an HQ output token (``mask_decoder.hf_token``), and
    within a family the encoder's width and block count tell the sizes apart.
    """
    keys = state_dict.keys()
    if any(k.startswith("image_encoder.trunk.") for k in keys):
        family, prefix, width_key, part = "sam2", "image_encoder.trunk.blocks.", "image_encoder.trunk.patch_embed.proj.weight", 3
    else:
        family = "hq" if "mask_decoder.hf_token.weight" in keys else "sam1"
        prefix, width_key, part = "image_encoder.blocks.", "image_encoder.patch_embed.proj.weight", 2
        if "image_encoder.patch_embed.seq.0.c.weight" in keys:
            return _SIGNATURES[(family, "tinyvit", 0)]
    width = state_dict.get(width_key)
    if width is None:
        return None
    depth = len({k.split(".")[part] for k in keys if k.startswith(prefix)})
    return _SIGNATURES.get((family, int(width.shape[0]), depth))


def check_state_dict(name: str, state_dict, path: Path | str) -> None:
    """Raise CheckpointError unless ``state_dict`` has exactly ``name``'s keys and shapes."""
    from samis.models.build import expected_shapes

    if not isinstance(state_dict, dict) or not all(hasattr(v, "shape") for v in state_dict.values()):
        raise CheckpointError(f"{path} is not a SAM state dict (a mapping of parameter names to tensors)")
    found = identify_variant(state_dict)
    if found is not None and found != name:
        raise CheckpointError(
            f"{path} holds {found} weights, not {name}: use it as {found} (--model {found}), "
            f"or point --checkpoint at the {name} file"
        )
    expected = expected_shapes(name)
    missing = sorted(set(expected) - set(state_dict))
    extra = sorted(set(state_dict) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state_dict) if tuple(state_dict[k].shape) != expected[k])
    if missing or extra or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", extra), ("wrong shape", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})")
        raise CheckpointError(
            f"{path} does not match the {name} architecture: {'; '.join(parts)}; "
            f"it is not a {name} checkpoint (or it is damaged)"
        )
