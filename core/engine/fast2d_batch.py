"""The three dynamics of a 2D expression loss for many trajectories at once, on numpy
arrays (THEORY §7): the batched sibling of core.engine.fast2d, for sweeps.

Every array is laid out (coordinate, dynamics, trajectory) = (2, K, B), so a
hyperparameter given per trajectory (B,) and a row of the weight tables broadcast along
the last axis as they are.  A step is one evaluation of the symbolic gradient and
Hessian (core.models.derivatives) on all 3 B points, the optimizer's readout and partials on
arrays (the declaration's `rows` form), and O(1) recursive state per average: U(n+1) =
phi(g_n) + r U(n), A(n) = (a phi(g_n) + c U(n)) / z(n).  The directions D_i of the
corrected run follow the case of THEORY §7 that core.engine.dynamics._Recursive finds: (b) m_i(n)
Fbar, (a) sum_j C_ij(n) phi_j(g) + m_i(n) decay t, (c) every past Fbar^(b) contracted
with the tails (O(n) a step).  A row that leaves the floats is recorded diverged at that
step and repeats its last finite point, as in the torch engine, which stays the oracle
and runs what this path does not cover (non-geometric weights, a CUDA start, d != 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch

from core.cancel import Check, checked, each
from core.engine import kernel
from core.engine.dynamics import DYNAMICS, Run, _Recursive
from core.engine.dynamics import simulate as torch_simulate
from core.engine.optimizers import Geometric, Optimizer
from core.models.derivatives import Derivatives
from core.models.losses import batched

Tensor = torch.Tensor


def supported(opt: Optimizer) -> bool:
    """Whether the declaration has everything the array path needs."""
    return all(isinstance(av.weights, Geometric) and av.weights.recursive for av in opt.averages)


def simulate(
    expression: str,
    opt: Optimizer,
    theta0: Tensor,
    lr,
    steps: int,
    dynamics=DYNAMICS,
    check: Check = None,
) -> Run:
    """core.engine.dynamics.simulate for the loss `expression`, with the same arguments and
    result: rows of theta0 (B, 2) or (2,), `lr` a float or one per row, hyperparameters
    of `opt` floats or one per row; `check` is called before every step (core.cancel)."""
    theta0 = torch.atleast_2d(theta0)
    if not _on_arrays(opt, theta0):
        loss = checked(batched(expression), check)
        return torch_simulate(loss, opt, theta0, lr, steps, dynamics)
    order = tuple(k for k in DYNAMICS if k in dynamics)
    paths = np.empty((steps + 1, 2, len(order), theta0.shape[0]))
    for n, state in enumerate(states(expression, opt, theta0, lr, steps, dynamics, check)):
        paths[n] = state[0]
    diverged = state[1]
    # each dynamics' paths as a (steps + 1, B, 2) view of the one buffer
    view = torch.from_numpy(paths).permute(0, 2, 3, 1)
    return Run(
        **{k: view[:, order.index(k)] if k in order else None for k in DYNAMICS},
        diverged={k: diverged[j] for j, k in enumerate(order)},
    )


def states(
    expression: str,
    opt: Optimizer,
    theta0: Tensor,
    lr,
    steps: int,
    dynamics=DYNAMICS,
    check: Check = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """simulate's run step by step, for a caller that keeps less than every step: yields
    (theta, diverged) after steps 0, 1, ..., steps, theta (2, K, B) the rows of the K
    dynamics run in DYNAMICS order, diverged (K, B) as Run's so far.  Both are buffers
    that the next steps overwrite: copy what is kept."""
    theta0 = torch.atleast_2d(theta0)
    order = tuple(k for k in DYNAMICS if k in dynamics)  # memory first, corrected last
    if not _on_arrays(opt, theta0):  # the torch engine's run, replayed
        run = simulate(expression, opt, theta0, lr, steps, dynamics, check)
        diverged = np.stack([run.diverged[k] for k in order])
        for n in range(steps + 1):
            yield torch.stack([run[k][n] for k in order]).permute(2, 0, 1).cpu().numpy(), diverged
        return
    B, K = theta0.shape[0], len(order)
    engine = _Engine(Derivatives.of(expression), opt, steps, order, B)
    h = np.asarray(lr, dtype=np.float64)
    theta = np.empty((2, K, B))
    theta[:] = theta0.numpy().T[:, None, :]
    step = np.empty_like(theta)
    alive = np.ones((K, B), dtype=bool)
    diverged = np.full((K, B), -1)
    everyone = True  # no row has diverged yet
    yield theta, diverged
    for n in each(range(steps), check):
        with np.errstate(all="ignore"):  # inf and nan as torch has them, recorded below
            np.subtract(theta, h * engine.update(n, theta, h), out=step)
            # one pass: the sum is finite when every entry is (or overflowed: checked)
            if not (everyone and np.isfinite(step.sum())):
                kept, alive = kernel.stop_diverged(step, theta, alive, diverged, n, 0)
                np.copyto(step, kept)
                everyone = bool(alive.all())
        theta, step = step, theta
        yield theta, diverged


def _on_arrays(opt: Optimizer, theta0: Tensor) -> bool:
    """Whether this path runs it (else the torch engine does)."""
    return theta0.device.type == "cpu" and theta0.shape[1] == 2 and supported(opt)


class _Engine:
    """One step's update (readout + decay, plus h M on the corrected rows) at theta
    (2, K, B), the dynamics in DYNAMICS order; keeps the memory rows' recursive state."""

    def __init__(self, derivatives, opt: Optimizer, steps: int, dynamics, B: int):
        self.d, self.opt = derivatives, opt
        self.plan, self.rows = _compact_plan(opt, steps)
        plan = self.plan
        self.memory = "memory" in dynamics  # then block 0
        self.corrected = len(dynamics) - 1 if "corrected" in dynamics else None  # the last
        self.decay = np.asarray(opt.decay, dtype=np.float64)
        self.has_decay = bool(np.any(self.decay != 0.0))
        self.state = [np.zeros((2, B)) for _ in opt.averages]
        self.geometric = [
            tuple(self.at(i, v) for v in (t.head, t.tail, t.ratio))
            for i, t in enumerate(plan.tables)
        ]

    def at(self, i: int, column: np.ndarray) -> np.ndarray:
        """A row of average i's tables (over its distinct weights), per trajectory (B,)."""
        return column[..., self.rows[i]]

    def _gradient(self, n: int, theta: np.ndarray):
        """g at every row (2, K, B), and the Hessian entries at the corrected rows when
        step n needs them (else None)."""
        c = self.corrected
        g = np.empty_like(theta)
        if c is None or self.plan.hvp_count == 0 or n == 0:
            g[0], g[1] = self.d.on_arrays(theta[0], theta[1], hessian=False)
            return g, None
        if c > 0:
            g[0, :c], g[1, :c] = self.d.on_arrays(theta[0, :c], theta[1, :c], hessian=False)
        g[0, c], g[1, c], *hessian = self.d.on_arrays(theta[0, c], theta[1, c])
        return g, hessian

    def update(self, n: int, theta: np.ndarray, h) -> np.ndarray:
        opt, plan, c = self.opt, self.plan, self.corrected
        g, hessian = self._gradient(n, theta)
        feats = [av.feature(g) for av in opt.averages]
        averages = []
        for i, (a, tail, r) in enumerate(self.geometric):
            A = self.at(i, plan.W[i][n]) * feats[i]
            if self.memory:  # block 0: the memory rows' own average
                A[:, 0], self.state[i] = kernel.memory_average(
                    feats[i][:, 0], self.state[i], a, tail, r, self.at(i, plan.tables[i].z[n])
                )
            averages.append(A)
        update = opt.value(g, *averages)
        if self.has_decay:
            update = update + self.decay * theta
        if hessian is not None:  # the corrected rows: + h M^(n) (THEORY §2)
            t, gc, ac = theta[:, c], g[:, c], [a[:, c] for a in averages]
            moments = [self.at(i, tb.moment[n]) for i, tb in enumerate(plan.tables)]
            C = (
                [[self.at(i, row[n]) for row in Ci] for i, Ci in enumerate(plan.C)]
                if plan.case == "a"
                else None
            )
            past = (
                [self._stacked(i, n, gc, [f[:, c] for f in feats]) for i in range(plan.p)]
                if plan.case == "c"
                else None
            )
            decay = self.decay * t if self.has_decay else None
            directions = kernel.directions(
                plan.case, update[:, c], [f[:, c] for f in feats], moments, C, decay, past
            )
            hvps = [np.stack(kernel.hessian_times(hessian, *(f * D))) for D, f in directions]
            update[:, c] += h * kernel.correction(opt, gc, ac, hvps)
        return update

    def _stacked(self, i: int, n: int, g: np.ndarray, feats) -> np.ndarray:
        """core.engine.kernel.past_sum over b < n (THEORY §7 c), in chunks of b."""
        plan, B = self.plan, g.shape[-1]
        total = np.zeros_like(g)
        for first, last in kernel.blocks(n, 2 * B):
            W = [self.at(j, w[first:last])[:, None, :] for j, w in enumerate(plan.W)]
            tails = self.at(i, plan.tables[i].tails(n, first)[: last - first])[:, None, :]
            total += kernel.past_sum(self.opt, g, feats, W, tails)
        return total


def _compact_plan(opt: Optimizer, steps: int) -> tuple[_Recursive, list[np.ndarray]]:
    """core.engine.dynamics._Recursive over the distinct weight settings only (a 64 x 64 sweep of
    two hyperparameters has 64 per average), and for each average the column of each
    trajectory in its tables: they cost O(steps x distinct), not O(steps x
    trajectories).  A linear readout with several averages contracts the tables of one
    average with the sums of another (case a): their columns are then shared."""
    params = [
        np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in p))
        for p in ((av.weights.head, av.weights.tail, av.weights.ratio) for av in opt.averages)
    ]
    if opt.linear and len(params) > 1:
        joint = np.broadcast_arrays(*(v for p in params for v in p))
        params = [joint[3 * i : 3 * i + 3] for i in range(len(params))]
        keys = [np.stack(joint)] * len(params)
    else:
        keys = [np.stack(p) for p in params]
    averages, rows = [], []
    for av, p, key in zip(opt.averages, params, keys, strict=True):
        _, first, inverse = np.unique(key, axis=1, return_index=True, return_inverse=True)
        head, tail, ratio = (v[first] for v in p)
        averages.append(replace(av, weights=replace(av.weights, head=head, tail=tail, ratio=ratio)))
        rows.append(inverse.reshape(-1))
    return _Recursive(replace(opt, averages=tuple(averages)), steps), rows
