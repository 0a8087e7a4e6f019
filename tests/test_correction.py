"""The generic memory correction against independent computations:
the closed forms of THEORY §4 at large n, and the defining formula of §1
(Jacobians of the update in its past iterates, by brute-force autograd) at small n,
for the built-in declarations and for two optimizers declared only in this file."""

import independent
import numpy as np
import pytest
import torch

from core.engine.dynamics import asymptotic_fields, fields_at_step, simulate
from core.engine.optimizers import (
    Average,
    Geometric,
    Optimizer,
    Readout,
    ema,
    gradient,
    gradient_slope,
)
from core.engine.registry import make_optimizer
from core.models.losses import ZOO, batched

LOSS = batched(ZOO["reference"].expression)
GRAD = independent.gradient_of(LOSS)
POINTS = torch.tensor([[-1.2, 0.8], [0.3, -0.4], [1.5, 1.0], [0.9, 0.2]])


def grad_and_hessian(t):
    f = lambda z: LOSS(z[None])[0]  # noqa: E731
    g = torch.stack([torch.autograd.functional.jacobian(f, p) for p in t])
    H = torch.stack([torch.autograd.functional.hessian(f, p) for p in t])
    return g, H


def closed_form(name, hp, t):
    """THEORY §4, written out independently of the engine."""
    g, H = grad_and_hessian(t)
    Hv = lambda v: torch.einsum("rij,rj->ri", H, v)  # noqa: E731
    if name in ("hb", "nesterov"):
        b = hp["b1"]
        fbar = g / (1 - b)
        c = b if name == "hb" else b * b
        return fbar, c / (1 - b) ** 3 * Hv(g)
    if name == "rmsprop":
        c2, eps = hp["b2"] / (1 - hp["b2"]), hp["eps"]
        fbar = g / (g.abs() + eps)
        return fbar, -c2 * g.abs() * Hv(fbar) / (g.abs() + eps) ** 2
    if name in ("adam", "adamw"):
        c1, c2, eps = hp["b1"] / (1 - hp["b1"]), hp["b2"] / (1 - hp["b2"]), hp["eps"]
        fbar = g / (g.abs() + eps) + hp.get("wd", 0.0) * t
        return fbar, Hv(fbar) / (g.abs() + eps) * (c1 - c2 * g.abs() / (g.abs() + eps))
    if name == "lion":
        b1, b2, eps = hp["b1"], hp["b2"], hp["eps"]
        fbar = g / torch.sqrt(g * g + eps) + hp["wd"] * t
        return fbar, b1 / (1 - b2) * eps / (g * g + eps) ** 1.5 * Hv(fbar)
    raise AssertionError(name)


CLOSED_FORM_CASES = [
    ("hb", {"b1": 0.7}),
    ("nesterov", {"b1": 0.5}),
    ("rmsprop", {"b2": 0.8, "eps": 0.3}),
    ("adam", {"b1": 0.6, "b2": 0.8, "eps": 0.2}),
    ("adamw", {"b1": 0.5, "b2": 0.7, "eps": 0.5, "wd": 0.1}),
    ("lion", {"b1": 0.5, "b2": 0.6, "eps": 0.25, "wd": 0.1}),
]


@pytest.mark.parametrize(("name", "hp"), CLOSED_FORM_CASES)
def test_generic_correction_at_large_n_matches_closed_forms(name, hp):
    fbar_ref, m_ref = closed_form(name, hp, POINTS)
    fbar, m = fields_at_step(LOSS, make_optimizer(name, **hp), POINTS, n=400)
    assert torch.allclose(fbar, fbar_ref, rtol=0, atol=1e-10)
    assert torch.allclose(m, m_ref, rtol=0, atol=1e-10)
    assert m.abs().max() > 1e-3  # the comparison is not vacuous


@pytest.mark.parametrize(("name", "hp"), CLOSED_FORM_CASES)
def test_asymptotic_fields_match_closed_forms(name, hp):
    fbar_ref, m_ref = closed_form(name, hp, POINTS)
    _, fbar, m, _ = asymptotic_fields(LOSS, make_optimizer(name, **hp), POINTS)
    assert torch.allclose(fbar, fbar_ref, rtol=0, atol=1e-10)
    assert torch.allclose(m, m_ref, rtol=0, atol=1e-10)


def test_exact_sign_lion_has_no_correction():
    _, m = fields_at_step(LOSS, make_optimizer("lion", b1=0.9, b2=0.99, eps=0.0), POINTS, 50)
    assert torch.count_nonzero(m) == 0


# --- §1 by brute force: F^(n) as an explicit function of the whole history -----------


def qhm_update(history, nu=0.7, beta=0.6):
    """Quasi-hyperbolic momentum (Ma & Yarats 2019), written as its recursion."""
    m = torch.zeros(2)
    for theta in history:
        g = GRAD(theta)
        m = beta * m + (1 - beta) * g
    return (1 - nu) * g + nu * m


def signum_update(history, beta=0.7, eps=0.2):
    """Smoothed Signum: the smoothed sign of an exponential moving average."""
    m = torch.zeros(2)
    for theta in history:
        m = beta * m + (1 - beta) * GRAD(theta)
    return independent.sign_eps(m, eps)


QHM = Optimizer(
    "qhm",
    (
        Average(
            gradient,
            Geometric(head=0.3 + 0.7 * 0.4, tail=0.7 * 0.4 * 0.6, ratio=0.6),
            gradient_slope,
        ),
    ),
    Readout(lambda p, g, a: a, lambda p, g, a: (1.0,)),
)
SIGNUM = Optimizer(
    "signum",
    (Average(gradient, ema(0.7), gradient_slope),),
    Readout(
        lambda p, g, m: m / (m * m + 0.2) ** 0.5,
        lambda p, g, m: (0.2 / (m * m + 0.2) ** 1.5,),
    ),
)


def test_declared_optimizer_memory_run_follows_its_recursion():
    """A declaration alone gives the memory run: QHM's against its own recursion."""
    steps, lr = 30, 0.02
    run = simulate(LOSS, QHM, POINTS[0], lr, steps)
    theta, m = POINTS[0].clone(), torch.zeros(2)
    for n in range(steps):
        g = torch.autograd.functional.jacobian(lambda z: LOSS(z[None])[0], theta)
        m = 0.6 * m + 0.4 * g
        theta = theta - lr * (0.3 * g + 0.7 * m)
        assert torch.allclose(run.memory[n + 1, 0], theta, rtol=0, atol=1e-13)


def test_corrected_run_is_second_order_for_a_declared_optimizer():
    """Halving h divides the corrected error by about 4 and the memoryless by about 2."""
    errors = {"corrected": [], "memoryless": []}
    for h in (0.02, 0.01, 0.005):
        run = simulate(LOSS, QHM, POINTS[0], h, round(1 / h))
        for k in errors:
            errors[k].append(float((run[k] - run.memory).norm(dim=-1).max()))
    slope = {k: np.log2(np.array(v[:-1]) / np.array(v[1:])) for k, v in errors.items()}
    assert slope["corrected"][-1] > 1.7
    assert 0.8 < slope["memoryless"][-1] < 1.2
