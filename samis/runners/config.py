"""Mode configurations: defaults, validation, method names and the hash that guards stored maps.

A mode configuration is a plain dict from an experiment definition or ``--set key=value``. It is
normalised here once (defaults filled, types checked), so the method name, the manifest and the
config hash all see the same thing. Parameters that change the maps and differ from the defaults
appear in the method name; parameters that only change speed (``points_per_batch``, ``generator``,
``decoder``, ``batch_size``) are recorded in the manifest but left out of the hash, so a faster rerun can
resume a slower one.
"""

from __future__ import annotations

import hashlib
import json

from samis.errors import ConfigError

MODES = ("box", "point", "box+point", "automatic")
POLICIES = ("union", "score", "oracle")
CHOICES = ("highest_iou", "single", "largest", "smallest")

COMMON = {"seed": 0, "min_area": 0, "name": None, "autocast": None}
PROMPTED = {
    "box": {"jitter": 0.0, "multimask": "single", "decoder": "fast"},
    "point": {"n_points": 1, "n_negative": 0, "neg_ring": [5.0, 20.0], "multimask": "highest_iou", "decoder": "fast"},
    "box+point": {"jitter": 0.0, "n_points": 1, "n_negative": 0, "neg_ring": [5.0, 20.0], "multimask": "single",
                  "decoder": "fast"},
}
#: SamAutomaticMaskGenerator's own defaults, plus the policy that turns masks into one map.
AUTOMATIC = {
    "points_per_side": 32,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "min_mask_region_area": 0,
    "crop_n_layers": 0,
    "box_nms_thresh": 0.7,
    "points_per_batch": 64,
    "generator": "auto",
    "policy": "union",
    "background_frac": 0.5,
    "oracle_overlap": 0.5,
}
#: speed-only keys: recorded, not hashed, not named.
EXECUTION_KEYS = ("points_per_batch", "generator", "batch_size", "decoder")
#: automatic keys whose non-default values appear in the method name, with their tag.
AUTO_TAGS = {
    "points_per_side": "pps",
    "pred_iou_thresh": "iou",
    "stability_score_thresh": "stab",
    "min_mask_region_area": "minarea",
    "crop_n_layers": "crop",
    "box_nms_thresh": "nms",
}
GENERATOR_PARAMS = ("points_per_side", "pred_iou_thresh", "stability_score_thresh", "min_mask_region_area",
                    "crop_n_layers", "box_nms_thresh", "points_per_batch")


def _defaults(mode: str) -> dict:
    if mode == "automatic":
        return {**COMMON, "batch_size": 1, **AUTOMATIC}
    return {**COMMON, "batch_size": 1, **PROMPTED[mode]}


def _coerce(key, value, default):
    """Cast ``value`` to the type of ``default`` (values from ``--set`` arrive as strings)."""
    if default is None or value is None:
        return value
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int) and not isinstance(default, bool):
            f = float(value)
            if f != int(f):
                raise ValueError
            return int(f)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, list):
            if isinstance(value, str):
                value = [v for v in value.replace(";", ",").split(",") if v.strip()]
            return [float(v) for v in value]
    except (TypeError, ValueError):
        raise ConfigError(f"mode option {key}={value!r}: expected a {type(default).__name__}") from None
    return value


def normalize(mode_config: dict) -> dict:
    """Defaults filled in, unknown keys refused, values typed and range-checked."""
    if not isinstance(mode_config, dict) or "mode" not in mode_config:
        raise ConfigError(f"a mode configuration is a mapping with a 'mode' key ({', '.join(MODES)}), got {mode_config!r}")
    mode = str(mode_config["mode"]).strip().lower().replace("_", "+")
    if mode == "auto":
        mode = "automatic"
    if mode in ("boxpoint", "box-point"):
        mode = "box+point"
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode_config['mode']!r}: choose one of {', '.join(MODES)}")
    defaults = _defaults(mode)
    unknown = sorted(set(mode_config) - set(defaults) - {"mode"})
    if unknown:
        raise ConfigError(
            f"mode {mode!r} has no option {', '.join(unknown)}; its options are: {', '.join(sorted(defaults))}"
        )
    cfg = {"mode": mode}
    for key, default in defaults.items():
        cfg[key] = _coerce(key, mode_config.get(key, default), default)
    _check(cfg)
    return cfg


def _check(cfg: dict) -> None:
    mode = cfg["mode"]
    if cfg["min_area"] < 0 or cfg["batch_size"] < 1:
        raise ConfigError("min_area must be >= 0 and batch_size >= 1")
    if cfg["autocast"] not in (None, "tf32", "bf16", "fp16"):
        raise ConfigError(f"autocast={cfg['autocast']!r}: use tf32, bf16, fp16 or leave it unset (exact float32)")
    if mode == "automatic":
        if cfg["policy"] not in POLICIES:
            raise ConfigError(f"policy={cfg['policy']!r}: choose one of {', '.join(POLICIES)}")
        if cfg["generator"] not in ("auto", "fast", "stock"):
            raise ConfigError(f"generator={cfg['generator']!r}: choose auto, fast or stock")
        if cfg["points_per_side"] < 1 or cfg["points_per_batch"] < 1 or cfg["crop_n_layers"] < 0:
            raise ConfigError("points_per_side and points_per_batch must be >= 1, crop_n_layers >= 0")
        if not 0 < cfg["background_frac"] <= 1 or not 0 <= cfg["oracle_overlap"] < 1:
            raise ConfigError("background_frac must be in (0, 1] and oracle_overlap in [0, 1)")
        return
    if cfg["decoder"] not in ("fast", "stock"):
        raise ConfigError(f"decoder={cfg['decoder']!r}: choose fast (samis.runners.fast_decoder) or stock (SamPredictor)")
    choice = cfg["multimask"]
    if isinstance(choice, str) and choice.strip().lstrip("-").isdigit():
        choice = int(choice)
    if isinstance(choice, int) and not isinstance(choice, bool):
        if not 0 <= choice <= 2:
            raise ConfigError(f"multimask={choice}: a fixed index is 0, 1 or 2")
    elif choice not in CHOICES:
        raise ConfigError(f"multimask={choice!r}: choose {', '.join(CHOICES)} or an index 0-2")
    cfg["multimask"] = choice
    if cfg.get("jitter", 0.0) < 0:
        raise ConfigError("jitter is a fraction of the box size, >= 0")
    if mode in ("point", "box+point"):
        if cfg["n_points"] < (1 if mode == "point" else 0) or cfg["n_negative"] < 0:
            raise ConfigError("n_points must be >= 1 (point mode) and n_negative >= 0")
        if len(cfg["neg_ring"]) != 2 or not 0 <= cfg["neg_ring"][0] < cfg["neg_ring"][1]:
            raise ConfigError(f"neg_ring={cfg['neg_ring']}: two distances in pixels, inner < outer")


def _num(v) -> str:
    return f"{v:g}"


def method_name(model_name: str, mode_config: dict) -> str:
    """The folder name of a method, e.g. ``SAM-vit_t-box``, ``SAM-vit_t-point1``, ``SAM-vit_t-auto-union-pps16``.

    An explicit ``name`` in the configuration wins (the manifest still guards its content).
    """
    cfg = normalize(mode_config)
    if cfg["name"]:
        return str(cfg["name"])
    mode = cfg["mode"]
    parts = [f"SAM-{model_name}"]
    if mode == "automatic":
        parts += ["auto", cfg["policy"]]
        parts += [f"{tag}{_num(cfg[k])}" for k, tag in AUTO_TAGS.items() if cfg[k] != AUTOMATIC[k]]
        if cfg["policy"] in ("union", "score") and cfg["background_frac"] != AUTOMATIC["background_frac"]:
            parts.append(f"bg{_num(cfg['background_frac'])}")
        if cfg["policy"] == "oracle" and cfg["oracle_overlap"] != AUTOMATIC["oracle_overlap"]:
            parts.append(f"ov{_num(cfg['oracle_overlap'])}")
    else:
        d = PROMPTED[mode]
        head = {"box": "box", "point": f"point{cfg.get('n_points')}",
                "box+point": f"boxpoint{cfg.get('n_points')}"}[mode]
        parts.append(head)
        if cfg.get("n_negative"):
            parts.append(f"neg{cfg['n_negative']}")
            if cfg["neg_ring"] != d["neg_ring"]:
                parts.append("ring" + "-".join(_num(v) for v in cfg["neg_ring"]))
        if cfg.get("jitter"):
            parts.append(f"jit{_num(cfg['jitter'])}")
        if cfg["multimask"] != d["multimask"]:
            parts.append(f"mm{cfg['multimask']}".replace("_", ""))
        if cfg["seed"] != COMMON["seed"] and is_random(cfg):
            parts.append(f"seed{cfg['seed']}")
    if cfg["min_area"] != COMMON["min_area"] and mode != "automatic":
        parts.append(f"minc{cfg['min_area']}")
    if cfg["autocast"]:
        parts.append(cfg["autocast"])
    return "-".join(parts)


def is_random(cfg: dict) -> bool:
    """Whether the seed matters: jitter, extra positive points or negative points."""
    return bool(cfg.get("jitter")) or cfg.get("n_points", 1) > 1 or bool(cfg.get("n_negative"))


def map_options(cfg: dict) -> dict:
    """The normalised options that change the maps (speed-only keys and the name left out)."""
    return {k: v for k, v in normalize(cfg).items() if k not in EXECUTION_KEYS and k != "name"}


def config_hash(cfg: dict, model_name: str, model_digest: str, numerics: str | None = None) -> str:
    """Hash of everything that changes the maps: the normalised config (less speed-only keys), the model
    and the numerics (``samis.runners.precision``; ``cpu-fp32`` or None adds nothing, as before)."""
    payload = map_options(cfg)
    payload["model"] = model_name
    payload["model_digest"] = model_digest
    if numerics is not None and numerics != "cpu-fp32":
        payload["numerics"] = numerics
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def generator_key(cfg: dict) -> tuple:
    """Automatic configurations with equal keys share one ``generate()`` per image."""
    return tuple((k, cfg[k]) for k in GENERATOR_PARAMS if k != "points_per_batch") + (("autocast", cfg["autocast"]),)
