"""Phase diagrams: a 2D grid of an optimizer's hyperparameters on one 2D loss.

Every cell is one setting of two hyperparameters (the axes); all cells run the three
dynamics of THEORY §1 together, as ONE batched core.engine.dynamics.simulate call whose rows
carry their own hyperparameters.  Per cell: how far memory moves the run (distances
at the end, change in final loss, gradient norm and sharpness), how well the corrected
run tracks it, and the theory's verdict: each cell's regularizer card (core.analyses.sweep_verdict,
THEORY §5, §13), with the sign of R's coefficient at the start as n -> infinity traced
between the cells (`kappa`).

The sweep is a scenario (SweepScenario): its URL query, e.g.
`opt=adam&x=b1:0.5:0.99:32&y=b2:0.9:0.999:32`, round-trips exactly, and each cell is an
ordinary core.scenarios.scenario.Scenario (`cell`), so a cell opens on /playground.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.analyses import compute, sweep_verdict
from core.analyses.sharpness import sharpness
from core.cancel import Check
from core.engine import fast2d_batch
from core.engine.autodiff import grad_and_hvp
from core.engine.declared import CUSTOM, DECLARATION, WEIGHTS, Declaration
from core.engine.dynamics import (
    DYNAMICS,
    asymptotic_fields,
    sums_history,
)
from core.engine.optimizers import Optimizer
from core.engine.registry import make_optimizer, record, scenario_hyper, swept
from core.models.losses import expression_of
from core.scenarios.limits import (
    MAX_AXIS,
    MAX_SWEEP_STEPS,
    budget,
    largest,
    over_budget,
    sweep_seconds,
)
from core.scenarios.query import (
    Field,
    ScenarioError,
    constant,
    fmt,
    in_range,
    integer,
    number,
    query_dataclass,
)
from core.scenarios.scenario import (
    HYPER_KEYS,
    OPTIMIZER_FIELDS,
    SCENARIO_FIELDS,
    OptimizerQuery,
    Scenario,
    loss_of,
    named,
    user_written,
)

Tensor = torch.Tensor
FINE = 160  # the start's sign boundary (n -> inf) on a FINE x FINE grid (closed form, cheap)
_AXIS = re.compile(r"^([a-z0-9]+):([^:]+):([^:]+):([^:]+)(?::(lin|log))?$")


@dataclass(frozen=True)
class Axis:
    """`n` values of hyperparameter `key` from lo to hi, evenly spaced (or log-spaced)."""

    key: str
    lo: float
    hi: float
    n: int
    log: bool = False

    def __str__(self) -> str:  # the URL form, exact (fmt writes floats with repr)
        return f"{self.key}:{fmt(self.lo)}:{fmt(self.hi)}:{self.n}" + (":log" if self.log else "")

    @property
    def values(self) -> np.ndarray:
        if self.log:
            return np.geomspace(self.lo, self.hi, self.n)
        return np.linspace(self.lo, self.hi, self.n)


def axis(text: str) -> Axis:
    """Parse `key:lo:hi:n[:lin|log]` (the checks needing the optimizer are in _check_axis)."""
    m = _AXIS.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not key:lo:hi:n or key:lo:hi:n:log")
    key, lo, hi, n, scale = m.groups()
    return Axis(key, number(lo), number(hi), integer(n), scale == "log")  # _check_axis: n's range


def sweepable(s: Mapping) -> tuple[str, ...]:
    """The keys an axis may take: lr and the optimizer's own hyperparameters."""
    return ("lr", *record(named(s)).defaults)


_SPEC = {f.key: f for f in OPTIMIZER_FIELDS}


def _check_axis(a: Axis, s: Mapping) -> None:
    keys = sweepable(s)
    if a.key not in keys:
        raise ValueError(f"{a.key!r} is not a hyperparameter of {s['opt']} ({', '.join(keys)})")
    # the ranges of the hyperparameter itself (a declaration's ratios: its record's)
    check = _SPEC["lr"].check if a.key == "lr" else record(named(s)).spec(a.key).check
    if not 2 <= a.n <= MAX_AXIS:
        raise ValueError(f"{a.n} cells on an axis (2 to {MAX_AXIS})")
    if not a.lo < a.hi:
        raise ValueError(f"needs lo < hi, got {fmt(a.lo)} and {fmt(a.hi)}")
    for v in (a.lo, a.hi):
        check(v) if a.key != "lr" else check(v, s)
    if a.log and a.lo <= 0:
        raise ValueError("a log axis needs lo > 0")


def _check_y(a: Axis, s: Mapping) -> None:
    _check_axis(a, s)
    if a.key == s["x"].key:
        raise ValueError(f"both axes sweep {a.key}")
    seconds = sweep_seconds_of(s, a)
    if seconds <= budget():
        return
    most = largest(lambda n: sweep_seconds_of(s | {"steps": n}, a), 1, s["steps"])
    raise ValueError(
        over_budget(
            seconds,
            f"{s['x'].n} x {a.n} cells x {s['steps']} steps",
            "steps, cells or the size of f",
            None if most is None else f"at most {most} steps with these cells and loss",
        )
    )


def sweep_seconds_of(s: Mapping, y: Axis) -> float:
    """The cost model's time of a sweep (core.scenarios.limits.sweep_seconds); its groups are
    counted only when the bound by the cells is over the budget."""
    x, steps = s["x"], s["steps"]
    xx, yy = np.meshgrid(x.values, y.values)
    name = named(s)
    hyper = scenario_hyper(name, s) | {x.key: xx.ravel(), y.key: yy.ravel()}
    hyper.pop("lr", None)
    opt = make_optimizer(name, **hyper)
    history = sums_history(opt)
    grid = _PLANE["grid"].default(s) ** 2
    loss = loss_of(s)
    # kappa's rows: the FINE x FINE settings, stacked once per average and once more
    boundary = FINE * FINE * (len(opt.averages) + 1) if opt.averages else 0

    def seconds(count: bool) -> float:
        case, groups, bases = sweep_verdict.size(name, hyper, steps - 1, count)
        exact = user_written(s)  # the user's loss or readout may defeat case (c)'s interpolant
        return sweep_seconds(
            xx.size, steps, grid, case, groups, bases, history, loss, boundary, exact
        )

    bound = seconds(False)
    return bound if bound <= budget() else seconds(True)


def default_axes(opt: str) -> tuple[Axis, Axis]:
    """The axes a sweep of `opt` opens with: its record's (core.engine.registry.Sweep)."""
    x, y = record(opt).sweep.axes
    return axis(x), axis(y)


def _default_y(s: Mapping) -> Axis:
    first, second = default_axes(named(s))
    return second if second.key != s["x"].key else first


def _with_sweep_opt(f: Field) -> Field:
    if f.key == "opt":
        return replace(f, default=constant("adam"), check=_one_of_swept)
    return f


def _one_of_swept(v: str, _: Mapping) -> None:
    choices = (*swept(), CUSTOM)  # a declared optimizer sweeps lr and its weights' ratios
    if v not in choices:
        raise ValueError(f"{v!r} is not one of {', '.join(choices)}")


_PLANE = {f.key: f for f in SCENARIO_FIELDS}
SWEEP_FIELDS = tuple(_with_sweep_opt(f) for f in OPTIMIZER_FIELDS) + (
    Field("steps", _PLANE["steps"].parse, constant(200), in_range(1, MAX_SWEEP_STEPS)),
    _PLANE["loss"],
    _PLANE["f"],
    _PLANE["x0"],
    _PLANE["y0"],
    Field("x", axis, lambda s: default_axes(named(s))[0], _check_axis),
    Field("y", axis, _default_y, _check_y),
)


@query_dataclass
class SweepScenario(OptimizerQuery):
    """A phase diagram: optimizer (the base hyperparameters), loss, start, steps, and the
    two swept axes, which override the base values of their keys."""

    SPECS = SWEEP_FIELDS

    steps: int
    loss: str
    f: str | None
    x0: float
    y0: float
    x: Axis
    y: Axis

    @property
    def expression(self) -> str:
        return expression_of(self.loss, self.f)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y.n, self.x.n

    def settings(self) -> dict[str, np.ndarray | float]:
        """lr and every hyperparameter: the swept ones as per-cell arrays, flattened
        row-major from the [iy][ix] grid, the others as floats."""
        xx, yy = np.meshgrid(self.x.values, self.y.values)  # (ny, nx): xx[iy, ix] = x[ix]
        base: dict = {"lr": self.lr} | self.hyper
        return base | {self.x.key: xx.ravel(), self.y.key: yy.ravel()}

    def with_optimizer(self, opt: str, **hyper: float):
        """Another optimizer; the axes stay where they still apply, else take its
        default axes."""
        try:
            return super().with_optimizer(opt, **hyper)
        except ScenarioError as err:
            if err.key not in ("x", "y"):
                raise
            return super().with_optimizer(opt, **hyper, x=None, y=None)

    def cell(self, ix: int, iy: int) -> Scenario:
        """The single 2D scenario of cell (ix, iy): opens on /playground."""
        values = {self.x.key: float(self.x.values[ix]), self.y.key: float(self.y.values[iy])}
        base = {k: getattr(self, k) for k in ("opt", *DECLARATION, "lr", *HYPER_KEYS, "steps")}
        if isinstance(self.opt, Declaration):  # a swept ratio is written into its weights
            ratios = {k: values.pop(k) for k in WEIGHTS if k in values}
            base |= self.opt.with_ratios(**ratios)
        place = {k: getattr(self, k) for k in ("loss", "f", "x0", "y0")}
        return Scenario(**(base | values | place | {"win": _window(self)}))


def _window(s: SweepScenario) -> tuple:
    return _PLANE["win"].default({"loss": s.loss})


# --- the computation ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Per-cell arrays of shape (ny, nx), indexed [iy][ix]; NaN where a run needed for
    the value diverged (or where it is 0/0: theory_error without memory).  `diverged[k]`
    is the step where run k left the floats (-1: never)."""

    scenario: SweepScenario
    x: np.ndarray
    y: np.ndarray
    metrics: dict[str, np.ndarray]
    diverged: dict[str, np.ndarray]
    boundary: dict[str, np.ndarray]  # x, y (fine grid) and kappa_min/kappa_max (fy, fx)


METRICS = {
    "gap_memoryless": "|memory − memoryless| at the end",
    "gap_corrected": "|memory − corrected| at the end",
    "theory_error": "max |memory − corrected| / max |memory − memoryless| over the run",
    "final_loss_memory": "final loss, memory run",
    "final_loss_memoryless": "final loss, memoryless run",
    "delta_loss": "final loss: memory − memoryless",
    "grad_norm_memory": "final |∇L|, memory run",
    "delta_grad_norm": "final |∇L|: memory − memoryless",
    "sharpness_memory": "largest Hessian eigenvalue at the end, memory run",
    "sharpness_memoryless": "largest Hessian eigenvalue at the end, memoryless run",
    "delta_sharpness": "sharpness: memory − memoryless",
    "effect": "each cell's regularizer card: R from M^(n) at the last step on the window "
    "(+1 regularizes, −1 anti-, 0 mixed/none)",
}


def kappa(loss, opt: Optimizer, theta: Tensor) -> tuple[Tensor, Tensor]:
    """Per row of theta (R, 2) (one optimizer setting per row): the smallest and the
    largest over coordinates j of M_j / (H Fbar)_j at n -> infinity (THEORY §4-§5).

    With Fbar = P g, grad R = M / P = kappa_j (H Fbar)_j and P > 0, so the sign of kappa
    is the sign of R's coefficient: both > 0 regularizes, both < 0 anti-regularizes.
    Derived from the declaration alone (no optimizer names); coordinates where H Fbar
    vanishes carry no information and are left out (NaN when none is left)."""
    if not opt.averages:  # no memory: M = 0
        zero = torch.zeros(theta.shape[0], dtype=theta.dtype, device=theta.device)
        return zero, zero
    _, _, correction, h_fbar = asymptotic_fields(loss, opt, theta)
    scale = h_fbar.abs().amax(-1, keepdim=True)
    informative = h_fbar.abs() > 1e-9 * scale
    ratio = correction / torch.where(informative, h_fbar, 1.0)
    nan = torch.tensor(math.nan, dtype=theta.dtype, device=theta.device)
    lo = torch.where(informative, ratio, math.inf).amin(-1)
    hi = torch.where(informative, ratio, -math.inf).amax(-1)
    none = ~informative.any(-1)
    return torch.where(none, nan, lo), torch.where(none, nan, hi)


def _kappa_grid(s: SweepScenario, xs: np.ndarray, ys: np.ndarray, loss, dev):
    """kappa's extremes at the start point, for every (x, y) setting: (ny, nx) each."""
    xx, yy = np.meshgrid(xs, ys)
    settings = {"lr": s.lr} | s.hyper | {s.x.key: xx.ravel(), s.y.key: yy.ravel()}
    opt = make_optimizer(s.opt, **settings)
    start = torch.tensor([s.x0, s.y0], dtype=torch.float64, device=dev)
    lo, hi = kappa(loss, opt, start.repeat(xx.size, 1))
    return lo.cpu().numpy().reshape(xx.shape), hi.cpu().numpy().reshape(xx.shape)


@dataclass(frozen=True, eq=False)
class Ends:
    """What the metrics read of the three runs of every cell (rows in [iy][ix] row-major
    order): the end points (B, 2), the farthest the memoryless and corrected runs get
    from the memory run (B,), and the step where each row diverged (-1: never)."""

    finals: dict[str, Tensor]
    farthest: dict[str, np.ndarray]
    diverged: dict[str, np.ndarray]


def run(s: SweepScenario, check: Check = None) -> Ends:
    """The one batched simulate of every cell (core.engine.fast2d_batch), reduced as it runs: no
    path is kept (a 64 x 64 x 2000 sweep's paths take 393 MB)."""
    settings = s.settings()
    lr = settings.pop("lr")
    opt = make_optimizer(s.opt, **settings)
    cells = s.x.n * s.y.n
    start = torch.tensor([s.x0, s.y0], dtype=torch.float64, device=compute.device())
    steps = fast2d_batch.states(s.expression, opt, start.repeat(cells, 1), lr, s.steps, check=check)
    worst = None
    with np.errstate(over="ignore", invalid="ignore"):  # as torch: inf, nan
        for state in steps:
            gap = state[0][:, 1:] - state[0][:, :1]  # memoryless and corrected from memory
            far = gap[0] * gap[0] + gap[1] * gap[1]
            worst = far if worst is None else np.maximum(worst, far, out=worst)
    theta, diverged = state
    finals = torch.as_tensor(theta.transpose(1, 2, 0).copy(), device=start.device)
    return Ends(
        finals={k: finals[j] for j, k in enumerate(DYNAMICS)},
        farthest={k: np.sqrt(worst[j]) for j, k in enumerate(DYNAMICS[1:])},
        diverged={k: diverged[j].copy() for j, k in enumerate(DYNAMICS)},
    )


def compute_sweep(s: SweepScenario, check: Check = None) -> SweepResult:
    """Every cell's three runs and metrics; `check` is called between steps and between
    groups of cells (core.cancel)."""
    loss = compute.loss(s)
    dev = compute.device()
    r = run(s, check)
    shape = s.shape
    grid = lambda t: t.reshape(shape).cpu().numpy()  # noqa: E731
    dead = {k: r.diverged[k] >= 0 for k in DYNAMICS}

    def masked(values: np.ndarray, *runs: str) -> np.ndarray:
        bad = np.zeros(values.size, dtype=bool)
        for k in runs:
            bad |= dead[k]
        return np.where(bad.reshape(shape), np.nan, values)

    finals = r.finals
    ends = torch.cat([finals[k] for k in DYNAMICS])
    B = s.x.n * s.y.n
    with torch.no_grad():
        values = loss(ends)
    g, _ = grad_and_hvp(loss, ends, hessian=False)
    sharp = sharpness(loss, ends)
    per = lambda t, j: grid(t[j * B : (j + 1) * B])  # noqa: E731
    m = {}
    for j, k in enumerate(DYNAMICS):
        m[f"final_loss_{k}"] = masked(per(values, j), k)
        m[f"grad_norm_{k}"] = masked(per(g.norm(dim=-1), j), k)
        m[f"sharpness_{k}"] = masked(per(sharp, j), k)
    for k in ("memoryless", "corrected"):
        m[f"gap_{k}"] = masked(grid((finals[k] - finals["memory"]).norm(dim=-1)), k, "memory")

    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (r.farthest["corrected"] / r.farthest["memoryless"]).reshape(shape)
    m["theory_error"] = masked(ratio, *DYNAMICS)
    for name in ("loss", "grad_norm", "sharpness"):
        key = "final_loss" if name == "loss" else name
        m[f"delta_{name}"] = m[f"{key}_memory"] - m[f"{key}_memoryless"]
    m["effect"] = _card_verdicts(s, check)
    fx, fy = (_fine(a) for a in (s.x, s.y))
    flo, fhi = _kappa_grid(s, fx, fy, loss, dev)
    return SweepResult(
        scenario=s,
        x=s.x.values,
        y=s.y.values,
        metrics=m,
        diverged={k: r.diverged[k].reshape(shape) for k in DYNAMICS},
        boundary={"x": fx, "y": fy, "kappa_min": flo, "kappa_max": fhi},
    )


def _card_verdicts(s: SweepScenario, check: Check = None) -> np.ndarray:
    """The regularizer card's verdict of every cell's /playground scenario, (ny, nx)."""
    settings = s.settings()
    lr = settings.pop("lr")
    like = s.cell(0, 0)  # window, grid and step n are the same for every cell
    n = like.regularizer_step  # the run's last update (cells keep rn=run)
    effect = sweep_verdict.verdicts(
        s.expression, s.opt, settings, lr, like.win, like.grid, n, check
    )
    return effect.reshape(s.shape)


def _fine(a: Axis) -> np.ndarray:
    return replace(a, n=FINE).values
