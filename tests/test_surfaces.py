"""Surfaces: the integrated perturbation against THEORY §5's closed forms, the residual
that tells a gradient field from a non-gradient one, and the sign map."""

import numpy as np
import pytest
import torch

from core import surfaces
from core.losses import ZOO, batched
from core.optimizers import make_optimizer

REF = ZOO["reference"]
LOSS = batched(REF.expression)


def integrated(name, hyper, grid=80, window=REF.window):
    """Force the numerical route even where a closed form exists."""
    opt = make_optimizer(name, **hyper)
    return surfaces.compute_surfaces(LOSS, opt, hyper, 0.01, window, grid, closed_form=False)


def same_up_to_constant(a, b):
    a, b = a - a.mean(), b - b.mean()
    return np.abs(a - b).max() / np.abs(b).max()


def grid_gradient(s):
    xx, yy = np.meshgrid(s.x, s.y)
    pts = torch.tensor(np.stack([xx.ravel(), yy.ravel()], -1), requires_grad=True)
    (g,) = torch.autograd.grad(LOSS(pts).sum(), pts)
    return g.numpy().reshape(len(s.y), len(s.x), 2)


def test_integrated_R_recovers_heavy_balls_closed_form():
    s = integrated("hb", {"b1": 0.7})
    g = grid_gradient(s)
    closed = 0.7 / (2 * 0.3**2) * (g**2).sum(-1)  # THEORY §5
    assert same_up_to_constant(s.R, closed) < 5e-3
    assert s.residual < 1e-3  # a true gradient field
    assert s.source.startswith("integrated")


def test_integrated_R_matches_adams_l1_form_when_gradients_dwarf_eps():
    b1, b2 = 0.8, 0.9
    s = integrated("adam", {"b1": b1, "b2": b2, "eps": 1e-8}, grid=120)
    closed = (b1 / (1 - b1) - b2 / (1 - b2)) * np.abs(grid_gradient(s)).sum(-1)
    assert same_up_to_constant(s.R, closed) < 0.05
    assert (s.R.max() - s.R.min()) > 1.0  # -5 ||g||_1: strongly anti-regularizing


def test_lion_field_is_not_a_gradient_and_the_residual_says_so():
    hb = integrated("hb", {"b1": 0.7})
    lion = integrated("lion", {"b1": 0.9, "b2": 0.99, "eps": 0.1, "wd": 0.0})
    assert lion.residual > 20 * hb.residual


def test_closed_form_sources_and_sign_map():
    hb = surfaces.compute_surfaces(
        LOSS, make_optimizer("hb", b1=0.7), {"b1": 0.7}, 0.02, REF.window, 40
    )
    assert hb.source.startswith("closed form") and hb.residual == 0.0
    assert (hb.R >= -1e-12).all() and (hb.sign >= 0).all()  # regularizes everywhere
    np.testing.assert_allclose(hb.perturbed, hb.loss + 0.02 * hb.R)
    lion = {"b1": 0.9, "b2": 0.99, "eps": 0.0, "wd": 0.0}
    exact = surfaces.compute_surfaces(
        LOSS, make_optimizer("lion", **lion), lion, 0.02, REF.window, 40
    )
    assert np.count_nonzero(exact.R) == 0 and np.count_nonzero(exact.correction) == 0


@pytest.mark.parametrize("name", ["adamw", "rmsprop"])
def test_usual_betas_anti_regularize(name):
    opt = make_optimizer(name)
    hyper = {
        "adamw": {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "wd": 0.01},
        "rmsprop": {"b2": 0.99, "eps": 1e-8},
    }[name]
    s = surfaces.compute_surfaces(LOSS, opt, hyper, 0.01, REF.window, 40)
    assert s.source.startswith("integrated")
    assert (s.sign < 0).mean() > 0.9  # the perturbation lowers the loss almost everywhere
