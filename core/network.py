"""Small networks under the three dynamics (THEORY §1-§2, §5, §6's network numbers).

An MLP's flattened parameters theta (d,) are the point the engine moves: the training
loss is a batched function (R, d) -> (R,) of parameter rows, handed to
core.dynamics.simulate like any 2D loss.  Nothing here steps an optimizer itself.

What a page shows: `result` (losses, distances, regularizer along the run), `fit`
(decision boundary / regression fit), `landscape` (a 2D slice with the perturbed loss),
all three from one run by `view`; `compare` (AdamW against Lion) and `order` (the
error-vs-h study).  Pure and uncached (the app caches at its edge, ui.cache); results
are compact: plain arrays that own their data, never views into a run's buffer.
`check`, where given, is called before every training step and between evaluation
chunks, and stops the computation by raising.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from core import compute, limits
from core.datasets import Dataset, make_dataset
from core.dynamics import DYNAMICS, Run, simulate, sums_history
from core.landscape import Slice, filter_normalized, loss_slice, principal
from core.limits import FIT_GRID
from core.mlp import MLP
from core.network_fields import NETWORK_FIELDS, NetworkData, train_size
from core.optimizers import make_optimizer
from core.order import OrderStudy, order_study
from core.query import ScenarioError, query_dataclass
from core.registry import memory_lengths, record
from core.regularizer import Report, run_report
from core.report import finite_or_none
from core.scenario import OptimizerQuery

Tensor = torch.Tensor
_ELEMENTS = 1 << 20  # rows * points * width per chunk when evaluating many networks

# Query presets for a page.  The defaults are each optimizer's usual ones; with
# AdamW's eps = 1e-8 the correction H Fbar / (|g| + eps) is huge wherever a gradient
# coordinate is small, so the corrected run is far from second order at any usable h
# (THEORY §6).  THEORY's smooth regime shows the slopes 2 and 1.
PRESETS = {
    "AdamW, smooth regime (THEORY §6)": "opt=adamw&b1=0.5&b2=0.7&eps=1.0&wd=0.01",
    "heavy ball 0.5 (THEORY §6)": "opt=hb&b1=0.5",
    "AdamW defaults": "opt=adamw",
    "Lion defaults": "opt=lion",
}


@query_dataclass
class NetworkScenario(OptimizerQuery, NetworkData):
    """A network run: optimizer, data, architecture, batch size, steps, landscape plane."""

    SPECS = NETWORK_FIELDS

    batch: int
    steps: int
    plane: str


# --- data, model and losses ---------------------------------------------------------


def dataset(s: NetworkScenario) -> Dataset:
    return make_dataset(s.data, s.n, s.noise, s.split, s.seed)


def model(s: NetworkScenario) -> MLP:
    return MLP(dataset(s).in_dim, s.width, s.depth, s.act)


def data_loss(mlp: MLP, task: str, x: Tensor, y: Tensor):
    """The mean loss over (x, y) of every parameter row: (R, d) -> (R,).  Logistic loss
    (binary cross-entropy with logits) for classification, squared error otherwise."""

    def loss(theta: Tensor) -> Tensor:
        out = mlp.forward(theta, x)
        if task == "classification":
            per_point = F.binary_cross_entropy_with_logits(out, y.expand_as(out), reduction="none")
        else:
            per_point = (out - y) ** 2
        return per_point.mean(-1)

    return loss


def batch_schedule(n_train: int, batch: int, steps: int, seed: int) -> np.ndarray | None:
    """The training points of every step (steps, batch): epochs of a fresh seeded
    permutation, cut into full batches (a remainder is dropped).  None: full batch."""
    if batch == 0:
        return None
    rng = np.random.default_rng([seed, batch])
    per_epoch = n_train // batch
    epochs = -(-steps // per_epoch)
    cuts = [rng.permutation(n_train)[: per_epoch * batch] for _ in range(epochs)]
    return np.concatenate(cuts).reshape(-1, batch)[:steps]


class StepBatches:
    """The training loss of step n on its mini-batch, for core.dynamics.simulate.

    Contract relied on: simulate evaluates its loss exactly once per step, in order
    n = 0, 1, ..., on the stacked rows of all three dynamics (plus the corrected copies
    whose Hessian-vector products come from the same graph).  So the k-th call is step
    k, and memory, memoryless and corrected see the same batch at every step.  `calls`
    counts the evaluations so the caller can check that the contract held.
    """

    def __init__(self, mlp: MLP, task: str, x: Tensor, y: Tensor, schedule: np.ndarray):
        self.mlp, self.task, self.x, self.y = mlp, task, x, y
        self.schedule = torch.as_tensor(schedule, device=x.device)
        self.calls = 0

    def __call__(self, theta: Tensor) -> Tensor:
        if self.calls >= len(self.schedule):
            raise RuntimeError("the loss was called more often than there are steps")
        idx = self.schedule[self.calls]
        self.calls += 1
        return data_loss(self.mlp, self.task, self.x[idx], self.y[idx])(theta)


def training_loss(mlp: MLP, data: Dataset, batch: int, steps: int, seed: int, device):
    """The loss simulate steps on: full batch, or a fresh StepBatches for one run."""
    x, y = _tensors(data.x_train, data.y_train, device)
    schedule = batch_schedule(len(y), batch, steps, seed)
    if schedule is None:
        return data_loss(mlp, data.task, x, y)
    return StepBatches(mlp, data.task, x, y, schedule)


def checked(f, check: Callable[[], None] | None):
    """The loss f, calling check() first at every evaluation (once per step)."""
    if check is None:
        return f

    def loss_checked(theta):
        check()
        return f(theta)

    return loss_checked


def run_network(loss, opt, theta0: Tensor, lr, steps: int, check=None) -> Run:
    """simulate(), checking the once-per-step contract when the loss is step-indexed."""
    run = simulate(checked(loss, check), opt, theta0, lr, steps)
    if isinstance(loss, StepBatches) and loss.calls != steps:
        raise RuntimeError(f"simulate called the loss {loss.calls} times for {steps} steps")
    return run


def _tensors(x: np.ndarray, y: np.ndarray, device) -> tuple[Tensor, Tensor]:
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float64, device=device)  # noqa: E731
    return as_t(x), as_t(y)


def _device(device) -> torch.device:
    return compute.device() if device is None else torch.device(device)


# --- evaluating many parameter vectors ----------------------------------------------


def _chunk_rows(mlp: MLP, points: int) -> int:
    return max(1, _ELEMENTS // max(1, points * max(mlp.width, mlp.in_dim)))


def values(loss, mlp: MLP, points: int, theta: Tensor, check=None) -> Tensor:
    """loss(theta) for many rows, in chunks that bound the activations' memory."""
    size = _chunk_rows(mlp, points)
    with torch.no_grad():
        return torch.cat([checked(loss, check)(c) for c in theta.split(size)])


def values_and_grads(
    loss, mlp: MLP, points: int, theta: Tensor, check=None
) -> tuple[Tensor, Tensor]:
    """loss(theta) and its row-wise gradients, chunked like `values`."""
    out_v, out_g = [], []
    loss = checked(loss, check)
    for c in theta.split(_chunk_rows(mlp, points)):
        t = c.detach().requires_grad_(True)
        with torch.enable_grad():
            v = loss(t)
            (g,) = torch.autograd.grad(v.sum(), t)
        out_v.append(v.detach())
        out_g.append(g)
    return torch.cat(out_v), torch.cat(out_g)


def perturbation(opt: str, hyper: dict, L: Tensor, g: Tensor, theta: Tensor) -> Tensor:
    """R per row from the optimizer record's potential (THEORY §9): each closed form of
    §5 in its regime, exact where H is diagonal otherwise; 0 for gradient descent and
    exact-sign Lion (no correction, THEORY §11)."""
    return record(opt).potential(hyper, L, g, theta)


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NetworkResult:
    """Per-step arrays of length steps + 1 (plain numpy), for the page and the CLI."""

    scenario: NetworkScenario
    d: int  # number of parameters
    train_loss: dict[str, np.ndarray]  # dynamics -> full-batch training loss
    test_loss: dict[str, np.ndarray]  # dynamics -> test loss (NaN without a test set)
    distance: dict[str, np.ndarray]  # memoryless/corrected -> ||theta - theta_memory||_2
    # the full-batch training gradient g along the memory run (also with mini-batches)
    grad_sq: np.ndarray  # ||g||_2^2
    grad_l1: np.ndarray  # ||g||_1 along the memory run
    hR: np.ndarray  # h R (see `perturbation`) along the memory run
    regularizer: Report  # the verdict along the run and the closed forms' regimes
    diverged: dict[str, int | None]  # dynamics -> first non-finite step, or None
    final: dict[str, np.ndarray]  # dynamics -> final parameters (d,)

    @property
    def gap(self) -> float:
        """Generalization gap of the memory run: test - train loss at the end."""
        return float(self.test_loss["memory"][-1] - self.train_loss["memory"][-1])


Check = Callable[[], None] | None


def trajectories(s: NetworkScenario, device: str | None = None, check: Check = None) -> Run:
    """The three dynamics from the seeded initialization, on the CPU or `device`."""
    dev = _device(device)
    mlp = model(s)
    loss = training_loss(mlp, dataset(s), s.batch, s.steps, s.seed, dev)
    opt = make_optimizer(s.opt, **s.hyper)
    return run_network(loss, opt, mlp.init(s.seed, device=dev), s.lr, s.steps, check)


def result(s: NetworkScenario, device: str | None = None, check: Check = None) -> NetworkResult:
    return result_of(s, trajectories(s, device, check), device, check)


def result_of(s: NetworkScenario, run: Run, device=None, check: Check = None) -> NetworkResult:
    """The per-step numbers of a run (compact: every array is a fresh copy)."""
    dev = _device(device)
    data, mlp = dataset(s), model(s)
    paths = {k: run[k][:, 0] for k in DYNAMICS}  # (steps + 1, d) each
    rows = torch.cat([paths[k] for k in DYNAMICS])
    T = s.steps + 1

    def per_dynamics(loss, points: int) -> dict[str, np.ndarray]:
        v = values(loss, mlp, points, rows, check).cpu().numpy()
        return {k: v[i * T : (i + 1) * T].copy() for i, k in enumerate(DYNAMICS)}

    train = data_loss(mlp, data.task, *_tensors(data.x_train, data.y_train, dev))
    test = data_loss(mlp, data.task, *_tensors(data.x_test, data.y_test, dev))
    L, g = values_and_grads(train, mlp, len(data.y_train), paths["memory"], check)
    hR, report = run_report(s.opt, s.hyper, s.lr, L, g, paths["memory"])
    return NetworkResult(
        scenario=s,
        d=mlp.size,
        train_loss=per_dynamics(train, len(data.y_train)),
        test_loss=per_dynamics(test, max(1, len(data.y_test))),
        distance={
            k: (paths[k] - paths["memory"]).norm(dim=-1).cpu().numpy()
            for k in ("memoryless", "corrected")
        },
        grad_sq=(g * g).sum(-1).cpu().numpy(),
        grad_l1=g.abs().sum(-1).cpu().numpy(),
        hR=hR,
        regularizer=report,
        diverged={k: run.diverged_at(k) for k in run.diverged},
        # a copy: a view would keep the whole (steps + 1, 3, d) buffer alive
        final={k: paths[k][-1].cpu().numpy().copy() for k in DYNAMICS},
    )


@dataclass(frozen=True, eq=False)
class Fit:
    """What the final networks compute on a grid of inputs.

    classification: x (G,), y (G,), values[dynamics] (G, G) = P(label 1), indexed [iy, ix]
    regression:     x (G,), y None,  values[dynamics] (G,)    = the fitted curve
    """

    task: str
    x: np.ndarray
    y: np.ndarray | None
    values: dict[str, np.ndarray]


def fit(s: NetworkScenario, device: str | None = None, of: NetworkResult | None = None) -> Fit:
    """The final networks of `of` (default: a fresh result(s)) on a grid of inputs."""
    dev = _device(device)
    data, mlp, res = dataset(s), model(s), of or result(s, device)
    inputs = np.concatenate([data.x_train, data.x_test])
    lo, hi = inputs.min(0) - 0.5, inputs.max(0) + 0.5
    axes = [np.linspace(lo[j], hi[j], FIT_GRID) for j in range(data.in_dim)]
    if data.task == "classification":
        yy, xx = np.meshgrid(axes[1], axes[0], indexing="ij")
        grid = np.stack([xx.ravel(), yy.ravel()], 1)
    else:
        grid = axes[0][:, None]
    x = torch.as_tensor(grid, dtype=torch.float64, device=dev)
    theta = torch.as_tensor(np.stack([res.final[k] for k in DYNAMICS]), device=dev)
    with torch.no_grad():
        out = mlp.forward(theta, x)
    if data.task == "classification":
        out = torch.sigmoid(out).reshape(len(DYNAMICS), FIT_GRID, FIT_GRID)
    out = out.cpu().numpy()
    return Fit(
        task=data.task,
        x=axes[0],
        y=axes[1] if data.task == "classification" else None,
        values={k: out[i].copy() for i, k in enumerate(DYNAMICS)},
    )


def slice_grid(s: NetworkScenario) -> int:
    """The landscape resolution (core.limits.slice_grid: it shrinks to fit the budget)."""
    return limits.slice_grid(s.width * s.depth, train_size(s.n, s.split))


def landscape(
    s: NetworkScenario, device: str | None = None, run: Run | None = None, check: Check = None
) -> Slice:
    """L and L + h R on a 2D slice around the memory run's final parameters (of `run`,
    default: a fresh run), with the three trajectories projected on it (plane: s.plane)."""
    dev = _device(device)
    data, mlp = dataset(s), model(s)
    run = run or trajectories(s, device, check)
    paths = {k: run[k][:, 0] for k in DYNAMICS}
    center = paths["memory"][-1]
    explained = None
    if s.plane == "pca":
        dirs, explained = principal(paths["memory"])
    else:
        dirs = filter_normalized(mlp, center, s.seed)
    train = data_loss(mlp, data.task, *_tensors(data.x_train, data.y_train, dev))
    return loss_slice(
        lambda t: values_and_grads(train, mlp, len(data.y_train), t, check),
        lambda L, g, t: perturbation(s.opt, s.hyper, L, g, t),
        s.lr,
        s.plane,
        center,
        dirs,
        paths,
        slice_grid(s),
        explained,
    )


@dataclass(frozen=True, eq=False)
class NetworkView:
    """Everything the /network page shows about one scenario, from one run."""

    result: NetworkResult
    fit: Fit
    landscape: Slice


def view(s: NetworkScenario, device: str | None = None, check: Check = None) -> NetworkView:
    run = trajectories(s, device, check)
    r = result_of(s, run, device, check)
    return NetworkView(r, fit(s, device, r), landscape(s, device, run, check))


@dataclass(frozen=True)
class CompareRow:
    opt: str
    hyper: dict
    train_loss: float  # memory run, at the end
    test_loss: float
    gap: float  # test - train
    effect: str  # the verdict along the memory run (core.regularizer.verdict)
    positive_fraction: float  # share of the run's steps where h R > 0
    hR: float  # h R at the end of the memory run
    hR_mean: float  # h R averaged over the memory run


def compare(s: NetworkScenario, opts: tuple[str, ...] = ("adamw", "lion")) -> list[CompareRow]:
    """Each optimizer with its usual defaults on the same data, seed, net and lr: its
    generalization gap next to its implicit-regularizer term."""
    return compare_rows([result(s.with_optimizer(opt)) for opt in opts])


def compare_rows(results: list[NetworkResult]) -> list[CompareRow]:
    """The comparison table of results that differ only in the optimizer."""
    rows = []
    for r in results:
        opt = r.scenario.opt
        rows.append(
            CompareRow(
                opt=opt,
                hyper=r.scenario.hyper,
                train_loss=float(r.train_loss["memory"][-1]),
                test_loss=float(r.test_loss["memory"][-1]),
                gap=r.gap,
                effect=r.regularizer.effect,
                positive_fraction=r.regularizer.window.positive_fraction,
                hR=float(r.hR[-1]),
                hR_mean=float(np.mean(r.hR)),
            )
        )
    return rows


_EFFECT_WORDS = {
    "regularizes": "regularizes",
    "anti-regularizes": "anti-regularizes",
    "mixed": "has a mixed effect",
    "none": "has no effect on the loss",
}


def compare_text(rows: list[CompareRow]) -> str:
    """The comparison in words, each clause read from the rows' numbers (no narrative):
    the gaps in order, and each memory's measured verdict."""
    names = {row.opt: record(row.opt).label for row in rows}
    parts = [
        f"{names[row.opt]}'s memory {_EFFECT_WORDS[row.effect]} "
        f"along its run (h·R > 0 on {row.positive_fraction:.0%} of the steps)"
        for row in rows
    ]
    finite = [row for row in rows if math.isfinite(row.gap)]
    if len(finite) >= 2:
        ranked = sorted(finite, key=lambda row: row.gap)
        gaps = " < ".join(f"{names[row.opt]} {row.gap:.4g}" for row in ranked)
        parts.append(f"generalization gaps on this run: {gaps}")
    return (
        "Measured here: "
        + "; ".join(parts)
        + ". One small run is an illustration, not a benchmark: change the seed or the "
        "data to see how the gaps vary."
    )


def order(
    s: NetworkScenario,
    hs: tuple[float, ...] = (0.02, 0.01, 0.005),
    horizon: float = 1.0,
    device: str | None = None,
) -> OrderStudy:
    """THEORY §6's study on this network: max distance to the memory run over n <= T/h,
    against h, all step sizes in one batched simulate (s.lr and s.steps are unused)."""
    steps = max(max(1, round(horizon / h)) for h in hs)
    mlp, dev = model(s), _device(device)
    opt = make_optimizer(s.opt, **s.hyper)
    points = len(hs) * (s.batch or train_size(s.n, s.split))  # one row per step size
    seconds = limits.network_run_seconds(
        s.width * s.depth, mlp.size, steps, points, sums_history(opt)
    )
    message = limits.over_budget(seconds, "the study", "the smallest h")
    if message:
        raise ScenarioError("hs", message)
    loss = training_loss(mlp, dataset(s), s.batch, steps, s.seed, dev)
    smooth = record(s.opt).smooth(s.hyper)
    return order_study(loss, opt, mlp.init(s.seed, device=dev), hs, horizon, smooth=smooth)


# --- the CLI's JSON -----------------------------------------------------------------


def network_warnings(r: NetworkResult) -> list[str]:
    """What a reader of this run must know (THEORY §9, §11): divergence, overflow, a
    corrected run farther from the memory run than the memoryless one, a non-smooth
    update, and a perturbation built from a limit the run has not reached."""
    s, out = r.scenario, list(r.regularizer.warnings)
    for k in DYNAMICS:
        if r.diverged[k] is not None:
            out.append(f"divergence: the {k} run diverged at step {r.diverged[k]}")
        elif not np.isfinite(r.train_loss[k]).all():
            out.append(f"overflow: the loss of the {k} run is not finite at some steps")
    far = {k: np.nanmax(np.where(np.isfinite(v), v, np.nan)) for k, v in r.distance.items()}
    if far["corrected"] > far["memoryless"]:
        out.append(
            f"corrected farther from memory than memoryless ({far['corrected']:.3g} vs "
            f"{far['memoryless']:.3g}): h is not small against the scale on which the "
            "update bends or the memory length (THEORY §11)"
        )
    for key, steps, reached in memory_lengths(s.opt, s.hyper, s.steps - 1):
        if reached < 0.9:
            out.append(
                f"finite n: {key}'s memory spans {steps:.4g} steps and the run has "
                f"{s.steps}; h·R uses the n → ∞ correction, which overstates it (THEORY §1)"
            )
    return out


def network_json(s: NetworkScenario) -> dict:
    r = result(s)
    return {
        "scenario": s.to_query(),
        "parameters": r.d,
        "train_loss": {k: finite_or_none(r.train_loss[k]) for k in DYNAMICS},
        "test_loss": {k: finite_or_none(r.test_loss[k]) for k in DYNAMICS},
        "distance": {k: finite_or_none(v) for k, v in r.distance.items()},
        "regularizer": {
            "formula": r.regularizer.best.formula,
            "regime": r.regularizer.best.regime,
            "in_regime": r.regularizer.in_regime,
            "effect": r.regularizer.effect,
            "positive_fraction": finite_or_none(r.regularizer.window.positive_fraction),
            "grad_sq": finite_or_none(r.grad_sq),
            "grad_l1": finite_or_none(r.grad_l1),
            "hR": finite_or_none(r.hR),
        },
        "diverged": r.diverged,
        "warnings": network_warnings(r),
    }
