"""The curated scenarios of /gallery (and the picture on /), written in ui/gallery.toml:
each opens a page with its full query string, and states what its caption claims as
data (`Claim`): a measured quantity (METRICS), a comparison and a value.
tests/test_gallery.py computes every claim, so a caption that its own numbers
contradict cannot land.  The lessons of /lessons (ui/lessons.py) measure their answers
and claims with the same METRICS on the same scenarios (`scenario`, `check`)."""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch

from core.analyses import compute, study
from core.analyses.study import StudyScenario
from core.analyses.study import summary as study_summary
from core.analyses.sweep import SweepScenario
from core.scenarios.network_scenario import CompareScenario, NetworkScenario, compare_mode
from core.scenarios.scenario import Scenario
from ui import cache, network_plots, plots, sweep_plots
from ui.grid import perturbation


@dataclass(frozen=True)
class Claim:
    text: str  # the words, as the gallery shows them
    metric: str  # a key of METRICS
    op: str  # "==", "<", ">", "<=", ">="
    value: object
    opt: str | None = None  # on /compare: the optimizer the claim is about


@dataclass(frozen=True)
class Example:
    title: str
    page: str  # url path
    query: str
    blurb: str
    claims: tuple[Claim, ...] = ()
    # why the corrected run is not closer to the memory run than the memoryless one here;
    # "" for an entry inside the theorem, where it is
    counterexample: str = ""


def _end_point(run: str) -> Callable[[Scenario], tuple[float, float]]:
    """Where a run ends: its last finite point."""
    return lambda s: tuple(float(v) for v in cache.summary(s).paths[run][-1])


def _end(run: str, axis: int) -> Callable[[Scenario], float]:
    point = _end_point(run)
    return lambda s: point(s)[axis]


def _gap_ratio(s: Scenario) -> float:
    """max |memory - corrected| / max |memory - memoryless| over the run (< 1: closer)."""
    summary = cache.summary(s)
    return summary.gap_corrected / summary.gap_memoryless


def _sweep(s: SweepScenario):
    return cache.sweep(s)


def _cells(s: SweepScenario):
    """The sweep's effect per cell and the two swept settings on the same grid."""
    r = _sweep(s)
    xx, yy = np.meshgrid(r.x, r.y)
    return r, xx, yy


def _regularizing_share_below_diagonal(s: SweepScenario) -> float:
    r, xx, yy = _cells(s)
    below = yy < xx
    return float((r.metrics["effect"][below] == 1).mean())


def _above_diagonal(effect: int) -> Callable[[SweepScenario], int]:
    def count(s: SweepScenario) -> int:
        r, xx, yy = _cells(s)
        return int((r.metrics["effect"][yy > xx] == effect).sum())

    return count


def _regularizing_share_with_memory(s: SweepScenario) -> float:
    """Share of the cells with beta > 0 (the y axis) whose verdict is +1."""
    r, _, yy = _cells(s)
    return float((r.metrics["effect"][yy > 0] == 1).mean())


def _smallest_beta_where_corrected_diverges(s: SweepScenario) -> float:
    r, _, yy = _cells(s)
    dead = r.diverged["corrected"] >= 0
    return float(yy[dead].min()) if dead.any() else float("inf")


def _memory_divergences(s: SweepScenario) -> int:
    return int((_sweep(s).diverged["memory"] >= 0).sum())


def _error_ratio_at_small_h_and_beta(s: SweepScenario) -> float:
    """max |memory - corrected| / max |memory - memoryless| in the cell of the smallest h
    and the smallest beta (row 0, column 0; the axis starts above 0)."""
    return float(_sweep(s).metrics["theory_error"][0, 0])


def _order_error_ratio(s: Scenario) -> float:
    """The largest max |memory - corrected| / max |memory - memoryless| over the order
    study's step sizes (< 1: the corrected run is closer at every h)."""
    study = cache.order(s)
    return float(np.max(np.asarray(study.corrected) / np.asarray(study.memoryless)))


def _net_distance_ratio(s: NetworkScenario) -> float:
    r = cache.network_result(s)
    return float(np.nanmax(r.distance["corrected"]) / np.nanmax(r.distance["memoryless"]))


def _final_losses(s: Scenario) -> dict[str, float]:
    summary = cache.summary(s)
    return {k: float(summary.losses[k][-1]) for k in ("memory", "memoryless")}


def _end_distances(s: Scenario) -> dict[str, float]:
    """How far the memoryless and the corrected run end from the memory run's end."""
    summary = cache.summary(s)
    end = summary.paths["memory"][-1]
    return {
        k: float(np.linalg.norm(summary.paths[k][-1] - end)) for k in ("memoryless", "corrected")
    }


def _mean_squared_gradients(s: Scenario) -> dict[str, float]:
    """The mean of |grad L|^2 over the points of the memoryless and the corrected run."""
    summary, loss = cache.summary(s), compute.loss(s)
    return {
        k: float(
            (loss.derivatives(torch.as_tensor(summary.paths[k]), False)[0] ** 2).sum(-1).mean()
        )
        for k in ("memoryless", "corrected")
    }


# A choice between runs, measured: each function gives a number per run, the metric of
# the same name is the run with the smallest (the lessons show the numbers beside it).
SMALLEST: dict[str, Callable[[Scenario], dict[str, float]]] = {
    "run ending lower: memory or memoryless": _final_losses,
    "run ending nearer the memory run: memoryless or corrected": _end_distances,
    "run through smaller gradients: memoryless or corrected": _mean_squared_gradients,
}


def _smallest(numbers: Callable[[Scenario], dict[str, float]]) -> Callable[[Scenario], str]:
    return lambda s: min((v, k) for k, v in numbers(s).items())[1]


def _largest_hR(s: Scenario) -> tuple[float, float]:
    """The grid point where h R, what the memory adds to the loss, is largest."""
    surf = cache.surfaces(s)
    iy, ix = np.unravel_index(np.nanargmax(perturbation(surf)), surf.loss.shape)
    return float(surf.x[ix]), float(surf.y[iy])


def _largest_gradient(s: Scenario) -> float:
    """The largest |dL/dtheta_j| on the window's grid."""
    return float(np.nanmax(np.abs(cache.surfaces(s).grad)))


def _corrected_from_memoryless(s: Scenario) -> float:
    """max over n of |corrected - memoryless|, over the steps where both are finite."""
    paths = cache.summary(s).paths
    n = min(len(paths["corrected"]), len(paths["memoryless"]))
    return float(np.linalg.norm(paths["corrected"][:n] - paths["memoryless"][:n], axis=-1).max())


NO_DIFFERENCE = "no difference shown"


def study_interval(s: StudyScenario, opt: str, metric: str) -> dict:
    """A study metric at the study's first learning rate (core.analyses.study.summary): one
    optimizer's mean, 95% interval and seeds, or with opt "b - a" the same of the
    per-seed difference."""
    return next(iter(study_summary(cache.study(s)).values()))[opt][metric]


def study_paired(s: StudyScenario, metric: str) -> dict:
    """The per-seed difference, second optimizer minus first, of a study metric."""
    a, b = s.opts
    return study_interval(s, f"{b} - {a}", metric)


def _study_lower(metric: str) -> Callable[[StudyScenario], str]:
    """The optimizer whose metric is lower, by the 95% interval of the paired per-seed
    difference; NO_DIFFERENCE where the interval holds 0 (or there is none)."""

    def lower(s: StudyScenario) -> str:
        return study.lower(cache.study(s), metric, 0) or NO_DIFFERENCE

    return lower


def _study_anti_regularizing(s: StudyScenario) -> str:
    """The optimizers whose h R averaged over the run is below 0 (95% interval), joined
    by "and"; "neither"."""
    below = [
        o
        for o in s.opts
        if (v := study_interval(s, o, "hR_mean"))["hi"] is not None and v["hi"] < 0
    ]
    return " and ".join(below) or "neither"


METRICS: dict[str, Callable] = {
    "effect": lambda s: cache.regularizer(s).effect,  # the verdict on the window
    "run effect": lambda s: cache.regularizer(s).run.effect,
    "gap ratio": _gap_ratio,
    "memory end x": _end("memory", 0),
    "memoryless end x": _end("memoryless", 0),
    "fitted slope corrected": lambda s: cache.order(s).fit_corrected,
    "fitted slope memoryless": lambda s: cache.order(s).fit_memoryless,
    "last slope corrected": lambda s: cache.order(s).slopes_corrected[-1],
    "network effect": lambda s: cache.network_result(s).regularizer.effect,
    "sweep regularizing share below the diagonal": _regularizing_share_below_diagonal,
    "sweep regularizing cells above the diagonal": _above_diagonal(1),
    "sweep anti-regularizing cells above the diagonal": _above_diagonal(-1),
    "sweep regularizing share with memory": _regularizing_share_with_memory,
    "sweep mixed cells above the diagonal": _above_diagonal(0),
    "sweep smallest beta where corrected diverges": _smallest_beta_where_corrected_diverges,
    "sweep memory divergences": _memory_divergences,
    "sweep error ratio at small h and beta": _error_ratio_at_small_h_and_beta,
    "network distance ratio": _net_distance_ratio,
    **{name: _smallest(numbers) for name, numbers in SMALLEST.items()},
    "memory end": _end_point("memory"),
    "memoryless end": _end_point("memoryless"),
    "where hR is largest": _largest_hR,
    "largest gradient coordinate on the window": _largest_gradient,
    "largest distance between the corrected and memoryless runs": _corrected_from_memoryless,
    "study: optimizers whose h·R is below 0": _study_anti_regularizing,
    "study: lower final training loss": _study_lower("train_loss"),
    "study: fewer steps to the threshold": _study_lower("steps"),
    "study: smaller generalization gap": _study_lower("gap"),
    "order error ratio": _order_error_ratio,
}
_OPS = {"==": operator.eq, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def scenario(example: Example, opt: str | None = None):
    """The scenario a claim is measured on (/compare: one optimizer with its defaults;
    /network's compare mode: one optimizer's run in the comparison)."""
    if example.page == "network":
        comparing, query = compare_mode(example.query)
        if comparing:  # each optimizer at its own lr and wd, as the page runs it
            c = CompareScenario.parse(query)
            return c.run(opt) if opt else c
        s = NetworkScenario.parse(query)
    elif example.page == "sweep":
        return SweepScenario.parse(example.query)
    elif example.page == "study":
        return StudyScenario.parse(example.query)
    else:
        s = Scenario.parse(example.query)
    return s.with_optimizer(opt) if opt else s


def check(example: Example, claim: Claim) -> tuple[bool, object]:
    """(does the claim hold, the measured value)."""
    measured = METRICS[claim.metric](scenario(example, claim.opt))
    return bool(_OPS[claim.op](measured, claim.value)), measured


def load(text: str) -> tuple[Example, ...]:
    """The examples of a gallery file (TOML: see ui/gallery.toml); a claim that names an
    unknown metric or comparison is refused with the example's title."""
    examples = []
    for entry in tomllib.loads(text)["example"]:
        claims = tuple(Claim(*claim) for claim in entry.pop("claims"))
        example = Example(**entry, claims=claims)
        for claim in claims:
            if claim.metric not in METRICS or claim.op not in _OPS:
                raise ValueError(f"{example.title}: {claim.text}: unknown metric or comparison")
        examples.append(example)
    return tuple(examples)


GALLERY = load(Path(__file__).with_name("gallery.toml").read_text(encoding="utf-8"))


def thumbnail(example: Example) -> go.Figure:
    """An example's sketch for /gallery: its page's figure on a coarse grid, few steps."""
    if example.page == "sweep":  # the theory's verdict on at most 12 x 12 cells
        s = SweepScenario.parse(example.query)
        small = {a: replace(getattr(s, a), n=min(getattr(s, a).n, 12)) for a in ("x", "y")}
        s = replace(s, steps=min(s.steps, 60), **small)
        return sweep_plots.thumbnail_figure(cache.sweep(s))
    if example.page == "network":  # the distances of the two memoryless runs to memory
        s = NetworkScenario.parse(example.query.replace("&compare=1", "")).updated(steps=50)
        return network_plots.thumbnail_figure(cache.network_result(s))
    s = Scenario.parse(example.query)
    s = s.updated(grid=40, steps=min(s.steps, 120))
    return plots.thumbnail_figure(cache.surfaces(s), cache.summary(s))
