"""Prove the vit_t conversion: the rebuilt PyTorch model against ONNX Runtime on the shipped graphs.

The encoder is compared on the exact tensor ``SamPredictor`` feeds it; the decoder through
segment-anything's ``SamOnnxModel`` (the very module the export traced), with the export's input
conventions: pixel ``point_coords`` in the 1024 frame, ``point_labels`` (a box is labels 2 and 3; with
points only, a padding point of label -1), ``mask_input``/``has_mask_input`` and ``orig_im_size``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def _session(path: Path, threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def encoder_input(sam, image_rgb: np.ndarray) -> torch.Tensor:
    """The 1x3x1024x1024 tensor ``SamPredictor.set_image`` builds from an RGB uint8 image."""
    from segment_anything.utils.transforms import ResizeLongestSide

    resized = ResizeLongestSide(sam.image_encoder.img_size).apply_image(image_rgb)
    x = torch.as_tensor(resized, device=sam.device).permute(2, 0, 1).contiguous()[None]
    return sam.preprocess(x.float())


@torch.no_grad()
def compare_encoder(sam, encoder_onnx: Path, image_rgb: np.ndarray, threads: int | None = None):
    """(max abs difference, torch embedding, ORT embedding) for one image."""
    x = encoder_input(sam, image_rgb)
    ours = sam.image_encoder(x).float().cpu().numpy()
    theirs = _session(encoder_onnx, threads).run(None, {"input": x.cpu().numpy()})[0]
    return float(np.abs(ours - theirs).max()), ours, theirs


@torch.no_grad()
def compare_decoder(
    sam,
    decoder_onnx: Path,
    embedding: np.ndarray,
    point_coords: np.ndarray,
    point_labels: np.ndarray,
    orig_size: tuple[int, int],
    mask_input: np.ndarray | None = None,
    threads: int | None = None,
) -> dict:
    """Run the ONNX decoder and the rebuilt prompt encoder + mask decoder on the same inputs.

    Returns the max abs differences of masks (logits), IoU predictions and low-res logits, and how many
    pixels of the thresholded masks differ.
    """
    from segment_anything.utils.onnx import SamOnnxModel

    feeds = {
        "image_embeddings": embedding.astype(np.float32),
        "point_coords": point_coords.astype(np.float32)[None],
        "point_labels": point_labels.astype(np.float32)[None],
        "mask_input": (np.zeros((1, 1, 256, 256)) if mask_input is None else mask_input).astype(np.float32),
        "has_mask_input": np.array([0.0 if mask_input is None else 1.0], dtype=np.float32),
        "orig_im_size": np.array(orig_size, dtype=np.float32),
    }
    theirs = _session(decoder_onnx, threads).run(None, feeds)
    wrapper = SamOnnxModel(sam, return_single_mask=True).eval()
    ours = [t.float().cpu().numpy() for t in wrapper(**{k: torch.from_numpy(v).to(sam.device) for k, v in feeds.items()})]
    masks_o, masks_t = ours[0] > 0, theirs[0] > 0
    return {
        "masks_max_abs_diff": float(np.abs(ours[0] - theirs[0]).max()),
        "iou_max_abs_diff": float(np.abs(ours[1] - theirs[1]).max()),
        "low_res_max_abs_diff": float(np.abs(ours[2] - theirs[2]).max()),
        "mask_pixels_differing": int((masks_o != masks_t).sum()),
        "mask_pixels": int(masks_t.sum()),
        "ours": ours,
        "theirs": theirs,
    }


def reference_image(size: int = 320) -> np.ndarray:
    """A deterministic RGB test pattern (a bright disc and a dark bar on a gradient) for install checks."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = 60 + 80 * xx / size
    img[(yy - size * 0.4) ** 2 + (xx - size * 0.35) ** 2 < (size * 0.15) ** 2] = 230
    img[int(size * 0.7) : int(size * 0.78), int(size * 0.2) : int(size * 0.85)] = 15
    return np.repeat(img.astype(np.uint8)[..., None], 3, axis=2)
