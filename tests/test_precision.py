"""Numerics in keys and hashes, reduced precision refused off CUDA, and the host-side helpers of the GPU path.

No model here: the keys are computed on a random-weight vit_t's preprocessing, the helpers on plain data.
"""

from __future__ import annotations

import hashlib
import threading
import time

import numpy as np
import pytest
import torch

from samis.errors import ConfigError
from samis.runners import precision
from samis.runners.config import normalize
from samis.runners.device import decode_chunk, encoder_batch, parallel_chunks, split_on_oom
from samis.runners.overlap import BackgroundWriter, load_ahead


def test_numerics_tags_and_refusal_off_cuda():
    assert precision.numerics("cpu", None) == "cpu-fp32"
    assert precision.numerics(torch.device("cuda", 0), None) == "cuda-fp32"
    assert [precision.numerics("cuda", a) for a in ("tf32", "bf16", "fp16")] == ["cuda-tf32", "cuda-bf16", "cuda-fp16"]
    for autocast in ("tf32", "bf16", "fp16"):
        with pytest.raises(ConfigError, match=f"autocast={autocast} needs a CUDA device, this run is on cpu"):
            precision.numerics("cpu", autocast)
    with pytest.raises(ConfigError, match="autocast='int8'"):
        precision.check("cuda", "int8")
    assert precision.key_tag("cpu-fp32") is None and precision.key_tag("cuda-fp32") == "cuda-fp32"


def config_hash(cfg, model_name, digest, numerics=None):
    return normalize(cfg).config_hash(model_name, digest, numerics=numerics)


def test_config_hash_unchanged_for_cpu_fp32_and_distinct_otherwise():
    digest = "010d79bf4d3ef4f2" + "0" * 48
    cfg = {"mode": "box"}
    legacy = config_hash(cfg, "vit_t", digest)
    assert config_hash(cfg, "vit_t", digest, numerics="cpu-fp32") == legacy
    tagged = {n: config_hash(cfg, "vit_t", digest, numerics=n) for n in ("cuda-fp32", "cuda-tf32", "mps-fp32")}
    assert len(set(tagged.values()) | {legacy}) == 4
    # the hash samis wrote before numerics existed (commit 10ad98b), so committed manifests still match
    assert legacy == BASE_BOX_HASH


#: config_hash({"mode": "box"}, "vit_t", digest above) as computed by commit 10ad98b.
BASE_BOX_HASH = "b7403d0380a0ea76"


def test_embedding_key_on_the_cpu_is_the_old_key():
    from mobile_sam import sam_model_registry

    from samis.runners.embedding_cache import CachedSamPredictor

    torch.manual_seed(0)
    sam = sam_model_registry["vit_t"]().eval()
    pred = CachedSamPredictor(sam, "d" * 64, cache_dir=False)
    image = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    # the key as commit 10ad98b computed it: autocast None on the CPU
    mean = sam.pixel_mean.numpy().astype(np.float64).round(6).tolist()
    std = sam.pixel_std.numpy().astype(np.float64).round(6).tolist()
    h = hashlib.sha256(repr(("d" * 64, 1024, mean, std, "RGB", None)).encode())
    h.update(repr(((40, 60, 3), "uint8")).encode())
    h.update(image.tobytes())
    assert pred.key(image) == h.hexdigest()
    assert pred.numerics == "cpu-fp32"
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        CachedSamPredictor(sam, "d" * 64, cache_dir=False, autocast="bf16")


def test_tf32_switches_are_set_and_restored():
    switches = precision._tf32_switches()
    before = [getattr(o, n) for o, n, _, _ in switches]
    with precision.tf32(False):
        assert [getattr(o, n) for o, n, _, _ in switches] == [off for _, _, _, off in switches]
        with precision.tf32(True):
            assert [getattr(o, n) for o, n, _, _ in switches] == [on for _, _, on, _ in switches]
        assert [getattr(o, n) for o, n, _, _ in switches] == [off for _, _, _, off in switches]
    assert [getattr(o, n) for o, n, _, _ in switches] == before
    with precision.encoder_context("cpu", None):  # nothing to set on the CPU
        assert [getattr(o, n) for o, n, _, _ in switches] == before


def test_batch_rules():
    assert decode_chunk("cpu", 2, 64) == 2 and decode_chunk("cuda", 2, 64) == 64 and decode_chunk("cuda:1", 2, 17) == 17
    assert encoder_batch("cpu", [1, 8]) == 1 and encoder_batch("cuda", [1, 8]) == 8 and encoder_batch("cuda", []) == 1


def test_cpu_chunks_run_side_by_side_single_threaded_and_in_order():
    """On the CPU with two torch threads, two chunks run at once, each with one torch thread; the
    results keep the chunks' order and the thread count is restored, also after an error."""
    import threading

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        barrier = threading.Barrier(2, timeout=20)  # passes only if two chunks run at the same time
        seen = []

        def run(lo):
            seen.append((threading.get_ident(), torch.get_num_threads()))
            if lo < 2:
                barrier.wait()
            return lo * 10

        assert parallel_chunks(run, range(5), "cpu") == [0, 10, 20, 30, 40]
        assert {n for _, n in seen} == {1} and len({t for t, _ in seen}) == 2
        assert torch.get_num_threads() == 2
        with pytest.raises(ZeroDivisionError):
            parallel_chunks(lambda lo: 1 // (lo - 3), range(5), "cpu")
        assert torch.get_num_threads() == 2
        seen.clear()
        assert parallel_chunks(lambda lo: seen.append(threading.get_ident()) or lo, range(3), "cuda") == [0, 1, 2]
        assert set(seen) == {threading.get_ident()}  # an accelerator: a plain loop in this thread
        torch.set_num_threads(1)
        seen.clear()
        assert parallel_chunks(lambda lo: seen.append(threading.get_ident()) or lo, range(3), "cpu") == [0, 1, 2]
        assert set(seen) == {threading.get_ident()}  # one thread asked: no pool
    finally:
        torch.set_num_threads(before)


def test_a_batch_that_runs_out_of_memory_is_split_and_retried():
    calls = []

    def run(items):
        calls.append(len(items))
        if len(items) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return [10 * x for x in items]

    assert split_on_oom(run, [1, 2, 3, 4, 5]) == [10, 20, 30, 40, 50]
    assert calls == [5, 2, 3, 1, 2]  # 5 -> 2 + 3, 3 -> 1 + 2
    with pytest.raises(torch.OutOfMemoryError):
        split_on_oom(lambda items: (_ for _ in ()).throw(torch.OutOfMemoryError("one image too many")), [1])


def test_images_are_loaded_ahead_in_order():
    loaded_by = []

    def load(x):
        loaded_by.append(threading.current_thread().name)
        time.sleep(0.01)
        return x * x

    out = list(load_ahead(([1, 2], [3], [4, 5, 6]), load))
    assert out == [([1, 2], [1, 4]), ([3], [9]), ([4, 5, 6], [16, 25, 36])]
    assert all(name.startswith("samis-load") for name in loaded_by)
    assert list(load_ahead([], load)) == []


def test_background_writer_serves_pending_values_and_reports_errors():
    written, gate = {}, threading.Event()

    def write(key, value):
        gate.wait(5)
        if key == "bad":
            raise OSError("disk full")
        written[key] = value

    w = BackgroundWriter(write, max_pending=8)
    w.put("a", 1)
    assert w.pending("a") == 1 and written == {}  # queued, served from memory, not written yet
    gate.set()
    w.flush()
    assert written == {"a": 1}
    w.put("bad", 2)
    with pytest.raises(OSError, match="disk full"):
        w.flush()
