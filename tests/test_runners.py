"""Runners on real SD-saliency-900 images.

Plumbing (resume, manifest, stale configuration, sharding, cache) runs a randomly initialised vit_t
on two images; what depends on the model (box IoU, automatic policies) uses the real vit_t weights.
All tests share one embedding cache (session tmp dir), so each image is encoded once per model.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from samis.errors import ConfigError
from samis.imageio import read_gray
from samis.runners import method_name, predict, predict_many
from samis.runners.embedding_cache import CachedSamPredictor, state_digest

pytestmark = pytest.mark.model


class Subset:
    """The samples of a dataset with index % step == 0 (what --shard 0/step selects)."""

    def __init__(self, ds, step, edit=None, offset=0):
        self.ds, self.step, self.edit, self.offset = ds, step, edit, offset
        self.name, self.split = ds.name, ds.split

    def samples(self):
        out = [s for k, s in enumerate(self.ds.samples()) if k % self.step == self.offset]
        return [self.edit(s) for s in out] if self.edit else out


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """Embedding and mask cache shared by every test of the session (the weights stay where they are)."""
    return tmp_path_factory.mktemp("samis-cache")


@pytest.fixture(scope="session")
def sd900(datasets_root):
    from samis.datasets import get_dataset

    return get_dataset("sd900", root=datasets_root, split="test")


@pytest.fixture(scope="session")
def two(sd900):
    return Subset(sd900, 180)  # In_61 and Pa_181-ish: indices 0 and 180 of the sorted test split


@pytest.fixture(scope="session")
def four(sd900):
    return Subset(sd900, 90)  # indices 0, 90, 180, 270: inclusions, patches, scratches


@pytest.fixture(scope="session")
def random_model():
    from mobile_sam import sam_model_registry

    torch.manual_seed(0)
    sam = sam_model_registry["vit_t"]().eval()
    return sam, state_digest(sam)


@pytest.fixture(scope="session")
def real_model(vit_t_model):
    return vit_t_model  # the runners' in-process model cache: the CLI test reuses it


def _iou(map_u8, gt):
    pred = map_u8 > 127
    union = (pred | gt).sum()
    return (pred & gt).sum() / union if union else 1.0


# ---------------------------------------------------------------- names and configurations


def test_method_names():
    assert method_name("vit_t", {"mode": "box"}) == "SAM-vit_t-box"
    assert method_name("vit_t", {"mode": "point"}) == "SAM-vit_t-point1"
    assert method_name("vit_t", {"mode": "point", "n_points": 3, "n_negative": 2}) == "SAM-vit_t-point3-neg2"
    assert method_name("vit_t", {"mode": "box", "jitter": 0.1}) == "SAM-vit_t-box-jit0.1"
    assert method_name("vit_t", {"mode": "point", "multimask": "largest"}) == "SAM-vit_t-point1-mmlargest"
    assert method_name("vit_t", {"mode": "automatic", "points_per_side": 16}) == "SAM-vit_t-auto-union-pps16"
    assert method_name("vit_t", {"mode": "automatic", "points_per_batch": 8}) == "SAM-vit_t-auto-union"
    assert "best_match" in method_name("vit_t", {"mode": "automatic", "policy": "best_match"})
    with pytest.raises(ConfigError, match="oracle was replaced by best_match"):
        method_name("vit_t", {"mode": "automatic", "policy": "oracle"})
    assert method_name("vit_t", {"mode": "box", "name": "mine"}) == "mine"


@pytest.mark.parametrize("cfg", [
    {"mode": "boxes"}, {"mode": "box", "n_points": 2}, {"mode": "automatic", "policy": "max"},
    {"mode": "point", "multimask": 5}, {"mode": "box", "jitter": "a"}, {"mode": "point", "n_points": 0},
])
def test_bad_configurations_are_clear_errors(cfg):
    with pytest.raises(ConfigError):
        method_name("vit_t", cfg)


# ---------------------------------------------------------------- plumbing (random model)


def test_resume_manifest_and_atomic_outputs(tmp_path, two, random_model, cache):
    out = tmp_path / "pred"
    rep = predict_many(two, "vit_t", [{"mode": "box"}, {"mode": "point"}], out, model=random_model, progress=False, cache_dir=cache)
    box = out / "SAM-vit_t-box"
    assert {r.written for r in rep.methods.values()} == {2} and rep.encoder_passes + rep.embedding_hits == 2
    stems = sorted(p.stem for p in box.glob("*.png"))
    assert stems == sorted(s.stem for s in two.samples())
    assert not list(box.glob(".*part"))  # no temporary files left
    man = json.loads((box / "manifest.json").read_text())
    assert man["model_digest"] == random_model[1] and man["config"]["mode"] == "box"
    assert {"samis", "torch", "segment-anything"} <= set(man["versions"]) and len(man["config_hash"]) == 16
    before = (box / f"{stems[0]}.png").read_bytes()
    m = read_gray(box / f"{stems[0]}.png")
    assert m.shape == (200, 200)

    rep2 = predict_many(two, "vit_t", [{"mode": "box"}, {"mode": "point"}], out, model=random_model, progress=False, cache_dir=cache)
    assert [(r.written, r.skipped) for r in rep2.methods.values()] == [(0, 2), (0, 2)]
    assert rep2.encoder_passes == 0 and rep2.embedding_hits == 0  # nothing to do: nothing encoded

    (box / f"{stems[0]}.png").unlink()
    rep3 = predict_many(two, "vit_t", [{"mode": "box"}], out, model=random_model, progress=False, cache_dir=cache)
    assert rep3.methods["SAM-vit_t-box"].written == 1 and rep3.encoder_passes == 0  # from the cache
    assert (box / f"{stems[0]}.png").read_bytes() == before  # cached embedding: identical map


def test_changed_configuration_is_refused_then_overwritten(tmp_path, two, random_model, cache):
    out = tmp_path / "pred"
    predict(two, "vit_t", {"mode": "box", "name": "B"}, out, model=random_model, progress=False, cache_dir=cache)
    with pytest.raises(ConfigError, match="--overwrite"):
        predict(two, "vit_t", {"mode": "box", "name": "B", "jitter": 0.2}, out, model=random_model, progress=False, cache_dir=cache)
    old = (out / "B" / "manifest.json").read_text()
    predict(two, "vit_t", {"mode": "box", "name": "B", "jitter": 0.2}, out, model=random_model,
            progress=False, overwrite=True, cache_dir=cache)
    assert json.loads((out / "B" / "manifest.json").read_text())["config"]["jitter"] == 0.2 != json.loads(old)["config"]["jitter"]
    assert len(list((out / "B").glob("*.png"))) == 2


def test_shards_fill_one_tree_with_the_same_maps(tmp_path, two, random_model, cache):
    cfg = {"mode": "box+point", "n_points": 2, "jitter": 0.1}
    one = predict(two, "vit_t", cfg, tmp_path / "one", model=random_model, progress=False, cache_dir=cache)
    for i in range(2):
        sharded = predict(two, "vit_t", cfg, tmp_path / "sharded", shard=(i, 2), model=random_model, progress=False, cache_dir=cache)
        assert len(list(sharded.glob("*.png"))) == i + 1
    a = {p.name: p.read_bytes() for p in one.glob("*.png")}
    b = {p.name: p.read_bytes() for p in sharded.glob("*.png")}
    assert a == b and len(a) == 2


def test_cached_predictor_state_equals_stock(two, random_model, cache):
    sam, digest = random_model
    image = two.samples()[0].load_image()
    cold = CachedSamPredictor(sam, digest, cache_dir=cache / "fresh")
    cold.set_image(image)  # stock set_image underneath
    warm = CachedSamPredictor(sam, digest, cache_dir=cache / "fresh")
    warm.set_image(image)
    assert (cold.stats.misses, warm.stats.hits) == (1, 1)
    assert warm.original_size == cold.original_size == (200, 200)
    assert warm.input_size == cold.input_size == (1024, 1024) and warm.is_image_set
    assert torch.equal(warm.features, cold.features) and warm.features.dtype == torch.float32


def test_empty_ground_truth_writes_a_zero_map_and_is_counted(tmp_path, two, random_model, cache):
    class Empty:
        def __init__(self, s):
            self.s, self.stem, self.image_path, self.mask_path = s, s.stem, s.image_path, s.mask_path

        def load_image(self):
            return self.s.load_image()

        def load_mask(self):
            return np.zeros(self.s.load_mask().shape, bool)

    ds = Subset(two.ds, 180, edit=lambda s: Empty(s) if s.stem == two.samples()[0].stem else s)
    rep = predict_many(ds, "vit_t", [{"mode": "box"}, {"mode": "point"}], tmp_path, model=random_model, progress=False, cache_dir=cache)
    assert [r.empty_gt for r in rep.methods.values()] == [1, 1]
    zero = read_gray(tmp_path / "SAM-vit_t-box" / f"{two.samples()[0].stem}.png")
    assert zero.max() == 0
    assert "empty ground truth 1" in (tmp_path / "SAM-vit_t-box" / "run.log").read_text()


# ---------------------------------------------------------------- real model


def test_real_box_prompts_beat_a_random_model(tmp_path, four, real_model, random_model, cache):
    ious = {}
    for tag, model in (("real", real_model), ("random", random_model)):
        folder = predict(four, "vit_t", {"mode": "box"}, tmp_path / tag, model=model, progress=False, cache_dir=cache)
        ious[tag] = np.mean([_iou(read_gray(folder / f"{s.stem}.png"), s.load_mask()) for s in four.samples()])
    print(f"box IoU on 4 SD-900 images: real {ious['real']:.3f}, random {ious['random']:.3f}")
    assert ious["real"] > 0.45
    assert ious["real"] > ious["random"] + 0.2


@pytest.mark.parametrize("cfg", [{"mode": "box"}, {"mode": "point", "n_points": 3},
                                 {"mode": "box+point", "n_negative": 2}, {"mode": "point", "multimask": "largest"}])
def test_fast_decoder_maps_equal_stock_predictor(four, real_model, cache, cfg):
    """The fast prompted decoder gives SamPredictor's maps: at most 1 grey level apart, same binary masks."""
    from samis.backends import get_backend
    from samis.runners.config import normalize
    from samis.runners.prompted import prompted_map

    sam, digest = real_model
    backend = get_backend("vit_t")
    predictor = backend.predictor(sam, digest, cache_dir=cache)
    changed = 0
    for s in four.samples():
        image, gt = s.load()
        predictor.set_image(image)
        fast, _ = prompted_map(backend, predictor, gt, normalize({**cfg, "decoder": "fast"}), s.stem)
        stock, _ = prompted_map(backend, predictor, gt, normalize({**cfg, "decoder": "stock"}), s.stem)
        assert np.abs(fast.astype(int) - stock.astype(int)).max() <= 1, (s.stem, cfg)
        assert ((fast > 127) == (stock > 127)).all(), (s.stem, cfg)
        changed += int((fast != stock).sum())
    assert changed <= 0.001 * 4 * 200 * 200  # rounding differences only, on a handful of pixels


def test_automatic_policies_share_one_generate(tmp_path, two, real_model, cache):

    # Pa_181: at 4 x 4 points it gives the plate, one mask on the patch and three beside it
    ds = Subset(two.ds, 360, offset=180)
    base = {"mode": "automatic", "points_per_side": 4, "pred_iou_thresh": 0.5, "stability_score_thresh": 0.5,
            "generator": "stock"}
    cfgs = [{**base, "policy": p} for p in ("union", "score", "best_match")]
    rep = predict_many(ds, "vit_t", cfgs, tmp_path, model=real_model, progress=False, cache_dir=cache)
    assert rep.generated == 1  # one generate() served three policies
    stem = ds.samples()[0].stem
    maps = {p: read_gray(tmp_path / f"SAM-vit_t-auto-{p}-pps4-iou0.5-stab0.5" / f"{stem}.png")
            for p in ("union", "score", "best_match")}
    assert set(np.unique(maps["union"])) <= {0, 255} and set(np.unique(maps["best_match"])) <= {0, 255}
    assert ((maps["score"] > 0) == (maps["union"] > 0)).all()  # same masks, soft values
    assert maps["score"].max() >= round(255 * 0.5)
    gt = ds.samples()[0].load_mask()
    # best_match keeps the one mask on the patch, not the three beside it: a higher IoU than the union's
    assert (maps["best_match"] > 127).any() and _iou(maps["best_match"], gt) > _iou(maps["union"], gt)
    rep2 = predict_many(ds, "vit_t", [{**base, "policy": "union", "background_frac": 0.3}], tmp_path,
                        model=real_model, progress=False, cache_dir=cache)
    assert rep2.generated == 0  # raw masks came from the cache


def test_cli_run_counts_and_resume(tmp_path, datasets_root, real_model, cache, monkeypatch):
    from click.testing import CliRunner

    from samis.cli import cli

    args = ["run", "--dataset", "sd900", "--split", "test", "--data-root", str(datasets_root), "--mode", "box",
            "--mode", "point", "--out", str(tmp_path), "--shard", "0/180", "--device", "cpu", "--encoder-backend", "torch", "--no-progress"]
    # the (torch) model is loaded already (in-process cache); the private cache has no ONNX graph
    monkeypatch.setenv("SAMIS_CACHE_DIR", str(cache))
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "SAM-vit_t-box: written 2, skipped as done 0, empty ground truth 0" in res.output
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert "SAM-vit_t-point1: written 0, skipped as done 2" in res.output
    bad = CliRunner().invoke(cli, args[:-1] + ["--set", "jitter=x"])
    assert bad.exit_code != 0
