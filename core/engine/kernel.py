"""The formulas of THEORY §1-§2 and §7, each written once.

Every engine runs these same functions on its own numbers: core.engine.fast2d on Python floats
(one coordinate at a time), core.engine.fast2d_batch and the grid analyses on numpy arrays,
core.engine.dynamics on torch tensors.  They use only the arithmetic the three share, and the
readout's own `value` and `partials` (core.engine.optimizers.Readout), so a change to the theory
is one edit here.
"""

from __future__ import annotations

import numpy as np
import torch

from core.engine.optimizers import Optimizer, where


def memory_average(f, U, a, c, r, z):
    """One step of a geometric average (THEORY §7): A(n) = (a phi(g_n) + c U(n)) / z(n),
    and the state U(n+1) = phi(g_n) + r U(n), U(0) = 0."""
    return (a * f + c * U) / z, f + r * U


def memoryless_averages(opt: Optimizer, g, W) -> list:
    """Every average with the past iterates replaced by the current one: W_i phi_i(g)."""
    return [w * av.feature(g) for w, av in zip(W, opt.averages, strict=True)]


def memoryless_update(opt: Optimizer, g, W, decay_t):
    """Fbar^(n) = Phi(g, W_1(n) phi_1(g), ...) + decay theta (THEORY §1)."""
    return opt.value(g, *memoryless_averages(opt, g, W)) + decay_t


def preconditioner(opt: Optimizer, g, W):
    """P = u(g) / g of THEORY §5, u the memoryless readout with the sums W_i (the weight
    decay aside); g a tensor or an array, kept away from 0/0 where a coordinate is 0."""
    tiny = np.finfo(np.float64).tiny ** 0.25
    safe = where(abs(g) < tiny, tiny, g)
    return opt.value(safe, *memoryless_averages(opt, safe, W)) / safe


def directions(case: str, fbar, feats, moments, C, decay_t, past) -> list[tuple]:
    """The directions D_i(n) of the memory correction (THEORY §2, §7), as pairs (vector,
    factor) with D_i = factor * vector, so that directions sharing a vector share its
    Hessian product:

    (b) every W_i constant: D_i = m_i(n) Fbar;
    (a) a linear readout: D_i = sum_j C_ij(n) phi_j(g) + m_i(n) decay theta;
    (c) otherwise D_i = sum_{b<n} T_i(n, n-b) Fbar^(b) (`past`, by past_sum) + m_i(n)
        decay theta.

    `moments` are m_i(n), `C` the C_ij(n) (case a), `decay_t` the decay term (None without
    decay)."""
    if case == "b":
        return [(fbar, m) for m in moments]
    out = []
    for i, m in enumerate(moments):
        if case == "a":
            D = C[i][0] * feats[0]
            for j in range(1, len(feats)):
                D = D + C[i][j] * feats[j]
        else:
            D = past[i]
        out.append((D if decay_t is None else D + m * decay_t, 1.0))
    return out


CHUNK = 1 << 21  # elements in one block of past steps of past_sum: bounds its memory


def blocks(n: int, per_step: int) -> list[tuple[int, int]]:
    """The past steps b < n in blocks (first, last) of about CHUNK elements, `per_step`
    elements a step."""
    chunk = max(1, CHUNK // max(per_step, 1))
    return [(first, min(n, first + chunk)) for first in range(0, n, chunk)]


def past_sum(opt: Optimizer, g, feats, W, tails, axis: int = 0):
    """sum_b T_i(n, n-b) Fbar^(b) without the decay, over a block of past steps b on
    `axis` (THEORY §7 c): Fbar^(b) = Phi(g, W_1(b) phi_1(g), ...), W_j and the tails shaped
    to broadcast against g."""
    readout = opt.value(g, *(w * f for w, f in zip(W, feats, strict=True)))
    return (tails * readout).sum(axis)


def correction(opt: Optimizer, g, averages, hvps):
    """M^(n) = sum_i dPhi/dA_i phi_i'(g) H D_i (THEORY §2, §7), from the readout's partials
    at the averages it reads and the Hessian products H D_i (None: D_i = 0)."""
    total = 0.0
    for p, av, hv in zip(opt.partials(g, *averages), opt.averages, hvps, strict=True):
        if hv is not None:
            total = total + p * av.slope(g) * hv
    return total


def hessian_times(hessian, vx, vy):
    """H v for a 2D loss, from its entries (hxx, hxy, hyy): floats or arrays alike."""
    hxx, hxy, hyy = hessian
    return hxx * vx + hxy * vy, hxy * vx + hyy * vy


def stop_diverged(step, theta, alive, diverged: np.ndarray, n: int, axis: int):
    """Divergence stops a trajectory, and the rest go on: a row of `step` with a
    non-finite coordinate (the coordinates on `axis`) is recorded in `diverged` at step
    n + 1 and stays at its last finite point `theta`.  Returns the step and the rows
    still alive (tensors or arrays alike)."""
    if isinstance(step, torch.Tensor):
        ok = step.isfinite().all(axis) & alive
        diverged[(alive & ~ok).cpu().numpy()] = n + 1
        return where(ok.unsqueeze(axis), step, theta), ok
    ok = np.isfinite(step).all(axis) & alive
    diverged[alive & ~ok] = n + 1
    return where(np.expand_dims(ok, axis), step, theta), ok
