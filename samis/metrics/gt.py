"""Everything a metric needs from one ground truth, computed once and shared by every method.

Scoring 13 methods on one image used to repeat the ground-truth work 13 times (pysodmetrics redoes
the distance transform of weighted F for every map); here it is done once per image.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt

from samis.metrics.edges import edge_map
from samis.metrics.pfom import border_distance


def matlab_gauss2d(shape=(7, 7), sigma=5.0) -> np.ndarray:
    """``fspecial('gaussian', shape, sigma)``, as pysodmetrics builds it for weighted F."""
    m, n = [(ss - 1) / 2 for ss in shape]
    y, x = np.ogrid[-m : m + 1, -n : n + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    if h.sum() != 0:
        h /= h.sum()
    return h


WFM_KERNEL = matlab_gauss2d((7, 7), 5)
# the same Gaussian as two 1-D passes (3x fewer operations; differs from the 2-D kernel by ~1e-18)
_g = np.exp(-(np.arange(-3, 4, dtype=np.float64) ** 2) / (2 * 5.0 * 5.0))
WFM_KERNEL_1D = _g / _g.sum()


class GroundTruth:
    """A boolean ground truth plus the quantities weighted F, S-measure, OR and PFOM derive from it alone.

    The per-metric parts (``wfm``, ``sm``, ``steel``) are computed on first use and then reused for every
    method's map of this image; a sod-only run never builds the steel part.
    """

    def __init__(self, mask: np.ndarray):
        gt = np.asarray(mask)
        if gt.ndim != 2:
            raise ValueError(f"ground truth must be H x W, got shape {gt.shape}")
        self.mask = gt.astype(bool, copy=False)
        self.shape = self.mask.shape
        self.size = self.mask.size
        self.fg = int(np.count_nonzero(self.mask))
        self.bg = self.size - self.fg
        self.flat = self.mask.ravel()
        self.maskf = self.mask.astype(np.float64)  # the GT as numbers, cast once instead of per map
        self.fg_idx = np.flatnonzero(self.flat)
        self.bg_idx = np.flatnonzero(~self.flat)
        self._wfm = None
        self._sm = None
        self._steel = None

    # -- weighted F ---------------------------------------------------------------------------
    @property
    def wfm(self):
        """(nearest-foreground flat index per pixel, importance weights B off the GT, 0 on it).

        bwdist of the GT with indices; B is 1 on the GT, which weighted F uses implicitly.
        """
        if self._wfm is None:
            dst, idx = distance_transform_edt(~self.mask, return_indices=True)
            nearest = (idx[0] * self.shape[1] + idx[1]).ravel().astype(np.intp)
            weights = np.where(self.mask, 0.0, 2 - np.exp(np.log(0.5) / 5 * dst)).ravel()
            self._wfm = (nearest, weights)
        return self._wfm

    # -- S-measure ----------------------------------------------------------------------------
    @property
    def sm(self):
        """Foreground ratio, the centroid split and each quadrant's GT statistics (Fan et al. 2017)."""
        if self._sm is None:
            gt = self.mask
            h, w = self.shape
            y = np.mean(gt)
            quads = None
            if 0 < y < 1:
                eps = np.spacing(1)
                cy, cx = np.argwhere(gt).mean(axis=0).round()
                cy, cx = int(cy) + 1, int(cx) + 1
                area = h * w
                w_lt = cx * cy / area
                w_rt = cy * (w - cx) / area
                w_lb = (h - cy) * cx / area
                w_rb = 1 - w_lt - w_rt - w_lb
                quads = []
                for (rs, cs), wq in (
                    ((slice(0, cy), slice(0, cx)), w_lt),
                    ((slice(0, cy), slice(cx, w)), w_rt),
                    ((slice(cy, h), slice(0, cx)), w_lb),
                    ((slice(cy, h), slice(cx, w)), w_rb),
                ):
                    g = gt[rs, cs]
                    n = g.size
                    gy = np.mean(g)
                    dg = g - gy
                    sigma_y = np.sum(dg**2) / (n - 1 + eps)
                    quads.append((rs, cs, wq, n, gy, dg, sigma_y))
            self._sm = (y, quads)
        return self._sm

    # -- steel: OR and PFOM -------------------------------------------------------------------
    @property
    def steel(self):
        """(OR's binary GT, flat indices of the GT edge pixels, their distance to the farthest border)."""
        if self._steel is None:
            from samis.metrics.overlap import binarize_gt_for_or

            or_gt = binarize_gt_for_or(self.mask)
            edges = edge_map(self.mask)
            rows, cols = np.nonzero(edges)
            far = border_distance(rows, cols, self.shape)
            self._steel = (or_gt, np.flatnonzero(edges.ravel()), far)
        return self._steel
