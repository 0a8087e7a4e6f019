"""THEORY §7 (c) by functions of one coordinate (core.engine.coordinate): the interpolated
directions against the exact sums over the past and against the general path, which sums
the opaque weights' tails without knowing they are geometric."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from core.engine.coordinate import CoordinateDirections
from core.engine.dynamics import fields_at_step
from core.engine.optimizers import Readout
from core.engine.registry import make_optimizer
from core.models.losses import ZOO, batched
from tests.test_recursive_engine import opaque

F64 = torch.float64
SMOOTH = [
    ("lion", {"b1": 0.9, "b2": 0.99, "eps": 0.05}),
    ("lion", {"b1": 0.5, "b2": 0.9, "eps": 1e-6}),
    ("rmsprop", {"b2": 0.99, "eps": 1e-8}),
    ("rmsprop", {"b2": 0.9, "eps": 1.0}),
]


def directions(name: str, hyper: dict, steps: int) -> CoordinateDirections:
    opt = make_optimizer(name, **hyper)
    return CoordinateDirections(opt, [av.weights.tables(steps) for av in opt.averages])


@pytest.mark.parametrize(("name", "hyper"), SMOOTH)
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e4])
def test_the_interpolant_matches_the_exact_sums(name, hyper, scale):
    F = directions(name, hyper, 400)
    x = np.random.default_rng(7).standard_normal(6000) * scale
    x[:3] = 0.0
    x[3:6] = [np.inf, -np.inf, np.nan]
    got, exact = F(400, x), F.exact(400, x)
    assert np.array_equal(np.isfinite(got), np.isfinite(exact))
    finite = np.isfinite(exact)
    top = np.abs(exact[finite]).max()
    assert np.abs(got[finite] - exact[finite]).max() <= 1e-10 * top


def test_the_exact_sums_are_the_definition():
    """F(x) = sum_{b<n} T(n, n-b) value(x, W(b) x), the weights summed by brute force."""
    b1, b2, eps, n = 0.8, 0.95, 0.3, 60
    F = directions("lion", {"b1": b1, "b2": b2, "eps": eps}, n)
    w = lambda m, k: (1 - b1) if k == 0 else b1 * (1 - b2) * b2 ** (k - 1)  # noqa: E731
    x = np.array([-2.0, -0.01, 0.0, 0.4, 7.0])
    want = np.zeros_like(x)
    for b in range(n):
        W = sum(w(b, k) for k in range(b + 1))
        tail = sum(w(n, k) for k in range(n - b, n + 1))
        want += tail * (W * x) / np.sqrt((W * x) ** 2 + eps)
    assert np.allclose(F.exact(n, x)[:, 0], want, rtol=1e-13, atol=1e-15)


def test_a_readout_that_jumps_falls_back_to_the_exact_sums():
    """No interpolant converges across a jump: the exact sums are returned (an
    interpolant would be off by a sizeable part of a jump near each one)."""

    def jump(p, g, c):
        return np.where(c > 0.5, 1.0, 0.0) * c

    lion = make_optimizer("lion", eps=0.1)
    opt = replace(lion, readout=Readout(jump, lion.readout.partials, lion.readout.params))
    F = CoordinateDirections(opt, [av.weights.tables(300) for av in opt.averages])
    x = np.linspace(-3.0, 3.0, 5000)
    got, exact = F(300, x), F.exact(300, x)
    assert np.abs(got - exact).max() <= 1e-13 * np.abs(exact).max()


@pytest.mark.parametrize(("name", "hyper"), SMOOTH)
def test_grid_corrections_equal_the_general_path(name, hyper):
    """M^(n) on a 70 x 70 grid (9,800 coordinates: interpolated) against the general path."""
    loss = batched(ZOO["reference"].expression)
    axis = torch.linspace(-2.0, 2.0, 70, dtype=F64)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)
    opt = make_optimizer(name, **hyper)
    fbar, M = fields_at_step(loss, opt, pts, 250)
    fbar_general, M_general = fields_at_step(loss, opaque(opt), pts, 250)
    assert torch.allclose(fbar, fbar_general, rtol=0, atol=1e-13)
    assert (M - M_general).abs().max() <= 1e-9 * M_general.abs().max()
    assert M_general.abs().max() > 1e-3  # the correction is there to be compared
