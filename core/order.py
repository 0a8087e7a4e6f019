"""The order study of THEORY §1: at a fixed horizon T, how the max distance of the
memoryless and corrected runs to the memory run shrinks with the step size h."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.dynamics import simulate
from core.optimizers import Optimizer


@dataclass(frozen=True)
class OrderStudy:
    h: tuple[float, ...]
    corrected: tuple[float, ...]  # max_n |memory - corrected| over n <= T/h
    memoryless: tuple[float, ...]  # max_n |memory - memoryless|
    slopes_corrected: tuple[float, ...]  # between consecutive h: log ratio of errors
    slopes_memoryless: tuple[float, ...]
    fit_corrected: float  # least-squares slope of log error against log h
    fit_memoryless: float


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


def order_study(
    loss, opt: Optimizer, theta0: torch.Tensor, hs, horizon: float, engine=simulate
) -> OrderStudy:
    """All step sizes run as one batch (one row each, per-row h) up to the longest
    horizon; each row's error is taken over its own n <= round(T/h).  `engine` is
    core.dynamics.simulate (`loss` a batched function) or core.fast2d.simulate (`loss`
    an expression)."""
    hs = tuple(float(h) for h in hs)
    steps = [max(1, round(horizon / h)) for h in hs]
    run = engine(loss, opt, theta0.reshape(1, -1).repeat(len(hs), 1), np.array(hs), max(steps))
    errors = {"corrected": [], "memoryless": []}
    for row, n in enumerate(steps):
        for k in errors:
            gap = (run[k][: n + 1, row] - run.memory[: n + 1, row]).norm(dim=-1)
            bad = any(0 <= run.diverged[j][row] <= n for j in ("memory", k))
            errors[k].append(float("inf") if bad else float(gap.max()))
    return OrderStudy(
        h=hs,
        corrected=tuple(errors["corrected"]),
        memoryless=tuple(errors["memoryless"]),
        slopes_corrected=local_slopes(hs, errors["corrected"]),
        slopes_memoryless=local_slopes(hs, errors["memoryless"]),
        fit_corrected=fitted_slope(hs, errors["corrected"]),
        fit_memoryless=fitted_slope(hs, errors["memoryless"]),
    )
