"""What the runners do differently on an accelerator: timing, decoder batch size, running out of memory.

CUDA runs asynchronously, so a wall-clock time around an encoder call is only the time to queue it
unless the device is synchronised first; prompts decoded a few at a time suit CPU caches but cost one
kernel launch per op and a host synchronisation per chunk on a GPU; and a batch of images that does
not fit in GPU memory is better split than fatal.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger("samis.runners")


def is_cuda(device) -> bool:
    return torch.device(device).type == "cuda"


def synchronize(device) -> None:
    """Wait for the device's queued work (CUDA); nothing elsewhere. Call it around a timed region."""
    if is_cuda(device):
        torch.cuda.synchronize(device)


def decode_chunk(device, cpu_chunk: int, batch: int) -> int:
    """Prompts per decoder call: ``cpu_chunk`` on the CPU (cache-sized), the whole batch elsewhere."""
    return cpu_chunk if torch.device(device).type == "cpu" else max(1, batch)


def _oom_errors() -> tuple:
    return tuple({getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError), torch.cuda.OutOfMemoryError})


def split_on_oom(run, items: list, device=None) -> list:
    """``run(items)`` -> one result per item; when it runs out of device memory, the batch is halved
    and each half retried (down to one item, whose failure is raised)."""
    try:
        out = run(items)
    except _oom_errors():
        if len(items) <= 1:
            raise
        if device is not None and is_cuda(device):
            torch.cuda.empty_cache()
        half = len(items) // 2
        log.warning("out of device memory on a batch of %d images: retrying as %d + %d", len(items), half,
                    len(items) - half)
        return split_on_oom(run, items[:half], device) + split_on_oom(run, items[half:], device)
    if len(out) != len(items):
        raise RuntimeError(f"split_on_oom: {len(out)} results for {len(items)} items")
    return list(out)


def encoder_batch(device, batch_sizes) -> int:
    """Images per encoder call: the largest ``batch_size`` asked on an accelerator, one on the CPU
    (batching gains nothing there and multiplies the activation memory)."""
    return max(batch_sizes, default=1) if torch.device(device).type != "cpu" else 1


def parallel_chunks(run, starts, device) -> list:
    """``[run(s) for s in starts]``, in order. On the CPU with more than one torch thread, the chunks go
    to that many Python threads, each running torch single-threaded: a chunk of a few prompts is many
    small products that a second intra-op thread barely speeds up, while two chunks side by side keep
    both cores busy (torch releases the GIL in its ops). Elsewhere, or with one thread, a plain loop."""
    starts = list(starts)
    threads = torch.get_num_threads()
    if torch.device(device).type != "cpu" or threads < 2 or len(starts) < 2:
        return [run(s) for s in starts]
    from concurrent.futures import ThreadPoolExecutor

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=min(threads, len(starts))) as pool:
            return list(pool.map(run, starts))
    finally:
        torch.set_num_threads(threads)
