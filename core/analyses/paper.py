"""The paper's three experiments (Cattaneo & Shigida 2025, Appendix J) at this machine's
scale: scikit-learn's handwritten digits and an MLP 64 -> width -> 10 (GELU or tanh,
cross-entropy), where the paper has MNIST or CIFAR-10 and a ResNet (THEORY §15).

1. `distance`: the sup-norm distance of the memory run to the memoryless and to the
   corrected run along the iterations, at several step sizes over one horizon t = n h,
   and the order in h each distance shows.
2. `beta2`: full-batch AdamW with beta2 swept, read where the training loss first
   reaches a threshold: test accuracy, steps to the threshold and memory's h R there,
   over seeds, with Lion (its own learning rate and weight decay) as a reference band.
3. `sharpness`: the preconditioned sharpness lambda_1(P^-1 H) along training (P: Adam's
   diagonal at that step) against the threshold (2 + 2 beta1)/((1 - beta1) h).

Each experiment is a query class (its URL keys; the CLI's `python -m core paper NAME
'QUERY'`), a compute function that reports its progress as a fraction to an optional
callback (which may also stop it by raising), a result of plain arrays, and the
sentences a page says about it, each read from the result.  The runs are the engine's
(core.engine.dynamics.simulate), batched over seeds and betas, on the device
core.analyses.compute picks, cut into fixed jobs of plain arguments (`*_part`) that run
in process or, with a Ray address (RAY_ADDRESS), as Ray tasks: the same jobs, so the same
numbers (core.distribute, as /study's chunks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import numpy as np
import torch

from core.analyses.order import ORDERS, SETTLED, fitted_slope
from core.analyses.sharpness import products, sharpness
from core.analyses.study import Seeds, column_intervals
from core.distribute import run_tasks
from core.engine.dynamics import DYNAMICS, simulate
from core.engine.registry import (
    ASYMPTOTIC_MEMORIES,
    RECORDS,
    longest_memory,
    make_optimizer,
    record,
)
from core.models.datasets import DIGITS, Dataset, make_dataset
from core.models.mlp import MLP
from core.models.training import (
    as_tensors,
    data_accuracy,
    data_loss,
    perturbation,
    torch_device,
    values_and_grads,
)
from core.scenarios import limits
from core.scenarios.limits import (
    MAX_PAPER_LIST,
    MAX_PAPER_POINTS,
    MAX_PAPER_SEEDS,
    MAX_PAPER_STEPS,
    MAX_WIDTH,
)
from core.scenarios.query import (
    Field,
    QueryMixin,
    ScenarioError,
    constant,
    in_range,
    integer,
    names,
    number,
    numbers,
    one_of,
    query_dataclass,
)

# the preconditioned spectra converge more slowly than a plain Hessian's: ARPACK's restarts
# for each solve of the sharpness experiment, and the products that bounds (priced)
RESTARTS = 10
SOLVE_PRODUCTS = products(RESTARTS)

Tensor = torch.Tensor
Progress = Callable[[float], None] | None
EXPERIMENTS = ("distance", "beta2", "sharpness")
# Adam's two placements of eps (THEORY §14), for the experiments that read Adam's moments
ADAM_PLACEMENTS = ("adamw", "adamw_epsin")
TIMES = 100  # distance: the recorded times t_k = k t / TIMES
PAIRS = ("memoryless", "corrected")  # the runs measured against the memory run
F64 = torch.float64


# --- the query classes -----------------------------------------------------------------


def _positive(hi: float):
    return in_range(0.0, hi, lo_open=True)


_BETA = in_range(0.0, 1.0, hi_open=True)


def _beta_list(values: tuple, s) -> None:
    if not 1 <= len(values) <= MAX_PAPER_LIST or len(set(values)) != len(values):
        raise ValueError(f"needs 1 to {MAX_PAPER_LIST} different values")
    for v in values:
        _BETA(v, s)


def data_fields(n: int, width: int) -> tuple[Field, ...]:
    """The digits (n images, test share split) and the MLP 64 -> width -> 10; the
    defaults per experiment, sized to run within limits.PAPER_DEFAULT_S."""
    return (
        Field("n", integer, constant(n), in_range(100, DIGITS)),
        Field("split", number, constant(0.25), in_range(0.1, 0.5)),
        Field("width", integer, constant(width), in_range(2, MAX_WIDTH)),
        Field("act", str, constant("gelu"), one_of(("gelu", "tanh"))),
        Field("seed", integer, constant(0), in_range(0, 999_999_999)),
    )


DATA_KEYS = tuple(f.key for f in data_fields(100, 2))


class PaperData(QueryMixin):
    """The digits and the MLP every experiment trains (annotated once)."""

    n: int
    split: float
    width: int
    act: str
    seed: int

    def data(self) -> Dataset:
        return make_dataset("digits", self.n, 0.0, self.split, self.seed)

    def model(self, data: Dataset) -> MLP:
        return MLP(data.in_dim, self.width, 1, self.act, data.out_dim)


def cost_terms(s) -> tuple[int, int, int]:
    """(hidden units, parameters with every pixel, training points) of the data fields s
    (a mapping): what the cost model needs."""
    d = MLP(64, s["width"], 1, out_dim=10).size
    return s["width"], d, s["n"] - round(s["split"] * s["n"])


def _cost(seconds: float, keys: str) -> None:
    message = limits.over_paper_budget(seconds, "this experiment", keys)
    if message:
        raise ValueError(message)


# distance --------------------------------------------------------------------------


def _check_opts(opts: tuple, s) -> None:
    if not 1 <= len(opts) <= 3 or len(set(opts)) != len(opts):
        raise ValueError("needs 1 to 3 different optimizers")
    for o in opts:
        if o not in RECORDS or not RECORDS[o].betas:
            with_memory = [k for k, r in RECORDS.items() if r.betas]
            raise ValueError(f"{o!r} is not one of {', '.join(with_memory)}")


def _check_steps_sizes(hs: tuple, s) -> None:
    if not 2 <= len(hs) <= MAX_PAPER_LIST or len(set(hs)) != len(hs):
        raise ValueError(f"needs 2 to {MAX_PAPER_LIST} different step sizes")
    for h in hs:
        _positive(0.1)(h, s)


def distance_steps(hs, t: float) -> list[int]:
    """round(t / h) steps for each step size: the same horizon t."""
    return [max(1, round(t / h)) for h in hs]


def distance_seconds(s) -> float:
    """Predicted seconds of experiment 1 (s: its fields, a mapping)."""
    units, d, points = cost_terms(s)
    three = len(s["opt"]) * sum(distance_steps(s["h"], s["t"]))
    return limits.paper_seconds(units, d, points, three)


def _check_horizon(t: float, s) -> None:
    _positive(100.0)(t, s)
    steps = distance_steps(s["h"], t)
    if max(steps) > MAX_PAPER_STEPS:
        raise ValueError(f"t/h = {max(steps)} steps at the smallest h (max {MAX_PAPER_STEPS})")
    _cost(distance_seconds(s | {"t": t}), "t, the smallest h, n or width")


# The default is inside the theorem (THEORY §15): memory 1/(1 - 0.9) = 10 steps, 20 of
# them at the largest h, and eps = 0.1 inside the root (the update bends on gradients of
# size sqrt(0.1) ~ 0.3).  PRESETS holds the paper's settings, outside it at this scale.
DISTANCE_FIELDS = data_fields(300, 16) + (
    Field("opt", names, constant(("adamw_epsin", "lion")), _check_opts),
    Field("b1", number, constant(0.5), _BETA),
    Field("b2", number, constant(0.9), _BETA),
    Field("eps", number, constant(0.1), _positive(1.0)),
    Field("wd", number, constant(0.01), in_range(0.0, 1.0)),
    Field("h", numbers, constant((0.01, 0.005, 0.0025)), _check_steps_sizes),
    Field("t", number, constant(2.0), _check_horizon),
)


@query_dataclass
class DistanceScenario(PaperData):
    """Experiment 1: optimizers (sharing b1, b2, eps, wd), step sizes, horizon."""

    SPECS = DISTANCE_FIELDS

    opt: tuple[str, ...]
    b1: float
    b2: float
    eps: float
    wd: float
    h: tuple[float, ...]
    t: float

    def hyper(self, opt: str) -> dict[str, float]:
        return {k: getattr(self, k) for k in RECORDS[opt].defaults}


# beta2 -----------------------------------------------------------------------------


def beta2_seconds(s) -> float:
    """Predicted seconds of experiment 2 if no run stops early (s: a mapping)."""
    units, d, points = cost_terms(s)
    rows = s["seeds"] * (len(s["b2"]) + 1)  # AdamW per beta2, and Lion
    return limits.paper_seconds(units, d, points, 0, rows * s["steps"])


def _check_budget(steps: int, s) -> None:
    in_range(1, MAX_PAPER_STEPS)(steps, s)
    _cost(beta2_seconds(s | {"steps": steps}), "steps, seeds, b2, n or width")


BETA2_FIELDS = data_fields(DIGITS, 32) + (
    Field("opt", str, constant("adamw"), one_of(ADAM_PLACEMENTS)),
    Field("b2", numbers, constant((0.9, 0.95, 0.99, 0.999)), _beta_list),
    Field("b1", number, constant(0.9), _BETA),
    Field("eps", number, constant(1e-8), _positive(1.0)),
    Field("lr", number, constant(0.003), _positive(1.0)),
    Field("wd", number, constant(0.01), in_range(0.0, 10.0)),
    Field("lion_lr", number, constant(0.001), _positive(1.0)),
    Field("lion_wd", number, constant(0.1), in_range(0.0, 10.0)),
    Field("until", number, constant(0.05), _positive(10.0)),
    Field("seeds", integer, constant(8), in_range(2, MAX_PAPER_SEEDS)),
    Field("steps", integer, constant(450), _check_budget),
)


@query_dataclass
class Beta2Scenario(PaperData, Seeds):
    """Experiment 2: AdamW (eps placement `opt`) over b2 and seeds, Lion beside it, read
    at the first step with training loss <= until (at most `steps` steps)."""

    SPECS = BETA2_FIELDS

    opt: str
    b2: tuple[float, ...]
    b1: float
    eps: float
    lr: float
    wd: float
    lion_lr: float
    lion_wd: float
    until: float
    seeds: int
    steps: int

    def hyper(self, b2: float) -> dict[str, float]:
        return {"b1": self.b1, "b2": b2, "eps": self.eps, "wd": self.wd}

    @property
    def lion_hyper(self) -> dict[str, float]:
        """Lion at its defaults (THEORY §3: the exact sign) with its own weight decay."""
        return RECORDS["lion"].defaults | {"wd": self.lion_wd}


# sharpness ---------------------------------------------------------------------------


def sharpness_seconds(s) -> float:
    """Predicted seconds of experiment 3 (s: a mapping)."""
    units, d, points = cost_terms(s)
    rows = len(s["b1"])
    solves = rows * s["points"]
    return limits.paper_seconds(units, d, points, 0, rows * s["steps"], solves, SOLVE_PRODUCTS)


def _check_run(steps: int, s) -> None:
    in_range(2, MAX_PAPER_STEPS)(steps, s)
    _cost(sharpness_seconds(s | {"steps": steps}), "steps, points, b1, n or width")


SHARPNESS_FIELDS = data_fields(600, 32) + (
    Field("opt", str, constant("adamw"), one_of(ADAM_PLACEMENTS)),
    Field("b1", numbers, constant((0.9, 0.99)), _beta_list),
    Field("b2", number, constant(0.999), _BETA),
    Field("eps", number, constant(1e-8), _positive(1.0)),
    Field("wd", number, constant(0.0), in_range(0.0, 10.0)),
    Field("h", number, constant(0.01), _positive(1.0)),
    Field("points", integer, constant(16), in_range(2, MAX_PAPER_POINTS)),
    Field("steps", integer, constant(800), _check_run),
)


@query_dataclass
class SharpnessScenario(PaperData):
    """Experiment 3: Adam(W) (eps placement `opt`) over b1, lambda_1(P^-1 H) at `points`
    steps of a run of `steps`."""

    SPECS = SHARPNESS_FIELDS

    opt: str
    b1: tuple[float, ...]
    b2: float
    eps: float
    wd: float
    h: float
    points: int
    steps: int

    @property
    def checkpoints(self) -> np.ndarray:
        """The steps where the sharpness is measured: evenly spaced up to steps - 1, from
        steps/points on (not step 0, where Adam's v is the first gradient squared and P
        its size: a sign step, not the training's)."""
        first = max(1, round(self.steps / self.points))
        return np.unique(np.round(np.linspace(first, self.steps - 1, self.points)).astype(int))


# Views beside each default: the paper's own settings, outside the theorem at this scale
# (the page says why in its warnings).
PRESETS = {
    "distance": {
        "The paper's settings: β₁ = 0.9, β₂ = 0.999, ε = 1e-6, h = 3e-4 and 1e-4": (
            "opt=adamw_epsin,lion&b1=0.9&b2=0.999&eps=1e-6&h=0.0003,0.0001&t=0.03"
        ),
    },
    "beta2": {},
    "sharpness": {},
}

SECONDS = {"distance": distance_seconds, "beta2": beta2_seconds, "sharpness": sharpness_seconds}
SCENARIOS = {"distance": DistanceScenario, "beta2": Beta2Scenario, "sharpness": SharpnessScenario}


def threshold(b1, h: float) -> np.ndarray:
    """The stability threshold of Adam's preconditioned sharpness (Cohen et al. 2022):
    (2 + 2 beta1)/((1 - beta1) h)."""
    b1 = np.asarray(b1, dtype=np.float64)
    return (2.0 + 2.0 * b1) / ((1.0 - b1) * h)


# --- shared pieces ---------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """The data, the network and its losses on a device."""

    data: Dataset
    mlp: MLP
    train: Callable
    test: Callable
    accuracy: Callable
    device: torch.device


def setup(s: PaperData, device=None) -> Setup:
    dev = torch_device(device)
    data = s.data()
    mlp = s.model(data)
    train = as_tensors(data.x_train, data.y_train, dev)
    test = as_tensors(data.x_test, data.y_test, dev)
    return Setup(
        data,
        mlp,
        data_loss(mlp, data.task, *train),
        data_loss(mlp, data.task, *test),
        data_accuracy(mlp, data.task, *test),
        dev,
    )


def _parsed(experiment: str, query: str):
    """A job's scenario: its cost was admitted where the experiment was parsed."""
    with limits.allowance(math.inf):
        return SCENARIOS[experiment].parse(query)


def _device(device) -> str:
    """The device a job runs on, as plain text (a Ray task's argument)."""
    return str(torch_device(device))


def dataset_summary(data: Dataset) -> dict:
    return {
        "name": data.name,
        "n_train": len(data.y_train),
        "n_test": len(data.y_test),
        "features": data.in_dim,
        "classes": data.classes,
    }


class _Ticks:
    """Progress over `total` units of work, reported as a fraction."""

    def __init__(self, total: float, progress: Progress):
        self.total, self.done, self.progress = max(total, 1.0), 0.0, progress

    def add(self, units: float = 1.0) -> None:
        self.done += units
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.total))


# --- 1. distance -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DistanceResult:
    """Per optimizer: (len(h), TIMES + 1) sup-norm distances at the times t, their
    largest value over every step of the horizon (len(h),), the fitted order in h."""

    scenario: DistanceScenario
    dataset: dict
    t: np.ndarray  # (TIMES + 1,) the recorded times
    memoryless: dict[str, np.ndarray]
    corrected: dict[str, np.ndarray]
    largest: dict[str, dict[str, np.ndarray]]  # dynamics -> opt -> (len(h),)
    order: dict[str, dict[str, float]]  # dynamics -> opt -> slope of log largest vs log h
    gradient: dict[str, float]  # opt -> median |g_j| along the memory run (probed)
    diverged: dict[str, list[dict]]  # opt -> per h: dynamics -> step or None
    warnings: list[str]


def _distance_run(s: DistanceScenario, net: Setup, opt: str, h: float, ticks: _Ticks) -> dict:
    """One run of the three dynamics at step size h to the horizon: the sup-norm distances
    at every step (observed, nothing stored but the gradient checkpoints)."""
    steps = distance_steps((h,), s.t)[0]
    # on the run's device, read once at the end (no synchronization per step on a GPU)
    far = {k: torch.zeros(steps + 1, dtype=F64, device=net.device) for k in PAIRS}

    def observe(n: int, theta: Tensor, averages) -> None:
        for j, k in enumerate(PAIRS, start=1):
            far[k][n] = (theta[j] - theta[0]).abs().max()
        ticks.add()

    probes = np.unique(np.linspace(0, steps, 11).astype(int))
    theta0 = net.mlp.init(s.seed, device=net.device)
    optimizer = make_optimizer(opt, **s.hyper(opt))
    run = simulate(net.train, optimizer, theta0, h, steps, keep=probes, observe=observe)
    last = {k: run[k][-1, 0] for k in DYNAMICS}
    for k in PAIRS:
        far[k][steps] = (last[k] - last["memory"]).abs().max()
    far = {k: v.cpu().numpy() for k, v in far.items()}
    _, g = values_and_grads(net.train, net.mlp, len(net.data.y_train), run.memory[:, 0])
    at = np.minimum(np.round(np.linspace(0.0, s.t, TIMES + 1) / h).astype(int), steps)
    return {
        "steps": steps,
        "at": {k: v[at] for k, v in far.items()},
        "largest": {k: float(np.nanmax(v)) for k, v in far.items()},
        "gradient": float(g.abs().median()),
        "diverged": {k: run.diverged_at(k) for k in DYNAMICS},
    }


def distance_part(query: str, opt: str, h: float, device: str, progress: Progress = None) -> dict:
    """A job of experiment 1 (in process or a Ray task): the three dynamics of `opt` at
    step size h (`_distance_run`)."""
    s = _parsed("distance", query)
    ticks = _Ticks(distance_steps((h,), s.t)[0], progress)
    return _distance_run(s, setup(s, device), opt, h, ticks)


def distance(
    s: DistanceScenario, device=None, progress: Progress = None, address: str | None = None
) -> DistanceResult:
    """Experiment 1: one run of the three dynamics per optimizer and step size (a job
    each, on Ray at `address`)."""
    jobs = [(s.to_query(), opt, h, _device(device)) for opt in s.opt for h in s.h]
    steps = distance_steps(s.h, s.t) * len(s.opt)
    done = iter(run_tasks(distance_part, jobs, address, progress=progress, weights=steps))
    runs = {opt: [next(done) for _ in s.h] for opt in s.opt}
    largest = {k: {o: np.array([r["largest"][k] for r in runs[o]]) for o in s.opt} for k in PAIRS}
    order = {k: {o: fitted_slope(s.h, largest[k][o]) for o in s.opt} for k in PAIRS}
    gradient = {o: float(np.median([r["gradient"] for r in runs[o]])) for o in s.opt}
    result = DistanceResult(
        scenario=s,
        dataset=dataset_summary(s.data()),
        t=np.linspace(0.0, s.t, TIMES + 1),
        memoryless={o: np.stack([r["at"]["memoryless"] for r in runs[o]]) for o in s.opt},
        corrected={o: np.stack([r["at"]["corrected"] for r in runs[o]]) for o in s.opt},
        largest=largest,
        order=order,
        gradient=gradient,
        diverged={o: [r["diverged"] for r in runs[o]] for o in s.opt},
        warnings=[],
    )
    return DistanceResult(**(vars(result) | {"warnings": distance_warnings(result)}))


def off_order(result: DistanceResult, opt: str) -> list[str]:
    """The dynamics whose fitted order is not the theorem's (2 corrected, 1 memoryless)
    within SETTLED (THEORY §12)."""
    return [
        k
        for k, want in ORDERS.items()
        if not (abs(result.order[k][opt] - want) <= SETTLED)  # NaN: not shown either
    ]


def distance_warnings(result: DistanceResult) -> list[str]:
    """Per optimizer whose slopes are not 2 and 1: why, read from the run (THEORY §11):
    the memory length against the steps run, eps against the gradients; and divergence."""
    s, out = result.scenario, []
    few = min(distance_steps(s.h, s.t))
    for opt in s.opt:
        label, hyper = record(opt).label, s.hyper(opt)
        for i, h in enumerate(s.h):
            for k, at in result.diverged[opt][i].items():
                if at is not None:
                    out.append(f"{label}, h = {h:g}: the {k} run diverged at step {at}")
        off = off_order(result, opt)
        if not off:
            continue
        shown = ", ".join(f"{k} {result.order[k][opt]:.2f}" for k in ORDERS)
        reasons = []
        beta, memory = longest_memory(opt, hyper)
        if few < ASYMPTOTIC_MEMORIES * memory:
            reasons.append(
                f"the run at the largest h has {few} steps, {few / memory:.3g} memory "
                f"lengths 1/(1−β) = {memory:.4g} of β = {beta:g} (the orders show from about "
                f"{ASYMPTOTIC_MEMORIES}, THEORY §12)"
            )
        scale = record(opt).bend(hyper)
        if scale > 0:
            reasons.append(
                f"ε against the gradients: the update bends on gradient coordinates of size "
                f"{scale:.2g} and the median one along the memory run is "
                f"{result.gradient[opt]:.2g}; the O(h²) constant grows like 1/{scale:.2g} "
                "(THEORY §11)"
            )
        if not reasons:
            reasons.append("h is not yet small enough for the limit h → 0 (THEORY §12)")
        out.append(
            f"{label}: order in h {shown}, not the theorem's 2 and 1 — " + "; ".join(reasons)
        )
    return out


def distance_caption(result: DistanceResult) -> str:
    """What the figure shows, every number read from the result."""
    s = result.scenario
    parts = []
    for opt in s.opt:
        label = record(opt).label
        c, m = result.largest["corrected"][opt], result.largest["memoryless"][opt]
        closer = int(np.sum(c < m))
        verdict = (
            "matches the theorem's orders 2 and 1"
            if not off_order(result, opt)
            else "does not show the theorem's orders 2 and 1 (see the warnings)"
        )
        parts.append(
            f"{label}: the largest distance over the horizon is "
            + ", ".join(
                f"{ci:.3g} corrected / {mi:.3g} memoryless at h = {h:g}"
                for h, ci, mi in zip(s.h, c, m, strict=True)
            )
            + f"; the corrected run is the closer at {closer} of {len(s.h)} step sizes; "
            f"order in h {result.order['corrected'][opt]:.2f} (corrected) and "
            f"{result.order['memoryless'][opt]:.2f} (memoryless), which {verdict}"
        )
    return ". ".join(parts) + "."


# --- 2. beta2 --------------------------------------------------------------------------


class _Reached(Exception):
    """Every row's training loss has reached the threshold: the run can stop."""


class _Threshold:
    """The training loss as simulate calls it (once per step, on the memory rows: the
    call of step n sees theta_n), recording for each row the first step whose loss is
    <= until and the parameters there; stops the run once every row has one."""

    def __init__(self, loss, until: float, rows: int, ticks: _Ticks):
        self.loss, self.until, self.ticks = loss, until, ticks
        self.step = np.full(rows, -1)
        self.theta: list[Tensor | None] = [None] * rows
        self.calls = 0

    def __call__(self, theta: Tensor) -> Tensor:
        value = self.loss(theta)
        self.record(self.calls, theta, value)
        self.calls += 1
        self.ticks.add(len(self.step))
        return value

    def record(self, n: int, theta: Tensor, value: Tensor) -> None:
        new = ((value.detach() <= self.until).cpu().numpy()) & (self.step < 0)
        for r in np.flatnonzero(new):
            self.step[r], self.theta[r] = n, theta[r].detach().clone()
        if np.all(self.step >= 0):
            raise _Reached


def _to_threshold(s: Beta2Scenario, net: Setup, name: str, hyper, lr, theta0, ticks) -> dict:
    """Train rows theta0 (memory run only) until each reaches the threshold (at most
    s.steps steps); per row: the step (-1: never), the test accuracy and h R there."""
    rows = theta0.shape[0]
    tracker = _Threshold(net.train, s.until, rows, ticks)
    optimizer = make_optimizer(name, **hyper)
    try:
        run = simulate(tracker, optimizer, theta0, lr, s.steps, ("memory",), keep=[s.steps])
        final = run.memory[-1]
        with torch.no_grad():  # the last point is not a step: its loss is read here
            tracker.record(s.steps, final, net.train(final))
    except _Reached:
        pass
    reached = np.flatnonzero(tracker.step >= 0)
    accuracy, hR = np.full(rows, np.nan), np.full(rows, np.nan)
    if reached.size:
        theta = torch.stack([tracker.theta[r] for r in reached])
        accuracy[reached] = net.accuracy(theta).cpu().numpy()
        L, g = values_and_grads(net.train, net.mlp, len(net.data.y_train), theta)
        lrs = np.broadcast_to(np.asarray(lr, dtype=np.float64), (rows,))
        for j, r in enumerate(reached):  # R with that row's hyperparameters (THEORY §5)
            row_hyper = {k: float(np.broadcast_to(v, (rows,))[r]) for k, v in hyper.items()}
            n = int(tracker.step[r])  # R from M^(n) at the step it reached the threshold
            R = perturbation(name, row_hyper, L[j : j + 1], g[j : j + 1], theta[j : j + 1], n)
            hR[r] = lrs[r] * float(R[0])
    return {"step": tracker.step.astype(float), "accuracy": accuracy, "hR": hR}


@dataclass(frozen=True, eq=False)
class Beta2Result:
    """Per beta2 (rows) and seed (columns): the first step with training loss <= until
    (NaN: never within the budget), the test accuracy and h R there; Lion per seed."""

    scenario: Beta2Scenario
    dataset: dict
    steps: np.ndarray  # (len(b2), seeds)
    accuracy: np.ndarray
    hR: np.ndarray
    lion_steps: np.ndarray  # (seeds,)
    lion_accuracy: np.ndarray
    warnings: list[str]

    def stats(self) -> dict:
        """Means and 95% intervals (core.analyses.study.intervals, as /study's: BCa bootstrap,
        inside the values' range) per beta2 (test accuracy, steps, h R) and for Lion."""
        blocks = {
            "test_accuracy": self.accuracy,
            "steps_to_threshold": self.steps,
            "hR": self.hR,
            "lion": self.lion_accuracy[None],
            "lion_steps": self.lion_steps[None],
        }
        # (seeds, columns): every interval in one call
        got = iter(column_intervals(np.concatenate(list(blocks.values())).T))
        out = {k: [next(got) for _ in v] for k, v in blocks.items()}
        return out | {k: out[k][0] for k in ("lion", "lion_steps")}


def beta2_part(
    query: str, part: str, seeds: tuple[int, ...], device: str, progress: Progress = None
) -> dict:
    """A job of experiment 2 (in process or a Ray task): one engine call from the seeds'
    initializations, `part` "swept": AdamW (the scenario's placement of eps) over every
    (seed, beta2) row, seed-major, with per-row beta2; "reference": Lion at its defaults
    over the seeds."""
    s = _parsed("beta2", query)
    net = setup(s, device)
    theta = torch.stack([net.mlp.init(k, device=net.device) for k in seeds])
    if part == "reference":
        ticks = _Ticks(len(seeds) * s.steps, progress)
        return _to_threshold(s, net, "lion", s.lion_hyper, s.lion_lr, theta, ticks)
    B = len(s.b2)
    b2 = np.tile(np.asarray(s.b2, dtype=np.float64), len(seeds))
    ticks = _Ticks(len(seeds) * B * s.steps, progress)
    return _to_threshold(s, net, s.opt, s.hyper(b2), s.lr, theta.repeat_interleave(B, 0), ticks)


def beta2(
    s: Beta2Scenario, device=None, progress: Progress = None, address: str | None = None
) -> Beta2Result:
    """Experiment 2: per chunk of seeds (core.analyses.study.CHUNK) one engine call for AdamW over
    every (seed, beta2) row and one for Lion (a job each, on Ray at `address`)."""
    seeds, B, chunks = s.seed_list, len(s.b2), s.chunks()
    parts = ("swept", "reference")
    jobs = [(s.to_query(), p, c, _device(device)) for p in parts for c in chunks]
    weights = [len(c) * s.steps * (B if p == "swept" else 1) for _, p, c, _ in jobs]
    done = run_tasks(beta2_part, jobs, address, progress=progress, weights=weights)
    adam, lion = (
        {k: np.concatenate([p[k] for p in half]) for k in done[0]}
        for half in (done[: len(chunks)], done[len(chunks) :])
    )

    def per_beta(v: np.ndarray) -> np.ndarray:
        return v.reshape(len(seeds), B).T.copy()

    steps = np.where(adam["step"] >= 0, adam["step"], np.nan)
    result = Beta2Result(
        scenario=s,
        dataset=dataset_summary(s.data()),
        steps=per_beta(steps),
        accuracy=per_beta(adam["accuracy"]),
        hR=per_beta(adam["hR"]),
        lion_steps=np.where(lion["step"] >= 0, lion["step"], np.nan),
        lion_accuracy=lion["accuracy"],
        warnings=[],
    )
    return Beta2Result(**(vars(result) | {"warnings": beta2_warnings(result)}))


def beta2_warnings(result: Beta2Result) -> list[str]:
    """Runs that never reached the threshold are left out of the means: how many; and
    the betas whose memory is longer than the run to the threshold (THEORY §1)."""
    s, out = result.scenario, []
    for b, st in zip(s.b2, result.stats()["steps_to_threshold"], strict=True):
        memory = 1.0 / (1.0 - b)
        if st["mean"] is not None and memory > st["mean"]:
            out.append(
                f"β₂ = {b:g}: its memory 1/(1−β₂) = {memory:.4g} steps is longer than the "
                f"{st['mean']:.3g} steps to the threshold: the bias-corrected average is "
                "still close to a plain mean of every gradient so far, and h·R, from the "
                "n → ∞ correction, overstates memory's effect there (THEORY §1)"
            )
    for b, row in zip(s.b2, result.steps, strict=True):
        missed = int(np.sum(~np.isfinite(row)))
        if missed:
            out.append(
                f"β₂ = {b:g}: {missed} of {s.seeds} runs did not reach the training loss "
                f"{s.until:g} within {s.steps} steps; they are left out"
            )
    missed = int(np.sum(~np.isfinite(result.lion_steps)))
    if missed:
        out.append(
            f"Lion: {missed} of {s.seeds} runs did not reach the training loss {s.until:g} "
            f"within {s.steps} steps; they are left out"
        )
    return out


def _trend(means: list[float | None]) -> str:
    """'falls', 'rises' or 'is not monotone' along the list (None: unknown)."""
    v = [m for m in means if m is not None]
    if len(v) < 2 or len(v) < len(means):
        return "is not measured at every β₂"
    d = np.diff(v)
    if np.all(d < 0):
        return "falls"
    if np.all(d > 0):
        return "rises"
    return "is not monotone"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def beta2_caption(result: Beta2Result) -> str:
    s, st = result.scenario, result.stats()
    acc, steps, hR = st["test_accuracy"], st["steps_to_threshold"], st["hR"]
    first, last = acc[0], acc[-1]
    text = (
        f"Read at the first step with training loss ≤ {s.until:g}: as β₂ grows from "
        f"{s.b2[0]:g} to {s.b2[-1]:g} the mean test accuracy {_trend([a['mean'] for a in acc])} "
        f"({_pct(first['mean'])} to {_pct(last['mean'])}) and the mean steps to the "
        f"threshold {_trend([a['mean'] for a in steps])}"
    )
    lion = st["lion"]
    if lion["mean"] is not None:
        text += (
            f". Lion (h = {s.lion_lr:g}, λ = {s.lion_wd:g}) reaches {_pct(lion['mean'])} "
            f"[{_pct(lion['lo'])}, {_pct(lion['hi'])}]"
        )
    signs = [m["mean"] for m in hR]
    if all(v is not None for v in signs):
        negative = sum(v < 0 for v in signs)
        text += (
            f". Memory's h·R there is negative (anti-regularizing, THEORY §5) at {negative} "
            f"of {len(signs)} values of β₂"
        )
    return text + f". Means over {s.seeds} seeds with 95% bootstrap intervals."


# --- 3. sharpness ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SharpnessResult:
    """lambda_1(P^-1 H) per beta1 (rows) at the checkpoints (columns), the thresholds."""

    scenario: SharpnessScenario
    dataset: dict
    step: np.ndarray  # (points,)
    sharpness: np.ndarray  # (len(b1), points); NaN where a solve did not converge
    threshold: np.ndarray  # (len(b1),)
    train_loss: np.ndarray  # (len(b1), points)
    diverged: list[int | None]
    warnings: list[str]


def sharpness_part(query: str, device: str, progress: Progress = None) -> dict:
    """Experiment 3's job (in process or a Ray task): one engine call over the b1 rows
    (memory run only), P from the optimizer's own moments at the checkpoints
    (observed), then one Lanczos solve of P^-1/2 H P^-1/2 per row and checkpoint
    (core.analyses.sharpness)."""
    s = _parsed("sharpness", query)
    net = setup(s, device)
    rows, marks = len(s.b1), s.checkpoints
    ticks = _Ticks(rows * (s.steps + len(marks) * SOLVE_PRODUCTS), progress)
    b1 = np.asarray(s.b1, dtype=np.float64)
    optimizer = make_optimizer(s.opt, b1=b1, b2=s.b2, eps=s.eps, wd=s.wd)
    wanted = set(marks.tolist())
    P: dict[int, Tensor] = {}

    def observe(n: int, theta: Tensor, averages) -> None:
        if n in wanted:
            P[n] = optimizer.preconditioner(*averages).detach().clone()
        ticks.add(rows)

    theta0 = net.mlp.init(s.seed, device=net.device).repeat(rows, 1)
    run = simulate(net.train, optimizer, theta0, s.h, s.steps, ("memory",), marks, observe)
    values = np.full((rows, len(marks)), np.nan)
    loss = np.full((rows, len(marks)), np.nan)
    for j, n in enumerate(marks.tolist()):
        theta = run.memory[j]
        with torch.no_grad():
            loss[:, j] = net.train(theta).cpu().numpy()
        ok = torch.isfinite(theta).all(-1) & torch.isfinite(P[n]).all(-1) & (P[n] > 0).all(-1)
        if bool(ok.all()):
            seeds = [s.seed + n] * rows
            top = sharpness(net.train, theta, seeds, precondition=P[n], restarts=RESTARTS)
            values[:, j] = top.cpu().numpy()
        ticks.add(rows * SOLVE_PRODUCTS)
    return {
        "sharpness": values,
        "train_loss": loss,
        "diverged": [run.diverged_at("memory", r) for r in range(rows)],
    }


def sharpness_run(
    s: SharpnessScenario, device=None, progress: Progress = None, address: str | None = None
) -> SharpnessResult:
    """Experiment 3: `sharpness_part`, in process or as one Ray task at `address`."""
    (part,) = run_tasks(
        sharpness_part, [(s.to_query(), _device(device))], address, progress=progress
    )
    result = SharpnessResult(
        scenario=s,
        dataset=dataset_summary(s.data()),
        step=s.checkpoints,
        sharpness=part["sharpness"],
        threshold=threshold(s.b1, s.h),
        train_loss=part["train_loss"],
        diverged=part["diverged"],
        warnings=[],
    )
    return SharpnessResult(**(vars(result) | {"warnings": sharpness_warnings(result)}))


def sharpness_warnings(result: SharpnessResult) -> list[str]:
    s, out = result.scenario, []
    for b, row, at in zip(s.b1, result.sharpness, result.diverged, strict=True):
        if at is not None:
            out.append(f"β₁ = {b:g}: the run diverged at step {at}")
        missing = int(np.sum(~np.isfinite(row)))
        if missing:
            out.append(
                f"β₁ = {b:g}: no value at {missing} of {len(row)} steps (the Lanczos solve "
                "did not converge, or the run had left the floats)"
            )
    return out


def peak(result: SharpnessResult, i: int) -> tuple[float, int, float]:
    """(largest lambda_1, its step, its share of the threshold) of row i (NaN if none)."""
    row = result.sharpness[i]
    if not np.isfinite(row).any():
        return math.nan, -1, math.nan
    j = int(np.nanargmax(row))
    return float(row[j]), int(result.step[j]), float(row[j] / result.threshold[i])


def sharpness_caption(result: SharpnessResult) -> str:
    s, parts = result.scenario, []
    for i, b in enumerate(s.b1):
        top, at, share = peak(result, i)
        if not math.isfinite(top):
            parts.append(f"β₁ = {b:g}: no converged value")
            continue
        where = "reaches" if share >= 1.0 else "stays below"
        parts.append(
            f"β₁ = {b:g}: λ₁(P⁻¹H) peaks at {top:.4g} (step {at}), {100 * share:.3g}% of its "
            f"threshold (2 + 2β₁)/((1 − β₁)h) = {result.threshold[i]:.4g}: it {where} it"
        )
    return "; ".join(parts) + f". h = {s.h:g}, {s.steps} full-batch steps."


RUN = {"distance": distance, "beta2": beta2, "sharpness": sharpness_run}


def own_query(experiment: str, query: str) -> str:
    """The query without its `exp` key (the /paper URL's section), which must name this
    experiment if present."""
    params = dict(parse_qsl(query.split("?", 1)[-1], keep_blank_values=True))
    named = params.pop("exp", experiment)
    if named != experiment:
        raise ScenarioError("exp", f"{named!r} is not the experiment {experiment!r}")
    return urlencode(params)
