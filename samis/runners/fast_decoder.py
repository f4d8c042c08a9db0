"""SAM's mask decoder, reorganised so that per-image work is done once per image.

The stock ``MaskDecoder`` copies the 64x64x256 image embedding once per prompt
(``repeat_interleave``) and runs every projection of the two-way transformer over
4096 positions for every prompt. This module computes the same function with the
same weights, but:

* layer 0's image-side projections (token->image keys/values, image->token queries)
  and the positional encoding's projections of every later attention over the image
  depend only on the image and are computed once (``prepare_image``), so no per-prompt
  ``keys + pe`` is ever built;
* attentions whose query side has only a few tokens (token->image, final) fold the
  key/value projections into the tokens ("absorbed" projections): the per-prompt
  cost becomes ``n_tokens x 4096`` instead of ``4096 x 256 x 128``;
* image->token attention is a convex combination of a handful of token values, so
  its output projection is applied to the token values, not to 4096 positions;
* with a mask input (the previous round's logits of an iterative mode), the image side differs per
  prompt from layer 0 on; layer 0 then takes the absorbed paths of layer 1, its positional
  projections computed once per image (``mask_input_state``);
* mask upscaling (the heaviest per-prompt part left) runs only for the prompts and
  mask tokens the caller asks for, after the IoU head has been evaluated
  (``decode_tokens`` then ``mask_logits``);
* on the CPU, work is laid out for the caches: one GEMM per prompt against shared
  image-side tensors instead of batched products that copy them per prompt, residual
  updates accumulated in place, mask upscaling a few embedding rows at a time
  (docs/runners.md, automatic mode, has the profile and the measured gain).

The result equals the stock decoder up to float32 rounding (checked to ~1e-4 in
``tests/test_fast_amg.py``). Works for segment_anything and mobile_sam models
(same decoder code).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F


@dataclass
class ImageState:
    """Per-image tensors shared by every prompt of one image (one crop)."""

    src: Tensor  # (N, C) image embedding + no-mask dense embedding
    pe: Tensor  # (N, C) dense positional encoding
    k0: Tensor  # (N, Ci) layer 0 token->image keys
    v0: Tensor  # (N, Ci) layer 0 token->image values
    q0: Tensor  # (N, Ci) layer 0 image->token queries
    hw: tuple  # (h, w) of the embedding grid
    src_out0: Tensor  # (N, C) src + layer 0 image->token output bias (its residual)
    pe_k1: Tensor  # (N, Ci) layer 1 token->image k_proj(pe)
    pe_q1: Tensor  # (N, Ci) layer 1 image->token q_proj(pe)
    pe_kf: Tensor  # (N, Ci) final token->image k_proj(pe)
    pe_k0: Tensor | None = None  # (N, Ci) layer 0 token->image k_proj(pe): with a mask input only
    pe_q0: Tensor | None = None  # (N, Ci) layer 0 image->token q_proj(pe): with a mask input only


def _heads(x: Tensor, n: int) -> Tensor:
    b, t, c = x.shape
    return x.reshape(b, t, n, c // n).transpose(1, 2)  # B x H x T x c


def _recombine(x: Tensor) -> Tensor:
    b, h, t, c = x.shape
    return x.transpose(1, 2).reshape(b, t, h * c)


@torch.no_grad()
def prepare_image(sam, features: Tensor) -> ImageState:
    """Everything in the decoder that depends only on the image embedding."""
    pe_mod = sam.prompt_encoder
    dense = pe_mod.no_mask_embed.weight.reshape(1, -1)  # (1, C): no mask input
    _, c, h, w = features.shape
    src = features[0].flatten(1).transpose(0, 1) + dense  # (N, C)
    pe = pe_mod.get_dense_pe()[0].flatten(1).transpose(0, 1).contiguous()
    tr = sam.mask_decoder.transformer
    layer0, layer1 = tr.layers[0], tr.layers[1]
    t2i, i2t = layer0.cross_attn_token_to_image, layer0.cross_attn_image_to_token
    src_pe = src + pe
    return ImageState(
        src=src.contiguous(),
        pe=pe,
        k0=t2i.k_proj(src_pe),
        v0=t2i.v_proj(src),
        q0=i2t.q_proj(src_pe),
        hw=(h, w),
        src_out0=src + i2t.out_proj.bias,
        pe_k1=layer1.cross_attn_token_to_image.k_proj(pe),
        pe_q1=layer1.cross_attn_image_to_token.q_proj(pe),
        pe_kf=tr.final_attn_token_to_image.k_proj(pe),
    )


@torch.no_grad()
def mask_input_state(sam, state: ImageState) -> ImageState:
    """``state`` with layer 0's positional projections, which a mask input needs (computed once per image)."""
    if state.pe_k0 is None:
        layer0 = sam.mask_decoder.transformer.layers[0]
        state.pe_k0 = layer0.cross_attn_token_to_image.k_proj(state.pe)
        state.pe_q0 = layer0.cross_attn_image_to_token.q_proj(state.pe)
    return state


@torch.no_grad()
def masked_src(sam, features: Tensor, mask_input: Tensor) -> Tensor:
    """Per prompt, the image embedding plus the prompt encoder's embedding of its mask input
    (B x 1 x 256 x 256 low-res logits): B x N x C, what the stock decoder's transformer starts from."""
    dense = sam.prompt_encoder._embed_masks(mask_input)  # B x C x h x w
    return (features + dense).flatten(2).transpose(1, 2).contiguous()


def _self_attn(attn, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Stock ``Attention`` on the few prompt tokens (cheap, kept as is)."""
    return attn(q=q, k=k, v=v)


def _cache_blocked(x: Tensor) -> bool:
    """Whether to work prompt by prompt, block by block (the CPU: working sets stay in cache) rather
    than one call per op for the whole batch (an accelerator: every call is a kernel launch)."""
    return x.device.type == "cpu"


def _per_image_logits(qh: Tensor, proj: Tensor) -> Tensor:
    """``qh`` (B x H x T x c) against per-image projected positions ``proj`` (N x H*c): B x H*T x N.
    One GEMM per prompt against the shared image side (a batched matmul would first copy the
    image side once per prompt; on an accelerator, one broadcast matmul instead)."""
    b, n, t, c = qh.shape
    img = proj.reshape(-1, n, c).permute(1, 2, 0)  # H x c x N, a view
    if not _cache_blocked(qh):  # one kernel; the copy costs little there
        return torch.matmul(qh, img.unsqueeze(0)).reshape(b, n * t, -1)
    out = qh.new_empty(b, n * t, proj.shape[0])
    for i in range(b):
        torch.matmul(qh[i], img, out=out[i].view(n, t, -1))
    return out


def _token_to_image_shared(attn, q: Tensor, k_img: Tensor, v_img: Tensor) -> Tensor:
    """Token->image attention against per-image keys/values (layer 0): all prompts'
    tokens are stacked into one GEMM per head; the image side is never copied."""
    n = attn.num_heads
    b, t, _ = q.shape
    c = attn.internal_dim // n
    qh = (attn.q_proj(q) * (1.0 / math.sqrt(c))).reshape(b * t, n, c).transpose(0, 1)  # H x BT x c
    kh = k_img.reshape(-1, n, c).transpose(0, 1)  # H x N x c
    vh = v_img.reshape(-1, n, c).transpose(0, 1)
    probs = torch.softmax(torch.bmm(qh, kh.transpose(1, 2)), dim=-1)
    out = torch.bmm(probs, vh)  # H x BT x c
    return attn.out_proj(out.transpose(0, 1).reshape(b, t, n * c))


def _token_to_image_absorbed(attn, q: Tensor, keys: Tensor, pe_k: Tensor) -> Tensor:
    """Token->image attention against per-prompt keys, with the key/value
    projections folded into the few tokens (no 4096 x C x Ci GEMM).

    logits_h = q_h Wk_h keys^T + q_h k_proj(pe)_h^T (the positional part is per image:
    no keys + pe copy per prompt); out_h = softmax @ keys @ Wv_h^T + bv_h (rows sum to one).
    """
    n = attn.num_heads
    b, t, _ = q.shape
    ci = attn.internal_dim
    c = ci // n
    qh = _heads(attn.q_proj(q) * (1.0 / math.sqrt(c)), n)  # B x H x T x c
    wk = attn.k_proj.weight.reshape(n, c, -1)  # H x c x C
    q_abs = torch.matmul(qh, wk).reshape(b, n * t, -1)  # B x HT x C
    logits = _per_image_logits(qh, pe_k).baddbmm_(q_abs, keys.transpose(1, 2))  # B x HT x N
    probs = torch.softmax(logits, dim=-1)
    pooled = torch.bmm(probs, keys).reshape(b, n, t, -1)  # B x H x T x C
    wv = attn.v_proj.weight.reshape(n, c, -1)  # H x c x C
    out = torch.matmul(pooled, wv.transpose(1, 2)) + attn.v_proj.bias.reshape(n, 1, c)
    return attn.out_proj(_recombine(out))


def _image_to_token(attn, q_img: Tensor | None, keys: Tensor | None, k_tok: Tensor, v_tok: Tensor,
                    residual: Tensor) -> Tensor:
    """``residual`` + image->token attention, for every position, without an N x Ci x C output
    projection: each position's output is a convex combination of the T token values, so
    out_proj is applied to those values.

    The queries are ``q_img`` (N x Ci, projected per image: layer 0; ``residual`` is then the
    per-image src + out_proj bias, broadcast) or ``q_proj(keys + pe)`` with ``q_img`` = q_proj(pe)
    and the projection of the per-prompt ``keys`` absorbed into the tokens (layer 1; ``residual``
    is ``keys``, updated in place, and out_proj's bias is spread over the heads' values).
    """
    n = attn.num_heads
    ci = attn.internal_dim
    c = ci // n
    kh = _heads(attn.k_proj(k_tok) * (1.0 / math.sqrt(c)), n)  # B x H x T x c
    vh = _heads(attn.v_proj(v_tok), n)  # B x H x T x c
    b, _, t, _ = kh.shape
    # logits laid out B x H x T x N: the softmax over the few tokens then runs
    # along a strided dim with the 4096 positions contiguous (much faster on CPU
    # than a softmax over a last dim of size T).
    logits = _per_image_logits(kh, q_img)  # B x HT x N
    if keys is not None:
        wq = attn.q_proj.weight.reshape(n, c, -1)  # H x c x C
        logits.baddbmm_(torch.matmul(kh, wq).reshape(b, n * t, -1), keys.transpose(1, 2))
    probs = torch.softmax(logits.view(b, n, t, -1), dim=2).view(b, n * t, -1)  # B x HT x N
    wo = attn.out_proj.weight.reshape(-1, n, c)  # C x H x c
    v_out = torch.einsum("bhtc,dhc->bhtd", vh, wo).reshape(b, n * t, -1)  # B x HT x C
    if keys is None:
        return torch.baddbmm(residual, probs.transpose(1, 2), v_out)  # B x N x C
    # every position's weights sum to one per head: bias / H on each head's values adds the bias
    return residual.baddbmm_(probs.transpose(1, 2), v_out + attn.out_proj.bias / n)


@torch.no_grad()
def decode_tokens(sam, state: ImageState, sparse: Tensor, out_tokens: list[int] | None = None,
                  src: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Run the two-way transformer for a batch of prompts.

    ``src`` (B x N x C, from ``masked_src``; consumed: it becomes ``keys``): each prompt's own image
    side when the prompts carry a mask input; ``state`` must then come through ``mask_input_state``.

    Returns ``(hs, keys)``: the output tokens (B x T x C) and the image side
    (B x N x C) that the mask upscaling needs. Tokens do not interact in the final
    token->image attention, so with ``out_tokens`` (indices into the T tokens:
    0 = IoU token, 1.. = mask tokens) only those are finished and ``hs`` is
    B x len(out_tokens) x C in that order.
    """
    dec = sam.mask_decoder
    tr = dec.transformer
    out_tok = torch.cat([dec.iou_token.weight, dec.mask_tokens.weight], dim=0)
    tokens = torch.cat((out_tok.unsqueeze(0).expand(sparse.shape[0], -1, -1), sparse), dim=1)
    l0, l1 = tr.layers[0], tr.layers[1]
    assert len(tr.layers) == 2 and l0.skip_first_layer_pe, "unexpected decoder layout"

    queries = l0.norm1(_self_attn(l0.self_attn, tokens, tokens, tokens))
    if src is None:  # layer 0: image side shared by every prompt
        t2i = _token_to_image_shared(l0.cross_attn_token_to_image, queries + tokens, state.k0, state.v0)
    else:  # a mask input: per prompt from the start
        t2i = _token_to_image_absorbed(l0.cross_attn_token_to_image, queries + tokens, src, state.pe_k0)
    queries = l0.norm2(queries + t2i)
    queries = l0.norm3(queries + l0.mlp(queries))
    if src is None:
        keys = _image_to_token(l0.cross_attn_image_to_token, state.q0, None, queries + tokens, queries, state.src_out0)
    else:
        keys = _image_to_token(l0.cross_attn_image_to_token, state.pe_q0, src, queries + tokens, queries, src)
    keys = l0.norm4(keys)

    # layer 1: image side is per prompt now
    q = queries + tokens
    queries = l1.norm1(queries + _self_attn(l1.self_attn, q, q, queries))
    queries = l1.norm2(queries + _token_to_image_absorbed(l1.cross_attn_token_to_image, queries + tokens, keys, state.pe_k1))
    queries = l1.norm3(queries + l1.mlp(queries))
    keys = l1.norm4(_image_to_token(l1.cross_attn_image_to_token, state.pe_q1, keys, queries + tokens, queries, keys))

    # final token->image attention
    if out_tokens is not None:
        queries, tokens = queries[:, out_tokens], tokens[:, out_tokens]
    attn_out = _token_to_image_absorbed(tr.final_attn_token_to_image, queries + tokens, keys, state.pe_kf)
    queries = tr.norm_final_attn(queries + attn_out)
    return queries, keys


@torch.no_grad()
def iou_predictions(sam, iou_token: Tensor) -> Tensor:
    """IoU head (B x num_mask_tokens) from the finished IoU token (B x C)."""
    return sam.mask_decoder.iou_prediction_head(iou_token)


# Embedding rows upscaled at a time: per block the ConvT/LayerNorm/GELU intermediates
# (rows x 64 positions x 256 floats, then 4x that many sub-pixels x 128) stay in a core's L2
# cache instead of streaming the whole 4096-position stack through memory for every op.
UPSCALE_ROWS = 8


@functools.lru_cache(maxsize=8)
def _subpixel_order(rows: int, w: int, device) -> Tensor:
    """Gather index from logits in GEMM order (y, x, dy1, dx1, dy2, dx2) to image order
    (y, dy1, dy2, x, dx1, dx2): one ``index_select`` is several times faster than the 7-d permuted copy."""
    idx = torch.arange(rows * w * 16, device=device).view(rows, w, 2, 2, 2, 2)
    return idx.permute(0, 2, 4, 1, 3, 5).reshape(-1)


def _gelu_(act, x: Tensor) -> Tensor:
    """``act(x)`` in place when ``act`` is a plain GELU (no new full-size tensor)."""
    if type(act) is torch.nn.GELU:
        return torch.ops.aten.gelu_(x, approximate=act.approximate)
    return act(x)


@torch.no_grad()
def mask_logits(sam, state: ImageState, mask_tokens: Tensor, keys: Tensor, token_idx: list[int],
                extent: tuple[int, int] | None = None) -> Tensor:
    """Low-res mask logits (B x K x 4h x 4w) from K finished mask tokens (B x K x C);
    ``token_idx`` names their hypernetwork MLPs (mask token indices). With ``extent`` (rows, cols of
    the embedding grid, from ``low_res_extent``), only that top-left part is upscaled: B x K x 4rows x
    4cols, all that ``resize_logits`` reads of a non-square image (the rest is padding).

    The stock upscaling (ConvT 2x2/2, LayerNorm2d, GELU, ConvT 2x2/2, GELU, then a
    per-pixel dot product with the hypernetwork vectors) maps each embedding position
    to its own 4x4 block of output pixels. It is computed here per position with
    plain GEMMs in position-major layout (no convolution, no NCHW shuffles), a few
    embedding rows at a time on the CPU (``UPSCALE_ROWS``) so that every intermediate
    stays in cache (the whole batch at once on an accelerator); the logits are put into
    image order by one gather.
    """
    dec = sam.mask_decoder
    up = dec.output_upscaling
    ct1, ln, act1, ct2, act2 = up[0], up[1], up[2], up[3], up[4]
    b, n, c = keys.shape
    h, w = state.hw
    grid = keys.reshape(b, h, w, c)
    if extent is not None and tuple(extent) != (h, w):
        h, w = extent
        grid = grid[:, :h, :w]
    c1, c2 = ct1.out_channels, ct2.out_channels
    # ConvT1: (positions, C) @ (C, c1*2*2) -> per position, 2x2 sub-pixels of c1 channels
    w1, bias1 = ct1.weight.permute(0, 2, 3, 1).reshape(c, 4 * c1), ct1.bias.repeat(4)
    # ConvT2: (sub-pixels, c1) @ (c1, c2*2*2)
    w2, bias2 = ct2.weight.permute(0, 2, 3, 1).reshape(c1, 4 * c2), ct2.bias.repeat(4)
    hyper = torch.stack([dec.output_hypernetworks_mlps[i](mask_tokens[:, j]) for j, i in enumerate(token_idx)], dim=1)  # B x K x c2
    k = len(token_idx)
    if not _cache_blocked(keys):  # one kernel per op for the whole batch beats cache-sized blocks there
        x = torch.addmm(bias1, grid.reshape(b * h * w, c), w1).reshape(-1, c1)
        x = _gelu_(act1, F.layer_norm(x, (c1,), ln.weight, ln.bias, ln.eps))
        x = _gelu_(act2, torch.addmm(bias2, x, w2))  # (B*N*4) x (dy2 dx2 c2)
        logits = torch.bmm(hyper, x.reshape(b, h * w * 16, c2).transpose(1, 2))  # B x K x (y x dy1 dx1 dy2 dx2)
        order = _subpixel_order(h, w, keys.device)
        return logits[:, :, order].reshape(b, k, 4 * h, 4 * w)
    out = keys.new_empty(b, k, 4 * h, 4 * w)
    logits = keys.new_empty(k, h * w * 16)  # one prompt's logits in GEMM order (y x dy1 dx1 dy2 dx2)
    for i in range(b):
        for y0 in range(0, h, UPSCALE_ROWS):
            r = min(UPSCALE_ROWS, h - y0)
            x = torch.addmm(bias1, grid[i, y0:y0 + r].reshape(r * w, c), w1).view(-1, c1)
            x = _gelu_(act1, F.layer_norm(x, (c1,), ln.weight, ln.bias, ln.eps))
            x = _gelu_(act2, torch.addmm(bias2, x, w2)).view(-1, c2)  # (y x dy1 dx1 dy2 dx2) x c2
            torch.mm(hyper[i], x.t(), out=logits[:, y0 * w * 16:(y0 + r) * w * 16])
        torch.index_select(logits, 1, _subpixel_order(h, w, keys.device), out=out[i].view(k, -1))
    return out


def _axis_matrix(low: int, mid: int, keep: int, out: int) -> Tensor:
    """1-D linear map of ``upsample(low->mid) -> crop[:keep] -> resize(keep->out)``
    (bilinear, align_corners=False, as ``Sam.postprocess_masks``), built by sending the
    identity through the same ``F.interpolate`` calls: out x low."""
    eye = torch.eye(low, dtype=torch.float64).unsqueeze(0)  # basis vectors as channels
    up = F.interpolate(eye, size=mid, mode="linear", align_corners=False)[..., :keep]
    return F.interpolate(up, size=out, mode="linear", align_corners=False)[0].T.contiguous()


@functools.lru_cache(maxsize=16)
def _axis_matrices(full: tuple, size: int, input_size: tuple, original_size: tuple) -> tuple[Tensor, Tensor]:
    """The two resize matrices (rows: H x full_h; columns: full_w x W) of one image size in float64; the
    last few sizes are kept (a dataset such as MT has over a thousand image sizes)."""
    ry = _axis_matrix(full[0], size, input_size[0], original_size[0])
    rx = _axis_matrix(full[1], size, input_size[1], original_size[1])
    return ry, rx.T.contiguous()


def _geometry(sam, input_size: tuple, original_size: tuple) -> tuple:
    full = tuple(int(v) for v in sam.prompt_encoder.mask_input_size)  # the decoder's low-res mask size
    return full, int(sam.image_encoder.img_size), tuple(int(v) for v in input_size), tuple(int(v) for v in original_size)


def low_res_extent(sam, input_size: tuple, original_size: tuple) -> tuple[int, int]:
    """Rows and columns of the embedding grid whose 4x4 low-res blocks ``resize_logits`` reads: the
    image's part of the padded square and the one column/row bilinear interpolation reaches past it.
    Upscaling only these (``mask_logits(extent=)``) gives the same image-size logits."""
    return _extent(_geometry(sam, input_size, original_size))


@functools.lru_cache(maxsize=16)
def _extent(geometry: tuple) -> tuple[int, int]:
    ry, rxt = _axis_matrices(*geometry)
    rows = int(ry.abs().sum(0).nonzero().max()) + 1
    cols = int(rxt.abs().sum(1).nonzero().max()) + 1
    return -(-rows // 4), -(-cols // 4)


@functools.lru_cache(maxsize=16)
def _resize_matrices(lh: int, lw: int, geometry: tuple, dtype, device):
    """The resize matrices for low-res logits of lh x lw (the top-left part of the full low-res mask;
    what is left out must have no weight), on the device."""
    ry, rxt = _axis_matrices(*geometry)
    if ry[:, lh:].any() or rxt[lw:].any():
        raise ValueError(f"low-res logits of {lh}x{lw} leave out pixels that the resize to {geometry[3]} reads")
    return ry[:, :lh].to(device=device, dtype=dtype), rxt[:lw].contiguous().to(device=device, dtype=dtype)


def resize_logits(sam, low_res: Tensor, input_size: tuple, original_size: tuple) -> Tensor:
    """Same result as ``sam.postprocess_masks`` (to float rounding), without the
    1024x1024 intermediate: bilinear resizing is separable and linear, so the chain
    256 -> 1024 -> crop -> H x W is one (H x 256) and one (256 x W) matrix. ``low_res`` may be the
    top-left part that ``low_res_extent`` names (B x K x 4rows x 4cols)."""
    lh, lw = low_res.shape[-2:]
    ry, rxt = _resize_matrices(int(lh), int(lw), _geometry(sam, input_size, original_size), low_res.dtype,
                               low_res.device)
    return torch.matmul(torch.matmul(ry, low_res), rxt)


def image_state(predictor) -> ImageState:
    """``prepare_image`` for the image a ``SamPredictor`` holds, computed once per embedding: kept
    on the predictor, so every mode and the automatic generator decoding that image share it."""
    cached = getattr(predictor, "_samis_decoder_state", None)
    if cached is None or cached[0] is not predictor.features:
        cached = (predictor.features, prepare_image(predictor.model, predictor.features))
        predictor._samis_decoder_state = cached
    return cached[1]


@torch.no_grad()
def fast_decode(sam, features: Tensor, sparse: Tensor, multimask_output: bool | None = True,
                state: ImageState | None = None, mask_input: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Drop-in equivalent of ``sam.mask_decoder(...)``:
    returns (low-res logits, IoU predictions) like the stock decoder. ``state``: the image's
    prepared tensors when the caller has them (``image_state``). ``multimask_output=None`` returns all
    four masks in one call, the one-mask output first (what ``multimask=oracle`` picks from).
    ``mask_input``: per prompt, the previous round's low-res logits (B x 1 x 256 x 256), or None."""
    state = state if state is not None else prepare_image(sam, features)
    src = None
    if mask_input is not None:
        state, src = mask_input_state(sam, state), masked_src(sam, features, mask_input)
    n = sam.mask_decoder.num_mask_tokens
    idx = list(range(n)) if multimask_output is None else list(range(1, n)) if multimask_output else [0]
    hs, keys = decode_tokens(sam, state, sparse, [0] + [1 + i for i in idx], src=src)
    iou = iou_predictions(sam, hs[:, 0])
    return mask_logits(sam, state, hs[:, 1:], keys, idx), iou[:, idx]
