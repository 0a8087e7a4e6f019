"""Everything a 2D scenario shows, computed once per scenario (memoized on the frozen
object), so a page rerun, the CLI and the tests never repeat a computation."""

from __future__ import annotations

import os
from functools import lru_cache

import torch

from core.dynamics import Run, simulate
from core.losses import batched
from core.optimizers import Optimizer, make_optimizer
from core.order import OrderStudy, order_study
from core.scenario import Scenario
from core.surfaces import Surfaces, compute_surfaces


def device() -> torch.device:
    """CPU unless CUDA is asked for (MEMORY_DEVICE=cuda) and present."""
    wanted = os.environ.get("MEMORY_DEVICE", "cpu")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("MEMORY_DEVICE asks for CUDA, but no CUDA device is available")
    return torch.device(wanted)


def optimizer(s: Scenario) -> Optimizer:
    return make_optimizer(s.opt, **s.hyper)


def loss(s: Scenario):
    return batched(s.expression)


def start(s: Scenario) -> torch.Tensor:
    return torch.tensor([s.x0, s.y0], dtype=torch.float64, device=device())


@lru_cache(maxsize=64)
def trajectories(s: Scenario) -> Run:
    return simulate(loss(s), optimizer(s), start(s), s.lr, s.steps)


@lru_cache(maxsize=64)
def surfaces(s: Scenario) -> Surfaces:
    return compute_surfaces(loss(s), optimizer(s), s.hyper, s.lr, s.win, s.grid, device())


@lru_cache(maxsize=32)
def order(s: Scenario) -> OrderStudy:
    return order_study(loss(s), optimizer(s), start(s), s.hs, s.T)
