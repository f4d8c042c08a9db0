"""Experiment definitions: the shipped files load, and every mistake names file, key path and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from samis.errors import ConfigError
from samis.experiments import load_definition
from samis.experiments.definition import match_methods

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def minimal(tmp_path: Path, **overrides) -> dict:
    """A small valid definition on a folder dataset that exists in tmp_path."""
    (tmp_path / "data" / "images").mkdir(parents=True, exist_ok=True)
    (tmp_path / "maps" / "FT").mkdir(parents=True, exist_ok=True)
    data = {
        "name": "t",
        "output": "out",
        "datasets": [{"name": "folder", "data_root": "data", "label": "syn", "protocols": ["steel", "sod"]}],
        "models": [{"name": "vit_t"}],
        "modes": [{"mode": "box"}, {"mode": "point", "k": 3}, {"mode": "automatic", "points_per_side": 8}],
        "baselines": {"syn": {"root": "maps", "methods": ["FT"]}},
        "tables": [{"kind": "main", "protocol": "steel"}],
        "figures": [{"kind": "curves"}],
    }
    data.update(overrides)
    return data


def error_of(path: Path, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        load_definition(path, **kw)
    return str(info.value)


# --- the shipped definitions --------------------------------------------------------------------
def test_default_definition_loads_on_this_machine(shared_root, monkeypatch):
    monkeypatch.setenv("SAMIS_SHARED", str(shared_root))
    monkeypatch.setenv("SAMIS_DATA_ROOT", str(shared_root / "datasets"))
    d = load_definition(EXPERIMENTS / "default.yaml")
    assert [m.name for m in d.models] == ["vit_t"]
    assert [(s.label, split) for s, split in d.units()] == [
        ("SD-saliency-900", "test"), ("SD-saliency-900", "full"), ("MT", "defective"), ("BSData", "test"),
        ("MT-full", "full"), ("SD-900-clicks", "test"), ("MT-clicks", "defective")]
    mt_all = d.dataset("MT-full")
    assert mt_all.protocols == ("sod", "anomaly") and mt_all.modes == ("automatic",)
    assert d.dataset("SD-saliency-900").splits_of(next(m for m in d.modes if m.mode == "automatic")) == ("test",)
    free = [s for s in mt_all.open("full").samples() if s.category == "Free"]
    assert len(mt_all.open("full").samples()) == 200 and len(free) > 100  # defect-free tiles dominate, as in MT
    autos = [m for m in d.modes if m.mode == "automatic"]
    assert [a.policy for a in autos] == ["union", "score", "best_match"]
    assert all(a.main_pair == (0.88, 0.95) and a.sweeps for a in autos)  # a sweep; the stock pair makes the maps
    assert all(a.points_per_side < 32 for a in autos)  # the CPU study must not use the stock 32x32 grid
    sd = d.baselines["SD-saliency-900"]
    assert sd.root == shared_root / "baselines" / "SD-saliency-900"
    assert "CSEPNet" in sd.method_names("test") and "CSEPNet" not in sd.method_names("full")
    assert len(sd.method_names("full")) == 12
    assert d.output == REPO / "results" / "default"
    assert d.predictions == REPO / "results" / "predictions" / "default"


def test_default_paths_fall_back_to_shared_beside_the_repository(monkeypatch):
    monkeypatch.delenv("SAMIS_SHARED", raising=False)
    monkeypatch.delenv("SAMIS_DATA_ROOT", raising=False)
    d = load_definition(EXPERIMENTS / "default.yaml", check_paths=False)
    assert d.datasets[0].data_root == REPO.parent / "shared" / "datasets"
    assert d.baselines["SD-saliency-900"].root == REPO.parent / "shared" / "baselines" / "SD-saliency-900"


def test_paper_definition_is_the_published_study(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMIS_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    monkeypatch.setenv("SAMIS_DATA_ROOT", str(tmp_path / "data"))
    d = load_definition(EXPERIMENTS / "paper.yaml", check_paths=False)
    assert [m.name for m in d.models] == ["vit_h"]
    assert d.models[0].checkpoint == tmp_path / "ckpt" / "sam_vit_h_4b8939.pth"
    assert {s.name for s in d.datasets} == {"sd900", "mt", "nrsd"}
    assert dict((s.label, s.splits) for s in d.datasets)["NRSD-MN"] == ("craft", "real")
    auto = next(m for m in d.modes if m.mode == "automatic")
    assert (auto.points_per_side, auto.main_pair) == (32, (0.88, 0.95))  # the stock grid and pair make the maps
    assert [m.n_points for m in d.modes if m.mode == "point"] == [1, 3, 5]
    assert {m.mode for m in d.modes} == {"box", "point", "automatic"}
    assert set(d.protocols) == {"steel", "sod"}


def test_paper_models_definition_runs_every_family_on_the_published_study(tmp_path, monkeypatch):
    from samis.models import get_spec

    monkeypatch.setenv("SAMIS_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    monkeypatch.setenv("SAMIS_DATA_ROOT", str(tmp_path / "data"))
    d = load_definition(EXPERIMENTS / "paper-models.yaml", check_paths=False)
    paper = load_definition(EXPERIMENTS / "paper.yaml", check_paths=False)
    assert [m.name for m in d.models] == ["vit_h", "sam2.1_hiera_large", "hq_vit_h", "vit_t"]
    assert {get_spec(m.name).family for m in d.models} == {"sam1", "sam2", "hq"}
    assert d.models[1].checkpoint == tmp_path / "ckpt" / get_spec("sam2.1_hiera_large").filename
    assert d.models[2].checkpoint == tmp_path / "ckpt" / get_spec("hq_vit_h").filename
    assert (d.datasets, d.modes, d.baselines) == (paper.datasets, paper.modes, paper.baselines)


def test_paper_definition_says_which_variable_is_missing(monkeypatch):
    monkeypatch.delenv("SAMIS_CHECKPOINT_DIR", raising=False)
    monkeypatch.setenv("SAMIS_DATA_ROOT", "/nowhere")
    msg = error_of(EXPERIMENTS / "paper.yaml", check_paths=False)
    assert "paper.yaml" in msg and "models[0].checkpoint" in msg and "SAMIS_CHECKPOINT_DIR" in msg


def test_sweep_extends_default_and_replaces_lists(monkeypatch):
    monkeypatch.delenv("SAMIS_DATA_ROOT", raising=False)
    d = load_definition(EXPERIMENTS / "sweep-point-k.yaml", check_paths=False)
    base = load_definition(EXPERIMENTS / "default.yaml", check_paths=False)
    assert d.name == "sweep-point-k" and d.sources == (EXPERIMENTS / "sweep-point-k.yaml", EXPERIMENTS / "default.yaml")
    assert [m.n_points for m in d.modes] == [1, 2, 3, 5, 8]
    assert d.models == base.models and d.baselines == base.baselines
    assert d.predictions == base.predictions  # k = 1, 3, 5 maps are shared with the default study
    assert d.output != base.output


def test_demo_definition_loads_before_its_data_exists():
    d = load_definition(EXPERIMENTS / "demo.yaml", check_paths=False)
    assert d.datasets[0].name == "folder" and d.datasets[0].data_root == REPO / "results" / "demo" / "data"
    assert d.baselines["demo"].method_names() == ["FT"]


# --- defaults and resolution -------------------------------------------------------------------
def test_minimal_definition_gets_defaults_and_file_relative_paths(tmp_path):
    d = load_definition(write(tmp_path / "exp.yaml", minimal(tmp_path)))
    from samis.runners.config import method_name, normalize

    box, point, *autos = d.modes
    assert box == normalize({"mode": "box"})  # the runners' defaults, filled in once
    assert point.n_points == 3 and point.n_negative == 0  # k is the study's spelling of n_points
    assert [a.policy for a in autos] == ["union", "score", "best_match"]  # one method per default policy
    assert all(a.points_per_side == 8 for a in autos)
    assert [method_name("vit_t", m) for m in d.modes] == [
        "SAM-vit_t-box", "SAM-vit_t-point3", "SAM-vit_t-auto-union-pps8", "SAM-vit_t-auto-score-pps8",
        "SAM-vit_t-auto-best_match-pps8"]
    assert d.datasets[0].data_root == tmp_path / "data"
    assert d.output == tmp_path / "out" and d.predictions == tmp_path / "predictions" / "t"
    assert d.tables[0].units == ("syn/full",) and d.tables[0].formats == ("md", "latex", "csv")
    assert d.figures[0].protocol == "sod" and d.seed == 0


def test_environment_variables_expand_with_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_DATA", str(tmp_path / "data"))
    data = minimal(tmp_path)
    data["datasets"][0]["data_root"] = "${MY_DATA}"
    data["output"] = "${MY_UNSET_OUT:-elsewhere}/x"
    monkeypatch.delenv("MY_UNSET_OUT", raising=False)
    d = load_definition(write(tmp_path / "exp.yaml", data))
    assert d.datasets[0].data_root == tmp_path / "data" and d.output == tmp_path / "elsewhere" / "x"


def test_unset_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("MY_UNSET", raising=False)
    data = minimal(tmp_path)
    data["baselines"]["syn"]["root"] = "${MY_UNSET}/maps"
    msg = error_of(write(tmp_path / "exp.yaml", data))
    assert "exp.yaml" in msg and "baselines.syn.root" in msg and "MY_UNSET is not set" in msg


# --- errors name file, key path and expectation ---------------------------------------------
@pytest.mark.parametrize(
    "change, key, expected",
    [
        (lambda d: d["modes"][2].update(points_per_sid=16), "modes[2].points_per_sid", "unknown key"),
        (lambda d: d["modes"][1].update(k=0), "modes[1].k", "an integer >= 1"),
        (lambda d: d["modes"][1].update(k="three"), "modes[1].k", "the string 'three'"),
        (lambda d: d["modes"][1].update(n_points=2), "modes[1].k", "another spelling of 'n_points'"),
        (lambda d: d["modes"][0].update(n_points=2), "modes[0].n_points", "unknown key 'n_points' for mode box"),
        (lambda d: d["modes"][2].update(policies=["union", "best"]), "modes[2].policies[1]", "one of union, score, best_match"),
        (lambda d: d["modes"][2].update(policies=["union", "oracle"]), "modes[2].policies[1]", "replaced by best_match"),
        (lambda d: d["modes"][2].update(pred_iou_thresh=[0.88, 1.5]), "modes[2].pred_iou_thresh[1]", "<= 1"),
        (lambda d: d["modes"][2].update(stability_score_thresh=[0.9, 0.9]), "modes[2]", "a value is given twice"),
        (lambda d: d["modes"][2].update(policy="union", policies=["score"]), "modes[2].policies", "not both"),
        (lambda d: d["modes"][2].update(pred_iou_thresh=1.5), "modes[2].pred_iou_thresh", "<= 1"),
        (lambda d: d["modes"][2].update(max_area_fraction=0), "modes[2].max_area_fraction", "> 0.0"),
        (lambda d: d["modes"][0].update(multimask="best"), "modes[0]", "multimask='best'"),
        (lambda d: d["modes"][0].update(mode="boxes"), "modes[0].mode", "unknown mode 'boxes'"),
        (lambda d: d["modes"].append({"mode": "box", "jitter": 0.0}), "modes[3]", "same method (SAM-<model>-box) as modes[0]"),
        (lambda d: d.update(colour="red"), "colour", "allowed here"),
        (lambda d: d.update(seed="x"), "seed", "an integer >= 0"),
        (lambda d: d["models"][0].update(name="vit_x"), "models[0].name", "vit_h, vit_l, vit_b, vit_t"),
        (lambda d: d["models"][0].update(device="gpu"), "models[0].device", "cuda"),
        (lambda d: d["models"][0].update(checkpoint="missing.pth"), "models[0].checkpoint", "existing file"),
        (lambda d: d["datasets"][0].update(data_root="nope"), "datasets[0].data_root", "existing directory"),
        (lambda d: d["datasets"][0].update(splits=["test"]), "datasets[0].splits[0]", "one of full"),
        (lambda d: d["datasets"][0].pop("data_root"), "datasets[0].data_root", "folder dataset needs"),
        (lambda d: d.update(datasets=[{"name": "sd900", "label": "a b"}]), "datasets[0].label", "a label of"),
        (lambda d: d["baselines"]["syn"].update(methods=["FT", "HC"]), "baselines.syn.methods[1]", "no folder"),
        (lambda d: d["baselines"].update(other={"root": "maps"}), "baselines.other", "allowed here: syn"),
        (lambda d: d["tables"][0].update(units=["syn/test"]), "tables[0].units[0]", "syn/full"),
        (lambda d: d["tables"][0].update(metrics=["WF", "maxF"]), "tables[0].metrics[1]", "one of WF"),
        (lambda d: d["tables"][0].pop("protocol"), "tables[0].protocol", "say which"),
        (lambda d: d["figures"][0].update(protocol="steel"), "figures[0].protocol", "expected sod"),
        (lambda d: d["figures"].append({"kind": "qualitative", "protocol": "sod"}), "figures[1].examples", "needs examples"),
        (lambda d: d["figures"].append({"kind": "qualitative", "protocol": "sod", "examples": {"rule": "best_median_worst", "metric": "IoU"}}),
         "figures[1].examples.method", "missing key 'method'"),
        (lambda d: d["figures"].append({"kind": "category_bars", "protocol": "steel"}), "figures[1].metric", "missing key 'metric'"),
        (lambda d: d["figures"].append({"kind": "curves", "metric": "IoU"}), "figures[1].metric", "applies to category_bars"),
        (lambda d: d["tables"].append({"kind": "main", "protocol": "steel"}), "tables[1].name", "also used by tables[0]"),
        (lambda d: d["tables"][0].update(placement="margin"), "tables[0].placement", "one of auto, column, page"),
        (lambda d: d["tables"][0].update(ci="yes"), "tables[0].ci", "true or false"),
        (lambda d: d["tables"][0].update(against=["FT"]), "tables[0].against", "applies to significance tables"),
        (lambda d: d.update(display_names=["SAM"]), "display_names", "a mapping of method id or glob"),
        (lambda d: d["figures"][0].update(outline=True), "figures[0].outline", "applies to qualitative"),
        (lambda d: d.pop("modes"), "modes", "missing required key"),
        (lambda d: d.update(modes=[]), "modes", "non-empty list"),
        (lambda d: d.update(empty_gt="drop"), "empty_gt", "one of apart, include"),
        (lambda d: d.update(references=["gt_boxes"]), "references[0]", "unknown reference 'gt_boxes'"),
        (lambda d: d.update(references=[{"full": {"jitter": 0.1}}]), "references[0]", "only gt_box takes options"),
    ],
)
def test_mistakes_are_reported_with_key_path(tmp_path, change, key, expected):
    data = minimal(tmp_path)
    change(data)
    msg = error_of(write(tmp_path / "exp.yaml", data))
    assert msg.startswith(f"{tmp_path / 'exp.yaml'}: {key}:"), msg
    assert expected in msg, msg


def test_missing_file_and_bad_yaml(tmp_path):
    assert "not found" in error_of(tmp_path / "none.yaml")
    assert "not valid YAML" in error_of(write(tmp_path / "bad.yaml", "name: [unclosed\n"))
    assert "expected a mapping" in error_of(write(tmp_path / "list.yaml", "- a\n- b\n"))


def test_check_paths_false_skips_existence_only(tmp_path):
    data = minimal(tmp_path)
    data["datasets"][0]["data_root"] = "not-yet"
    d = load_definition(write(tmp_path / "exp.yaml", data), check_paths=False)
    assert d.datasets[0].data_root == tmp_path / "not-yet"
    data["modes"][0]["jitter"] = -1.0
    assert "modes[0].jitter" in error_of(write(tmp_path / "exp.yaml", data), check_paths=False)


# --- extends -----------------------------------------------------------------------------------
def test_extends_merges_mappings_replaces_lists_and_keeps_base_relative_paths(tmp_path):
    base = minimal(tmp_path / "base")
    write(tmp_path / "base" / "base.yaml", base)
    child = {
        "extends": "base/base.yaml",
        "name": "child",
        "modes": [{"mode": "point", "k": 5}],
        "baselines": {"syn": {"methods": "all"}},  # merged: root still comes from the base
    }
    d = load_definition(write(tmp_path / "child.yaml", child))
    assert d.name == "child" and [m.mode for m in d.modes] == ["point"]
    assert d.datasets[0].data_root == tmp_path / "base" / "data"  # relative to base.yaml, not child.yaml
    assert d.baselines["syn"].root == tmp_path / "base" / "maps"
    assert d.baselines["syn"].methods is None and d.baselines["syn"].method_names() == ["FT"]
    assert d.output == tmp_path / "base" / "out"


def test_error_in_a_base_value_names_the_base_file(tmp_path):
    base = minimal(tmp_path / "base")
    base["modes"][0]["jitter"] = "wide"
    write(tmp_path / "base" / "base.yaml", base)
    msg = error_of(write(tmp_path / "child.yaml", {"extends": "base/base.yaml", "name": "child"}))
    assert msg.startswith(f"{tmp_path / 'base' / 'base.yaml'} (extended by {tmp_path / 'child.yaml'}): modes[0].jitter:"), msg


def test_extends_cycle_and_missing_base(tmp_path):
    write(tmp_path / "a.yaml", {"extends": "b.yaml", "name": "a"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml", "name": "b"})
    msg = error_of(tmp_path / "a.yaml")
    assert "cycle" in msg and "a.yaml -> " in msg
    write(tmp_path / "c.yaml", {"extends": "gone.yaml", "name": "c"})
    msg = error_of(tmp_path / "c.yaml")
    assert "c.yaml: extends:" in msg and "gone.yaml not found" in msg


def test_match_methods_keeps_pattern_order():
    available = ["FT", "MCITF", "SAM-vit_t-box", "SAM-vit_t-point1", "SAM-vit_t-point3"]
    assert match_methods(("SAM-*-point*", "FT"), available) == ["SAM-vit_t-point1", "SAM-vit_t-point3", "FT"]
    assert match_methods(None, available) == available
    assert match_methods(("CSEPNet",), available) == []


def test_table_presentation_keys_and_display_names(tmp_path):
    data = minimal(tmp_path, display_names={"SAM-*-box": "SAM (box)", "FT": "FT [1]"})
    data["tables"] = [{"kind": "main", "protocol": "steel", "caption": "Zero-shot results.", "label": "tab:zs",
                       "placement": "page", "layout": "stacked", "ci": True, "significance": True},
                      {"kind": "significance", "protocol": "sod", "against": ["FT"]}]
    d = load_definition(write(tmp_path / "exp.yaml", data))
    t = d.tables[0]
    assert (t.caption, t.label, t.placement, t.layout, t.ci, t.significance) == ("Zero-shot results.", "tab:zs", "page", "stacked", True, True)
    assert d.tables[1].name == "significance-sod" and d.tables[1].against == ("FT",)
    assert d.display_names == {"SAM-*-box": "SAM (box)", "FT": "FT [1]"}


def test_references_default_and_options(tmp_path):
    default = load_definition(write(tmp_path / "a.yaml", minimal(tmp_path)))
    assert [r.name for r in default.references] == ["ref-empty", "ref-full", "ref-gt_box"]
    none = load_definition(write(tmp_path / "b.yaml", minimal(tmp_path, references=[])))
    assert none.references == ()
    jit = load_definition(write(tmp_path / "c.yaml", minimal(tmp_path, references=["gt_box", {"gt_box": {"jitter": 0.1, "seed": 4}}])))
    assert [r.name for r in jit.references] == ["ref-gt_box", "ref-gt_box-jit0.1-seed4"]
