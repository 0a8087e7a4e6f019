"""The curated scenarios of /gallery (and the picture on /), written in ui/gallery.toml:
each opens a page with its full query string, and states what its caption claims as
data (`Claim`): a measured quantity (METRICS), a comparison and a value.
tests/test_gallery.py computes every claim, so a caption that its own numbers
contradict cannot land."""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.network_scenario import NetworkScenario
from core.scenario import Scenario
from core.sweep import SweepScenario
from ui import cache


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


def _end(run: str, axis: int) -> Callable[[Scenario], float]:
    return lambda s: float(cache.summary(s).paths[run][-1][axis])


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
    "order error ratio": _order_error_ratio,
}
_OPS = {"==": operator.eq, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def scenario(example: Example, opt: str | None = None):
    """The scenario a claim is measured on (compare: one optimizer with its defaults)."""
    if example.page == "network":
        s = NetworkScenario.parse(example.query.replace("&compare=1", ""))
    elif example.page == "sweep":
        return SweepScenario.parse(example.query)
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
