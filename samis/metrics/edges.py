"""Edge images for Pratt's figure of merit: where the numerical gradient of a binary image is non-zero.

The steel-defect MATLAB code takes ``gradient`` of the 0/1 image (central differences inside,
one-sided at the border, as ``numpy.gradient``); a pixel is an edge pixel if either component is non-zero.
This is that test without building float gradients: central difference ``b[i+1] - b[i-1]`` is non-zero
exactly when the two neighbours differ, the one-sided border difference when the pixel and its inner
neighbour differ.
"""

from __future__ import annotations

import numpy as np


def edge_map(binary: np.ndarray) -> np.ndarray:
    """Boolean edge image of a 2-D boolean image (non-zero ``numpy.gradient`` along rows or columns)."""
    b = np.asarray(binary, dtype=bool)
    h, w = b.shape
    out = np.zeros_like(b)
    if h >= 2:
        np.not_equal(b[1], b[0], out=out[0])
        np.not_equal(b[-1], b[-2], out=out[-1])
    if h >= 3:
        np.not_equal(b[2:], b[:-2], out=out[1:-1])
    cols = np.zeros_like(b)
    if w >= 2:
        np.not_equal(b[:, 1], b[:, 0], out=cols[:, 0])
        np.not_equal(b[:, -1], b[:, -2], out=cols[:, -1])
    if w >= 3:
        np.not_equal(b[:, 2:], b[:, :-2], out=cols[:, 1:-1])
    out |= cols
    return out
