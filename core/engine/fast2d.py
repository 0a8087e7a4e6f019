"""The three dynamics of a 2D expression loss on Python floats (THEORY §7).

For one trajectory of a 2-vector, torch spends nearly all of a step in per-call
overhead.  Here the loss's gradient and Hessian come from core.models.derivatives (symbolic,
no autograd), the optimizer's readout and its partials from the declaration, and every
average keeps O(1) recursive state: a step is a few dozen float operations, the
formulas of core.engine.kernel on each coordinate.  The torch engine (core.engine.dynamics) runs
whatever this path does not cover (per-trajectory hyperparameters, non-geometric
weights, a CUDA start) or cannot finish on floats (a float exception in the
optimizer's arithmetic, e.g. eps = 0 at a zero gradient).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from core.cancel import Check, checked, each
from core.engine.dynamics import DYNAMICS, Run, _Recursive
from core.engine.dynamics import simulate as torch_simulate
from core.engine.kernel import (
    correction,
    directions,
    hessian_times,
    memory_average,
    memoryless_update,
)
from core.engine.optimizers import Geometric, Optimizer
from core.models.derivatives import Derivatives
from core.models.losses import batched

Tensor = torch.Tensor


def supported(opt: Optimizer) -> bool:
    """Whether the declaration has everything the float path needs."""
    return opt.scalar and all(
        isinstance(av.weights, Geometric) and av.weights.recursive for av in opt.averages
    )


def leaves_the_floats(opt: Optimizer) -> bool:
    """Whether the float readout divides by zero at a zero gradient (eps = 0 in Adam's or
    RMSprop's): such a run may go to the torch engine, ~20x a float step (core.scenarios.limits)."""
    if not supported(opt):
        return True
    try:
        opt.value(0.0, *(0.0 for _ in opt.averages))
    except ArithmeticError:
        return True
    return False


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
    result: rows of theta0 (B, 2) or (2,), `lr` a float or one per row; `check` is
    called before each row's run of each dynamics (core.cancel)."""
    theta0 = torch.atleast_2d(theta0)
    B = theta0.shape[0]

    def on_torch() -> Run:
        loss = checked(batched(expression), check)
        return torch_simulate(loss, opt, theta0, lr, steps, dynamics)

    if theta0.device.type != "cpu" or theta0.shape[1] != 2 or not supported(opt):
        return on_torch()
    rates = np.broadcast_to(np.asarray(lr, dtype=np.float64), (B,))
    derivatives = Derivatives.of(expression)
    plan = _Recursive(opt, steps)
    paths = {k: np.empty((steps + 1, B, 2)) for k in dynamics}
    diverged = {k: np.full(B, -1) for k in dynamics}
    try:
        for row in range(B):
            start = (float(theta0[row, 0]), float(theta0[row, 1]))
            for k in each(dynamics, check):
                step = STEPS[k](derivatives, opt, plan, float(rates[row]))
                path, at = _run(step, start, steps)
                paths[k][:, row] = path
                diverged[k][row] = at
    except (ArithmeticError, ValueError, TypeError):  # the readout left the real floats
        # (0/0, overflow, a complex power): the torch engine gives torch's nan and inf
        return on_torch()
    return Run(
        **{k: torch.from_numpy(paths[k]) if k in paths else None for k in DYNAMICS},
        diverged=diverged,
    )


def _run(step, start: tuple[float, float], steps: int) -> tuple[np.ndarray, int]:
    """Iterate (x, y) <- step(n, x, y); a step that leaves the floats ends the run, which
    then repeats its last finite point (as the torch engine records it)."""
    x, y = start
    points = [start]
    for n in range(steps):
        nx, ny = step(n, x, y)
        if not (math.isfinite(nx) and math.isfinite(ny)):
            points.extend([(x, y)] * (steps - n))
            return np.array(points), n + 1
        x, y = nx, ny
        points.append((x, y))
    return np.array(points), -1


def memory_step(derivatives: Derivatives, opt: Optimizer, plan: _Recursive, h: float):
    """The memory run's step (n, x, y) -> next point, keeping U_i (THEORY §7)."""
    gradient, value, p = derivatives.gradient, opt.readout.value, opt.readout.params
    decay = float(opt.decay)
    averages = [
        (av.feature, float(t.head[0]), float(t.tail[0]), float(t.ratio[0]), t.z[:, 0].tolist())
        for av, t in zip(opt.averages, plan.tables, strict=True)
    ]
    state = [[0.0, 0.0] for _ in averages]

    def step(n: int, x: float, y: float) -> tuple[float, float]:
        gx, gy = gradient(x, y)
        ax, ay = [], []
        for (feature, a, c, r, z), u in zip(averages, state, strict=True):
            A, u[0] = memory_average(feature(gx), u[0], a, c, r, z[n])
            ax.append(A)
            A, u[1] = memory_average(feature(gy), u[1], a, c, r, z[n])
            ay.append(A)
        return x - h * (value(p, gx, *ax) + decay * x), y - h * (value(p, gy, *ay) + decay * y)

    return step


def memoryless_step(derivatives: Derivatives, opt: Optimizer, plan: _Recursive, h: float):
    """theta - h Fbar^(n)(theta): every average replaced by W_i(n) phi_i(g)."""
    gradient = derivatives.gradient
    decay = float(opt.decay)
    W = [w[:, 0].tolist() for w in plan.W]

    def step(n: int, x: float, y: float) -> tuple[float, float]:
        gx, gy = gradient(x, y)
        Wn = [w[n] for w in W]
        ux = memoryless_update(opt, gx, Wn, decay * x)
        return x - h * ux, y - h * memoryless_update(opt, gy, Wn, decay * y)

    return step


def corrected_step(derivatives: Derivatives, opt: Optimizer, plan: _Recursive, h: float):
    """theta - h [Fbar^(n) + h M^(n)] (THEORY §2), the formulas of core.engine.kernel on each
    coordinate, the directions D_i by the case of THEORY §7 that the plan found."""
    hessian = derivatives.hessian
    value, p = opt.readout.value, opt.readout.params
    decay = float(opt.decay)
    feats = [av.feature for av in opt.averages]
    W = [w[:, 0].tolist() for w in plan.W]
    moments = [t.moment[:, 0].tolist() for t in plan.tables]
    case = plan.case
    C = [[c[:, 0].tolist() for c in row] for row in plan.C] if case == "a" else None

    def step(n: int, x: float, y: float) -> tuple[float, float]:
        gx, gy, *H = hessian(x, y)
        fx, fy = [f(gx) for f in feats], [f(gy) for f in feats]
        ax = [w[n] * f for w, f in zip(W, fx, strict=True)]
        ay = [w[n] * f for w, f in zip(W, fy, strict=True)]
        ux = value(p, gx, *ax) + decay * x
        uy = value(p, gy, *ay) + decay * y
        if n > 0 and case != "flat":
            m = [v[n] for v in moments]
            Cn = [[c[n] for c in row] for row in C] if C else None
            past = plan.coordinate.exact(n, (gx, gy)).tolist() if case == "c" else (None, None)
            dx = directions(case, ux, fx, m, Cn, decay * x if decay else None, past[0])
            dy = directions(case, uy, fy, m, Cn, decay * y if decay else None, past[1])
            products = [
                hessian_times(H, vx * f, vy * f) for (vx, f), (vy, _) in zip(dx, dy, strict=True)
            ]
            ux += h * correction(opt, gx, ax, [hv[0] for hv in products])
            uy += h * correction(opt, gy, ay, [hv[1] for hv in products])
        return x - h * ux, y - h * uy

    return step


STEPS = {"memory": memory_step, "memoryless": memoryless_step, "corrected": corrected_step}
