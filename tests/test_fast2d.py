"""core.engine.fast2d (Python floats, symbolic derivatives) against the torch engine:
free-running on scenarios chosen non-chaotic they agree to 1e-12; and the fallbacks
(each step of every backend against independent references:
tests/test_engine_agreement.py)."""

from __future__ import annotations

import pytest
import torch

from core.analyses import compute
from core.engine import fast2d
from core.engine.dynamics import DYNAMICS, _Recursive, simulate
from core.engine.registry import RECORDS, make_optimizer
from core.models.losses import ZOO, batched
from core.scenarios.scenario import Scenario

F64 = torch.float64
REFERENCE = ZOO["reference"].expression
CASES = [
    ("gd", {}),
    ("hb", {"b1": 0.7}),
    ("nesterov", {"b1": 0.6}),
    ("rmsprop", {"b2": 0.9, "eps": 0.1}),
    ("adam", {"b1": 0.8, "b2": 0.95, "eps": 0.05}),
    ("adamw", {"b1": 0.5, "b2": 0.7, "eps": 0.5, "wd": 0.1}),
    ("adamw", {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "wd": 0.01}),
    ("adamw_epsin", {"b1": 0.8, "b2": 0.95, "eps": 0.05, "wd": 0.1}),
    ("lion", {"b1": 0.9, "b2": 0.99, "eps": 0.0, "wd": 0.1}),
    ("lion", {"b1": 0.5, "b2": 0.6, "eps": 0.25, "wd": 0.1}),
]
IDS = [f"{n}-{'-'.join(map(str, h.values()))}" for n, h in CASES]


def autograd(expression: str):
    """The loss without its declared derivatives: the torch engine differentiates it by
    autograd, independently of core.models.derivatives."""
    loss = batched(expression)
    return lambda theta: loss(theta)


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_the_torch_engine_with_declared_derivatives_agrees_with_autograd(name, hyper):
    opt = make_optimizer(name, **hyper)
    # two starts where a 1e-15 change of the start moves no run by more than 1e-14
    starts = torch.tensor([[-1.2, 0.8], [-1.5, 0.5]], dtype=F64)
    declared = simulate(batched(REFERENCE), opt, starts, 0.01, 150)
    ref = simulate(autograd(REFERENCE), opt, starts, 0.01, 150)
    for k in DYNAMICS:
        assert torch.allclose(declared[k], ref[k], rtol=0, atol=1e-13), k


def test_cases_cover_every_optimizer_and_every_direction_case():
    assert {n for n, _ in CASES} == set(RECORDS)
    plans = {_Recursive(make_optimizer(n, **h), 10).case for n, h in CASES}
    assert plans == {"flat", "a", "b", "c"}


@pytest.mark.parametrize(("name", "hyper"), CASES, ids=IDS)
def test_free_running_the_engines_agree(name, hyper):
    """300 steps on the reference loss at lr 0.01 (not chaotic for these settings)."""
    opt = make_optimizer(name, **hyper)
    start = torch.tensor([-1.2, 0.8], dtype=F64)
    fast = fast2d.simulate(REFERENCE, opt, start, 0.01, 300)
    ref = simulate(autograd(REFERENCE), opt, start, 0.01, 300)
    for k in DYNAMICS:
        assert torch.allclose(fast[k], ref[k], rtol=0, atol=1e-12), k
        assert fast.diverged[k][0] == ref.diverged[k][0] == -1


def test_a_diverging_run_is_labelled_at_the_same_step():
    opt = make_optimizer("hb", b1=0.9)
    start = torch.tensor([1.0, -0.5], dtype=F64)
    fast = fast2d.simulate("x^4 + y^2", opt, start, 1.5, 60)
    ref = simulate(autograd("x^4 + y^2"), opt, start, 1.5, 60)
    for k in DYNAMICS:
        at = int(ref.diverged[k][0])
        assert at > 0 and int(fast.diverged[k][0]) == at
        assert torch.equal(torch.isfinite(fast[k]), torch.isfinite(ref[k]))
        assert torch.allclose(fast[k][:at], ref[k][:at], rtol=1e-12, atol=0)
        assert torch.equal(fast[k][at:], fast[k][at - 1 : at].expand_as(fast[k][at:]))


def test_rows_with_their_own_step_sizes_match_the_batched_torch_engine():
    opt = make_optimizer("adamw", b1=0.5, b2=0.7, eps=0.5, wd=0.1)
    starts = torch.tensor([[-1.2, 0.8], [0.5, -0.5]], dtype=F64)
    fast = fast2d.simulate(REFERENCE, opt, starts, [0.02, 0.01], 80)
    ref = simulate(autograd(REFERENCE), opt, starts, [0.02, 0.01], 80)
    for k in DYNAMICS:
        assert torch.allclose(fast[k], ref[k], rtol=0, atol=1e-13)


def test_what_the_float_path_does_not_cover_runs_on_the_torch_engine():
    """Per-trajectory hyperparameters, and eps = 0 at a zero gradient (0/0 on floats)."""
    assert not fast2d.supported(make_optimizer("adam", b1=[0.5, 0.9]))
    opt = make_optimizer("adam", b1=0.9, b2=0.999, eps=0.0)
    start = torch.tensor([0.0, 1.0], dtype=F64)
    fast = fast2d.simulate("x^2 + y^2", opt, start, 0.1, 5)
    ref = simulate(autograd("x^2 + y^2"), opt, start, 0.1, 5)
    for k in DYNAMICS:
        assert torch.equal(torch.isnan(fast[k]), torch.isnan(ref[k]))
        assert fast.diverged[k][0] == ref.diverged[k][0]


def test_a_readout_leaving_the_reals_falls_back_to_the_torch_engine():
    """Lion with eps < 0 (a library call; the URL refuses it): sqrt of a negative is a
    complex power on floats, nan in torch; the run is the torch engine's."""
    opt = make_optimizer("lion", eps=-0.5)
    start = torch.tensor([0.1, 0.1], dtype=F64)
    fast = fast2d.simulate("x^2 + y^2", opt, start, 0.1, 5)
    ref = simulate(autograd("x^2 + y^2"), opt, start, 0.1, 5)
    for k in DYNAMICS:
        assert fast.diverged[k][0] == ref.diverged[k][0] == 1
        assert torch.equal(fast[k], ref[k])


def test_the_2d_callers_use_the_fast_path(monkeypatch):
    """compute (pages, CLI) and the order study run without the torch engine."""

    def refuse(*args, **kwargs):
        raise AssertionError("the torch engine was called")

    monkeypatch.setattr(fast2d, "torch_simulate", refuse)
    s = Scenario.parse("opt=adam&steps=50&hs=0.04,0.02")
    assert compute.trajectories(s).memory.shape == (51, 1, 2)
    assert len(compute.order(s).h) == 2


# --- issue 10 item 3: a constant gradient (no Hessian graph) crashes nothing ---------

CONSTANT_GRADIENTS = ["x", "x + y", "2", "pi", "max(x, y)", "9**9**9**9"]


@pytest.mark.parametrize("expression", CONSTANT_GRADIENTS)
@pytest.mark.parametrize("name", list(RECORDS))
def test_a_constant_gradient_runs_every_optimizer(expression, name):
    opt = make_optimizer(name, **{"eps": 0.1} if name == "lion" else {})
    start = torch.tensor([0.3, -0.2], dtype=F64)
    ref = simulate(autograd(expression), opt, start, 0.01, 6)
    fast = fast2d.simulate(expression, opt, start, 0.01, 6)
    for k in DYNAMICS:
        assert torch.isfinite(ref[k]).all()
        assert torch.allclose(fast[k], ref[k], rtol=0, atol=1e-15)
    # H = 0: the corrected run is the memoryless run
    assert torch.allclose(ref.corrected, ref.memoryless, rtol=0, atol=1e-15)


def test_cli_simulates_a_linear_loss_with_every_optimizer(capsys):
    """`python -m core simulate 'loss=custom&f=x'` exits 0, with every optimizer."""
    from core import cli

    for name in RECORDS:
        assert cli.main(["simulate", f"loss=custom&f=x&steps=20&opt={name}"]) == 0
    assert capsys.readouterr().out.count('"scenario"') == len(RECORDS)
