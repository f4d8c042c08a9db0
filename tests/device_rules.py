"""CUDA's device rules, applied on the CPU: the CUDA code paths run here and fail where a GPU would.

No test machine has a GPU, so a tensor that a GPU would hold is a ``FakeCudaTensor``: a wrapper that
reports ``device='cuda:0'`` around a real CPU tensor that does the arithmetic. ``cuda_rules()``
activates a ``TorchFunctionMode`` that sees every torch call and refuses what CUDA refuses:

- an operation mixing a CUDA tensor with a CPU tensor of one or more dimensions (a 0-d CPU tensor
  is a scalar, as on CUDA) — ``Expected all tensors to be on the same device``;
- indexing a CPU tensor with CUDA indices (a CUDA tensor may take CPU indices);
- ``.numpy()`` / ``np.asarray`` of a CUDA tensor.

Copies (``copy_``, assignment into a slice), ``.to``/``.cuda``/``.cpu``, ``item``/``tolist`` and
factories with ``device='cuda'`` behave as on CUDA. While active, ``torch.cuda.is_available()`` is
true, ``torch.cuda.synchronize`` is counted, and ``torch.autocast('cuda', dtype)`` runs CPU autocast
with that dtype (recorded), so reduced precision really changes the numbers. Only inference runs
(no autograd on fake tensors). Values are exactly the CPU's, so maps must equal a CPU run's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

CUDA = torch.device("cuda", 0)


class DeviceRuleError(RuntimeError):
    """What CUDA would raise (a RuntimeError, as there)."""


class FakeCudaTensor(torch.Tensor):
    """A CPU tensor (``elem``) that says it lives on ``cuda:0``."""

    elem: torch.Tensor
    __torch_function__ = torch._C._disabled_torch_function_impl

    @staticmethod
    def __new__(cls, elem: torch.Tensor):
        out = torch.Tensor._make_wrapper_subclass(
            cls, elem.size(), strides=elem.stride(), storage_offset=elem.storage_offset(), dtype=elem.dtype,
            layout=elem.layout, device=CUDA, requires_grad=False)
        out.elem = elem
        return out

    def __repr__(self):
        return f"FakeCudaTensor({self.elem!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise DeviceRuleError(f"{func} reached a fake CUDA tensor outside cuda_rules() (another thread?)")


def _is_cuda_device(d) -> bool:
    if d is None or isinstance(d, torch.Tensor):
        return False
    try:
        return torch.device(d).type == "cuda"
    except (RuntimeError, TypeError):
        return False


def _wrap(t):
    return FakeCudaTensor(t) if isinstance(t, torch.Tensor) and not isinstance(t, FakeCudaTensor) else t


def _unwrap(t):
    return t.elem if isinstance(t, FakeCudaTensor) else t


def _devices(tree) -> set[str]:
    """'cuda' for fake tensors, 'cpu' for CPU tensors of one or more dimensions (0-d ones are scalars)."""
    leaves, _ = tree_flatten(tree)
    out = set()
    for t in leaves:
        if isinstance(t, FakeCudaTensor):
            out.add("cuda")
        elif isinstance(t, torch.Tensor) and t.dim() > 0:
            out.add("cpu")
    return out


def _name(func) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)


_NUMPY = {torch.Tensor.numpy, torch.Tensor.__array__}
_COPIES = {torch.Tensor.copy_, torch.Tensor.__setitem__}
_INDEXING = {torch.Tensor.__getitem__, torch.Tensor.index_select, torch.index_select}


@dataclass
class Record:
    """What happened under the rules: device syncs and autocast contexts entered."""

    synchronize: int = 0
    autocast: list = field(default_factory=list)


class CudaRules(TorchFunctionMode):
    def __init__(self, record: Record):
        super().__init__()
        self.record = record

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu):
            return self._move(func, args, kwargs)
        if func in _NUMPY and isinstance(args[0], FakeCudaTensor):
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor "
                            "to host memory first.")
        if func == torch.Tensor.device.__get__:
            return CUDA if isinstance(args[0], FakeCudaTensor) else func(*args, **kwargs)
        if func == torch.Tensor.is_cuda.__get__:
            return isinstance(args[0], FakeCudaTensor)
        if func is torch._has_compatible_shallow_copy_type:
            return func(*args, **kwargs)  # a type query (Module.to asks it): fake and CPU are not compatible
        target = kwargs.get("device")
        make_cuda = _is_cuda_device(target)
        if make_cuda:
            kwargs = dict(kwargs, device="cpu")
        devices = _devices((args, kwargs))
        if len(devices) > 1:
            self._check_mixing(func, args)
        out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))
        if target is not None and not make_cuda and not isinstance(target, torch.Tensor):
            return out  # an explicit CPU device: a copy there (torch.as_tensor(x, device='cpu'))
        if not (make_cuda or "cuda" in devices) or func in (torch.Tensor.tolist, torch.Tensor.item):
            return out
        if isinstance(args[0] if args else None, FakeCudaTensor) and out is args[0].elem:
            return args[0]  # in place: the same tensor
        return tree_map(_wrap, out)

    @staticmethod
    def _check_mixing(func, args) -> None:
        if func in _COPIES:
            return  # copies between devices are allowed
        if func in _INDEXING:
            indexed = args[0]
            if isinstance(indexed, FakeCudaTensor):
                return  # CUDA tensors take CPU indices
            raise DeviceRuleError("indices should be either on cpu or on the same device as the indexed tensor (cpu)")
        raise DeviceRuleError(f"Expected all tensors to be on the same device, but found at least two devices, "
                              f"cuda:0 and cpu! (in {_name(func)})")

    @staticmethod
    def _move(func, args, kwargs):
        src = args[0]
        if func is torch.Tensor.cuda:
            target, dtype = CUDA, None
        elif func is torch.Tensor.cpu:
            target, dtype = torch.device("cpu"), None
        else:
            target, dtype, _, _ = torch._C._nn._parse_to(*args[1:], **kwargs)
            if len(args) > 1 and isinstance(args[1], FakeCudaTensor):
                target = CUDA
        elem = _unwrap(src)
        if dtype is not None:
            elem = elem.to(dtype)
        on_cuda = isinstance(src, FakeCudaTensor) if target is None else target.type == "cuda"
        if not on_cuda:
            return elem.clone() if isinstance(src, FakeCudaTensor) and elem is src.elem else elem  # a copy, as CUDA
        if isinstance(src, FakeCudaTensor) and elem is src.elem:
            return src  # already there
        return FakeCudaTensor(elem)


@contextlib.contextmanager
def cuda_rules():
    """Inside: a machine with CUDA whose tensors are checked as CUDA checks them. Yields a ``Record``."""
    record = Record()
    real_autocast = torch.autocast
    saved = {name: getattr(torch.cuda, name) for name in ("is_available", "synchronize", "empty_cache",
                                                            "_lazy_init", "is_bf16_supported")}
    overwrite = torch.__future__.get_overwrite_module_params_on_conversion()

    def sync(device=None):
        record.synchronize += 1

    def autocast(device_type, dtype=None, enabled=True, cache_enabled=None):
        if device_type == "cuda":
            record.autocast.append(dtype)
            return real_autocast("cpu", dtype=dtype, enabled=enabled)
        return real_autocast(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    torch.cuda.is_available = lambda: True
    torch.cuda.synchronize = sync
    torch.cuda.empty_cache = lambda: None
    torch.cuda._lazy_init = lambda: None
    torch.cuda.is_bf16_supported = lambda *a, **k: True
    torch.autocast = autocast
    # Module.to(cuda) must replace parameters by fake ones, not set .data on them
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        with torch.no_grad(), CudaRules(record):
            yield record
    finally:
        for name, value in saved.items():
            setattr(torch.cuda, name, value)
        torch.autocast = real_autocast
        torch.__future__.set_overwrite_module_params_on_conversion(overwrite)


def on_fake_cuda(module: torch.nn.Module) -> torch.nn.Module:
    """``module.to('cuda')`` (call inside ``cuda_rules``); every parameter and buffer is a fake CUDA tensor."""
    module = module.to("cuda")
    bad = [n for n, t in list(module.named_parameters()) + list(module.named_buffers()) if not isinstance(t, FakeCudaTensor)]
    if bad:
        raise DeviceRuleError(f"not moved to the fake CUDA device: {bad[:5]}")
    return module
