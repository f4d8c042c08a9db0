"""Experiment definitions with mistakes a user makes: unknown keys, wrong types, missing roots, broken YAML.

Each case is refused before any work starts with a ``ConfigError`` naming the file, the key path and
what was expected; through ``samis reproduce`` it is one ``error:`` line, exit 2, no traceback.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from samis.datasets.nrsd_fixture import make_nrsd_fixture
from samis.errors import ConfigError
from samis.experiments import load_definition

from .conftest import assert_clean_error, samis_cli

VALID = """\
name: rel-check
seed: 0
output: out
datasets:
  - name: nrsd
    splits: [craft]
    data_root: {root}
models:
  - name: vit_t
modes:
  - {{mode: box}}
  - {{mode: point, n_points: 3}}
"""


@pytest.fixture
def nrsd_root(awkward_root) -> Path:
    make_nrsd_fixture(awkward_root / "NRSD-MN", n_craft=2, n_real=1, size=(64, 64))
    return awkward_root


def _write(folder: Path, text: str, name: str = "exp ü.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _valid(nrsd_root: Path) -> str:
    return VALID.format(root=f'"{nrsd_root}"')


def test_valid_definition_loads(nrsd_root, tmp_path):
    d = load_definition(_write(tmp_path, _valid(nrsd_root)))
    assert d.name == "rel-check" and [m.mode for m in d.modes] == ["box", "point"]
    assert d.datasets[0].data_root == nrsd_root


# each case: (what to change in the valid text) -> strings the error must contain
CASES = {
    "unknown_top_key": (lambda t: t.replace("seed: 0", "sed: 0"), ["sed", "seed"]),
    "unknown_mode_key": (lambda t: t.replace("{mode: box}", "{mode: box, jiter: 0.1}"), ["modes[0]", "jiter", "jitter"]),
    "unknown_dataset_key": (lambda t: t.replace("splits: [craft]", "split: [craft]"), ["datasets[0]", "split"]),
    "wrong_type_int": (lambda t: t.replace("n_points: 3", "n_points: three"), ["modes[1].n_points", "integer", "three"]),
    "wrong_type_float_for_int": (lambda t: t.replace("n_points: 3", "n_points: 2.5"), ["modes[1].n_points", "integer"]),
    "wrong_type_list": (lambda t: t.replace("splits: [craft]", "splits: {craft: 1}"), ["datasets[0].splits"]),
    "wrong_type_seed": (lambda t: t.replace("seed: 0", "seed: [0]"), ["seed"]),
    "unknown_split": (lambda t: t.replace("[craft]", "[crafts]"), ["datasets[0].splits[0]", "crafts", "craft"]),
    "unknown_dataset": (lambda t: t.replace("name: nrsd", "name: nrsdd"), ["datasets[0].name", "nrsdd", "nrsd"]),
    "unknown_mode": (lambda t: t.replace("{mode: box}", "{mode: boxes}"), ["modes[0]", "boxes"]),
    "unknown_model": (lambda t: t.replace("name: vit_t", "name: vit_x"), ["models[0].name", "vit_x", "vit_t"]),
    "missing_required": (lambda t: t.replace("models:\n  - name: vit_t\n", ""), ["models"]),
    "duplicate_method": (lambda t: t.replace("{mode: point, n_points: 3}", "{mode: box, jitter: 0.0}"), ["modes[1]", "same method"]),
    "unset_env_var": (lambda t: t.replace("output: out", "output: ${SAMIS_REL_UNSET_VAR}/out"), ["output", "SAMIS_REL_UNSET_VAR"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_definition_is_a_named_configerror(nrsd_root, tmp_path, case):
    change, needles = CASES[case]
    text = change(_valid(nrsd_root))
    assert text != _valid(nrsd_root)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_definition(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_missing_dataset_root(nrsd_root, tmp_path):
    missing = tmp_path / "nö such root"
    path = _write(tmp_path, VALID.format(root=f'"{missing}"'))
    with pytest.raises(ConfigError) as info:
        load_definition(path)
    msg = str(info.value)
    assert str(path) in msg and "datasets[0].data_root" in msg and str(missing) in msg


def test_dataset_root_without_the_set(tmp_path, awkward_root):
    """The root exists but holds no NRSD-MN: refused when the data is listed, naming root and layout."""
    from samis.datasets import get_dataset
    from samis.errors import DataError

    path = _write(tmp_path, VALID.format(root=f'"{awkward_root}"'))
    d = load_definition(path)
    with pytest.raises(DataError) as info:
        get_dataset(d.datasets[0].name, root=d.datasets[0].data_root, split="craft")
    assert str(awkward_root) in str(info.value) and "NRSD-MN" in str(info.value)


def test_broken_yaml(tmp_path):
    path = _write(tmp_path, "name: x\ndatasets: [\n  - {name: sd900\n")
    with pytest.raises(ConfigError) as info:
        load_definition(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("text", ["", "just a string\n", "- a\n- list\n"])
def test_definition_that_is_not_a_mapping(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_definition(path)
    assert str(path) in str(info.value)


def test_missing_definition_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_definition(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)


def test_extends_cycle(tmp_path):
    _write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    _write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(ConfigError) as info:
        load_definition(tmp_path / "a.yaml")
    assert "a.yaml" in str(info.value) and "b.yaml" in str(info.value)


# --- the same through the command line ------------------------------------------------------------------


@pytest.mark.parametrize("case", ["unknown_mode_key", "wrong_type_int", "missing_root"])
def test_bad_definition_cli(nrsd_root, tmp_path, case):
    if case == "missing_root":
        missing = tmp_path / "nö such root"
        text, needles = VALID.format(root=f'"{missing}"'), [str(missing), "datasets[0].data_root"]
    else:
        change, needles = CASES[case]
        text = change(_valid(nrsd_root))
    path = _write(tmp_path, text)
    proc = samis_cli("reproduce", path)
    assert_clean_error(proc, str(path), *needles)
    assert not (tmp_path / "out").exists()  # refused before any work started
