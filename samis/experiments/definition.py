"""Experiment definitions: one YAML file says everything a study runs, evaluates and renders.

A definition is read once, checked completely and turned into frozen dataclasses, so every later
step (SAM runs, evaluation, tables, figures) can trust it. Anything wrong — an unknown key, a wrong
type, an unset environment variable, a missing folder — is a ``ConfigError`` that names the file, the
key path (``modes[2].points_per_side``) and what was expected, before any work starts.

Path values may use ``${VAR}`` or ``${VAR:-default}`` and ``~``; a relative path is relative to the
file that wrote it (a base file's paths stay relative to the base file). ``extends: base.yaml`` deep
merges the definition over its base (mappings merged key by key, lists and scalars replaced).
See docs/experiments.md for the full format.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samis.datasets import DATASETS
from samis.errors import ConfigError
from samis.experiments.cluster import ExecutorSpec, executor_from_definition
from samis.experiments.files import KeyPath, load_tree
from samis.experiments.schema import Checker
from samis.models.registry import ENCODER_BACKENDS, MODEL_REGISTRY
from samis.protocols import PROTOCOLS
from samis.runners.config import MODES, POLICIES, SWEEP_KEYS, ModeConfig, mode_class
from samis.sorting import natural_key

# --- the vocabulary ---------------------------------------------------------------------------
# models, modes and protocols are the registries' (samis.models.registry, samis.runners.config, samis.protocols)
PROTOCOL_METRICS = {name: p.columns for name, p in PROTOCOLS.items()}
CURVE_PROTOCOLS = tuple(name for name, p in PROTOCOLS.items() if p.curves)  # the protocols a curves figure reads
TABLE_KINDS = ("main", "categories", "sam_modes", "significance", "clicks", "annotation-cost",
               "automatic", "mask_choice")  # automatic: samis.report.automatic
# tables and figures read from the CSVs the clicks and annotate modes write beside their maps, not from
# the evaluator's files: no protocol (samis.report.clicks)
RECORD_KINDS = ("clicks", "annotation-cost")
PLACEMENTS = ("auto", "column", "page")  # LaTeX float: the narrowest that fits, table, table*
LAYOUTS = ("auto", "wide", "stacked")  # datasets as column groups or as blocks of rows (samis.report.table_markup)
FIGURE_KINDS = ("qualitative", "curves", "category_bars", "clicks", "automatic_sweep", "mask_choice")
TABLE_FORMATS = ("md", "latex", "csv")
# the panels of a curves figure: precision-recall, F-measure and E-measure against threshold
# (samis.report.curves.PANELS; not imported here, it loads pandas)
CURVE_PANELS = ("pr", "fm", "em")
DEFAULT_CURVE_PANELS = ("pr", "fm")
EXAMPLE_RULES = ("best_median_worst", "stems")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_TOP_KEYS = (
    "name", "description", "extends", "seed", "output", "predictions", "datasets", "models", "modes",
    "baselines", "protocols", "tables", "figures", "executor", "display_names", "references",
    "empty_gt", "browser_images",
)


# --- the result ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    """One data set and the splits evaluated on it; ``label`` names it in paths, tables and refs."""

    name: str
    splits: tuple[str, ...]
    label: str
    data_root: Path | None = None  # None: SAMIS_DATA_ROOT at run time
    protocols: tuple[str, ...] = ("sod",)
    options: tuple[tuple[str, Any], ...] = ()  # adapter options (keys of the entry, e.g. object: bottle)
    subset: Any = None  # samis.datasets.subset.Subset (limit:/stems:), None: the whole split
    modes: tuple[str, ...] | None = None  # the mode kinds run on this entry (modes: [automatic]); None: every mode
    mode_splits: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (mode kind, the only splits it runs on here)

    def runs(self, cfg: ModeConfig, split: str | None = None) -> bool:
        """Whether the study's mode config ``cfg`` runs on this entry (``modes:``), and on ``split`` (``mode_splits:``)."""
        if self.modes is not None and cfg.mode not in self.modes:
            return False
        return split is None or split in self.splits_of(cfg)

    def splits_of(self, cfg: ModeConfig) -> tuple[str, ...]:
        """The splits of this entry that ``cfg``'s mode runs on (all, unless ``mode_splits:`` says otherwise)."""
        return dict(self.mode_splits).get(cfg.mode, self.splits)

    def open(self, split: str):
        """The ``Dataset`` of one split of this entry, its options and subset applied."""
        from samis.datasets import get_dataset

        return get_dataset(self.name, root=self.data_root, split=split, options=dict(self.options), subset=self.subset)


@dataclass(frozen=True)
class ModelEntry:
    """One model of the study: a variant of ``samis.models.MODEL_REGISTRY`` and where it runs."""

    name: str
    checkpoint: Path | None = None  # None: the models module finds the default weights
    device: str | None = None  # None or "auto": the runner picks
    encoder_backend: str = "auto"  # auto | torch | onnx: samis.models.onnx_encoder (auto: ONNX Runtime on the CPU)


@dataclass(frozen=True)
class BaselineMethod:
    name: str
    splits: tuple[str, ...] | None = None  # None: every split of the dataset


@dataclass(frozen=True)
class BaselineSpec:
    """Stored maps of published models for one dataset: ``<root>/<Method>/<stem>.*``."""

    dataset: str  # a dataset label
    root: Path
    methods: tuple[BaselineMethod, ...] | None = None  # None: every method folder under root

    def method_names(self, split: str | None = None) -> list[str]:
        """Methods to evaluate on ``split`` (folders found under root when the list is ``all``)."""
        if self.methods is None:
            if not self.root.is_dir():
                return []
            return sorted((p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key)
        return [m.name for m in self.methods if split is None or m.splits is None or split in m.splits]


@dataclass(frozen=True)
class TableSpec:
    kind: str
    name: str
    protocol: str
    units: tuple[str, ...]  # "label/split"
    methods: tuple[str, ...] | None = None  # names or glob patterns; None: all
    metrics: tuple[str, ...] | None = None  # None: the kind's paper-sized set (samis.report.presets)
    formats: tuple[str, ...] = TABLE_FORMATS
    caption: str | None = None  # None: written from the kind, protocol and datasets
    label: str | None = None  # None: tab:<name>
    placement: str = "auto"
    layout: str = "auto"
    ci: bool = False  # 95% bootstrap CIs in the cells (the CSV always has them)
    significance: bool = False  # mark SAM cells that differ significantly from the best baseline
    against: tuple[str, ...] | None = None  # significance tables: the comparison rows (None: every other method)


@dataclass(frozen=True)
class ExampleRule:
    """Which images a qualitative grid shows: best/median/worst of ``method`` by ``metric``, or ``stems``."""

    rule: str
    metric: str | None = None
    method: str | None = None
    per_category: bool = True
    stems: tuple[str, ...] = ()


@dataclass(frozen=True)
class FigureSpec:
    kind: str
    name: str
    protocol: str
    units: tuple[str, ...]
    methods: tuple[str, ...] | None = None
    metric: str | None = None  # category_bars, mask_choice (default IoU)
    curves: tuple[str, ...] = DEFAULT_CURVE_PANELS  # curves
    examples: ExampleRule | None = None  # qualitative
    outline: bool = False  # qualitative: outline the ground truth on every map (thin defects stay visible)

    def outputs(self) -> list[tuple[str, str | None]]:
        """(file stem, unit) of each figure drawn: one per unit, or one over every unit (None) for mask_choice."""
        if self.kind == "mask_choice":
            return [(self.name, None)]
        return [(f"{self.name}-{ref.replace('/', '-')}", ref) for ref in self.units]


@dataclass(frozen=True)
class Definition:
    """A validated experiment: what to run, on what, and what to render."""

    name: str
    path: Path
    datasets: tuple[DatasetSpec, ...]
    models: tuple[ModelEntry, ...]
    modes: tuple[ModeConfig, ...]  # typed runner configs (samis.runners.config), one per method and model
    baselines: dict[str, BaselineSpec]
    protocols: tuple[str, ...]
    tables: tuple[TableSpec, ...]
    figures: tuple[FigureSpec, ...]
    seed: int
    output: Path
    predictions: Path
    description: str = ""
    sources: tuple[Path, ...] = field(default=())  # this file and every file it extends
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)  # where reproduce runs (samis.experiments.cluster)
    display_names: dict = field(default_factory=dict)  # method id or glob -> printed name
    # reference rows scored with the SAM methods of every split (samis.references), never ranked
    references: tuple = field(default_factory=lambda: _default_references())
    empty_gt: str = "apart"  # defect-free images: scored apart, or "include"d in every column (pysodmetrics)
    browser_images: int | None = None  # index.html's per-image browser: at most this many images per unit (None: all)

    def dataset(self, label: str) -> DatasetSpec:
        for spec in self.datasets:
            if spec.label == label:
                return spec
        raise KeyError(label)

    def units(self) -> list[tuple[DatasetSpec, str]]:
        """Every (dataset, split) evaluated, in definition order."""
        return [(spec, split) for spec in self.datasets for split in spec.splits]

    def unit(self, ref: str) -> tuple[DatasetSpec, str]:
        label, split = ref.split("/", 1)
        return self.dataset(label), split


def _default_references() -> tuple:
    from samis.references import DEFAULT, parse_references

    return parse_references(list(DEFAULT))


def _references(c: Checker, value: Any) -> tuple:
    """``references: [empty, full, gt_box, {gt_box: {jitter: 0.1, seed: 0}}]``; ``[]`` for none."""
    from samis.errors import ConfigError
    from samis.references import parse_reference

    out = []
    for i, item in enumerate(c.items(value, ("references",), "reference rows (empty, full, gt_box)", allow_empty=True)):
        try:
            ref = parse_reference(item)
        except ConfigError as exc:
            raise c.fail(("references", i), str(exc).removeprefix("error: ")) from None
        if ref not in out:
            out.append(ref)
    return tuple(out)


def match_methods(patterns: tuple[str, ...] | None, available: list[str]) -> list[str]:
    """The available methods a table or figure asks for, in the order of its patterns (globs allowed).

    A pattern ``!glob`` drops the methods chosen so far that match it (``["*", "!SAM-*-mm*"]``: every
    method but the mask-choice ablation); a list of exclusions only starts from every method.
    """
    if patterns is None:
        return list(available)
    out: list[str] = [] if any(not p.startswith("!") for p in patterns) else list(available)
    for pattern in patterns:
        if pattern.startswith("!"):
            out = [name for name in out if not fnmatch.fnmatchcase(name, pattern[1:])]
            continue
        for name in available:
            if fnmatch.fnmatchcase(name, pattern) and name not in out:
                out.append(name)
    return out


# --- mode configs -------------------------------------------------------------------------------
# The runners own the mode vocabulary (samis.runners.config: options, defaults, ranges, names,
# validation); a definition adds only two conveniences: the spellings of the study's text (k,
# negative, max_area_fraction) and ``policies: [...]``, one automatic entry for several policies that
# share one mask generation per image.
MODE_ALIASES = {"k": "n_points", "negative": "n_negative", "max_area_fraction": "background_frac"}
DEFAULT_POLICIES = POLICIES


def _mode_value(c: Checker, key: str, value: Any, default: Any, rng: tuple, path: KeyPath) -> Any:
    """Type (from the runner's default) and range (from the runner's option) of one mode option."""
    lo, hi, open_lo = rng
    if key == "multimask":
        return value if isinstance(value, int) and not isinstance(value, bool) else c.string(value, path)
    if key in SWEEP_KEYS and isinstance(value, list):  # a threshold sweep: each value in the option's range
        return [c.number(v, path + (j,), lo, hi, open_lo) for j, v in enumerate(c.items(value, path, "numbers"))]
    if isinstance(default, bool):
        return c.boolean(value, path)
    if isinstance(default, int):
        return c.integer(value, path, lo, hi)
    if isinstance(default, float):
        return c.number(value, path, lo, hi, open_lo)
    if isinstance(default, (list, tuple)):
        return [c.number(v, path + (j,)) for j, v in enumerate(c.items(value, path, "numbers"))]
    if value is None:
        return None
    return c.string(value, path)


def _modes(c: Checker, value: Any, seed: int) -> tuple[ModeConfig, ...]:
    from samis.runners.config import normalize

    out: list[ModeConfig] = []
    where: dict[str, int] = {}
    for i, item in enumerate(c.items(value, ("modes",), "mode configs ({mode: box|point|automatic, ...})")):
        path = ("modes", i)
        if not isinstance(item, dict):
            raise c.expected(path, "a mapping such as {mode: box}", item)
        raw_mode = c.string(item.get("mode"), path + ("mode",), what=" or ".join([", ".join(list(MODES)[:-1]), list(MODES)[-1]]))
        try:
            cls = mode_class(raw_mode)
        except ConfigError as exc:
            raise c.fail(path + ("mode",), str(exc)) from None
        defaults, ranges = cls.options(), cls.ranges()
        automatic = "policy" in defaults  # a mode with a policy option also takes policies: [...]
        allowed = sorted(defaults)
        allowed += sorted(alias for alias, canon in MODE_ALIASES.items() if canon in defaults)
        allowed += ["policies"] if automatic else []
        entry: dict[str, Any] = {"mode": cls.mode}
        policies: tuple[str, ...] | None = None
        for key, raw in item.items():
            if key == "mode":
                continue
            if key not in allowed:
                raise c.fail(path + (key,), f"unknown key {key!r} for mode {cls.mode}; allowed here: {', '.join(allowed)}")
            if key == "policies":
                if isinstance(raw, list) and "oracle" in raw:
                    raise c.fail(path + (key, raw.index("oracle")), "policy oracle was replaced by best_match (per "
                                 "ground-truth component, the generated mask with the highest IoU with it)")
                policies = c.strings(raw, path + (key,), POLICIES)
                continue
            canon = MODE_ALIASES.get(key, key)
            if canon != key and canon in item:
                raise c.fail(path + (key,), f"{key!r} is another spelling of {canon!r}; give only one of them")
            entry[canon] = _mode_value(c, canon, raw, defaults[canon], ranges.get(canon, (None, None, False)), path + (key,))
        if policies is not None and "policy" in entry:
            raise c.fail(path + ("policies",), "give either policy: or policies:, not both")
        entry.setdefault("seed", seed)
        if automatic and "policy" not in entry:
            policies = policies or DEFAULT_POLICIES
        for policy in policies or (None,):
            config = dict(entry, policy=policy) if policy else dict(entry)
            try:
                stored = normalize(config).expand()  # clicks: one method per saved click count
            except ConfigError as exc:
                raise c.fail(path, str(exc)) from None
            for config in stored:
                name = config.method_name("MODEL")
                if name in where:
                    raise c.fail(path, f"gives the same method ({name.replace('MODEL', '<model>')}) as modes[{where[name]}]")
                where[name] = i
                out.append(config)
    return tuple(out)


# --- sections -----------------------------------------------------------------------------------
_DATASET_KEYS = ("name", "splits", "data_root", "label", "protocols", "limit", "stems", "modes", "mode_splits")


def _dataset_options(c: Checker, item: dict, path: KeyPath, name: str) -> tuple[tuple[str, Any], ...]:
    """The adapter's options among the entry's keys, typed and checked by the adapter."""
    given = {k: (c.expand(v, path + (k,)) if isinstance(v, str) else v) for k, v in item.items() if k in DATASETS[name].options}
    try:
        parsed = DATASETS[name].parse_options(given)
    except ConfigError as exc:
        key = next((k for k in given if k in str(exc)), None)
        raise c.fail(path + ((key,) if key else ()), str(exc)) from None
    return tuple((k, parsed[k]) for k in given)


def _subset(c: Checker, item: dict, path: KeyPath, seed: int):
    from samis.datasets.subset import make_subset

    limit = c.integer(item["limit"], path + ("limit",), 1) if item.get("limit") is not None else None
    stems = c.path(item["stems"], path + ("stems",), "file") if item.get("stems") is not None else None
    return make_subset(limit, stems, seed)


def _datasets(c: Checker, value: Any, protocols: tuple[str, ...], seed: int = 0) -> tuple[DatasetSpec, ...]:
    out: list[DatasetSpec] = []
    for i, item in enumerate(c.items(value, ("datasets",), "datasets ({name: sd900, splits: [test]})")):
        path = ("datasets", i)
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"] in DATASETS:
            c.mapping(item, path, _DATASET_KEYS + tuple(DATASETS[item["name"]].options), required=("name",))
        else:
            c.mapping(item, path, _DATASET_KEYS, required=("name",))
        name = c.string(item["name"], path + ("name",), tuple(DATASETS))
        valid = tuple(DATASETS[name].splits)
        splits = c.strings(item["splits"], path + ("splits",), valid) if "splits" in item else (DATASETS[name].default_split,)
        root = c.path(item["data_root"], path + ("data_root",), "dir") if item.get("data_root") is not None else None
        if name == "folder" and root is None:
            raise c.fail(path + ("data_root",), "a folder dataset needs data_root: the folder holding images/ and masks/")
        if "label" in item:
            label = c.string(item["label"], path + ("label",), pattern=_LABEL, what="a label of letters, digits, '.', '_' or '-'")
        else:
            label = root.name if name == "folder" else name
        prot = c.strings(item["protocols"], path + ("protocols",), tuple(PROTOCOL_METRICS)) if "protocols" in item else protocols
        if any(d.label == label for d in out):
            raise c.fail(path + ("label",), f"label {label!r} is used twice; give each dataset entry its own label")
        modes = None
        if item.get("modes") is not None:  # e.g. automatic mode only on defect-free images (prompts need a defect)
            modes = tuple(mode_class(m).mode for m in c.strings(item["modes"], path + ("modes",), tuple(MODES)))
        mode_splits = []  # e.g. {automatic: [test]}: a costly mode on one split only (the others run everywhere)
        if item.get("mode_splits") is not None:
            c.mapping(item["mode_splits"], path + ("mode_splits",), tuple(MODES))
            for kind, value in item["mode_splits"].items():
                mode_splits.append((kind, c.strings(value, path + ("mode_splits", kind), splits)))
        out.append(DatasetSpec(name=name, splits=splits, label=label, data_root=root, protocols=prot,
                               options=_dataset_options(c, item, path, name), subset=_subset(c, item, path, seed),
                               modes=modes, mode_splits=tuple(mode_splits)))
    return tuple(out)


def _models(c: Checker, value: Any) -> tuple[ModelEntry, ...]:
    out = []
    for i, item in enumerate(c.items(value, ("models",), "models ({name: vit_t})")):
        path = ("models", i)
        c.mapping(item, path, ("name", "checkpoint", "device", "encoder_backend"), required=("name",))
        name = c.string(item["name"], path + ("name",), tuple(MODEL_REGISTRY))
        ckpt = c.path(item["checkpoint"], path + ("checkpoint",), "file") if item.get("checkpoint") is not None else None
        device = None
        if item.get("device") is not None:
            device = c.string(item["device"], path + ("device",), pattern=_DEVICE, what="auto, cpu, mps, cuda or cuda:N")
            device = None if device == "auto" else device
        encoder = item.get("encoder_backend")
        encoder = "auto" if encoder is None else c.string(encoder, path + ("encoder_backend",), ENCODER_BACKENDS)
        if any(m.name == name for m in out):
            raise c.fail(path + ("name",), f"model {name!r} is listed twice")
        out.append(ModelEntry(name=name, checkpoint=ckpt, device=device, encoder_backend=encoder))
    return tuple(out)


def _baselines(c: Checker, value: Any, datasets: tuple[DatasetSpec, ...]) -> dict[str, BaselineSpec]:
    if value is None:
        return {}
    labels = tuple(d.label for d in datasets)
    c.mapping(value, ("baselines",), labels)
    out = {}
    for label, item in value.items():
        path = ("baselines", label)
        c.mapping(item, path, ("root", "methods"), required=("root",))
        root = c.path(item["root"], path + ("root",), "dir")
        splits = next(d.splits for d in datasets if d.label == label)
        methods = None
        raw = item.get("methods", "all")
        if raw != "all":
            found = []
            for j, entry in enumerate(c.items(raw, path + ("methods",), "method names, {name:, splits:} or the string all")):
                mpath = path + ("methods", j)
                if isinstance(entry, dict):
                    c.mapping(entry, mpath, ("name", "splits"), required=("name",))
                    name = c.string(entry["name"], mpath + ("name",))
                    msplits = c.strings(entry["splits"], mpath + ("splits",), splits) if "splits" in entry else None
                else:
                    name = c.string(entry, mpath, what="a method name (the folder under root)")
                    msplits = None
                if c.check_paths and not (root / name).is_dir():
                    raise c.fail(mpath, f"no folder {root / name} with this method's maps")
                if any(m.name == name for m in found):
                    raise c.fail(mpath, f"method {name!r} is listed twice")
                found.append(BaselineMethod(name=name, splits=msplits))
            methods = tuple(found)
        out[label] = BaselineSpec(dataset=label, root=root, methods=methods)
    return out


def _units(c: Checker, value: Any, path: KeyPath, datasets: tuple[DatasetSpec, ...], protocol: str) -> tuple[str, ...]:
    """Refs ``label/split`` (or ``label`` for all its splits); default: every unit evaluated under ``protocol``
    (every unit when ``protocol`` is empty: the record kinds)."""
    if value is None:
        refs = [f"{d.label}/{s}" for d in datasets if not protocol or protocol in d.protocols for s in d.splits]
        if not refs:
            raise c.fail(path, f"no dataset is evaluated with protocol {protocol!r}; add it to a dataset's protocols")
        return tuple(refs)
    known = {f"{d.label}/{s}": d for d in datasets for s in d.splits}
    refs: list[str] = []
    for i, ref in enumerate(c.strings(value, path)):
        if "/" not in ref:
            matches = [r for r in known if r.split("/")[0] == ref]
        else:
            matches = [ref] if ref in known else []
        if not matches:
            raise c.fail(path + (i,), f"{ref!r} is not a dataset of this definition; expected one of {', '.join(known)} (label/split) or a label")
        for r in matches:
            if protocol and protocol not in known[r].protocols:
                raise c.fail(path + (i,), f"{r} is not evaluated with protocol {protocol!r} (its protocols: {', '.join(known[r].protocols)})")
            if r not in refs:
                refs.append(r)
    return tuple(refs)


def _protocol(c: Checker, item: dict, path: KeyPath, protocols: tuple[str, ...]) -> str:
    if "protocol" in item:
        return c.string(item["protocol"], path + ("protocol",), tuple(PROTOCOL_METRICS))
    if len(protocols) == 1:
        return protocols[0]
    raise c.fail(path + ("protocol",), f"missing key 'protocol' (the definition uses {', '.join(protocols)}; say which)")


def _curves_protocol(c: Checker, item: dict, path: KeyPath, datasets) -> str:
    """A curves figure reads a protocol that has curves: the one given, or the only one the datasets use."""
    if "protocol" in item:
        protocol = c.string(item["protocol"], path + ("protocol",), tuple(PROTOCOL_METRICS))
        if protocol not in CURVE_PROTOCOLS:
            raise c.fail(path + ("protocol",), f"the {protocol} protocol has no curves; expected {' or '.join(CURVE_PROTOCOLS)}")
        return protocol
    used = [p for p in CURVE_PROTOCOLS if p in _all_protocols(datasets)]
    if len(used) > 1:
        raise c.fail(path + ("protocol",), f"missing key 'protocol' (protocols with curves here: {', '.join(used)}; say which)")
    return used[0] if used else CURVE_PROTOCOLS[0]  # none used: _units names what is missing


def _all_protocols(datasets) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for d in datasets for p in d.protocols))


def _tables(c: Checker, value: Any, datasets) -> tuple[TableSpec, ...]:
    if value is None:
        return ()
    out = []
    for i, item in enumerate(c.items(value, ("tables",), "tables ({kind: main, protocol: steel})", allow_empty=True)):
        path = ("tables", i)
        c.mapping(item, path, ("kind", "name", "protocol", "units", "methods", "metrics", "formats", "caption", "label",
                               "placement", "layout", "ci", "significance", "against"), required=("kind",))
        kind = c.string(item["kind"], path + ("kind",), TABLE_KINDS)
        extra = {
            "caption": c.string(item["caption"], path + ("caption",)) if "caption" in item else None,
            "label": c.string(item["label"], path + ("label",)) if "label" in item else None,
            "placement": c.string(item["placement"], path + ("placement",), PLACEMENTS) if "placement" in item else "auto",
            "layout": c.string(item["layout"], path + ("layout",), LAYOUTS) if "layout" in item else "auto",
            "ci": c.boolean(item["ci"], path + ("ci",)) if "ci" in item else False,
            "significance": c.boolean(item["significance"], path + ("significance",)) if "significance" in item else False,
            "against": c.strings(item["against"], path + ("against",)) if "against" in item else None,
        }
        if extra["against"] is not None and kind != "significance":
            raise c.fail(path + ("against",), f"'against' applies to significance tables, not {kind}")
        protocol = "" if kind in RECORD_KINDS else _protocol(c, item, path, _all_protocols(datasets))
        units = _units(c, item.get("units"), path + ("units",), datasets, protocol)
        methods = c.strings(item["methods"], path + ("methods",)) if "methods" in item else None
        if protocol == "" and "metrics" in item:
            raise c.fail(path + ("metrics",), f"a {kind} table shows its own columns (samis.report.clicks)")
        metrics = c.strings(item["metrics"], path + ("metrics",), PROTOCOL_METRICS[protocol]) if "metrics" in item else None
        formats = c.strings(item["formats"], path + ("formats",), TABLE_FORMATS) if "formats" in item else TABLE_FORMATS
        default_name = f"{kind}-{protocol}" if protocol else kind
        name = c.string(item["name"], path + ("name",), pattern=_LABEL, what="a file-name stem") if "name" in item else default_name
        out.append(TableSpec(kind=kind, name=name, protocol=protocol, units=units, methods=methods, metrics=metrics,
                             formats=formats, **extra))
    _unique_names(c, out, "tables")
    return tuple(out)


def _figures(c: Checker, value: Any, datasets) -> tuple[FigureSpec, ...]:
    if value is None:
        return ()
    out = []
    keys = ("kind", "name", "protocol", "units", "methods", "metric", "curves", "examples", "outline")
    for i, item in enumerate(c.items(value, ("figures",), "figures ({kind: curves})", allow_empty=True)):
        path = ("figures", i)
        c.mapping(item, path, keys, required=("kind",))
        kind = c.string(item["kind"], path + ("kind",), FIGURE_KINDS)
        if kind == "curves":
            protocol = _curves_protocol(c, item, path, datasets)
        elif kind in RECORD_KINDS:
            protocol = ""
        else:
            protocol = _protocol(c, item, path, _all_protocols(datasets))
        units = _units(c, item.get("units"), path + ("units",), datasets, protocol)
        methods = c.strings(item["methods"], path + ("methods",)) if "methods" in item else None
        for key, allowed_kinds in (("metric", ("category_bars", "mask_choice")), ("curves", ("curves",)),
                                   ("examples", ("qualitative",)), ("outline", ("qualitative",))):
            if key in item and kind not in allowed_kinds:
                raise c.fail(path + (key,), f"{key!r} applies to {' and '.join(allowed_kinds)} figures, not {kind}")
        metric = None
        if kind == "category_bars" and "metric" not in item:
            raise c.fail(path + ("metric",), f"missing key 'metric' (one of {', '.join(PROTOCOL_METRICS[protocol])})")
        if "metric" in item:
            metric = c.string(item["metric"], path + ("metric",), PROTOCOL_METRICS[protocol])
        elif kind == "mask_choice":
            metric = "IoU"
        curves = c.strings(item["curves"], path + ("curves",), CURVE_PANELS) if "curves" in item else DEFAULT_CURVE_PANELS
        examples = _examples(c, item.get("examples"), path + ("examples",), protocol) if kind == "qualitative" else None
        default_name = f"{kind}-{protocol}" if protocol else kind
        name = c.string(item["name"], path + ("name",), pattern=_LABEL, what="a file-name stem") if "name" in item else default_name
        out.append(FigureSpec(kind=kind, name=name, protocol=protocol, units=units, methods=methods,
                              metric=metric, curves=curves if kind == "curves" else DEFAULT_CURVE_PANELS, examples=examples,
                              outline=c.boolean(item["outline"], path + ("outline",)) if "outline" in item else False))
    _unique_names(c, out, "figures")
    return tuple(out)


def _examples(c: Checker, value: Any, path: KeyPath, protocol: str) -> ExampleRule:
    if value is None:
        raise c.fail(path, "a qualitative figure needs examples: {rule: best_median_worst, metric: ..., method: ...} or {rule: stems, stems: [...]}")
    c.mapping(value, path, ("rule", "metric", "method", "per_category", "stems"), required=("rule",))
    rule = c.string(value["rule"], path + ("rule",), EXAMPLE_RULES)
    if rule == "stems":
        for key in ("metric", "method"):
            if key in value:
                raise c.fail(path + (key,), f"{key!r} is used by rule best_median_worst, not stems")
        if "stems" not in value:
            raise c.fail(path + ("stems",), "missing key 'stems' (the image stems to show)")
        return ExampleRule(rule=rule, stems=c.strings(value["stems"], path + ("stems",)), per_category=False)
    for key in ("metric", "method"):
        if key not in value:
            raise c.fail(path + (key,), f"missing key {key!r} (best_median_worst ranks images by one method's metric)")
    if "stems" in value:
        raise c.fail(path + ("stems",), "'stems' is used by rule stems, not best_median_worst")
    per_category = c.boolean(value["per_category"], path + ("per_category",)) if "per_category" in value else True
    return ExampleRule(
        rule=rule,
        metric=c.string(value["metric"], path + ("metric",), PROTOCOL_METRICS[protocol]),
        method=c.string(value["method"], path + ("method",)),
        per_category=per_category,
    )


def _unique_names(c: Checker, specs: list, section: str) -> None:
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec.name in seen:
            raise c.fail((section, i, "name"), f"name {spec.name!r} is also used by {section}[{seen[spec.name]}]; give one of them a name:")
        seen[spec.name] = i


# --- entry point ---------------------------------------------------------------------------------
def load_definition(path: str | os.PathLike, check_paths: bool = True) -> Definition:
    """Read, merge (``extends``) and validate a definition; ``check_paths=False`` skips existence checks
    (to lint a definition for another machine, e.g. experiments/paper.yaml)."""
    top = Path(path).expanduser().resolve()
    data, origins, files = load_tree(top, ())
    c = Checker(top, origins, check_paths)
    c.mapping(data, (), _TOP_KEYS, required=("name", "datasets", "models", "modes"))
    name = c.string(data["name"], ("name",), pattern=_LABEL, what="a name of letters, digits, '.', '_' or '-'")
    description = c.string(data["description"], ("description",)) if data.get("description") else ""
    seed = c.integer(data["seed"], ("seed",), 0) if "seed" in data else 0
    protocols = c.strings(data["protocols"], ("protocols",), tuple(PROTOCOL_METRICS)) if "protocols" in data else ("sod",)
    datasets = _datasets(c, data["datasets"], protocols, seed)
    models = _models(c, data["models"])
    modes = _modes(c, data["modes"], seed)
    baselines = _baselines(c, data.get("baselines"), datasets)
    tables = _tables(c, data.get("tables"), datasets)
    figures = _figures(c, data.get("figures"), datasets)
    display_names = {}
    if data.get("display_names") is not None:
        if not isinstance(data["display_names"], dict):
            raise c.expected(("display_names",), "a mapping of method id or glob to printed name", data["display_names"])
        display_names = {str(k): c.string(v, ("display_names", k)) for k, v in data["display_names"].items()}
    output = c.path(data["output"], ("output",), None) if "output" in data else Path.cwd() / "results" / name
    if "predictions" in data:
        predictions = c.path(data["predictions"], ("predictions",), None)
    else:
        predictions = output.parent / "predictions" / name
    return Definition(
        name=name, path=top, datasets=datasets, models=models, modes=modes, baselines=baselines,
        protocols=_all_protocols(datasets), tables=tables, figures=figures, seed=seed, output=output,
        predictions=predictions, description=description, sources=files, display_names=display_names,
        executor=executor_from_definition(c, data.get("executor")),
        references=_references(c, data["references"]) if data.get("references") is not None else _default_references(),
        empty_gt=c.string(data["empty_gt"], ("empty_gt",), ("apart", "include")) if "empty_gt" in data else "apart",
        browser_images=c.integer(data["browser_images"], ("browser_images",), 1) if data.get("browser_images") is not None else None,
    )
