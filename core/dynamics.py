"""The three dynamics of THEORY.md §1-§2 for any declared optimizer.

memory      theta_{n+1} = theta_n - h F^(n)(theta_n, ..., theta_0)
memoryless  theta_{n+1} = theta_n - h Fbar^(n)(theta_n)
corrected   theta_{n+1} = theta_n - h [Fbar^(n)(theta_n) + h M^(n)(theta_n)]

Everything is derived from the declaration (core.optimizers): the memory run from the
weights w_i(n, k), Fbar^(n) from their sums W_i(n), and M^(n) from one forward-mode JVP
of the readout whose input carries a Hessian-vector product (§2).  A loss is a batched
function (R, d) -> (R,) with independent rows, so one autograd call serves every
trajectory and every dynamics of a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.autodiff import grad_and_hvp, jvp
from core.optimizers import Optimizer

Tensor = torch.Tensor
DYNAMICS = ("memory", "memoryless", "corrected")


def readout_and_correction(opt: Optimizer, g: Tensor, averages, hvps):
    """The readout at the averages A_i, and the memory correction of THEORY §2:

    M = d/ds readout(g, A_i + phi_i(g(t + s D_i)) - phi_i(g)) at s = 0, and
    d/ds g(t + s D_i) = H D_i, so g + s H D_i stands in for g(t + s D_i): one JVP.
    `hvps` are the H D_i (rows without memory correction carry zeros).
    """
    feats = [av.feature(g) for av in opt.averages]

    def along(s: Tensor) -> Tensor:
        inputs = [
            a + av.feature(g + s * hv) - f
            for a, f, av, hv in zip(averages, feats, opt.averages, hvps, strict=True)
        ]
        return opt.readout(g, *inputs)

    return jvp(along, torch.zeros((), dtype=g.dtype, device=g.device))


def memoryless_averages(opt: Optimizer, g: Tensor, scales) -> list[Tensor]:
    """Every average with the past iterates replaced by the current one: W_i phi_i(g)."""
    return [w * av.feature(g) for w, av in zip(scales, opt.averages, strict=True)]


def readout_at(opt: Optimizer, g: Tensor, scales) -> Tensor:
    """The memoryless readout: every average replaced by W_i phi_i(g)."""
    return opt.readout(g, *memoryless_averages(opt, g, scales))


def memoryless_and_correction(opt: Optimizer, g: Tensor, scales, hvps):
    """Fbar's readout (the W_i are `scales`) and the memory correction M."""
    return readout_and_correction(opt, g, memoryless_averages(opt, g, scales), hvps)


@dataclass(frozen=True)
class Run:
    """Trajectories of shape (steps + 1, B, d) (None for a dynamics not run); a diverged
    row repeats its last finite point after the step recorded in `diverged` (-1: did
    not diverge)."""

    memory: Tensor | None
    memoryless: Tensor | None
    corrected: Tensor | None
    diverged: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> Tensor:
        return getattr(self, name)


class _Schedule:
    """Every weight-derived number of a run, computed once in numpy before stepping.

    W[b, i] = W_i(b) for b < steps.  Fbar^(b) depends on b only through W[b], so equal
    rows are grouped (bias-corrected Adam has one group) and D_i sums per group.
    """

    def __init__(self, opt: Optimizer, steps: int):
        self.opt = opt
        self.p = len(opt.averages)
        sums = [
            [np.asarray(av.weights(b, np.arange(b + 1))).sum(0) for b in range(steps)]
            for av in opt.averages
        ]
        self.W = np.stack([np.stack(s) for s in sums], axis=1) if self.p else None
        if self.p:
            flat = self.W.reshape(steps, -1)
            _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
            order = np.argsort(first)  # group ids by first appearance in b
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            self.group = rank[inverse.reshape(-1)]
            self.group_W = self.W[np.sort(first)]

    def memory_weights(self, n: int) -> list[np.ndarray]:
        """w_i(n, n - b) for b = 0..n: the weight of the feature stored at step b."""
        return [np.asarray(av.weights(n, np.arange(n, -1, -1))) for av in self.opt.averages]

    def correction_weights(self, n: int) -> tuple[int, np.ndarray]:
        """D_i = sum_u C[u, i] Fbar(group u): C from the tails sum_{k>=j} w_i(n, k)."""
        groups = int(self.group[:n].max()) + 1
        coef = np.zeros((groups,) + self.W.shape[1:])
        for i, av in enumerate(self.opt.averages):
            w = np.asarray(av.weights(n, np.arange(1, n + 1)))
            tails = np.cumsum(w[::-1], axis=0)[::-1]  # tails[j-1] = sum_{k>=j} w(n,k)
            # S_k sums Fbar^(b) for b = n-k..n-1, so Fbar^(b) carries the tail at j = n-b
            np.add.at(coef[:, i], self.group[:n], tails[::-1])
        return groups, coef


def _column(a, like: Tensor) -> Tensor | float:
    """Per-trajectory scalars (B,) as a column tiled over the rows of `like`, which
    stacks blocks of B rows (one per dynamics); a scalar stays a float."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return float(a)
    column = torch.as_tensor(a, dtype=like.dtype, device=like.device)[:, None]
    return column.repeat(like.shape[0] // len(a), 1)


def _per_row(a: np.ndarray, B: int, like: Tensor) -> Tensor:
    """(n,) or (n, B) numbers as an (n, B) tensor: one column per trajectory."""
    a = np.asarray(a, dtype=np.float64)
    a = np.broadcast_to(a[:, None] if a.ndim == 1 else a, (a.shape[0], B))
    return torch.tensor(a, dtype=like.dtype, device=like.device)


def simulate(loss, opt: Optimizer, theta0: Tensor, lr, steps: int, dynamics=DYNAMICS) -> Run:
    """Run the chosen dynamics (all three by default) from theta0 (B, d) or (d,).

    `lr` is a float or one step size per trajectory.  The dynamics are stacked as row
    blocks of B and stepped together: one gradient graph, one readout, one update per
    step.  The loss is called exactly once per step (mini-batch losses rely on this).
    """
    theta0 = torch.atleast_2d(theta0)
    B, d = theta0.shape
    K = len(dynamics)
    rows = {k: slice(j * B, (j + 1) * B) for j, k in enumerate(dynamics)}
    h = _column(lr, theta0.repeat(K, 1))
    sched = _Schedule(opt, steps)
    p = sched.p
    paths = theta0.new_empty((steps + 1, K * B, d))
    paths[0] = theta0.repeat(K, 1)
    alive = torch.ones(K * B, dtype=torch.bool, device=theta0.device)
    diverged = np.full(K * B, -1)
    memory, corrected = rows.get("memory"), rows.get("corrected")
    history = [theta0.new_empty((steps, B, d)) for _ in range(p)] if memory else []

    for n in range(steps):
        theta = paths[n]
        # one graph: the gradients of every row, plus p - 1 more copies of the corrected
        # rows for the Hessian-vector products H D_i of their correction
        need_hvp = corrected is not None and p > 0 and n > 0
        copies = [theta[corrected]] * (p - 1) if need_hvp else []
        g_all, hvp = grad_and_hvp(loss, torch.cat([theta, *copies]), need_hvp)
        g = g_all[: K * B]

        # memoryless and corrected read out W_i(n) phi_i(g); the memory run its averages
        # A_i = sum_k w_i(n, k) phi_i(g_{n-k}) over the stored features
        averages = memoryless_averages(opt, g, [_column(sched.W[n, i], g) for i in range(p)])
        if memory:
            for i, (av, w) in enumerate(zip(opt.averages, sched.memory_weights(n), strict=True)):
                history[i][n] = av.feature(g[memory])
                weights = _per_row(w, B, g)
                averages[i][memory] = torch.einsum("nb,nbd->bd", weights, history[i][: n + 1])
        if need_hvp:
            directions = _directions(opt, sched, n, theta[corrected], g[corrected])
            tangent = torch.zeros_like(g_all)
            tangent[corrected] = directions[0]
            tangent[K * B :] = torch.cat(directions[1:]) if p > 1 else 0.0
            hv = hvp(tangent)
            hvps = [hv[: K * B]]  # H D_1 on the corrected rows, 0 elsewhere
            for i in range(1, p):
                hvps.append(torch.zeros_like(g))
                hvps[i][corrected] = hv[K * B + (i - 1) * B : K * B + i * B]
            readout, correction = readout_and_correction(opt, g, averages, hvps)
            update = readout + h * correction
        else:  # no past iterates yet (M^(0) = 0), or no memory at all
            update = opt.readout(g, *averages)

        step = theta - h * (update + opt.decay_term(theta))
        ok = torch.isfinite(step).all(-1) & alive
        diverged[(alive & ~ok).cpu().numpy()] = n + 1
        alive &= ok
        paths[n + 1] = torch.where(ok[:, None], step, theta)
    return Run(
        **{k: paths[:, rows[k]] if k in rows else None for k in DYNAMICS},
        diverged={k: diverged[rows[k]] for k in dynamics},
    )


def _directions(opt: Optimizer, sched: _Schedule, n: int, t: Tensor, g: Tensor) -> list[Tensor]:
    """D_i = sum_{k=1..n} w_i(n, k) S_k(t), S_k = sum_{b=n-k..n-1} Fbar^(b)(t) (§2),
    with Fbar^(b) evaluated once per group of equal W(b)."""
    B = t.shape[0]
    groups, coef = sched.correction_weights(n)
    scales = [_per_row(sched.group_W[:groups, i], B, t)[..., None] for i in range(sched.p)]
    fbar = readout_at(opt, g, scales) + opt.decay_term(t)  # (groups, B, d)
    return [torch.einsum("ub,ubd->bd", _per_row(coef[:, i], B, t), fbar) for i in range(sched.p)]


def limit_moments(weights, n: int = 10**9) -> tuple[np.ndarray, np.ndarray]:
    """W_i(inf) = sum_k w(inf, k) and sum_k k w(inf, k), summed until the tail is below
    float64 resolution (the weights decay geometrically, THEORY §2)."""
    K = 1024
    while True:
        k = np.arange(K, dtype=np.float64)
        w = np.asarray(weights(n, k))
        kw = w * (k[:, None] if w.ndim > 1 else k)
        tail = np.abs(kw[K // 2 :]).sum(0) + np.abs(w[K // 2 :]).sum(0)
        if np.all(tail <= 1e-16 * (np.abs(kw).sum(0) + np.abs(w).sum(0))) or K >= 1 << 22:
            return w.sum(0), kw.sum(0)
        K *= 2


def asymptotic_fields(loss, opt: Optimizer, theta: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """g, Fbar and M for n -> infinity at the points theta (R, d) (THEORY §4, derived
    generically): W_i -> W_i(inf), S_k -> k Fbar, so D_i = (sum_k k w_i(inf, k)) Fbar."""
    moments = [limit_moments(av.weights) for av in opt.averages]
    R, p = theta.shape[0], len(moments)
    # p stacked copies of theta: one graph gives g and the p products H D_i
    g_all, hvp = grad_and_hvp(loss, theta.repeat(max(p, 1), 1), hessian=p > 0)
    g = g_all[:R]
    scales = [_column(total, theta) for total, _ in moments]
    fbar = readout_at(opt, g, scales) + opt.decay_term(theta)
    if p == 0:
        return g, fbar, torch.zeros_like(fbar)
    hvps = hvp(torch.cat([_column(first, theta) * fbar for _, first in moments])).split(R)
    _, correction = memoryless_and_correction(opt, g, scales, hvps)
    return g, fbar, correction


def fields_at_step(loss, opt: Optimizer, theta: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Fbar^(n) and M^(n) (finite-n, THEORY §1-§2) at the points theta (R, d)."""
    sched = _Schedule(opt, n + 1)
    R, p = theta.shape[0], sched.p
    g_all, hvp = grad_and_hvp(loss, theta.repeat(max(p, 1), 1), hessian=p > 0 and n > 0)
    g = g_all[:R]
    scales = [_column(sched.W[n, i], theta) for i in range(p)]
    fbar = readout_at(opt, g, scales) + opt.decay_term(theta)
    if hvp is None:
        return fbar, torch.zeros_like(fbar)
    hvps = hvp(torch.cat(_directions(opt, sched, n, theta, g))).split(R)
    _, correction = memoryless_and_correction(opt, g, scales, hvps)
    return fbar, correction
