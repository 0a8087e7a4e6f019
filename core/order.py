"""The order study of THEORY §1: at a fixed horizon T, how the max distance of the
memoryless and corrected runs to the memory run shrinks with the step size h, and an
honest reading of it (THEORY §12): which rows are asymptotic, a slope fitted on those
only, and warnings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.dynamics import DYNAMICS, simulate
from core.optimizers import Optimizer

SMALL = 0.1  # an error is small against the run when below SMALL x its extent
SETTLED = 0.2  # local slopes have settled when neighbours differ by at most this


@dataclass(frozen=True)
class OrderStudy:
    h: tuple[float, ...]
    corrected: tuple[float, ...]  # max_n |memory - corrected| over n <= T/h (inf: diverged)
    memoryless: tuple[float, ...]  # max_n |memory - memoryless|
    slopes_corrected: tuple[float, ...]  # between consecutive h: log ratio of errors
    slopes_memoryless: tuple[float, ...]
    fit_corrected: float  # least-squares slope over the asymptotic rows (nan: none)
    fit_memoryless: float
    asymptotic: tuple[bool, ...]  # per h: THEORY §12's three conditions hold
    fit_rows: int  # how many errors (per series) the fitted slopes use
    extent: tuple[float, ...]  # per h: max_n |memory_n - theta_0|, the run's scale
    warnings: tuple[str, ...]


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


def _settled(slopes: tuple[float, ...], i: int) -> bool:
    """Slope i (between rows i and i+1) is within SETTLED of a finite neighbour."""
    here = slopes[i]
    near = [slopes[j] for j in (i - 1, i + 1) if 0 <= j < len(slopes)]
    return np.isfinite(here) and any(np.isfinite(v) and abs(v - here) <= SETTLED for v in near)


def diagnose(h, corrected, memoryless, extent, diverged, smooth: bool = True):
    """(asymptotic per row, rows the fit uses, warnings) for an order study."""
    h, c, m, ext = (np.asarray(v, dtype=float) for v in (h, corrected, memoryless, extent))
    finite = np.isfinite(c) & np.isfinite(m) & (c > 0) & (m > 0)
    small = finite & (np.maximum(c, m) <= SMALL * ext)
    sc, sm = local_slopes(h, c), local_slopes(h, m)
    asym = np.zeros(len(h), dtype=bool)
    for i in range(len(h) - 1):
        if small[i] and small[i + 1] and _settled(sc, i) and _settled(sm, i):
            asym[i] = asym[i + 1] = True
    warnings = []
    for k, rows in diverged.items():
        if rows:
            hs = ", ".join(f"{h[j]:g}" for j in rows)
            warnings.append(f"divergence: the {k} run diverged at h = {hs}; no slope uses it")
    if not smooth:
        warnings.append(
            "non-smooth update: the theorem assumes a differentiable update (THEORY §11); "
            "the orders 2 and 1 are not expected"
        )
    large = finite & ~small
    if large.any():
        hs = ", ".join(f"{v:g}" for v in h[large])
        warnings.append(
            f"pre-asymptotic: at h = {hs} the errors are not small against the run's "
            f"extent (above {SMALL:g} of it)"
        )
    if not asym.any():
        warnings.append(
            "pre-asymptotic: no two consecutive local slopes agree within "
            f"{SETTLED:g}; no slope is fitted (lower h, or raise T)"
        )
    elif not asym[finite].all():
        hs = ", ".join(f"{v:g}" for v in h[finite & ~asym])
        warnings.append(f"pre-asymptotic rows at h = {hs} are left out of the fit")
    worse = finite & (c >= m)
    if worse.any():
        hs = ", ".join(f"{v:g}" for v in h[worse])
        warnings.append(
            f"corrected no better than memoryless at h = {hs}: the expansion needs h small "
            "against the memory length and the scale on which the update bends (THEORY §11)"
        )
    return asym, warnings


def order_study(
    loss,
    opt: Optimizer,
    theta0: torch.Tensor,
    hs,
    horizon: float,
    engine=simulate,
    smooth: bool = True,
) -> OrderStudy:
    """All step sizes run as one batch (one row each, per-row h) up to the longest
    horizon; each row's error is taken over its own n <= round(T/h).  `engine` is
    core.dynamics.simulate (`loss` a batched function) or core.fast2d.simulate (`loss`
    an expression).  `smooth`: whether the update is differentiable (the optimizer's
    record, THEORY §11)."""
    hs = tuple(float(h) for h in hs)
    steps = [max(1, round(horizon / h)) for h in hs]
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
    asym, warnings = diagnose(
        hs, errors["corrected"], errors["memoryless"], extent, diverged, smooth
    )
    used = np.flatnonzero(asym)
    pick = lambda e: np.asarray(e)[used]  # noqa: E731
    return OrderStudy(
        h=hs,
        corrected=tuple(errors["corrected"]),
        memoryless=tuple(errors["memoryless"]),
        slopes_corrected=local_slopes(hs, errors["corrected"]),
        slopes_memoryless=local_slopes(hs, errors["memoryless"]),
        fit_corrected=fitted_slope(pick(hs), pick(errors["corrected"])),
        fit_memoryless=fitted_slope(pick(hs), pick(errors["memoryless"])),
        asymptotic=tuple(bool(a) for a in asym),
        fit_rows=len(used),
        extent=tuple(extent),
        warnings=tuple(warnings),
    )


def run_warnings(rec, hyper: dict, summary, window) -> list[str]:
    """Warnings about one scenario's three runs (core.compute.PathSummary): divergence, a
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
    if summary.gap_corrected > summary.gap_memoryless:
        out.append(
            f"corrected farther from memory than memoryless ({summary.gap_corrected:.3g} vs "
            f"{summary.gap_memoryless:.3g}): {farther_reason(rec, hyper)}"
        )
    if not rec.smooth(hyper):
        out.append(f"non-smooth update: {rec.not_smooth}")
    return out


def farther_reason(rec, hyper: dict) -> str:
    """Why a corrected run can end farther than the memoryless one (THEORY §11)."""
    if not rec.smooth(hyper):
        return "the update is not smooth, so the correction is not the memory's effect"
    bends = (
        f" and against ε = {hyper['eps']:g}, the scale on which the update bends (the "
        "constants grow like 1/ε)"
        if "eps" in hyper
        else ""
    )
    memory = max((1 / (1 - hyper[k]) for k in rec.betas), default=1.0)
    return (
        f"the expansion behind the correction needs h small against the memory length "
        f"1/(1−β) ≈ {memory:.4g} steps{bends}; here the neglected O(h²) terms dominate "
        "(THEORY §11-§12)"
    )
