"""core.engine.fast2d_batch (numpy arrays, every trajectory at once) against the torch engine,
its oracle: fed the torch engine's own point at every step they agree to 1e-13 for every
optimizer and direction case; free-running on non-chaotic scenarios to 1e-12; rows with
their own hyperparameters; divergence per row; and the fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.engine import fast2d_batch
from core.engine.dynamics import DYNAMICS, simulate
from core.engine.registry import make_optimizer
from core.models.derivatives import Derivatives
from core.models.losses import ZOO, batched
from tests.test_fast2d import CASES, IDS, autograd
from tests.test_recursive_engine import opaque

F64 = torch.float64
REFERENCE = ZOO["reference"].expression
B = 4


def per_row(hyper: dict) -> dict:
    """The case's hyperparameters spread over B rows: eps and wd times 0.9 .. 1.1
    (eps = 0 kept), the betas' 1 - beta times 0.9 .. 1.1."""
    scale = np.linspace(0.9, 1.1, B)
    return {k: 1 - (1 - v) * scale if k[0] == "b" else v * scale for k, v in hyper.items()}


def starts() -> torch.Tensor:
    return torch.tensor([[-1.2, 0.8], [-1.5, 0.5], [-1.0, 1.0], [-1.1, 0.9]], dtype=F64)


@pytest.mark.parametrize(("loss", "lr"), [("reference", 0.01), ("himmelblau", 0.001)])
@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_rows_with_their_own_settings_fed_the_same_point_agree(name, hyper, loss, lr):
    """Rows with their own hyperparameters and step sizes (the layout a sweep uses; shared
    settings: tests/test_engine_agreement.py): every step from the torch engine's own
    points n (all three dynamics, every row) gives its points n + 1; the memory state
    follows the same points."""
    opt = make_optimizer(name, **per_row(hyper))
    expression, steps = ZOO[loss].expression, 120
    h = np.linspace(lr, 2 * lr, B)
    run = simulate(autograd(expression), opt, starts(), h, steps)
    engine = fast2d_batch._Engine(Derivatives.of(expression), opt, steps, DYNAMICS, B)
    path = np.stack([run[k].numpy() for k in DYNAMICS], 1).transpose(0, 3, 1, 2)  # (n, 2, K, B)
    for n in range(steps):
        fed = path[n] - h * engine.update(n, path[n].copy(), h)
        assert np.abs(fed - path[n + 1]).max() <= 1e-13 * max(1.0, np.abs(path).max()), n
    assert np.abs(path[1:] - path[:-1]).max() > 1e-4  # the runs move


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_free_running_the_engines_agree(name, hyper):
    """300 steps on the reference loss, rows with their own hyperparameters and step
    sizes (not chaotic for these settings)."""
    opt = make_optimizer(name, **per_row(hyper))
    h = np.linspace(0.009, 0.011, B)
    fast = fast2d_batch.simulate(REFERENCE, opt, starts(), h, 300)
    ref = simulate(autograd(REFERENCE), opt, starts(), h, 300)
    for k in DYNAMICS:
        assert torch.allclose(fast[k], ref[k], rtol=0, atol=1e-12), k
        assert (fast.diverged[k] == -1).all() and (ref.diverged[k] == -1).all()


def test_one_diverging_row_is_labelled_and_the_rest_goes_on():
    opt = make_optimizer("hb", b1=0.9)
    start = torch.tensor([1.0, -0.5], dtype=F64).repeat(2, 1)
    h = np.array([1.5, 0.01])  # row 0 diverges, row 1 does not
    fast = fast2d_batch.simulate("x^4 + y^2", opt, start, h, 60)
    ref = simulate(autograd("x^4 + y^2"), opt, start, h, 60)
    for k in DYNAMICS:
        at = int(ref.diverged[k][0])
        assert at > 0 and int(fast.diverged[k][0]) == at and fast.diverged[k][1] == -1
        assert torch.allclose(fast[k][:at], ref[k][:at], rtol=1e-12, atol=0)
        assert torch.equal(fast[k][at:, 0], fast[k][at - 1, 0].expand_as(fast[k][at:, 0]))
        assert torch.allclose(fast[k][:, 1], ref[k][:, 1], rtol=0, atol=1e-13)


@pytest.mark.parametrize("dynamics", [("memory",), ("corrected",), ("memoryless", "corrected")])
def test_a_subset_of_the_dynamics(dynamics):
    opt = make_optimizer("adam", b1=[0.8, 0.9], b2=0.95, eps=0.05)
    start = torch.tensor([[-1.2, 0.8], [-1.0, 1.0]], dtype=F64)
    fast = fast2d_batch.simulate(REFERENCE, opt, start, 0.01, 50, dynamics)
    ref = simulate(autograd(REFERENCE), opt, start, 0.01, 50, dynamics)
    for k in DYNAMICS:
        assert (fast[k] is None) == (k not in dynamics)
        if k in dynamics:
            assert torch.allclose(fast[k], ref[k], rtol=0, atol=1e-13)


def test_eps_zero_at_a_zero_gradient_gives_torchs_nan():
    """Adam with eps = 0 at a zero gradient: 0/0, diverged at the same step as torch."""
    opt = make_optimizer("adam", b1=0.9, b2=0.999, eps=0.0)
    start = torch.tensor([[0.0, 1.0], [0.5, 1.0]], dtype=F64)
    fast = fast2d_batch.simulate("x^2 + y^2", opt, start, 0.1, 5)
    ref = simulate(batched("x^2 + y^2"), opt, start, 0.1, 5)
    for k in DYNAMICS:
        assert (fast.diverged[k] == ref.diverged[k]).all()
        assert torch.equal(torch.isfinite(fast[k]), torch.isfinite(ref[k]))


@pytest.mark.parametrize("on_arrays", [True, False], ids=["arrays", "torch fallback"])
def test_states_are_the_steps_simulate_keeps(on_arrays):
    """states() (what a sweep reduces as it runs) yields every step simulate stores, on
    the array path and on the torch engine's (weights the array path cannot see are
    geometric)."""
    opt = make_optimizer("hb", b1=0.9)
    opt = opt if on_arrays else opaque(opt)
    assert fast2d_batch.supported(opt) == on_arrays
    start = torch.tensor([1.0, -0.5], dtype=F64).repeat(2, 1)
    h = np.array([1.5, 0.01])  # row 0 diverges
    run = fast2d_batch.simulate("x^4 + y^2", opt, start, h, 60)
    seen = [(t.copy(), d.copy()) for t, d in fast2d_batch.states("x^4 + y^2", opt, start, h, 60)]
    assert len(seen) == 61
    for n, (theta, _) in enumerate(seen):
        for j, k in enumerate(DYNAMICS):
            assert np.array_equal(theta[:, j].T, run[k][n].numpy()), (n, k)
    for j, k in enumerate(DYNAMICS):
        assert np.array_equal(seen[-1][1][j], run.diverged[k]) and run.diverged[k][0] > 0
