"""The three dynamics of THEORY.md §1-§2 for any declared optimizer.

memory      theta_{n+1} = theta_n - h F^(n)(theta_n, ..., theta_0)
memoryless  theta_{n+1} = theta_n - h Fbar^(n)(theta_n)
corrected   theta_{n+1} = theta_n - h [Fbar^(n)(theta_n) + h M^(n)(theta_n)]

Everything is derived from the declaration (core.engine.optimizers): the memory run from the
weights w_i(n, k), Fbar^(n) from their sums W_i(n), and M^(n) from one forward-mode JVP
of the readout whose input carries a Hessian-vector product (§2).  A loss is a batched
function (R, d) -> (R,) with independent rows, so one autograd call serves every
trajectory and every dynamics of a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.engine import kernel
from core.engine.autodiff import grad_and_hvp
from core.engine.coordinate import CoordinateDirections, applies
from core.engine.optimizers import Geometric, Optimizer, as_column

Tensor = torch.Tensor
DYNAMICS = ("memory", "memoryless", "corrected")


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

    def diverged_at(self, name: str, row: int = 0) -> int | None:
        """The step where trajectory `row` of dynamics `name` left the floats, or None."""
        at = int(self.diverged[name][row])
        return at if at >= 0 else None


class _Schedule:
    """The general path, for any declared weights w_i(n, k): every weight-derived number
    in numpy before stepping, the history of features kept for the memory run, and D_i
    summed over the past (O(n) a step).  The reference the recursive path is tested on.

    W[b, i] = W_i(b) for b < steps.  Fbar^(b) depends on b only through W[b], so equal
    rows are grouped and D_i sums per group.
    """

    def __init__(self, opt: Optimizer, steps: int):
        self.opt = opt
        self.p = len(opt.averages)
        sums = [
            [np.asarray(av.weights(b, np.arange(b + 1))).sum(0) for b in range(steps)]
            for av in opt.averages
        ]
        self.W = np.stack([np.stack(s) for s in sums], axis=1) if self.p else None
        self.hvp_count = self.p
        if self.p:
            flat = self.W.reshape(steps, -1)
            _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
            order = np.argsort(first)  # group ids by first appearance in b
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            self.group = rank[inverse.reshape(-1)]
            self.group_W = self.W[np.sort(first)]

    def start(self, B: int, d: int, like: Tensor, steps: int) -> None:
        self.history = [like.new_empty((steps, B, d)) for _ in range(self.p)]
        self.B = B

    def scales(self, n: int, like: Tensor) -> list:
        return [as_column(self.W[n, i], like) for i in range(self.p)]

    def memory_averages(self, n: int, g: Tensor) -> list[Tensor]:
        out = []
        for i, av in enumerate(self.opt.averages):
            self.history[i][n] = av.feature(g)
            w = np.asarray(av.weights(n, np.arange(n, -1, -1)))  # w_i(n, n - b), b = 0..n
            out.append(torch.einsum("nb,nbd->bd", _per_row(w, self.B, g), self.history[i][: n + 1]))
        return out

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

    def directions(
        self, n: int, t: Tensor, g: Tensor, readout: Tensor | None = None
    ) -> list[tuple[Tensor, Tensor | float]]:
        """D_i = sum_{k=1..n} w_i(n, k) S_k(t), S_k = sum_{b=n-k..n-1} Fbar^(b)(t) (§2),
        with Fbar^(b) evaluated once per group of equal W(b); as (D_i, 1)."""
        B = t.shape[0]
        groups, coef = self.correction_weights(n)
        scales = [_per_row(self.group_W[:groups, i], B, t)[..., None] for i in range(self.p)]
        fbar = kernel.memoryless_update(self.opt, g, scales, self.opt.decay_term(t))
        return [
            (torch.einsum("ub,ubd->bd", _per_row(coef[:, i], B, t), fbar), 1.0)
            for i in range(self.p)
        ]


class _Recursive:
    """THEORY §7: geometric weights, O(1) state per average and no history.

    Memory run: U(0) = 0, U(n+1) = phi(g_n) + r U(n), A(n) = (a phi(g_n) + c U(n)) / z(n).
    Directions D_i(n) = sum_{b<n} T_i(n, n-b) Fbar^(b)(t), by the declared structure:
    (b) every W_i(b) constant: D_i = m_i(n) Fbar (one Hessian-vector product);
    (a) a linear readout: D_i = sum_j C_ij(n) phi_j(g) + m_i(n) decay t, with scalar
        sequences C_ij(n) = sum_b T_i(n, n-b) W_j(b) computed once per run;
    (c) otherwise Fbar^(b)(t) for every b < n as one stacked readout, contracted with the
        closed-form tails (O(n) a step, no autograd).
    A flat readout (exact-sign Lion) has M = 0: no directions at all.
    """

    def __init__(self, opt: Optimizer, steps: int):
        self.opt = opt
        self.p = len(opt.averages)
        self.tables = [av.weights.tables(steps) for av in opt.averages]
        self.W = W = [t.W[:steps] for t in self.tables]
        self.constant = all(av.weights.constant_sum for av in opt.averages)
        if opt.flat or self.p == 0:
            self.case, self.hvp_count = "flat", 0
        elif self.constant:
            self.case, self.hvp_count = "b", 1
        elif opt.linear:
            self.case, self.hvp_count = "a", self.p
            self.C = [[t.contraction(w) for w in W] for t in self.tables]
        else:
            self.case, self.hvp_count = "c", self.p
            # an elementwise readout: D_i as functions of one coordinate (core.engine.coordinate)
            self.coordinate = (
                CoordinateDirections(opt, self.tables) if applies(opt, self.tables) else None
            )

    def start(self, B: int, d: int, like: Tensor, steps: int) -> None:
        self.state = [like.new_zeros((B, d)) for _ in range(self.p)]
        probe = like[:B]  # the memory rows: one block of B
        self.coefficients = [
            tuple(_row(v[None], 0, probe) for v in (t.head, t.tail, t.ratio)) for t in self.tables
        ]

    def scales(self, n: int, like: Tensor) -> list:
        return [_row(w, n, like) for w in self.W]

    def memory_averages(self, n: int, g: Tensor) -> list[Tensor]:
        out = []
        for i, (av, t) in enumerate(zip(self.opt.averages, self.tables, strict=True)):
            a, c, r = self.coefficients[i]
            A, self.state[i] = kernel.memory_average(
                av.feature(g), self.state[i], a, c, r, _row(t.z, n, g)
            )
            out.append(A)
        return out

    def directions(
        self, n: int, t: Tensor, g: Tensor, readout: Tensor | None = None
    ) -> list[tuple[Tensor, Tensor | float]]:
        """D_i as (vector, factor) pairs (core.engine.kernel.directions); `readout` is the
        readout at W(n), when known."""
        opt, case = self.opt, self.case
        moments = [_row(tb.moment, n, t) for tb in self.tables]
        decay = opt.decay_term(t)
        decay = None if isinstance(decay, float) else decay
        fbar = feats = C = past = None
        if case == "b":  # W(n) is W(b) for every b: Fbar^(b) is the readout at W(n)
            if readout is None:
                readout = opt.value(g, *kernel.memoryless_averages(opt, g, self.scales(n, t)))
            fbar = readout if decay is None else readout + decay
        elif case == "a":
            feats = [av.feature(g) for av in opt.averages]
            C = [[_row(c, n, t) for c in row] for row in self.C]
        elif self.coordinate is not None and g.device.type == "cpu":
            F = torch.from_numpy(self.coordinate(n, g.numpy())).to(g.dtype)
            past = [F[:, i].reshape(g.shape) for i in range(self.p)]
        else:
            past = [self._stacked(i, n, g) for i in range(self.p)]
        return kernel.directions(case, fbar, feats, moments, C, decay, past)

    def _stacked(self, i: int, n: int, g: Tensor) -> Tensor:
        """core.engine.kernel.past_sum over b < n, in chunks of b (THEORY §7 c)."""
        B, d = g.shape
        total = torch.zeros_like(g)
        feats = [av.feature(g) for av in self.opt.averages]
        for first, last in kernel.blocks(n, B * d):
            W = [_per_block(w[first:last], B, g) for w in self.W]
            tails = _per_block(self.tables[i].tails(n, first)[: last - first], B, g)
            total = total + kernel.past_sum(self.opt, g, feats, W, tails)
        return total


def _row(table: np.ndarray, n: int, like: Tensor) -> Tensor | float:
    """Row n of a (.., P) table: a float (P = 1) or a column tiled over the rows of like."""
    row = table[n]
    return float(row[0]) if row.shape[0] == 1 else as_column(row, like)


def _per_block(a: np.ndarray, B: int, like: Tensor) -> Tensor:
    """(m, P) numbers as an (m, B, 1) tensor."""
    return _per_row(a if a.shape[1] > 1 else a[:, 0], B, like)[..., None]


def _distinct(directions) -> tuple[list[Tensor], list[int]]:
    """The distinct vectors of (vector, factor) directions, and each direction's index
    among them: directions sharing a vector share its Hessian product."""
    index = {}
    for D, _ in directions:
        index.setdefault(id(D), (len(index), D))
    return [D for _, D in index.values()], [index[id(D)][0] for D, _ in directions]


def _plan(opt: Optimizer, steps: int):
    """The recursive path where every average has geometric weights, else the general."""
    geometric = all(
        isinstance(av.weights, Geometric) and av.weights.recursive for av in opt.averages
    )
    return _Recursive(opt, steps) if geometric else _Schedule(opt, steps)


def _per_row(a: np.ndarray, B: int, like: Tensor) -> Tensor:
    """(n,) or (n, B) numbers as an (n, B) tensor: one column per trajectory."""
    a = np.asarray(a, dtype=np.float64)
    a = np.broadcast_to(a[:, None] if a.ndim == 1 else a, (a.shape[0], B))
    return torch.tensor(a, dtype=like.dtype, device=like.device)


def simulate(
    loss,
    opt: Optimizer,
    theta0: Tensor,
    lr,
    steps: int,
    dynamics=DYNAMICS,
    keep=None,
    observe=None,
) -> Run:
    """Run the chosen dynamics (all three by default) from theta0 (B, d) or (d,).

    `lr` is a float or one step size per trajectory.  The dynamics are stacked as row
    blocks of B and stepped together: one gradient graph, one readout, one update per
    step.  The loss is called exactly once per step (mini-batch losses rely on this).
    Geometric weights run history-free (THEORY §7), any other weights by the general
    path.

    `keep`: the increasing steps whose iterates the Run holds (default every step, 0 to
    `steps`), so that a long run stores what it shows, not every iterate.
    `observe(n, theta, averages)`, if given, sees at every step n the stacked iterates
    (K B, d) and the averages the update reads out (the memory rows: the optimizer's own,
    e.g. Adam's bias-corrected moments).
    """
    theta0 = torch.atleast_2d(theta0)
    B, d = theta0.shape
    K = len(dynamics)
    rows = {k: slice(j * B, (j + 1) * B) for j, k in enumerate(dynamics)}
    h = as_column(lr, theta0.repeat(K, 1))
    plan = _plan(opt, steps)
    plan.start(B, d, theta0, steps)
    kept = np.arange(steps + 1) if keep is None else np.asarray(keep, dtype=np.int64)
    slot = np.full(steps + 1, -1)
    slot[kept] = np.arange(len(kept))
    paths = theta0.new_empty((len(kept), K * B, d))
    theta = theta0.repeat(K, 1)
    if slot[0] >= 0:
        paths[slot[0]] = theta
    alive = torch.ones(K * B, dtype=torch.bool, device=theta0.device)
    diverged = np.full(K * B, -1)
    all_alive = True
    memory, corrected = rows.get("memory"), rows.get("corrected")
    h_corrected = h if isinstance(h, float) else h[corrected]
    # the rows from which on Hessian-vector products are asked: corrected + copies
    first = corrected.start if corrected is not None and corrected.stop == K * B else 0

    for n in range(steps):
        # one graph: the gradients of every row, plus more copies of the corrected rows
        # when the correction needs several Hessian-vector products
        need_hvp = corrected is not None and plan.hvp_count > 0 and n > 0
        copies = [theta[corrected]] * (plan.hvp_count - 1) if need_hvp else []
        stacked = torch.cat([theta, *copies]) if copies else theta
        g_all, hvp = grad_and_hvp(loss, stacked, need_hvp, first)
        g = g_all[: K * B]

        # memoryless and corrected read out W_i(n) phi_i(g); the memory run its averages
        if memory and K == 1:
            averages = plan.memory_averages(n, g)
        else:
            averages = kernel.memoryless_averages(opt, g, plan.scales(n, g))
            if memory:
                for i, a in enumerate(plan.memory_averages(n, g[memory])):
                    averages[i][memory] = a
        if observe is not None:
            observe(n, theta, averages)
        update = opt.value(g, *averages)
        if need_hvp:
            tc, gc = theta[corrected], g[corrected]
            directions = plan.directions(n, tc, gc, update[corrected])
            bases, index = _distinct(directions)
            tangent = torch.zeros_like(g_all)
            tangent[corrected] = bases[0]
            if len(bases) > 1:
                tangent[K * B :] = torch.cat(bases[1:])
            hv = hvp(tangent)
            blocks = [hv[corrected]] + (list(hv[K * B :].split(B)) if len(bases) > 1 else [])
            hvps = [blocks[j] * f for j, (_, f) in zip(index, directions, strict=True)]
            averages_c = [a[corrected] for a in averages]
            update[corrected] += h_corrected * kernel.correction(opt, gc, averages_c, hvps)

        decay = opt.decay_term(theta)
        if isinstance(h, float):
            step = torch.add(
                theta, update if isinstance(decay, float) else update + decay, alpha=-h
            )
        else:
            step = theta - h * (update + decay)
        if not (all_alive and bool(torch.isfinite(step).all())):
            all_alive = False
            step, alive = kernel.stop_diverged(step, theta, alive, diverged, n, -1)
        theta = step
        if slot[n + 1] >= 0:
            paths[slot[n + 1]] = theta
    return Run(
        **{k: paths[:, rows[k]] if k in rows else None for k in DYNAMICS},
        diverged={k: diverged[rows[k]] for k in dynamics},
    )


def limit_moments(weights, n: int = 10**9) -> tuple[np.ndarray, np.ndarray]:
    """W_i(inf) = sum_k w(inf, k) and sum_k k w(inf, k): in closed form for geometric
    weights (THEORY §7), else summed until the tail is below float64 resolution."""
    if isinstance(weights, Geometric) and weights.recursive:
        return tuple(np.asarray(v, dtype=np.float64) for v in weights.limit())
    K = 1024
    while True:
        k = np.arange(K, dtype=np.float64)
        w = np.asarray(weights(n, k))
        kw = w * (k[:, None] if w.ndim > 1 else k)
        tail = np.abs(kw[K // 2 :]).sum(0) + np.abs(w[K // 2 :]).sum(0)
        if np.all(tail <= 1e-16 * (np.abs(kw).sum(0) + np.abs(w).sum(0))) or K >= 1 << 22:
            return w.sum(0), kw.sum(0)
        K *= 2


def step_moments(opt: Optimizer, n: int | None) -> list[tuple[float, float]]:
    """Per average i, (W_i(n), m_i(n)) with D_i(n) = m_i(n) Fbar^(n) (THEORY §2, §9): what
    replaces W = 1 and c = beta/(1-beta) in a closed form of R at step n.

    n None: the limits W_i(inf) and sum_k k w_i(inf, k).  Finite n, with the tails
    T(n, j) = sum_{k>=j} w(n, k): m = sum_{b<n} T(n, n-b) s(b), where s(b) = W(b)/W(n)
    for a linear readout (heavy ball, Nesterov: Fbar^(b) = s(b) Fbar^(n), exact) and
    s = 1 otherwise, i.e. m = sum_k k w(n, k): exact where every W_i is constant (Adam),
    and S_k = k Fbar^(n) where it is not (RMSProp, Lion), exact in the limit."""
    if n is None:
        return [tuple(float(v) for v in limit_moments(av.weights)) for av in opt.averages]
    out = []
    for av in opt.averages:
        w = np.asarray(av.weights(n, np.arange(n + 1)), dtype=np.float64)
        tails = np.cumsum(w[::-1])[::-1]  # tails[j] = T(n, j)
        past = np.arange(n)
        share = _weight_sums(av.weights, n)[:n] / w.sum() if opt.linear and n else np.ones(n)
        out.append((float(w.sum()), float((tails[n - past] * share).sum())))
    return out


def _weight_sums(weights, n: int) -> np.ndarray:
    """W(b) for b = 0..n: the closed-form tables for geometric weights (THEORY §7), else
    the sums."""
    if isinstance(weights, Geometric) and weights.recursive:
        return weights.tables(n).W[:, 0]
    return np.array([np.asarray(weights(b, np.arange(b + 1))).sum() for b in range(n + 1)])


def moments_exact(opt: Optimizer) -> bool:
    """Whether step_moments' m_i(n) is exact at every n: a linear readout, or weight sums
    W_i(b) that do not change with b."""
    return opt.linear or all(getattr(av.weights, "constant_sum", False) for av in opt.averages)


def asymptotic_fields(loss, opt: Optimizer, theta: Tensor) -> tuple[Tensor, ...]:
    """g, Fbar, M and H Fbar for n -> infinity at the points theta (R, d) (THEORY §4,
    derived generically): W_i -> W_i(inf), S_k -> k Fbar, so D_i = (sum_k k w_i(inf, k))
    Fbar and every H D_i is a multiple of the one product H Fbar.  Hyperparameters may
    be one per row."""
    moments = [limit_moments(av.weights) for av in opt.averages]
    g, hvp = grad_and_hvp(loss, theta, hessian=bool(moments))
    scales = [as_column(total, theta) for total, _ in moments]
    averages = kernel.memoryless_averages(opt, g, scales)
    fbar = opt.value(g, *averages) + opt.decay_term(theta)
    if hvp is None:
        zero = torch.zeros_like(fbar)
        return g, fbar, zero, zero
    hf = hvp(fbar)
    hvps = [as_column(first, theta) * hf for _, first in moments]
    return g, fbar, kernel.correction(opt, g, averages, hvps), hf


def fields_at_step(loss, opt: Optimizer, theta: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Fbar^(n) and M^(n) (finite-n, THEORY §1-§2) at the points theta (R, d)."""
    plan = _plan(opt, n + 1)
    R = theta.shape[0]
    count = plan.hvp_count if n > 0 else 0
    g_all, hvp = grad_and_hvp(loss, theta.repeat(max(count, 1), 1), hessian=count > 0)
    g = g_all[:R]
    averages = kernel.memoryless_averages(opt, g, plan.scales(n, theta))
    fbar = opt.value(g, *averages) + opt.decay_term(theta)
    if hvp is None:
        return fbar, torch.zeros_like(fbar)
    directions = plan.directions(n, theta, g)
    bases, index = _distinct(directions)
    hv = hvp(torch.cat(bases)).split(R)
    hvps = [hv[j] * f for j, (_, f) in zip(index, directions, strict=True)]
    return fbar, kernel.correction(opt, g, averages, hvps)


def sums_history(opt: Optimizer) -> float:
    """Whether each step of `opt` sums over every past step (a cost ~ n per step, so a
    run costs ~ steps^2): the general path, or the recursive one whose directions have no
    recursion (THEORY §7 c); as the weight of one past step against a built-in's (the
    optimizer's `work`: its readout is evaluated at each), 0 where it does not.
    core.scenarios.limits' cost model asks this."""
    plan = _plan(opt, 1)
    return opt.work if isinstance(plan, _Schedule) or plan.case == "c" else 0.0
