"""The mode vocabulary: typed frozen configurations, one registry read by the runners, the loader and the CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from samis.errors import ConfigError
from samis.runners.config import MODES, AutomaticConfig, BoxPointConfig, PointConfig, mode_class, normalize


def test_configurations_are_typed_frozen_and_round_trip_through_the_manifest():
    cfg = normalize({"mode": "point", "n_points": "3", "neg_ring": "4;12", "multimask": "2"})
    assert isinstance(cfg, PointConfig) and (cfg.n_points, cfg.neg_ring, cfg.multimask) == (3, (4.0, 12.0), 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_points = 4
    record = json.loads(json.dumps(cfg.as_dict()))  # what manifest.json holds
    assert record["mode"] == "point" and record["neg_ring"] == [4.0, 12.0]
    assert normalize(record) == cfg and normalize(cfg) is cfg


def test_config_hash_is_sha256_of_the_map_options_and_model():
    cfg = normalize({"mode": "box", "decoder": "stock", "batch_size": 4, "name": "mine"})
    # speed-only options and the name are left out; written out by hand here
    payload = {"mode": "box", "seed": 0, "min_area": 0, "autocast": None, "jitter": 0.0, "multimask": "single",
               "model": "vit_t", "model_digest": "abc"}
    expected = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    assert cfg.config_hash("vit_t", "abc") == expected
    assert normalize({"mode": "box"}).config_hash("vit_t", "abc") == expected  # a faster rerun resumes


def test_aliases_and_registry():
    assert list(MODES) == ["box", "point", "box+point", "automatic", "clicks", "annotate"]
    assert mode_class("auto") is AutomaticConfig and mode_class("box_point") is mode_class("boxpoint") is BoxPointConfig
    assert {cls.runner for cls in MODES.values()} == {"samis.runners.prompted:PromptedRunner",
                                                      "samis.runners.automatic:AutomaticRunner",
                                                      "samis.runners.clicks:ClicksRunner",
                                                      "samis.runners.clicks:AnnotateRunner"}
    with pytest.raises(ConfigError, match="unknown mode 'boxes': choose one of box, point, box\\+point, automatic"):
        mode_class("boxes")


def test_cli_and_definition_read_the_registry(tmp_path):
    import click

    from samis.cli.run import run

    (mode_option,) = [p for p in run.params if p.name == "modes"]
    assert isinstance(mode_option.type, click.Choice) and list(mode_option.type.choices) == list(MODES)
    # the definition loader's ranges are the configuration's: background_frac is in (0, 1]
    assert AutomaticConfig.ranges()["background_frac"] == (0.0, 1.0, True)
    from samis.experiments.definition import load_definition

    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    path = tmp_path / "exp.yaml"
    path.write_text(f"name: t\ndatasets: [{{name: folder, data_root: {data}}}]\nmodels: [{{name: vit_t}}]\n"
                    "modes: [{mode: automatic, background_frac: 0}]\n")
    with pytest.raises(ConfigError, match=r"modes\[0\]\.background_frac"):
        load_definition(path)
