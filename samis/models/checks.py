"""Does a state dict fit the variant it is loaded as? Clear errors instead of random weights."""

from __future__ import annotations

from pathlib import Path

from samis.errors import CheckpointError
from samis.models.registry import MODEL_REGISTRY


def identify_variant(state_dict) -> str | None:
    """The registry name whose image encoder these tensors belong to, if recognisable."""
    if "image_encoder.patch_embed.seq.0.c.weight" in state_dict:
        return "vit_t"
    proj = state_dict.get("image_encoder.patch_embed.proj.weight")
    if proj is None:
        return None
    width = proj.shape[0]
    depth = len({k.split(".")[2] for k in state_dict if k.startswith("image_encoder.blocks.")})
    for spec in MODEL_REGISTRY.values():
        if spec.encoder_width == width and spec.encoder_depth == depth:
            return spec.name
    return None


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
