"""Everything a 2D scenario shows.  Pure and uncached: the app caches these results at
its edge (ui.cache, keyed by the scenario's query string)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
import torch

from core.analyses.order import OrderStudy, order_study
from core.analyses.regularizer import Report, window_report
from core.analyses.surfaces import Surfaces, compute_surfaces
from core.cancel import Check
from core.engine import fast2d
from core.engine.declared import Declaration, readout_notes
from core.engine.dynamics import DYNAMICS, Run
from core.engine.optimizers import Optimizer
from core.engine.registry import longest_memory, record
from core.models.derivatives import Derivatives
from core.models.losses import batched
from core.scenarios import limits
from core.scenarios.scenario import Scenario, plane_seconds


def device() -> torch.device:
    """CPU unless CUDA is asked for (MEMORY_DEVICE=cuda) and present."""
    wanted = os.environ.get("MEMORY_DEVICE", "cpu")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("MEMORY_DEVICE asks for CUDA, but no CUDA device is available")
    return torch.device(wanted)


def optimizer(s: Scenario) -> Optimizer:
    """The scenario's optimizer: one object per scenario object, so that its runs,
    surfaces and notes share its weights' tables (Geometric.tables)."""
    return s.optimizer


def loss(s: Scenario):
    return batched(s.expression)


def start(s: Scenario) -> torch.Tensor:
    return torch.tensor([s.x0, s.y0], dtype=torch.float64, device=device())


def compare_seconds(s: Scenario, steps: int | None = None) -> float:
    """The predicted time of /compare: each optimizer of s.cmp with its usual defaults,
    for s.steps steps or `steps`."""
    # with the records' defaults, not as scenarios: one of these may be over the budget
    values = s.values()
    steps = s.steps if steps is None else steps
    return sum(
        plane_seconds(values | {"opt": name} | record(name).defaults, steps, s.grid)
        for name in map(s.resolve, s.cmp)
    )


def compare_refusal(s: Scenario) -> str | None:
    """Why /compare is refused (over the budget, with the most steps it admits), or None."""
    return limits.steps_refusal(
        lambda n: compare_seconds(s, n),
        s.steps,
        f"{len(s.cmp)} optimizers x {s.steps} steps",
        "steps, grid or the number of optimizers",
        "with this grid",
    )


def trajectories(s: Scenario) -> Run:
    return fast2d.simulate(s.expression, optimizer(s), start(s), s.lr, s.steps)


def surfaces(s: Scenario) -> Surfaces:
    return compute_surfaces(
        loss(s), optimizer(s), s.hyper, s.lr, s.win, s.grid, device(), s.regularizer_step
    )


def regularizer(s: Scenario, surf: Surfaces | None = None, runs=None) -> Report:
    """The verdict on the window and along the memory run, with the closed forms'
    regimes (THEORY §9); `surf` and `runs` (a PathSummary): already computed parts."""
    surf = surfaces(s) if surf is None else surf
    runs = summary(s) if runs is None else runs
    return window_report(s.opt, s.hyper, s.lr, surf, runs.paths["memory"])


def order(s: Scenario, check: Check = None) -> OrderStudy:
    """The order study of /theory; `check` is called between its runs (core.cancel)."""
    smooth = record(s.opt).smooth(s.hyper)
    _, memory_length = longest_memory(s.opt, s.hyper)
    engine = functools.partial(fast2d.simulate, check=check)
    return order_study(
        s.expression,
        optimizer(s),
        start(s),
        s.hs,
        s.T,
        engine,
        smooth=smooth,
        memory_length=memory_length,
    )


@dataclass(frozen=True)
class PathSummary:
    """What the pages print and plot about one scenario's three runs, each cut at its
    last finite point (a diverged run repeats that point after diverging).  Compact: its
    arrays own their data (no views into the run's buffer)."""

    paths: dict[str, np.ndarray]  # name -> (n_finite, 2)
    losses: dict[str, np.ndarray]  # the loss along each path
    diverged: dict[str, int | None]  # the step where the run left the floats, or None
    gap_corrected: float  # max_n |memory - corrected| over steps where both are finite
    gap_memoryless: float  # max_n |memory - memoryless|
    # a declared optimizer's readout along the memory run (core.engine.declared)
    notes: tuple[str, ...] = ()


def summary(s: Scenario) -> PathSummary:
    run = trajectories(s)
    f = loss(s)
    paths, losses, diverged = {}, {}, {}
    for k in DYNAMICS:
        diverged[k] = run.diverged_at(k)
        path = run[k][: diverged[k], 0]
        with torch.no_grad():
            losses[k] = f(path).cpu().numpy()
        paths[k] = path.cpu().numpy().copy()

    def gap(k: str) -> float:
        n = min(len(paths["memory"]), len(paths[k]))
        with np.errstate(over="ignore", invalid="ignore"):  # a run about to diverge
            return float(np.linalg.norm(paths["memory"][:n] - paths[k][:n], axis=-1).max())

    notes = ()
    if isinstance(s.opt, Declaration):
        path = paths["memory"]
        grads = Derivatives.of(s.expression).on_arrays(path[:, 0], path[:, 1], hessian=False)
        notes = readout_notes(optimizer(s), np.stack(grads, axis=-1))
    return PathSummary(paths, losses, diverged, gap("corrected"), gap("memoryless"), notes)


def family(s: Scenario) -> list[tuple[float, Scenario]]:
    """The smooth family an optimizer's record names when its update is not smooth (exact
    sign Lion: eps > 0 shrinking, THEORY §11): (value, scenario) pairs; [] otherwise."""
    rec = record(s.opt)
    if rec.smooth(s.hyper) or rec.family is None:
        return []
    key, values = rec.family
    return [(v, s.updated(**{key: v})) for v in values]
