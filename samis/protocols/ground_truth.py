"""Which method folders hold maps made with the ground truth, and the protocols that refuse them.

A SAM method folder's ``manifest.json`` records its mode configuration; prompted modes read their
prompts off the ground truth and the automatic mode's best_match policy picks, per defect, the mask that overlaps it best.
Such maps are empty on a defect-free image and find every defect by construction, so a protocol
that scores defect-free images against defective ones (``anomaly``) says it cannot score them
(:attr:`Protocol.uses_ground_truth`). A folder without a manifest (stored baselines) made its maps
from the image alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from samis.errors import ConfigError
from samis.protocols import get_protocol

MANIFEST = "manifest.json"  # samis.runners.store.MANIFEST


def ground_truth_mode(folder: Path) -> str | None:
    """The mode (e.g. ``box``, ``automatic/best_match``) of a method folder whose maps used the ground truth; else None."""
    from samis.runners.config import normalize

    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())["config"]
        if isinstance(raw, dict) and raw.get("policy") == "oracle":
            return "automatic/oracle"  # maps of the retired oracle policy (replaced by best_match)
        cfg = normalize(raw)
    except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:
        raise ConfigError(f"{path}: unreadable manifest ({exc}); cannot tell whether its maps used the ground truth. "
                          f"Recompute the method with samis run, or delete the manifest if the maps are a baseline's") from None
    if not cfg.uses_ground_truth:
        return None
    return cfg.mode + (f"/{cfg.policy}" if getattr(cfg, "policy", None) else "")


def refused_methods(protocol: str, folders: dict[str, Path]) -> dict[str, str]:
    """method -> its ground-truth mode, for the methods ``protocol`` cannot score (none if it scores all)."""
    if not get_protocol(protocol).uses_ground_truth:
        return {}
    modes = {name: ground_truth_mode(folder) for name, folder in folders.items()}
    return {name: mode for name, mode in modes.items() if mode}


def refusal(protocol: str, refused: dict[str, str]) -> str:
    """The message that names the refused methods and says why."""
    listed = ", ".join(f"{name} (mode {mode})" for name, mode in refused.items())
    return f"protocol {protocol} does not score {listed}: {get_protocol(protocol).uses_ground_truth}"


def check_methods(protocols, folders: dict[str, Path]) -> None:
    """Refuse (``ConfigError``) to score a method with a protocol that cannot score maps made with the ground truth."""
    for protocol in protocols:
        refused = refused_methods(protocol, folders)
        if refused:
            raise ConfigError(refusal(protocol, refused) + ". Leave them out (--method names the methods to "
                              "score) or score them with another protocol (sod, steel, seg)")
