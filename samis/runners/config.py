"""The mode vocabulary: one frozen configuration class per mode, and the registry that names them.

A mode configuration arrives as a plain mapping (an experiment definition, ``--set key=value``, a
manifest) and is parsed here once by :func:`normalize` into a typed, frozen configuration: defaults
filled, strings coerced, values checked. Everything derived from a configuration lives on its class,
so the method name, the manifest, the config hash, the definition loader's ranges and the CLI's
choices all read the same fields:

- a field's default is the mode's default; ``opt(..., lo=, hi=)`` records the range the definition
  loader checks (its error names the key path); ``execution=True`` marks a speed-only option
  (``points_per_batch``, ``generator``, ``decoder``, ``batch_size``): recorded in the manifest but
  left out of the hash and the name, so a faster rerun can resume a slower one;
- ``check`` raises the ConfigError a bad value gets; ``name_parts`` says which non-default options
  appear in the method name;
- ``runner`` names the class in :mod:`samis.runners` that turns one image into one map (imported on
  first use, so this module stays free of torch).

Adding a mode is one configuration class here (plus its line in ``MODES``) and, for a new family,
one runner module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from samis.errors import ConfigError

#: ``multimask`` rules of prompted modes (samis.runners.maps): ``oracle`` reads the ground truth (never ranked)
CHOICES = ("highest_iou", "single", "largest", "smallest", "oracle")
POLICIES = ("union", "score", "best_match")
#: automatic options that may be lists (a threshold sweep from one decoder pass, samis.runners.automatic)
SWEEP_KEYS = ("pred_iou_thresh", "stability_score_thresh")


def opt(default, lo=None, hi=None, open_lo: bool = False, execution: bool = False):
    """A mode option: its default, the range a definition may give it, whether it only changes speed."""
    return field(default=default, metadata={"range": (lo, hi, open_lo), "execution": execution})


def _num(v) -> str:
    return f"{v:g}"


@dataclass(frozen=True)
class ModeConfig:
    """Options every mode has; subclasses add theirs and set ``mode`` and ``runner``."""

    mode: ClassVar[str]
    runner: ClassVar[str]  # "module:Class" of the ModeRunner that serves this mode
    aliases: ClassVar[tuple[str, ...]] = ()  # other spellings of the mode name

    seed: int = opt(0, lo=0)
    min_area: int = opt(0, lo=0)
    name: str | None = None
    autocast: str | None = None
    batch_size: int = opt(1, lo=1, execution=True)

    @property
    def uses_ground_truth(self) -> bool:
        """Whether this mode reads the image's ground truth to make its map (prompts, best_match selection)."""
        return False

    def __post_init__(self):
        if self.min_area < 0 or self.batch_size < 1:
            raise ConfigError("min_area must be >= 0 and batch_size >= 1")
        if self.autocast not in (None, "tf32", "bf16", "fp16"):
            raise ConfigError(f"autocast={self.autocast!r}: use tf32, bf16, fp16 or leave it unset (exact float32)")
        self.check()

    def check(self) -> None:
        """Raise a ConfigError for a value this mode cannot run with."""

    # --- what the fields say -------------------------------------------------------------------
    @classmethod
    def options(cls) -> dict[str, Any]:
        """Option name -> default, the mode's whole vocabulary."""
        return {f.name: f.default for f in dataclasses.fields(cls)}

    @classmethod
    def ranges(cls) -> dict[str, tuple]:
        """Option name -> (lo, hi, lo excluded) for the options that have a range."""
        return {f.name: f.metadata["range"] for f in dataclasses.fields(cls)
                if f.metadata.get("range", (None, None, False))[:2] != (None, None)}

    @classmethod
    def default(cls, key: str):
        return cls.options()[key]

    def as_dict(self) -> dict:
        """The configuration as the manifest records it (``mode`` first, lists for sequences)."""
        out = {"mode": self.mode}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def map_options(self) -> dict:
        """The options that change the maps (speed-only options and the name left out)."""
        speed = {f.name for f in dataclasses.fields(self) if f.metadata.get("execution")}
        return {k: v for k, v in self.as_dict().items() if k not in speed and k != "name"}

    def config_hash(self, model_name: str, model_digest: str, numerics: str | None = None) -> str:
        """Hash of everything that changes the maps: the map options, the model's weights and the
        numerics (``samis.runners.precision``; ``cpu-fp32`` or None adds nothing, so CPU hashes are as before)."""
        payload = self.map_options()
        payload["model"] = model_name
        payload["model_digest"] = model_digest
        if numerics is not None and numerics != "cpu-fp32":
            payload["numerics"] = numerics
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def method_name(self, model_name: str) -> str:
        """The folder name of a method, e.g. ``SAM-vit_t-box``, ``SAM-vit_t-point1``, ``SAM-vit_t-auto-union-pps16``.

        An explicit ``name`` in the configuration wins (the manifest still guards its content).
        """
        if self.name:
            return str(self.name)
        parts = [f"SAM-{model_name}", *self.name_parts()]
        if self.autocast:
            parts.append(self.autocast)
        return "-".join(parts)

    def name_parts(self) -> list[str]:
        raise NotImplementedError

    def expand(self) -> tuple["ModeConfig", ...]:
        """The configurations whose maps one run of this one stores, one method folder each (itself;
        corrective clicks store one method per click count of ``save_at``)."""
        return (self,)


# --- prompted modes: prompts read off the ground truth --------------------------------------------
@dataclass(frozen=True)
class PromptedConfig(ModeConfig):
    """Box and point prompts, one per ground-truth component, decoded in one batch per image."""

    runner: ClassVar[str] = "samis.runners.prompted:PromptedRunner"
    head: ClassVar[str]  # first word of the method name

    multimask: str | int = "single"
    decoder: str = opt("fast", execution=True)

    uses_ground_truth: ClassVar[bool] = True  # the prompts are read off the ground truth

    # options a subclass does not have read as "off"
    jitter: ClassVar[float] = 0.0
    n_points: ClassVar[int] = 0
    n_negative: ClassVar[int] = 0
    neg_ring: ClassVar[tuple[float, float]] = (5.0, 20.0)
    uses_box: ClassVar[bool] = False

    def __post_init__(self):
        choice = self.multimask
        if isinstance(choice, str) and choice.strip().lstrip("-").isdigit():
            object.__setattr__(self, "multimask", int(choice))
        super().__post_init__()

    def check(self) -> None:
        if self.decoder not in ("fast", "stock"):
            raise ConfigError(f"decoder={self.decoder!r}: choose fast (samis.runners.fast_decoder) or stock (SamPredictor)")
        choice = self.multimask
        if isinstance(choice, int) and not isinstance(choice, bool):
            if not 0 <= choice <= 2:
                raise ConfigError(f"multimask={choice}: a fixed index is 0, 1 or 2")
        elif choice not in CHOICES:
            raise ConfigError(f"multimask={choice!r}: choose {', '.join(CHOICES)} or an index 0-2")
        if self.jitter < 0:
            raise ConfigError("jitter is a fraction of the box size, >= 0")

    @property
    def is_random(self) -> bool:
        """Whether the seed matters: jitter, extra positive points or negative points."""
        return bool(self.jitter) or self.n_points > 1 or bool(self.n_negative)

    def name_parts(self) -> list[str]:
        parts = [self.head]
        if self.n_negative:
            parts.append(f"neg{self.n_negative}")
            if tuple(self.neg_ring) != tuple(self.default("neg_ring")):
                parts.append("ring" + "-".join(_num(v) for v in self.neg_ring))
        if self.jitter:
            parts.append(f"jit{_num(self.jitter)}")
        if self.multimask != self.default("multimask"):
            parts.append(f"mm{self.multimask}".replace("_", ""))
        if self.seed != ModeConfig.default("seed") and self.is_random:
            parts.append(f"seed{self.seed}")
        if self.min_area != ModeConfig.default("min_area"):
            parts.append(f"minc{self.min_area}")
        return parts


@dataclass(frozen=True)
class _Points(PromptedConfig):
    """Positive points (the deepest pixel first) and negative points from a ring around the component."""

    min_points: ClassVar[int] = 1

    n_points: int = opt(1, lo=1)
    n_negative: int = opt(0, lo=0)
    neg_ring: tuple[float, float] = (5.0, 20.0)

    def check(self) -> None:
        super().check()
        if self.n_points < self.min_points or self.n_negative < 0:
            raise ConfigError("n_points must be >= 1 (point mode) and n_negative >= 0")
        if len(self.neg_ring) != 2 or not 0 <= self.neg_ring[0] < self.neg_ring[1]:
            raise ConfigError(f"neg_ring={list(self.neg_ring)}: two distances in pixels, inner < outer")


@dataclass(frozen=True)
class BoxConfig(PromptedConfig):
    mode: ClassVar[str] = "box"
    head: ClassVar[str] = "box"
    uses_box: ClassVar[bool] = True

    jitter: float = opt(0.0, lo=0.0)


@dataclass(frozen=True)
class PointConfig(_Points):
    mode: ClassVar[str] = "point"

    multimask: str | int = "highest_iou"

    @property
    def head(self) -> str:
        return f"point{self.n_points}"


@dataclass(frozen=True)
class BoxPointConfig(_Points):
    mode: ClassVar[str] = "box+point"
    aliases: ClassVar[tuple[str, ...]] = ("boxpoint", "box-point")
    uses_box: ClassVar[bool] = True
    min_points: ClassVar[int] = 0

    jitter: float = opt(0.0, lo=0.0)

    @property
    def head(self) -> str:
        return f"boxpoint{self.n_points}"


# --- interactive modes: corrective clicks after a box or a point --------------------------------
DEFAULT_SAVE_AT = (1, 3, 5, 10)
START_RULES = {"box": "single", "point": "highest_iou"}  # the first prediction's mask choice: box and point modes' defaults


@dataclass(frozen=True)
class _Interactive(PromptedConfig):
    """Clicks placed on the larger error region of each component's mask (``samis.clicks``), one decoder
    call per click for all components of an image, from the cached embedding."""

    runner: ClassVar[str] = "samis.runners.clicks:ClicksRunner"

    start: str = "box"
    max_clicks: int = opt(10, lo=1)
    use_logits: bool = True  # the previous low-res logits as mask_input, as SAM's paper does

    def check(self) -> None:
        if self.multimask != "start":
            super().check()
        if self.start not in START_RULES:
            raise ConfigError(f"start={self.start!r}: choose box (the tight box) or point (the interior-most point)")
        if self.max_clicks < 1:
            raise ConfigError("max_clicks must be >= 1 (the start prompt is click 1)")

    @property
    def uses_box(self) -> bool:
        return self.start == "box"

    @property
    def first_rule(self):
        """The mask choice of the first prediction: box mode's (single) or point mode's (highest_iou) unless set."""
        return START_RULES[self.start] if self.multimask == "start" else self.multimask

    @property
    def stop_at(self) -> float:
        """The component IoU at which a component gets no more clicks."""
        raise NotImplementedError

    def _tags(self, defaults: dict) -> list[str]:
        parts = []
        for key, tag in defaults.items():
            if getattr(self, key) != self.default(key):
                parts.append(f"{tag}{_num(getattr(self, key))}")
        if not self.use_logits:
            parts.append("nologits")
        if self.multimask != "start":
            parts.append(f"mm{self.multimask}".replace("_", ""))
        if self.min_area != ModeConfig.default("min_area"):
            parts.append(f"minc{self.min_area}")
        return parts

    @property
    def trajectory_key(self) -> str:
        """Configurations with equal keys share one click sequence per image (one method per saved count)."""
        opts = {k: v for k, v in self.map_options().items() if k not in ("at", "save_at")}
        return json.dumps({**opts, "autocast": self.autocast}, sort_keys=True, default=str)


@dataclass(frozen=True)
class ClicksConfig(_Interactive):
    """Corrective clicks; the maps after each click count in ``save_at`` are stored as separate methods
    (``SAM-vit_t-clicks-box-3``), the IoU of every component after every click in a CSV beside them."""

    mode: ClassVar[str] = "clicks"

    multimask: str | int = "start"
    stop_iou: float = opt(1.0, lo=0.0, hi=1.0, open_lo=True)
    save_at: tuple = DEFAULT_SAVE_AT  # the default: those up to max_clicks, plus max_clicks
    at: int | None = None  # the click count whose map this method stores (set by expand)

    def __post_init__(self):
        try:
            counts = tuple(sorted({int(float(v)) for v in self.save_at}))
            if any(float(v) != int(float(v)) for v in self.save_at):
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigError(f"save_at={self.save_at!r}: click counts, e.g. [1, 3, 5, 10]") from None
        if tuple(self.save_at) == DEFAULT_SAVE_AT:  # the default counts up to max_clicks, and max_clicks itself
            counts = tuple(sorted({k for k in counts if k <= self.max_clicks} | {int(self.max_clicks)}))
        object.__setattr__(self, "save_at", counts)
        if self.at is not None:
            object.__setattr__(self, "at", int(self.at))
        super().__post_init__()

    def check(self) -> None:
        super().check()
        if not self.save_at or not all(1 <= k <= self.max_clicks for k in self.save_at):
            raise ConfigError(f"save_at={list(self.save_at)}: click counts between 1 (the start prompt) and "
                              f"max_clicks={self.max_clicks}")
        if not 0 < self.stop_iou <= 1:
            raise ConfigError(f"stop_iou={self.stop_iou}: an IoU in (0, 1]; 1 never stops early")
        if self.at is not None and self.at not in self.save_at:
            raise ConfigError(f"at={self.at}: not one of save_at {list(self.save_at)}")

    @property
    def stop_at(self) -> float:
        return self.stop_iou

    def map_options(self) -> dict:
        """``save_at`` only says which maps are kept: the map after k clicks does not depend on it."""
        out = super().map_options()
        out.pop("save_at", None)
        return out

    def expand(self) -> tuple[ModeConfig, ...]:
        if self.at is not None:
            return (self,)
        return tuple(dataclasses.replace(self, at=k) for k in self.save_at)

    def family_name(self, model_name: str) -> str:
        """The name of the click sequence (its CSV): the method name without the click count."""
        return dataclasses.replace(self, at=None).method_name(model_name)

    def method_name(self, model_name: str) -> str:
        if self.name:
            return f"{self.name}-{self.at}" if self.at is not None else str(self.name)
        return super().method_name(model_name)

    def name_parts(self) -> list[str]:
        parts = ["clicks", self.start, *self._tags({"max_clicks": "max", "stop_iou": "stop"})]
        return parts + ([str(self.at)] if self.at is not None else [])


@dataclass(frozen=True)
class AnnotateConfig(_Interactive):
    """The annotation protocol: box, clicks until ``target`` IoU or ``max_clicks``, then the map
    thresholded and smoothed by opening then closing with a disk of ``radius`` (a binary map)."""

    mode: ClassVar[str] = "annotate"
    runner: ClassVar[str] = "samis.runners.clicks:AnnotateRunner"

    multimask: str | int = "start"
    target: float = opt(0.9, lo=0.0, hi=1.0, open_lo=True)
    threshold: float = opt(0.5, lo=0.0, hi=1.0, open_lo=True)
    # 1 px: removes one-pixel specks and fills one-pixel gaps along a mask's edge while keeping scratches
    # 3 px wide (SD-900's thinnest defects); a disk of radius r erases every structure narrower than 2r + 1
    radius: int = opt(1, lo=0)

    def check(self) -> None:
        super().check()
        if self.start != "box":
            raise ConfigError("the annotation protocol starts from a box (start=box)")
        if not 0 < self.target <= 1 or self.radius < 0:
            raise ConfigError(f"target={self.target}, radius={self.radius}: target is an IoU in (0, 1], radius >= 0 pixels")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold={self.threshold}: a probability strictly between 0 and 1")

    @property
    def stop_at(self) -> float:
        return self.target

    def family_name(self, model_name: str) -> str:
        return self.method_name(model_name)

    def name_parts(self) -> list[str]:
        return ["annotate", *self._tags({"max_clicks": "max", "target": "tgt", "threshold": "thr", "radius": "r"})]


# --- automatic mode: segment everything, one map by a policy -------------------------------------
#: automatic options whose non-default values appear in the method name, with their tag.
AUTO_TAGS = {
    "points_per_side": "pps",
    "pred_iou_thresh": "iou",
    "stability_score_thresh": "stab",
    "min_mask_region_area": "minarea",
    "crop_n_layers": "crop",
    "box_nms_thresh": "nms",
}


@dataclass(frozen=True)
class AutomaticConfig(ModeConfig):
    """``SamAutomaticMaskGenerator``'s own defaults, plus the policy that turns its masks into one map.

    ``pred_iou_thresh`` and ``stability_score_thresh`` may be lists (a sweep): every pair of their values
    gets its masks from one decoder pass per image (``samis.runners.automatic``); the first pair (the
    "main pair") makes the maps and the method name. A scalar or a one-element list is stored as a
    float, so such configurations name, hash and record exactly as before.
    """

    mode: ClassVar[str] = "automatic"
    aliases: ClassVar[tuple[str, ...]] = ("auto",)
    runner: ClassVar[str] = "samis.runners.automatic:AutomaticRunner"
    retired: ClassVar[tuple[str, ...]] = ("oracle_overlap",)  # read in old manifests, ignored

    points_per_side: int = opt(32, lo=1)
    pred_iou_thresh: float | tuple = opt(0.88, lo=0.0, hi=1.0)
    stability_score_thresh: float | tuple = opt(0.95, lo=0.0, hi=1.0)
    min_mask_region_area: int = opt(0, lo=0)
    crop_n_layers: int = opt(0, lo=0)
    box_nms_thresh: float = opt(0.7, lo=0.0, hi=1.0)
    points_per_batch: int = opt(64, lo=1, execution=True)
    generator: str = opt("auto", execution=True)
    policy: str = "union"
    background_frac: float = opt(0.5, lo=0.0, hi=1.0, open_lo=True)

    def __post_init__(self):
        for key in SWEEP_KEYS:
            values = _sweep(key, getattr(self, key))
            object.__setattr__(self, key, values[0] if len(values) == 1 else values)
        super().__post_init__()

    def check(self) -> None:
        if self.policy == "oracle":
            raise ConfigError("policy=oracle was replaced by best_match (for each ground-truth component the "
                              "generated mask with the highest IoU with it); write policy: best_match")
        if self.policy not in POLICIES:
            raise ConfigError(f"policy={self.policy!r}: choose one of {', '.join(POLICIES)}")
        if self.generator not in ("auto", "fast", "stock"):
            raise ConfigError(f"generator={self.generator!r}: choose auto, fast or stock")
        if self.points_per_side < 1 or self.points_per_batch < 1 or self.crop_n_layers < 0:
            raise ConfigError("points_per_side and points_per_batch must be >= 1, crop_n_layers >= 0")
        if not 0 < self.background_frac <= 1:
            raise ConfigError("background_frac must be in (0, 1]")

    # --- the threshold sweep ---------------------------------------------------------------------
    def values(self, key: str) -> tuple[float, ...]:
        """The values of a sweepable threshold as a tuple (the main one first)."""
        value = getattr(self, key)
        return value if isinstance(value, tuple) else (value,)

    @property
    def pairs(self) -> list[tuple[float, float]]:
        """Every ``(pred_iou_thresh, stability_score_thresh)`` pair of the sweep, the main pair first."""
        return [(i, s) for i in self.values("pred_iou_thresh") for s in self.values("stability_score_thresh")]

    @property
    def main_pair(self) -> tuple[float, float]:
        """The pair whose masks make the maps."""
        return self.pairs[0]

    @property
    def sweeps(self) -> bool:
        return len(self.pairs) > 1

    def name_parts(self) -> list[str]:
        parts = ["auto", self.policy]
        main = dict(zip(SWEEP_KEYS, self.main_pair))
        parts += [f"{tag}{_num(main.get(k, getattr(self, k)))}" for k, tag in AUTO_TAGS.items()
                  if main.get(k, getattr(self, k)) != self.default(k)]
        if self.policy in ("union", "score") and self.background_frac != self.default("background_frac"):
            parts.append(f"bg{_num(self.background_frac)}")
        return parts

    @property
    def uses_ground_truth(self) -> bool:
        return self.policy == "best_match"  # picks, per ground-truth component, the mask that matches it best

    @property
    def generator_key(self) -> tuple:
        """Automatic configurations with equal keys share one ``generate()`` per image."""
        params = ("points_per_side", "pred_iou_thresh", "stability_score_thresh", "min_mask_region_area",
                  "crop_n_layers", "box_nms_thresh")
        return tuple((k, getattr(self, k)) for k in params) + (("autocast", self.autocast),)


def _sweep(key: str, value) -> tuple[float, ...]:
    """A threshold given as a number, a list of numbers or a comma-separated string, as a tuple of floats."""
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",") if v.strip()]
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    try:
        out = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise ConfigError(f"mode option {key}={value!r}: expected a number or a list of numbers") from None
    if not out or not all(0.0 <= v <= 1.0 for v in out):
        raise ConfigError(f"mode option {key}={value!r}: one or more numbers in [0, 1]")
    if len(set(out)) != len(out):
        raise ConfigError(f"mode option {key}={value!r}: a value is given twice")
    return out


#: the mode registry: name -> configuration class (which names its runner).
MODES: dict[str, type[ModeConfig]] = {cls.mode: cls for cls in (BoxConfig, PointConfig, BoxPointConfig, AutomaticConfig,
                                                                  ClicksConfig, AnnotateConfig)}


def mode_class(raw) -> type[ModeConfig]:
    """The configuration class of a mode name (``auto``, ``box_point`` and the like accepted)."""
    mode = str(raw).strip().lower().replace("_", "+")
    for cls in MODES.values():
        if mode == cls.mode or mode in cls.aliases:
            return cls
    raise ConfigError(f"unknown mode {raw!r}: choose one of {', '.join(MODES)}")


def _coerce(key, value, default):
    """Cast ``value`` to the type of ``default`` (values from ``--set`` arrive as strings)."""
    if default is None or value is None:
        return value
    if key in SWEEP_KEYS:
        return value  # a number or a list: AutomaticConfig parses and checks it
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
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [v for v in value.replace(";", ",").split(",") if v.strip()]
            return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        kind = "list" if isinstance(default, tuple) else type(default).__name__
        raise ConfigError(f"mode option {key}={value!r}: expected a {kind}") from None
    return value


def normalize(mode_config) -> ModeConfig:
    """A mapping (definition, ``--set``, manifest) as a typed configuration: defaults filled, unknown keys
    refused, values typed and range-checked. A configuration passes through unchanged."""
    if isinstance(mode_config, ModeConfig):
        return mode_config
    if not isinstance(mode_config, dict) or "mode" not in mode_config:
        raise ConfigError(f"a mode configuration is a mapping with a 'mode' key ({', '.join(MODES)}), got {mode_config!r}")
    cls = mode_class(mode_config["mode"])
    defaults = cls.options()
    # options of the retired oracle policy, still in manifests written before best_match replaced it
    mode_config = {k: v for k, v in mode_config.items() if k not in getattr(cls, "retired", ())}
    unknown = sorted(set(mode_config) - set(defaults) - {"mode"})
    if unknown:
        raise ConfigError(
            f"mode {cls.mode!r} has no option {', '.join(unknown)}; its options are: {', '.join(sorted(defaults))}"
        )
    return cls(**{key: _coerce(key, mode_config.get(key, default), default) for key, default in defaults.items()})


def method_name(model_name: str, mode_config) -> str:
    """The method folder name of ``mode_config`` (a mapping or a configuration) for ``model_name``."""
    return normalize(mode_config).method_name(model_name)
