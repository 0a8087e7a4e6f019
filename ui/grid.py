"""Numbers read off a computed grid for the figures: values at points (bilinear), the
3D view's robust range, log-compressed contour values, and hR with its resolved sign."""

from __future__ import annotations

import numpy as np

from core.analyses.regularizer import SIGNED
from core.analyses.surfaces import Surfaces

CLIP_3D = (0.01, 0.9)  # quantiles of L + hR the 3D view is clipped to


def log_levels(z: np.ndarray) -> np.ndarray:
    """log10(z - min + delta): contour lines that resolve both the walls and the valley
    floor (also for L + hR, which can be negative)."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return np.zeros_like(z)
    lo, hi = finite.min(), finite.max()
    delta = 1e-3 * (hi - lo) + 1e-12
    return np.log10(np.clip(z - lo, 0.0, None) + delta)


def on_grid(x: np.ndarray, y: np.ndarray, z: np.ndarray, points: np.ndarray) -> np.ndarray:
    """z (indexed [iy, ix]) at the points (n, 2) by bilinear interpolation; nan outside."""
    px, py = points[:, 0], points[:, 1]
    ix = np.clip(np.searchsorted(x, px) - 1, 0, len(x) - 2)
    iy = np.clip(np.searchsorted(y, py) - 1, 0, len(y) - 2)
    tx = (px - x[ix]) / (x[ix + 1] - x[ix])
    ty = (py - y[iy]) / (y[iy + 1] - y[iy])
    v = (1 - ty) * ((1 - tx) * z[iy, ix] + tx * z[iy, ix + 1]) + ty * (
        (1 - tx) * z[iy + 1, ix] + tx * z[iy + 1, ix + 1]
    )
    outside = (px < x[0]) | (px > x[-1]) | (py < y[0]) | (py > y[-1])
    return np.where(outside, np.nan, v)


def clip_range(z: np.ndarray, keep: np.ndarray | None = None) -> tuple[float, float]:
    """The CLIP_3D quantiles of z's finite values, widened to hold the values `keep`
    (along the runs): a corner spike cannot flatten the valley the runs travel, and
    the runs are never cut off."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = (float(q) for q in np.quantile(finite, CLIP_3D))
    if keep is not None and np.isfinite(keep).any():
        lo, hi = min(lo, float(np.nanmin(keep))), max(hi, float(np.nanmax(keep)))
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def perturbation(surf: Surfaces) -> np.ndarray:
    """hR = (L + hR) - L on the grid: what the memory adds to the loss."""
    return surf.perturbed - surf.loss


def signed(hR: np.ndarray) -> np.ndarray:
    """hR where its sign is resolved, 0 elsewhere: the verdict's threshold (THEORY §9),
    |hR| below SIGNED x its largest value being at the level of the grid's error."""
    finite = np.abs(hR[np.isfinite(hR)])
    tiny = SIGNED * finite.max() if finite.size else 0.0
    return np.where(np.abs(hR) > tiny, hR, 0.0)
