"""The regularizer card's verdict (core.analyses.regularizer) for every cell of a sweep at once.

A cell's card (core.analyses.compute.regularizer on its /playground scenario) integrates R from
the field M^(n)/P^(n) on its window's grid (core.analyses.surfaces, THEORY §13), at the run's
step n by default, and reads the verdict from h R with the thresholds of
core.analyses.regularizer (SIGNED, NONE, MIXED; "mixed" where the sign map is not resolved at
half the grid).  Here the same numbers come for all cells together:

* the loss, its gradient and Hessian on the grid are shared (core.models.derivatives);
* the cells fall into groups that share everything the readout sees at step n (the sums
  W_i(n), the decay, and the hyperparameters that do not enter the weights).  In a group,
  M^(n)/P^(n) is linear in per-cell numbers (THEORY §7): (b) D_i = m_i(n) Fbar gives
  M/P = sum_i m_i(n) B_i, (a) a linear readout gives sum_ij C_ij(n) B_ij (+ the decay's
  m_i(n) terms).  The least-squares integration is linear too, so R is integrated once
  per basis field B and each cell's R is the same combination of the integrated bases;
* case (c) (directions summing every past step, RMSprop and Lion eps > 0) has no such
  split: every cell is its own group with one basis, whose directions are one function of
  a coordinate of g (core.engine.coordinate), interpolated on the grid as the card does (priced
  by core.scenarios.limits.sweep_seconds).
"""

from __future__ import annotations

import numpy as np

from core.analyses.regularizer import effects
from core.analyses.surfaces import RESOLVED, integrate_gradient, preconditioner, sign_agreement
from core.cancel import Check, each
from core.engine import kernel
from core.engine.dynamics import _Recursive
from core.engine.fast2d_batch import _compact_plan
from core.engine.registry import make_optimizer
from core.models.derivatives import Derivatives

_ELEMENTS = 1 << 21  # chunk size (elements) of the cells combined at once


def size(name: str, hyper: dict, n: int, count: bool = True) -> tuple[str, int, int]:
    """What `verdicts` will compute, for the cost model: the direction case of THEORY §7
    ("flat": M^(n) = 0), the number of groups and of basis fields per group.  Without
    `count` the groups are bounded by the cells (no O(n) tables)."""
    cells = max([np.size(v) for v in hyper.values()] + [1])
    opt = make_optimizer(name, **hyper)
    plan, rows = _compact_plan(opt, n + 1 if count else 2)
    case = "flat" if n == 0 or plan.case == "flat" else plan.case
    nb = {"flat": 0, "b": plan.p, "c": 1}.get(case, plan.p * plan.p)
    if case == "a" and np.any(np.asarray(opt.decay) != 0):
        nb += plan.p
    if case == "c" or case == "flat" or not count:
        return case, cells, nb
    return case, len(_groups(name, hyper, plan, rows, n, cells, case)[1]), nb


def verdicts(
    expression: str, name: str, hyper: dict, lr, window, grid: int, n: int, check: Check = None
) -> np.ndarray:
    """+1 / -1 / 0 per cell: the card's verdict (regularizes / anti-regularizes / mixed or
    none) for optimizer `name` with `hyper` (floats, or arrays with one value per cell),
    step sizes `lr`, on the window's grid x grid points, R from M^(n); `check` is called
    between groups of cells (core.cancel)."""
    cells = max([np.size(v) for v in hyper.values()] + [np.size(lr)])
    lr = np.broadcast_to(np.asarray(lr, dtype=np.float64), (cells,))
    grid_ = _Grid(expression, window, grid)
    opt = make_optimizer(name, **hyper)
    plan, rows = _compact_plan(opt, n + 1)
    case = "flat" if n == 0 or plan.case == "flat" else plan.case
    if case == "flat":  # M^(n) = 0: R = 0, no effect
        return np.zeros(cells, dtype=np.int8)
    group, first = _groups(name, hyper, plan, rows, n, cells, case)
    reps = {k: (v[first] if np.ndim(v) else v) for k, v in hyper.items()}
    bases = _bases(grid_, name, reps, n, case, check)  # (groups, nb, 2, P)
    coef = _coefficients(opt, plan, rows, n, case, cells)  # (cells, nb)
    fits = [
        [grid_.integrate(bases[j, b]) for b in range(bases.shape[1])]
        for j in each(range(bases.shape[0]), check)
    ]
    R = np.array([[f[0] for f in row] for row in fits])  # (groups, nb, G*G)
    fine = np.array([[f[1] for f in row] for row in fits])  # (groups, nb, Gc*Gc)
    coarse = np.array([[f[2] for f in row] for row in fits])
    out = np.empty(cells, dtype=np.int8)
    order = np.argsort(group, kind="stable")  # a group's cells together: one product each
    step = max(1, _ELEMENTS // (grid * grid))
    for lo in range(0, cells, step):
        idx = order[lo : lo + step]
        g = group[idx]
        segments = np.split(np.arange(idx.size), np.flatnonzero(np.diff(g)) + 1)
        r, f, c = (np.empty((idx.size, a.shape[-1])) for a in (R, fine, coarse))
        for seg in segments:
            j, weights = g[seg[0]], coef[idx[seg]]
            r[seg], f[seg], c[seg] = weights @ R[j], weights @ fine[j], weights @ coarse[j]
        with np.errstate(divide="ignore", invalid="ignore"):  # a flat loss: scale 0, rate inf
            out[idx] = _verdict(r, f, c, lr[idx] / grid_.scale)
    return out


class _Grid:
    """The window's grid as core.analyses.surfaces builds it, with the loss, g and H there."""

    def __init__(self, expression: str, window, grid: int):
        xmin, xmax, ymin, ymax = window
        x, y = np.linspace(xmin, xmax, grid), np.linspace(ymin, ymax, grid)
        yy, xx = np.meshgrid(y, x, indexing="ij")
        self.t = np.stack([xx.ravel(), yy.ravel()])  # (2, P)
        L, gx, gy, *self.hessian = Derivatives.of(expression).arrays(*self.t)
        self.g = np.stack([gx, gy])
        finite = L[np.isfinite(L)]
        self.scale = float(np.ptp(finite)) if finite.size else 1.0
        gnorm = np.hypot(gx, gy).reshape(grid, grid)
        self.anchor = np.unravel_index(np.argmin(gnorm), gnorm.shape)
        self.coarse_anchor = np.unravel_index(np.argmin(gnorm[::2, ::2]), gnorm[::2, ::2].shape)
        self.G, self.dx, self.dy = grid, (xmax - xmin) / (grid - 1), (ymax - ymin) / (grid - 1)

    def times(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H v at every point (v: (2, P, ...))."""
        hessian = [h[(...,) + (None,) * (v.ndim - 2)] for h in self.hessian]
        return kernel.hessian_times(hessian, v[0], v[1])

    def integrate(self, field: np.ndarray):
        """R (anchored as the card anchors it), and the fine and coarse fits on the half
        grid, both anchored at the coarse anchor (core.analyses.surfaces.compute_surfaces)."""
        G = self.G
        f = field.reshape(2, G, G)
        R, _ = integrate_gradient(f[0], f[1], self.dx, self.dy)
        sub = f[:, ::2, ::2]
        coarse, _ = integrate_gradient(sub[0], sub[1], 2 * self.dx, 2 * self.dy)
        fine = R[::2, ::2] - R[::2, ::2][self.coarse_anchor]
        coarse = coarse - coarse[self.coarse_anchor]
        return (R - R[self.anchor]).ravel(), fine.ravel(), coarse.ravel()


def _verdict(R: np.ndarray, fine: np.ndarray, coarse: np.ndarray, rate: np.ndarray):
    """core.analyses.regularizer's verdict of h R, and "mixed" where the sign map is unresolved,
    per row of R (cells, points), h = `rate` x the loss's variation on the window: +1,
    -1, or 0 for mixed and none.  R is finite (its fields' non-finite values are 0)."""
    code, _, _ = effects(R * rate[:, None], 1.0)
    effect = np.where(code == 2, 0, code)
    return np.where(sign_agreement(fine, coarse) >= RESOLVED, effect, 0).astype(np.int8)


def _weight_keys(name: str, hyper: dict) -> set[str]:
    """The swept hyperparameters that change the averages' weights (the others, e.g.
    eps, wd, enter the readout or the decay: they split the groups)."""
    keys = set()
    for k, v in hyper.items():
        if np.ndim(v) == 0:
            continue
        only = {j: (w if j == k or np.ndim(w) == 0 else np.asarray(w)[0]) for j, w in hyper.items()}
        opt = make_optimizer(name, **only)
        weights = [
            np.asarray(p)
            for av in opt.averages
            for p in (av.weights.head, av.weights.tail, av.weights.ratio)
        ]
        if any(p.ndim and np.ptp(p) > 0 for p in weights):
            keys.add(k)
    return keys


def _groups(name, hyper, plan, rows, n, cells, case):
    """Each cell's group and the first cell of each group: cells share a group when the
    readout sees the same at step n (case c: the same settings altogether)."""
    columns = [np.broadcast_to(np.asarray(v, dtype=np.float64), (cells,)) for v in hyper.values()]
    if case != "c":
        weights = _weight_keys(name, hyper)
        columns = [c for k, c in zip(hyper, columns, strict=True) if k not in weights]
        columns += [np.broadcast_to(W[n][r], (cells,)) for W, r in zip(plan.W, rows, strict=True)]
    key = np.stack(columns) if columns else np.zeros((1, cells))
    _, first, group = np.unique(key, axis=1, return_index=True, return_inverse=True)
    return group.reshape(-1), first


def _bases(grid: _Grid, name: str, reps: dict, n: int, case: str, check: Check) -> np.ndarray:
    """The basis fields (groups, nb, 2, P) of M^(n)/P^(n), one group per trajectory of
    optimizer `name` with `reps` (hyperparameters per group), as
    core.engine.dynamics.fields_at_step and core.analyses.surfaces' preconditioner compute them;
    non-finite values as 0."""
    opt = make_optimizer(name, **reps)
    plan, rows = _compact_plan(opt, n + 1)
    g, t = grid.g[..., None], grid.t[..., None]  # (2, P, 1): groups on the last axis
    scales = [W[n][r] for W, r in zip(plan.W, rows, strict=True)]
    decay = np.asarray(opt.decay, dtype=np.float64)
    decay_t = decay * t if np.any(decay != 0) else None
    with np.errstate(all="ignore"):  # a steep loss's g*g overflows: such entries end as 0
        feats = [av.feature(g) for av in opt.averages]
        averages = kernel.memoryless_averages(opt, g, scales)
        fbar = kernel.memoryless_update(opt, g, scales, 0.0 if decay_t is None else decay_t)
        P = preconditioner(opt, g, scales)

        def field(i: int, v: np.ndarray) -> np.ndarray:
            """kernel.correction with H v in place of H D_i and 0 for the others: M is
            linear in the products, so each cell's M is a combination of these."""
            hvps = [np.stack(grid.times(v)) if j == i else None for j in range(plan.p)]
            return kernel.correction(opt, g, averages, hvps)

        if case == "b":  # D_i = m_i(n) Fbar
            fields = [field(i, fbar) for i in range(plan.p)]
        elif case == "a":  # D_i = sum_j C_ij(n) phi_j(g) + m_i(n) decay t
            fields = [field(i, f) for i in range(plan.p) for f in feats]
            if decay_t is not None:
                fields += [field(i, decay_t) for i in range(plan.p)]
        else:
            sums = _coordinate_sums(name, reps, n, grid.g, check)
            if sums is None:  # no function of one coordinate: the sums at every point
                sums = [_stacked(opt, plan, rows, i, n, g, feats, check) for i in range(plan.p)]
            moments = [tb.moment[n][r] for tb, r in zip(plan.tables, rows, strict=True)]
            directions = kernel.directions(case, None, None, moments, None, decay_t, sums)
            hvps = [np.stack(grid.times(D)) for D, _ in directions]
            fields = [kernel.correction(opt, g, averages, hvps)]
        out = np.stack([np.broadcast_to(f, fbar.shape) / P for f in fields])  # (nb, 2, P, groups)
    return np.where(np.isfinite(out), out, 0.0).transpose(3, 0, 1, 2)


def _coordinate_sums(name: str, reps: dict, n: int, g: np.ndarray, check: Check) -> list | None:
    """sum_{b<n} T_i(n, n-b) Fbar^(b) at every point (2, P, groups) for each average i,
    group by group as the card computes it: one function of a coordinate of g
    (core.engine.coordinate, interpolated on a grid); None where a group's plan has none."""
    groups = max([np.size(v) for v in reps.values()] + [1])
    out = None
    for j in each(range(groups), check):
        hyper = {k: (float(np.asarray(v)[j]) if np.ndim(v) else v) for k, v in reps.items()}
        plan = _Recursive(make_optimizer(name, **hyper), n + 1)
        if plan.case == "flat":  # e.g. Lion's eps = 0 cell among eps > 0: M = 0 there
            F = np.zeros((g.size, plan.p))
        elif getattr(plan, "coordinate", None) is None:
            return None
        else:  # (P * 2, p), row-major over (P, 2)
            F = plan.coordinate(n, np.ascontiguousarray(g.T))
        if out is None:
            out = np.empty((F.shape[1], 2, g.shape[1], groups))
        out[..., j] = F.reshape(g.shape[1], 2, -1).transpose(2, 1, 0)
    return list(out)


def _stacked(opt, plan, rows, i, n, g, feats, check: Check) -> np.ndarray:
    """sum_{b<n} T_i(n, n-b) readout(g, W(b) phi(g)) at every point and group (THEORY §7
    c), chunked over b."""
    groups = rows[0].size
    total = np.zeros(g.shape[:2] + (groups,))
    for first, last in each(kernel.blocks(n, g.shape[0] * g.shape[1] * groups), check):
        W = [w[first:last][:, r][:, None, None, :] for w, r in zip(plan.W, rows, strict=True)]
        tails = plan.tables[i].tails(n, first)[: last - first][:, rows[i]][:, None, None, :]
        total += kernel.past_sum(opt, g, feats, W, tails)
    return total


def _coefficients(opt, plan, rows, n, case, cells) -> np.ndarray:
    """Each cell's numbers multiplying the basis fields (cells, nb)."""
    moments = [
        np.broadcast_to(tb.moment[n][r], (cells,)) for tb, r in zip(plan.tables, rows, strict=True)
    ]
    if case == "b":
        return np.stack(moments, -1)
    if case == "a":
        out = [
            np.broadcast_to(plan.C[i][j][n][rows[i]], (cells,))
            for i in range(plan.p)
            for j in range(plan.p)
        ]
        if np.any(np.asarray(opt.decay) != 0):
            out += moments
        return np.stack(out, -1)
    return np.ones((cells, 1))
