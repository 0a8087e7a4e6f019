"""What the pages and the CLI show of small networks under the three dynamics (THEORY §1-§2,
§5, §6's network numbers): compact results, the fit, the landscape slice, the optimizer
comparison and the order study.

`result` (losses, distances, regularizer along the run), `fit` (decision boundary /
regression fit), `landscape` (a 2D slice with the perturbed loss), all three from one
run by `view`; `compare` (two optimizers, each at its own learning rate and weight
decay: core.scenarios.network_scenario.CompareScenario) and `order` (the error-vs-h study).  Pure
and uncached (the app caches at its edge, ui.cache); results are compact: plain arrays
that own their data, never views into a run's buffer.  The scenario is
core.scenarios.network_scenario's, the training core.models.training's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.analyses.order import OrderStudy, order_study
from core.analyses.regularizer import Report, run_report
from core.cancel import Check
from core.engine.dynamics import DYNAMICS, Run, sums_history
from core.engine.registry import longest_memory, make_optimizer, record
from core.models.landscape import Slice, filter_normalized, loss_slice, principal
from core.models.training import (
    as_tensors,
    data_accuracy,
    data_loss,
    perturbation,
    torch_device,
    training_loss,
    trajectories,
    values,
    values_and_grads,
)
from core.scenarios import limits
from core.scenarios.limits import FIT_GRID
from core.scenarios.network_scenario import (
    CompareScenario,
    NetworkScenario,
    dataset,
    model,
    train_size,
)
from core.scenarios.query import ScenarioError


@dataclass(frozen=True, eq=False)
class NetworkResult:
    """Per-step arrays of length steps + 1 (plain numpy), for the page and the CLI."""

    scenario: NetworkScenario
    d: int  # number of parameters
    train_loss: dict[str, np.ndarray]  # dynamics -> full-batch training loss
    test_loss: dict[str, np.ndarray]  # dynamics -> test loss (NaN without a test set)
    # dynamics -> share of the test set classified right at the end (NaN: a regression,
    # or no test set)
    test_accuracy: dict[str, float]
    distance: dict[str, np.ndarray]  # memoryless/corrected -> ||theta - theta_memory||_2
    # the full-batch training gradient g along the memory run (also with mini-batches)
    grad_sq: np.ndarray  # ||g||_2^2
    grad_l1: np.ndarray  # ||g||_1 along the memory run
    hR: np.ndarray  # h R^(n) (see `perturbation`) along the memory run, n = `n`
    hR_limit: np.ndarray  # the same with n -> infinity: the limit
    regularizer: Report  # the verdict along the run and the closed forms' regimes
    diverged: dict[str, int | None]  # dynamics -> first non-finite step, or None
    final: dict[str, np.ndarray]  # dynamics -> final parameters (d,)

    @property
    def gap(self) -> float:
        """Generalization gap of the memory run: test - train loss at the end."""
        return float(self.test_loss["memory"][-1] - self.train_loss["memory"][-1])

    def max_distance(self, k: str) -> float:
        """The largest distance of run k (memoryless, corrected) to the memory run over
        the steps where it is finite; NaN where none is."""
        d = self.distance[k]
        finite = d[np.isfinite(d)]
        return float(finite.max()) if finite.size else float("nan")


def result(s: NetworkScenario, device: str | None = None, check: Check = None) -> NetworkResult:
    return result_of(s, trajectories(s, device, check), device, check)


def result_of(s: NetworkScenario, run: Run, device=None, check: Check = None) -> NetworkResult:
    """The per-step numbers of a run (compact: every array is a fresh copy)."""
    dev = torch_device(device)
    data, mlp = dataset(s), model(s)
    paths = {k: run[k][:, 0] for k in DYNAMICS}  # (steps + 1, d) each
    rows = torch.cat([paths[k] for k in DYNAMICS])
    T = s.steps + 1

    def per_dynamics(loss, points: int) -> dict[str, np.ndarray]:
        v = values(loss, mlp, points, rows, check).cpu().numpy()
        return {k: v[i * T : (i + 1) * T].copy() for i, k in enumerate(DYNAMICS)}

    train = data_loss(mlp, data.task, *as_tensors(data.x_train, data.y_train, dev))
    test = data_loss(mlp, data.task, *as_tensors(data.x_test, data.y_test, dev))
    L, g = values_and_grads(train, mlp, len(data.y_train), paths["memory"], check)
    hR, limit, report = run_report(s.opt, s.hyper, s.lr, L, g, paths["memory"], s.regularizer_step)
    accuracy = data_accuracy(mlp, data.task, *as_tensors(data.x_test, data.y_test, dev))
    finals = torch.stack([paths[k][-1] for k in DYNAMICS])
    shares = (
        accuracy(finals).cpu().numpy()
        if accuracy is not None and len(data.y_test)
        else np.full(len(DYNAMICS), np.nan)
    )
    return NetworkResult(
        scenario=s,
        d=mlp.size,
        train_loss=per_dynamics(train, len(data.y_train)),
        test_loss=per_dynamics(test, max(1, len(data.y_test))),
        test_accuracy={k: float(v) for k, v in zip(DYNAMICS, shares, strict=True)},
        distance={
            k: (paths[k] - paths["memory"]).norm(dim=-1).cpu().numpy()
            for k in ("memoryless", "corrected")
        },
        grad_sq=(g * g).sum(-1).cpu().numpy(),
        grad_l1=g.abs().sum(-1).cpu().numpy(),
        hR=hR,
        hR_limit=limit,
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


def fit(
    s: NetworkScenario, device: str | None = None, of: NetworkResult | None = None
) -> Fit | None:
    """The final networks of `of` (default: a fresh result(s)) on a grid of inputs; None
    for images (digits: no plane of inputs to draw)."""
    dev = torch_device(device)
    data, mlp = dataset(s), model(s)
    if data.task == "multiclass":
        return None
    res = of or result(s, device)
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
    """The landscape resolution (core.scenarios.limits.slice_grid: it shrinks to fit the budget)."""
    return limits.slice_grid(s.width * s.depth, model(s).size, train_size(s.n, s.split))


def landscape(
    s: NetworkScenario, device: str | None = None, run: Run | None = None, check: Check = None
) -> Slice:
    """L and L + h R on a 2D slice around the memory run's final parameters (of `run`,
    default: a fresh run), with the three trajectories projected on it (plane: s.plane)."""
    dev = torch_device(device)
    data, mlp = dataset(s), model(s)
    run = run or trajectories(s, device, check)
    paths = {k: run[k][:, 0] for k in DYNAMICS}
    center = paths["memory"][-1]
    explained = None
    if s.plane == "pca":
        dirs, explained = principal(paths["memory"])
    else:
        dirs = filter_normalized(mlp, center, s.seed)
    train = data_loss(mlp, data.task, *as_tensors(data.x_train, data.y_train, dev))
    return loss_slice(
        lambda t: values_and_grads(train, mlp, len(data.y_train), t, check),
        lambda L, g, t: perturbation(s.opt, s.hyper, L, g, t, s.regularizer_step),
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
    fit: Fit | None
    landscape: Slice


def view(s: NetworkScenario, device: str | None = None, check: Check = None) -> NetworkView:
    run = trajectories(s, device, check)
    r = result_of(s, run, device, check)
    return NetworkView(r, fit(s, device, r), landscape(s, device, run, check))


@dataclass(frozen=True)
class CompareRow:
    opt: str
    lr: float
    hyper: dict
    train_loss: float  # memory run, at the end
    test_loss: float
    gap: float  # test - train
    effect: str  # the verdict along the memory run (core.analyses.regularizer.verdict)
    positive_fraction: float  # share of the run's steps where h R > 0 (NaN: undefined)
    hR: float  # h R^(n) at the end of the memory run (NaN: not defined)
    hR_mean: float  # h R^(n) averaged over the memory run
    hR_limit: float  # h R at the end in the limit n -> infinity


def compare(c: CompareScenario) -> list[CompareRow]:
    """Each optimizer of the comparison at its own learning rate and weight decay on the
    same data, seed and net: its generalization gap next to its implicit-regularizer
    term."""
    return compare_rows([result(c.run(opt)) for opt in c.opts])


def compare_seconds(c: CompareScenario, steps: int) -> float:
    """The cost model's time of `compare` with `steps` steps: a result per optimizer."""
    n_train, d = train_size(c.n, c.split), model(c).size
    return sum(
        limits.network_result_seconds(
            c.width * c.depth,
            d,
            steps,
            c.batch or n_train,
            n_train,
            c.n - n_train,
            sums_history(record(opt).optimizer(**c.hyper(opt))),
        )
        for opt in c.opts
    )


def compare_refusal(c: CompareScenario) -> str | None:
    """Why `compare` is refused (over the budget, with the most steps it admits), or None."""
    return limits.steps_refusal(
        lambda n: compare_seconds(c, n),
        c.steps,
        f"{len(c.opts)} optimizers x {c.steps} steps",
        "steps, width, depth, n or batch",
        "with the rest as given",
    )


def compare_matched(c: CompareScenario) -> str:
    """What the comparison matches, and what not."""
    return (
        f"Matched: the data, the initialization (seed {c.seed}), the network and the step "
        f"count ({c.steps} steps); not the training loss (/study matches it)"
    )


def compare_rows(results: list[NetworkResult]) -> list[CompareRow]:
    """The comparison table of results that differ only in the optimizer."""
    rows = []
    for r in results:
        opt = r.scenario.opt
        rows.append(
            CompareRow(
                opt=opt,
                lr=r.scenario.lr,
                hyper=r.scenario.hyper,
                train_loss=float(r.train_loss["memory"][-1]),
                test_loss=float(r.test_loss["memory"][-1]),
                gap=r.gap,
                effect=r.regularizer.effect,
                positive_fraction=r.regularizer.window.positive_fraction,
                hR=float(r.hR[-1]),
                hR_mean=float(np.mean(r.hR)),
                hR_limit=float(r.hR_limit[-1]),
            )
        )
    return rows


_EFFECT_WORDS = {
    "regularizes": "regularizes",
    "anti-regularizes": "anti-regularizes",
    "mixed": "has a mixed effect",
    "none": "has no effect on the loss",
    "undefined": "has no h·R: its update is not smooth, outside the theorem (THEORY §11)",
}


def compare_text(rows: list[CompareRow]) -> str:
    """The comparison in words, each clause read from the rows' numbers (no narrative):
    the gaps in order, and each memory's measured verdict."""
    names = {row.opt: record(row.opt).label for row in rows}
    parts = [
        f"{names[row.opt]}'s memory {_EFFECT_WORDS[row.effect]}"
        + (
            ""
            if row.effect == "undefined"
            else f" along its run (h·R > 0 on {row.positive_fraction:.0%} of the steps)"
        )
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
    mlp, dev = model(s), torch_device(device)
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
    _, memory_length = longest_memory(s.opt, s.hyper)
    theta0 = mlp.init(s.seed, device=dev)
    return order_study(loss, opt, theta0, hs, horizon, smooth=smooth, memory_length=memory_length)
