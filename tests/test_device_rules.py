"""The CUDA code paths, run on the CPU under CUDA's device rules (``tests/device_rules.py``).

A fake CUDA tensor computes exactly what the CPU computes, so every mode must give the CPU's maps
byte for byte while the rules refuse any operation that would mix devices on a real GPU. Two
SD-saliency-900 images, real vit_t weights, one embedding cache for the module.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from device_rules import DeviceRuleError, FakeCudaTensor, cuda_rules, on_fake_cuda

pytestmark = pytest.mark.model


def test_the_harness_refuses_what_cuda_refuses():
    with cuda_rules() as record:
        a = torch.arange(6.0).to("cuda")
        assert isinstance(a, FakeCudaTensor) and a.device.type == "cuda" and a.is_cuda
        assert torch.equal((a * 2 + torch.tensor(1.0)).cpu(), torch.arange(6.0) * 2 + 1)  # 0-d CPU: a scalar
        with pytest.raises(DeviceRuleError, match="same device"):
            a + torch.ones(6)
        with pytest.raises(DeviceRuleError, match="same device"):
            torch.cat([a, torch.zeros(0)])
        with pytest.raises(DeviceRuleError, match="indices should be either on cpu"):
            torch.arange(6)[a > 2]
        assert a[torch.tensor([0, 5])].tolist() == [0.0, 5.0]  # CUDA tensors take CPU indices
        with pytest.raises(TypeError, match="can't convert cuda"):
            a.numpy()
        with pytest.raises(TypeError, match="can't convert cuda"):
            np.asarray(a)
        assert torch.zeros(2, device="cuda").is_cuda and not torch.as_tensor(a, device="cpu").is_cuda
        lin = on_fake_cuda(torch.nn.Linear(6, 2))
        assert isinstance(lin(a).cpu(), torch.Tensor) and lin.weight.is_cuda
        torch.cuda.synchronize()
    assert record.synchronize == 1 and not torch.cuda.is_available()


class Pick:
    """Chosen samples of a dataset, for the runners."""

    def __init__(self, ds, idx):
        self.ds, self.idx, self.name, self.split = ds, idx, ds.name, ds.split

    def samples(self):
        s = self.ds.samples()
        return [s[i] for i in self.idx]


@pytest.fixture(scope="module")
def images(datasets_root):
    from samis.datasets import get_dataset

    return Pick(get_dataset("sd900", root=datasets_root, split="test"), [0, 180])


@pytest.fixture(scope="module")
def cpu_model():
    from samis.models import load_sam

    try:
        return load_sam("vit_t", device="cpu")
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"real vit_t weights unavailable ({exc}); run `samis models install vit_t`")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("device-rules-cache")


@pytest.fixture(scope="module")
def cuda_model(cpu_model):
    """vit_t loaded by ``load_sam`` onto the fake CUDA device (use it inside ``cuda_rules``)."""
    from samis.models import load_sam

    with cuda_rules():
        sam, digest = load_sam("vit_t", device="cuda")
        on_fake_cuda(sam)  # raises if a parameter or buffer stayed behind
    assert digest == cpu_model[1]
    return sam, digest


AUTO = {"mode": "automatic", "points_per_side": 4, "points_per_batch": 8}


def test_load_sam_moves_what_eval_caches(cpu_model, monkeypatch):
    """Upstream MobileSAM keeps TinyViT's attention biases, made in ``eval()``, as a plain attribute that
    ``.to(device)`` does not move (the pinned mirror registers a buffer): ``eval()`` must come after ``.to``."""
    from mobile_sam.modeling import tiny_vit_sam

    from samis.models import load_sam

    @torch.no_grad()
    def upstream_train(self, mode=True):
        torch.nn.Module.train(self, mode)
        if mode and hasattr(self, "ab"):
            del self.ab
        else:
            self.ab = self.attention_biases[:, self.attention_bias_idxs]  # a plain attribute, as upstream

    monkeypatch.setattr(tiny_vit_sam.Attention, "train", upstream_train)
    with cuda_rules():
        sam, _ = load_sam("vit_t", device="cuda")
    biases = [m.ab for m in sam.modules() if isinstance(m, tiny_vit_sam.Attention)]
    assert len(biases) == 10 and all(isinstance(b, FakeCudaTensor) for b in biases)


@pytest.mark.parametrize("generator", ["fast", "stock"])
def test_automatic_generators_on_cuda_give_the_cpu_masks(images, cpu_model, cuda_model, cache, generator):
    """The generator that failed on the first image of a GPU (CPU rows indexed with CUDA masks, an
    empty CPU tensor concatenated with CUDA ones) gives the CPU's masks under CUDA's rules."""
    from segment_anything import SamAutomaticMaskGenerator

    from samis.runners.embedding_cache import CachedSamPredictor
    from samis.runners.fast_amg import FastSamAutomaticMaskGenerator, mask_agreement

    cls = FastSamAutomaticMaskGenerator if generator == "fast" else SamAutomaticMaskGenerator
    image = images.samples()[0].load_image()

    def generate(model, **kw):
        gen = cls(model[0], points_per_side=4, points_per_batch=8, output_mode="binary_mask", **kw)
        gen.predictor = CachedSamPredictor(model[0], model[1], cache_dir=cache)
        return gen.generate(image)

    expected = generate(cpu_model)
    with cuda_rules():
        masks = generate(cuda_model)
        nothing = generate(cuda_model, pred_iou_thresh=1.5)  # no candidate passes: every batch is empty
    assert len(expected) >= 1 and mask_agreement(expected, masks) == {"same_count": True, "min_iou": 1.0}
    # CPU decodes 2 prompts per call, CUDA a whole batch: the same numbers up to summation order
    assert [m["predicted_iou"] for m in masks] == pytest.approx([m["predicted_iou"] for m in expected], abs=1e-5)
    assert nothing == []


def _maps(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_every_mode_on_cuda_writes_the_cpu_maps_with_batched_prefetch(tmp_path, images, cpu_model, cuda_model,
                                                                     cache, monkeypatch):
    """Box, point and automatic through ``predict_many`` on CUDA, two images per encoder call."""
    from samis.runners import fast_amg, predict_many

    modes = [{"mode": "box"}, {"mode": "point", "n_points": 3}, {**AUTO, "policy": "union"}, {**AUTO, "policy": "score"}]
    cpu = predict_many(images, "vit_t", modes, tmp_path / "cpu", model=cpu_model, progress=False, cache_dir=cache)
    chunks = []
    real_chunk = fast_amg.decode_chunk
    monkeypatch.setattr(fast_amg, "decode_chunk", lambda *a: chunks.append(real_chunk(*a)) or chunks[-1])
    encoder_batches = []
    hook = cuda_model[0].image_encoder.register_forward_hook(lambda m, i, o: encoder_batches.append(i[0].shape[0]))
    try:
        with cuda_rules() as record:
            gpu = predict_many(images, "vit_t", [{**m, "batch_size": 2} for m in modes], tmp_path / "cuda",
                               model=cuda_model, progress=False, cache_dir=tmp_path / "fresh-cache")
    finally:
        hook.remove()
    assert encoder_batches == [2]  # both images in one encoder call, no second pass for any mode
    assert gpu.encoder_passes == 2 and gpu.images == 2
    # on CUDA the fast generator decodes a whole points_per_batch at once (16 points: 2 calls per image)
    assert chunks == [8, 8, 8, 8]
    assert record.synchronize >= 2  # the encoder time is measured on a synchronised device
    for name in cpu.methods:
        a, b = _maps(tmp_path / "cpu" / name), _maps(tmp_path / "cuda" / name)
        assert len(a) == 2 and a == b, name
        m_cpu = json.loads((tmp_path / "cpu" / name / "manifest.json").read_text())
        m_gpu = json.loads((tmp_path / "cuda" / name / "manifest.json").read_text())
        assert (m_cpu["numerics"], m_gpu["numerics"]) == ("cpu-fp32", "cuda-fp32")
        assert m_cpu["config_hash"] != m_gpu["config_hash"]  # GPU maps never resume CPU ones
    # the embeddings were written behind and are complete on disk
    assert len(list((tmp_path / "fresh-cache" / "embeddings").rglob("*.npy"))) == 2
    # one mask generation per image for both policies, cached apart from the CPU's masks
    gpu_masks = {p.relative_to(tmp_path / "fresh-cache") for p in (tmp_path / "fresh-cache" / "masks").rglob("*.npz")}
    cpu_masks = {p.relative_to(cache) for p in (cache / "masks").rglob("*.npz")}
    assert len(gpu_masks) == 2 and len(cpu_masks) >= 2 and not gpu_masks & cpu_masks


def test_precision_is_in_every_key_and_a_cpu_embedding_is_never_served_as_another(tmp_path, images, cpu_model,
                                                                                  cuda_model, cache):
    from samis.runners import predict_many
    from samis.runners.automatic import MaskCache
    from samis.runners.config import normalize
    from samis.runners.embedding_cache import CachedSamPredictor

    sample = images.samples()[1]
    image = sample.load_image()
    cpu = CachedSamPredictor(*cpu_model, cache_dir=cache)
    cpu.set_image(image)  # the CPU float32 embedding is in the cache
    with cuda_rules() as record:
        preds = {a: CachedSamPredictor(*cuda_model, cache_dir=cache, autocast=a) for a in (None, "tf32", "bf16")}
        keys = {preds[a].numerics: preds[a].key(image) for a in preds}
        keys["cpu-fp32"] = cpu.key(image)
        assert len(set(keys.values())) == 4
        for a in (None, "tf32"):  # no entry under their keys: the CPU one is not served to them
            assert preds[a].store.get(keys[preds[a].numerics]) is None
        bf16 = preds["bf16"]
        bf16.set_image(image)
        assert (bf16.stats.misses, bf16.stats.hits) == (1, 0)
        reduced = bf16.features.cpu()
        bf16.flush()
        report = predict_many(Pick(images.ds, [180]), "vit_t", [{"mode": "box", "autocast": "bf16"}], tmp_path,
                              model=cuda_model, progress=False, cache_dir=cache)
    assert record.autocast == [torch.bfloat16]  # the encoder ran under bf16 autocast, once (then from the cache)
    assert report.encoder_passes == 0 and report.embedding_hits == 1
    # a real bf16 embedding differs from the float32 one, so serving one as the other would change maps
    exact = cpu.features
    assert reduced.dtype == torch.float32 and 1e-4 < float((reduced - exact).abs().max() / exact.abs().max()) < 0.2
    # ... and the other way: the bf16 entry is not served to a CPU float32 request
    assert cpu.store.get(cpu.key(image)) is not None and cpu.store.get(keys["cuda-bf16"]) is not None
    fresh = CachedSamPredictor(*cpu_model, cache_dir=cache)
    fresh.set_image(image)
    assert torch.equal(fresh.features, exact) and fresh.stats.hits == 1
    manifest = json.loads((tmp_path / "SAM-vit_t-box-bf16" / "manifest.json").read_text())
    assert manifest["numerics"] == "cuda-bf16" and manifest["config"]["autocast"] == "bf16"
    # the automatic mask cache is keyed by the embedding key, so by the numerics too
    auto = normalize({"mode": "automatic"})
    paths = {MaskCache(cache).path(k, auto) for k in keys.values()}
    assert len(paths) == 4


def test_autocast_off_cuda_is_refused_before_anything_is_written(tmp_path, images, cpu_model, cache):
    from samis.errors import ConfigError
    from samis.runners import predict_many

    for autocast in ("bf16", "fp16", "tf32"):
        with pytest.raises(ConfigError, match=f"autocast={autocast} needs a CUDA device, this run is on cpu"):
            predict_many(images, "vit_t", [{"mode": "box"}, {"mode": "point", "autocast": autocast}], tmp_path,
                         model=cpu_model, progress=False, cache_dir=cache)
    assert list(tmp_path.iterdir()) == []


def test_batch_size_sets_the_encoder_calls_of_reproduce(tmp_path, monkeypatch, cpu_model):
    """The timed encoder pass of ``samis reproduce`` encodes ``batch_size`` images per call on CUDA."""
    import yaml
    from test_reproduce import make_study

    from samis.experiments import load_definition
    from samis.experiments.run_sam import run_sam
    from samis.runners import engine

    calls, timings = {}, {}
    try:
        with cuda_rules():
            sam, _ = engine.get_model("vit_t", device="cuda")  # reproduce gets this one (loaded once per process)
        for batch in (1, 2):
            path = make_study(tmp_path / f"b{batch}", modes=[{"mode": "box", "batch_size": batch}])
            data = yaml.safe_load(path.read_text())
            data["models"] = [{"name": "vit_t", "device": "cuda"}]
            path.write_text(yaml.safe_dump(data, sort_keys=False))
            definition = load_definition(path)
            monkeypatch.setenv("SAMIS_CACHE_DIR", str(tmp_path / f"b{batch}" / "cache"))  # nothing encoded yet
            seen = calls[batch] = []
            hook = sam.image_encoder.register_forward_hook(lambda m, i, o, seen=seen: seen.append(i[0].shape[0]))
            try:
                with cuda_rules():
                    run_sam(definition, shard=(0, 2), progress=False, echo=lambda *_: None)  # 2 of the 3 images
            finally:
                hook.remove()
            timing = definition.output / "timing" / "syn" / "vit_t-encoder.0-of-2.json"
            timings[batch] = json.loads(timing.read_text())
            assert len(list((definition.predictions / "syn" / "SAM-vit_t-box").glob("*.png"))) == 2
    finally:
        engine._MODELS.pop(("vit_t", None, "cuda"), None)
    assert calls == {1: [1, 1], 2: [2]}
    assert [(t["images"], t["batch_size"], t["numerics"]) for t in timings.values()] == [(2, 1, "cuda-fp32"),
                                                                                        (2, 2, "cuda-fp32")]
