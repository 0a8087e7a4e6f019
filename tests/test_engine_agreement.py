"""The engine's agreement matrix: each backend that runs the formulas of core/engine/kernel.py
(Python floats: core.engine.fast2d; numpy arrays: core.engine.fast2d_batch, with one value per row
or shared hyperparameters; torch tensors: core.engine.dynamics) for every declared optimizer
and every direction case of THEORY §7, against references that share nothing with
core/:

- the memory run: torch.optim where PyTorch has the optimizer, lion-pytorch for Lion's
  exact sign, else the optimizer's own recursion over the whole history
  (tests/independent.py);
- Fbar^(n) and M^(n) at a point: THEORY §1's defining formula by brute-force autograd
  Jacobians (tests/independent.py), at steps n = 1, 5 and 30.
"""

from __future__ import annotations

from functools import cache, partial

import independent
import numpy as np
import pytest
import torch
from lion_pytorch import Lion

from core.engine import fast2d, fast2d_batch
from core.engine.dynamics import _Recursive, fields_at_step, simulate
from core.engine.registry import make_optimizer
from core.models.derivatives import Derivatives
from core.models.losses import ZOO, batched
from tests.test_correction import QHM, SIGNUM, qhm_update, signum_update

F64 = torch.float64
EXPRESSION = ZOO["reference"].expression
LOSS = batched(EXPRESSION)
GRAD = independent.gradient_of(LOSS)
START = (-1.2, 0.8)
POINTS = [(-1.2, 0.8), (0.3, -0.4)]

# (name, hyperparameters, the reference memory run's torch.optim class and arguments or
# None): every optimizer, every direction case of THEORY §7 (b: Adam; a: heavy ball,
# Nesterov; c: RMSprop, Lion eps > 0; flat: Lion's exact sign)
CASES = [
    ("gd", {}, torch.optim.SGD, {}),
    ("hb", {"b1": 0.7}, torch.optim.SGD, {"momentum": 0.7}),
    ("nesterov", {"b1": 0.6}, torch.optim.SGD, {"momentum": 0.6, "nesterov": True}),
    ("rmsprop", {"b2": 0.9, "eps": 0.1}, torch.optim.RMSprop, {"alpha": 0.9, "eps": 0.1}),
    (
        "adam",
        {"b1": 0.8, "b2": 0.95, "eps": 0.05},
        torch.optim.Adam,
        {"betas": (0.8, 0.95), "eps": 0.05},
    ),
    (
        "adamw",
        {"b1": 0.5, "b2": 0.7, "eps": 0.5, "wd": 0.1},
        torch.optim.AdamW,
        {"betas": (0.5, 0.7), "eps": 0.5, "weight_decay": 0.1},
    ),
    (
        "adamw",
        {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "wd": 0.01},
        torch.optim.AdamW,
        {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01},
    ),
    ("adamw_epsin", {"b1": 0.8, "b2": 0.95, "eps": 0.05, "wd": 0.1}, None, None),
    ("lion", {"b1": 0.9, "b2": 0.99, "eps": 0.0, "wd": 0.1}, Lion, {"betas": (0.9, 0.99)}),
    ("lion", {"b1": 0.5, "b2": 0.6, "eps": 0.25, "wd": 0.1}, None, None),
]


def case_id(name: str, hyper: dict) -> str:
    return f"{name}-{'-'.join(map(str, hyper.values()))}"


IDS = [case_id(n, h) for n, h, _, _ in CASES]
BACKENDS = ["floats", "arrays", "arrays per row", "tensors"]


def declared(name: str, hyper: dict, backend: str):
    """The declaration; on "arrays per row" with every hyperparameter given once per row
    (two equal rows), which takes the arrays' per-trajectory layout."""
    if backend == "arrays per row":
        hyper = {k: np.array([v, v]) for k, v in hyper.items()}
    return make_optimizer(name, **hyper)


def reference_update(name: str, hyper: dict):
    """F^(n) as a function of the whole history (tests/independent.py)."""
    if name == "adamw_epsin":
        return partial(adamw_epsin_update, **hyper)
    return partial(independent.UPDATES[name], GRAD, **hyper)


def adamw_epsin_update(history, b1, b2, eps, wd):
    """m/sqrt(v + eps) on the bias-corrected moments, + wd theta, by its recursion."""
    m = v = torch.zeros_like(history[0])
    for theta in history:
        g = GRAD(theta)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    n = len(history)
    return (m / (1 - b1**n)) / torch.sqrt(v / (1 - b2**n) + eps) + wd * history[-1]


@cache
def reference_memory_run(case: int, lr: float, steps: int) -> np.ndarray:
    """Computed once per case: every backend is compared with the same run."""
    name, hyper, cls, kwargs = CASES[case]
    if cls is None:  # the recursion over the whole history
        update = reference_update(name, hyper)
        history = [torch.tensor(START, dtype=F64, requires_grad=True)]
        for _ in range(steps):
            step = history[-1] - lr * update(history)
            history.append(step.detach().requires_grad_(True))
        return torch.stack(history).detach().numpy()
    p = torch.tensor(START, dtype=F64, requires_grad=True)
    wd = {"weight_decay": hyper["wd"]} if name == "lion" else {}
    opt = cls([p], lr=lr, **kwargs, **wd)
    points = [p.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        LOSS(p[None]).sum().backward()
        opt.step()
        points.append(p.detach().clone())
    return torch.stack(points).numpy()


def memory_run(backend: str, opt, lr: float, steps: int) -> np.ndarray:
    rows = 2 if backend == "arrays per row" else 1
    start = torch.tensor([START] * rows, dtype=F64)
    if backend == "floats":
        assert fast2d.supported(opt)
        run = fast2d.simulate(EXPRESSION, opt, start, lr, steps, ("memory",))
    elif backend.startswith("arrays"):
        assert fast2d_batch.supported(opt)
        run = fast2d_batch.simulate(EXPRESSION, opt, start, lr, steps, ("memory",))
    else:
        run = simulate(LOSS, opt, start, lr, steps, ("memory",))
    assert all(np.array_equal(run.memory[:, r], run.memory[:, 0]) for r in range(rows))
    return run.memory[:, 0].numpy()


def fields(backend: str, opt, point, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fbar^(n) and M^(n) at the point, from one memoryless and one corrected step of
    the backend with h = 1 (theta - Fbar and theta - Fbar - M)."""
    t = np.array(point, dtype=np.float64)
    if backend == "tensors":
        fbar, M = fields_at_step(LOSS, opt, torch.tensor([point], dtype=F64), n)
        return fbar[0].numpy(), M[0].numpy()
    if backend == "floats":
        d, plan = Derivatives.of(EXPRESSION), _Recursive(opt, n + 1)
        memoryless = np.array(fast2d.memoryless_step(d, opt, plan, 1.0)(n, *point))
        corrected = np.array(fast2d.corrected_step(d, opt, plan, 1.0)(n, *point))
    else:
        rows = 2 if backend == "arrays per row" else 1
        dynamics = ("memoryless", "corrected")
        engine = fast2d_batch._Engine(Derivatives.of(EXPRESSION), opt, n + 1, dynamics, rows)
        theta = np.broadcast_to(t[:, None, None], (2, 2, rows)).copy()
        update = engine.update(n, theta, 1.0)
        assert np.array_equal(update[..., -1], update[..., 0])
        memoryless, corrected = t - update[:, 0, 0], t - update[:, 1, 0]
    fbar = t - memoryless
    return fbar, (t - corrected) - fbar


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "hyper", "cls", "kwargs"), CASES, ids=IDS)
def test_memory_run_equals_the_reference(backend, name, hyper, cls, kwargs):
    """60 steps at lr 0.01: a regime where rounding is not amplified chaotically (near a
    minimum with a tiny eps, g/sqrt(v) is ill-conditioned and two correct
    implementations drift apart at the 1e-15 -> 1e-2 level after ~120 steps)."""
    lr, steps = 0.01, 60
    got = memory_run(backend, declared(name, hyper, backend), lr, steps)
    expected = reference_memory_run(IDS.index(case_id(name, hyper)), lr, steps)
    assert np.abs(got - expected).max() <= 1e-12
    assert np.abs(got[-1] - got[0]).max() > 1e-3  # the run moves


@pytest.mark.parametrize("n", [1, 5, 30])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "hyper", "cls", "kwargs"), CASES, ids=IDS)
def test_memoryless_update_and_correction_equal_the_defining_formula(
    backend, name, hyper, cls, kwargs, n
):
    opt = declared(name, hyper, backend)
    for j, point in enumerate(POINTS):
        fbar_ref, m_ref = reference_fields(IDS.index(case_id(name, hyper)), j, n)
        fbar, M = fields(backend, opt, point, n)
        assert np.abs(fbar - fbar_ref).max() <= 1e-12
        assert np.abs(M - m_ref).max() <= 1e-11 * max(1.0, np.abs(m_ref).max())
        exact_sign = name == "lion" and hyper["eps"] == 0
        if name != "gd" and not exact_sign:  # otherwise M = 0
            assert np.abs(m_ref).max() > 1e-4


@cache
def reference_fields(case: int, point: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """THEORY §1's Fbar^(n) and M^(n) by brute force, once per case, point and n."""
    name, hyper, _, _ = CASES[case]
    t = torch.tensor(POINTS[point], dtype=F64)
    fbar, M = independent.brute_force_fields(reference_update(name, hyper), t, n)
    return fbar.numpy(), M.numpy()


@pytest.mark.parametrize("backend", ["floats", "arrays", "tensors"])
@pytest.mark.parametrize(
    ("opt", "update"), [(QHM, qhm_update), (SIGNUM, signum_update)], ids=["qhm", "signum"]
)
def test_a_declaration_outside_the_registry_runs_on_every_backend(backend, opt, update):
    """Two optimizers declared only in tests/test_correction.py (QHM; a smoothed Signum,
    case c): every backend derives their fields from the declaration alone."""
    for n in (1, 5):
        fbar_ref, m_ref = independent.brute_force_fields(
            update, torch.tensor(POINTS[0], dtype=F64), n
        )
        fbar, M = fields(backend, opt, POINTS[0], n)
        assert np.abs(fbar - fbar_ref.numpy()).max() <= 1e-12
        assert np.abs(M - m_ref.numpy()).max() <= 1e-11
