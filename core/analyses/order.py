"""The order study of THEORY §1: at a fixed horizon T, how the max distance of the
memoryless and corrected runs to the memory run shrinks with the step size h, and an
honest reading of it (THEORY §12): which rows are asymptotic, a slope fitted on those
only, and warnings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.engine.dynamics import DYNAMICS, simulate
from core.engine.optimizers import Optimizer
from core.engine.registry import ASYMPTOTIC_MEMORIES
from core.scenarios.limits import MAX_ORDER_STEPS

SMALL = 0.1  # an error is small against the run when below SMALL x its extent
SETTLED = 0.2  # local slopes have settled when consecutive ones differ by at most this
ORDERS = {"corrected": 2.0, "memoryless": 1.0}  # THEORY §1: O(h²) and O(h)


@dataclass(frozen=True)
class OrderStudy:
    h: tuple[float, ...]  # decreasing
    corrected: tuple[float, ...]  # max_n |memory - corrected| over n <= T/h (inf: diverged)
    memoryless: tuple[float, ...]  # max_n |memory - memoryless|
    slopes_corrected: tuple[float, ...]  # between consecutive h: log ratio of errors
    slopes_memoryless: tuple[float, ...]
    fit_corrected: float  # least-squares slope over the asymptotic rows (nan: none)
    fit_memoryless: float
    asymptotic: tuple[bool, ...]  # per h: in the run of rows the fit uses (THEORY §12)
    fit_rows: int  # how many errors (per series) the fitted slopes use; 0: none
    extent: tuple[float, ...]  # per h: max_n |memory_n - theta_0|, the run's scale
    next_h: tuple[float, ...]  # no fit: the smaller step sizes to add (next_step_sizes)
    warnings: tuple[str, ...]

    @property
    def reached(self) -> bool:
        """Whether the study reached its asymptotic regime: some rows are fitted."""
        return self.fit_rows > 0


def local_slopes(h, err) -> tuple[float, ...]:
    h, err = np.asarray(h), np.asarray(err)
    with np.errstate(divide="ignore", invalid="ignore"):
        return tuple(float(v) for v in np.diff(np.log(err)) / np.diff(np.log(h)))


def fitted_slope(h, err) -> float:
    h, err = np.asarray(h), np.asarray(err)
    ok = (err > 0) & np.isfinite(err)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(h[ok]), np.log(err[ok]), 1)[0])


def _hs(values) -> str:
    return ", ".join(f"{v:g}" for v in values)


def _measured(c, m, ext):
    """Per row: both errors finite and nonzero; and also small against the run's extent."""
    finite = np.isfinite(c) & np.isfinite(m) & (c > 0) & (m > 0)
    return finite, finite & (np.maximum(c, m) <= SMALL * ext)


def asymptotic_run(h, corrected, memoryless, extent, smooth: bool = True):
    """(first row, reason): the rows an order fit may use are first row ... last (THEORY
    §12), or none (first row None, and the reason in words).  Rows by decreasing h.

    The run ends at the smallest h: the theorem is a limit h -> 0, and slopes that still
    change below a run show that the run was not yet in it.  Every row of it has finite,
    nonzero errors below SMALL of the run's extent, and the corrected error below the
    memoryless one; consecutive local slopes agree within SETTLED, in both series; it
    holds at least two slopes (one cannot settle).  For a smooth update the theorem
    bounds the errors by C h² and C h, so a fitted slope below an order by more than
    SETTLED is not yet the limit: the run's largest h is then dropped, and so on."""
    h, c, m, ext = (np.asarray(v, dtype=float) for v in (h, corrected, memoryless, extent))
    finite, small = _measured(c, m, ext)
    usable = small & (c < m)
    slopes = np.array([local_slopes(h, c), local_slopes(h, m)])
    last = len(h) - 1
    if last < 2:
        return None, "a fit needs three step sizes (two slopes that can agree)"
    if not usable[last]:
        fault = (
            "a run diverged or an error is zero"
            if not finite[last]
            else "the errors are not small against the run's extent"
            if not small[last]
            else "the corrected error is not below the memoryless one"
        )
        return None, f"at the smallest h = {h[last]:g} {fault}"
    first = last
    while (
        first > 0
        and usable[first - 1]
        and (first == last or (np.abs(slopes[:, first - 1] - slopes[:, first]) <= SETTLED).all())
    ):
        first -= 1
    if last - first < 2:
        if not usable[first - 1]:
            return None, f"the errors at h = {h[first - 1]:g}, one row above, are not usable"
        shown = "; ".join(f"{k} {_hs(np.round(slopes[i, -2:], 2))}" for i, k in enumerate(ORDERS))
        return None, f"the last two local slopes differ by more than {SETTLED:g} ({shown})"
    if smooth:

        def fits(i: int) -> list[float]:
            return [fitted_slope(h[i:], e[i:]) for e in (c, m)]

        def reach(i: int) -> bool:
            return all(f >= p - SETTLED for f, p in zip(fits(i), ORDERS.values(), strict=True))

        start = next((i for i in range(first, last - 1) if reach(i)), None)
        if start is None:
            fc, fm = fits(first)
            return None, (
                f"the settled slopes at h ≤ {h[first]:g} fit {fc:.2f} (corrected) and "
                f"{fm:.2f} (memoryless), below the theorem's orders 2 and 1 by more than "
                f"{SETTLED:g}, which a smooth update reaches as h -> 0"
            )
        first = start
    return first, ""


def steps_to(horizon: float, hs) -> list[int]:
    """The steps each step size of a study runs: n <= T/h, at least one."""
    return [max(1, round(horizon / h)) for h in hs]


def asymptotic_steps(memory_length: float) -> float:
    """The steps T/h a horizon needs before the slopes 2 and 1 show: ASYMPTOTIC_MEMORIES
    memory lengths 1/(1-β) (THEORY §1, §12)."""
    return ASYMPTOTIC_MEMORIES * memory_length


def asymptotic_h(horizon: float, memory_length: float) -> float:
    """The largest h whose study to `horizon` holds asymptotic_steps (THEORY §12)."""
    return horizon / asymptotic_steps(memory_length)


def next_step_sizes(h_min: float, horizon: float, memory_length: float) -> tuple[float, ...]:
    """The step sizes a study short of its asymptotic regime should add: halvings of its
    smallest h, at least two (a fit needs two settled slopes) and on until the horizon
    holds ASYMPTOTIC_MEMORIES memory lengths, T/h >= 20/(1-β) (THEORY §1)."""
    out = [h_min / 2, h_min / 4]
    while horizon / out[-1] < asymptotic_steps(memory_length):
        out.append(out[-1] / 2)
    return tuple(out)


def diagnose(
    h, corrected, memoryless, extent, diverged, smooth=True, horizon=1.0, memory_length=1.0
):
    """(rows the fit uses, next_h, warnings) for an order study, rows by decreasing h;
    memory_length: the longest memory 1/(1-β) in steps."""
    h, c, m, ext = (np.asarray(v, dtype=float) for v in (h, corrected, memoryless, extent))
    finite, small = _measured(c, m, ext)
    first, why = asymptotic_run(h, c, m, ext, smooth)
    fitted = np.zeros(len(h), dtype=bool)
    if first is not None:
        fitted[first:] = True
    warnings = []
    for k, rows in diverged.items():
        if rows:
            warnings.append(
                f"divergence: the {k} run diverged at h = {_hs(h[j] for j in rows)}; "
                "no slope uses it"
            )
    if not smooth:
        warnings.append(
            "non-smooth update: the theorem assumes a differentiable update (THEORY §11); "
            "the orders 2 and 1 are not expected"
        )
    large = finite & ~small
    if large.any():
        warnings.append(
            f"pre-asymptotic: at h = {_hs(h[large])} the errors are not small against the "
            f"run's extent (above {SMALL:g} of it)"
        )
    worse = finite & (c >= m)
    if worse.any():
        warnings.append(
            f"corrected no better than memoryless at h = {_hs(h[worse])}: the expansion needs "
            "h small against the memory length and the scale on which the update bends "
            "(THEORY §11)"
        )
    next_h: tuple[float, ...] = ()
    if ((c == 0) & (m == 0)).all():
        warnings.append(
            "no memory effect: the three runs coincide at every h (errors 0), so there is "
            "no order to fit"
        )
    elif first is None:
        next_h = next_step_sizes(float(h.min()), horizon, memory_length)
        study = (h.min(), *next_h)
        steps = sum(steps_to(horizon, study))
        over = (
            f"; a study of h = {_hs(study)} takes {steps} steps, over this app's limit of "
            f"{MAX_ORDER_STEPS}"
            if steps > MAX_ORDER_STEPS
            else ""
        )
        needed = asymptotic_steps(memory_length)
        warnings.append(
            f"not asymptotic: {why}, so no slope is fitted. Try smaller step sizes: "
            f"h = {_hs(next_h)} (halvings of the smallest h, at least two, and until "
            f"T/h ≥ {ASYMPTOTIC_MEMORIES}/(1−β) = {needed:.3g} steps, THEORY §1){over}"
        )
    elif first > 0:
        warnings.append(
            f"pre-asymptotic rows at h = {_hs(h[:first])} are left out of the fit (THEORY §12)"
        )
    return fitted, next_h, warnings


def order_study(
    loss,
    opt: Optimizer,
    theta0: torch.Tensor,
    hs,
    horizon: float,
    engine=simulate,
    smooth: bool = True,
    memory_length: float = 1.0,
) -> OrderStudy:
    """All step sizes run as one batch (one row each, per-row h, by decreasing h) up to
    the longest horizon; each row's error is taken over its own n <= round(T/h).
    `engine` is core.engine.dynamics.simulate (`loss` a batched function) or
    core.engine.fast2d.simulate (`loss` an expression).  `smooth`: whether the update is
    differentiable (the optimizer's record, THEORY §11); `memory_length`: its longest
    memory 1/(1-β) in steps (core.engine.registry.longest_memory)."""
    hs = tuple(sorted((float(h) for h in hs), reverse=True))  # slopes between neighbours
    steps = steps_to(horizon, hs)
    run = engine(loss, opt, theta0.reshape(1, -1).repeat(len(hs), 1), np.array(hs), max(steps))
    errors = {"corrected": [], "memoryless": []}
    diverged = {k: [] for k in DYNAMICS}
    extent = []
    for row, n in enumerate(steps):
        for k in DYNAMICS:
            if 0 <= run.diverged[k][row] <= n:
                diverged[k].append(row)
        memory = run.memory[: n + 1, row]
        extent.append(float((memory - memory[0]).norm(dim=-1).max()))
        for k in errors:
            gap = (run[k][: n + 1, row] - memory).norm(dim=-1)
            bad = row in diverged["memory"] or row in diverged[k]
            errors[k].append(float("inf") if bad else float(gap.max()))
    c, m = errors["corrected"], errors["memoryless"]
    fitted, next_h, warnings = diagnose(hs, c, m, extent, diverged, smooth, horizon, memory_length)
    used = np.flatnonzero(fitted)
    pick = lambda e: np.asarray(e)[used]  # noqa: E731
    return OrderStudy(
        h=hs,
        corrected=tuple(errors["corrected"]),
        memoryless=tuple(errors["memoryless"]),
        slopes_corrected=local_slopes(hs, errors["corrected"]),
        slopes_memoryless=local_slopes(hs, errors["memoryless"]),
        fit_corrected=fitted_slope(pick(hs), pick(errors["corrected"])),
        fit_memoryless=fitted_slope(pick(hs), pick(errors["memoryless"])),
        asymptotic=tuple(bool(a) for a in fitted),
        fit_rows=len(used),
        extent=tuple(extent),
        next_h=next_h,
        warnings=tuple(warnings),
    )


def run_warnings(rec, hyper: dict, summary, window) -> list[str]:
    """Warnings about one scenario's three runs (core.analyses.compute.PathSummary): divergence, a
    run that left the window, a corrected run farther from the memory run than the
    memoryless one, a non-smooth update (THEORY §11); rec: the optimizer's record."""
    out = []
    for k, at in summary.diverged.items():
        if at is not None:
            out.append(f"divergence: the {k} run diverged at step {at}")
    xmin, xmax, ymin, ymax = window
    for k, p in summary.paths.items():
        outside = (p[:, 0] < xmin) | (p[:, 0] > xmax) | (p[:, 1] < ymin) | (p[:, 1] > ymax)
        if outside.any():
            out.append(f"the {k} run leaves the window at step {int(np.argmax(outside))}")
    far = farther(rec, hyper, summary.gap_corrected, summary.gap_memoryless)
    if far:
        out.append(far)
    if not rec.smooth(hyper):
        out.append(f"non-smooth update: {rec.not_smooth}")
    return out + list(summary.notes)


def farther(rec, hyper: dict, corrected: float, memoryless: float) -> str | None:
    """The sentence for a corrected run farther from the memory run than the memoryless
    one (`corrected` > `memoryless`, their largest distances to it), with why (THEORY
    §11); None otherwise, and for a NaN distance (a run with no finite point)."""
    if not corrected > memoryless:
        return None
    return (
        f"the corrected run is farther from the memory run than the memoryless one "
        f"({corrected:.3g} against {memoryless:.3g}): {_farther_reason(rec, hyper)}"
    )


def _farther_reason(rec, hyper: dict) -> str:
    """Why a corrected run can end farther than the memoryless one (THEORY §11)."""
    if not rec.smooth(hyper):
        return "the update is not smooth, so the correction is not the memory's effect"
    scale = rec.bend(hyper)  # the record's: ε for Adam, √ε for Lion (THEORY §11, §14)
    bends = (
        f" and against |g| ≈ {scale:.3g}, the gradient size on which the update bends (the "
        "constants grow as it shrinks)"
        if scale > 0
        else ""
    )
    memory = max((1 / (1 - hyper[k]) for k in rec.betas), default=1.0)
    return (
        f"the expansion behind the correction needs h small against the memory length "
        f"1/(1−β) ≈ {memory:.4g} steps{bends}; here the neglected O(h²) terms dominate "
        "(THEORY §11-§12)"
    )
