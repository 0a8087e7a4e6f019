"""The history-free engine (THEORY §7) against the general path it replaces for
geometric weights: the same optimizers declared with opaque weights w(n, k) run through
the general path (history, summed tails) and must agree to 1e-13; the closed forms
against brute-force sums; the declared partials against the generic JVP."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from core.engine import dynamics
from core.engine.dynamics import DYNAMICS, _plan, _Recursive, _Schedule, limit_moments, simulate
from core.engine.optimizers import Average, Geometric, recursion
from core.engine.registry import make_optimizer
from core.models.losses import ZOO, batched

F64 = torch.float64
LOSS = batched(ZOO["reference"].expression)
START = torch.tensor([-1.2, 0.8], dtype=F64)
CASES = [
    ("hb", {"b1": 0.7}, "a"),
    ("nesterov", {"b1": 0.6}, "a"),
    ("rmsprop", {"b2": 0.9, "eps": 0.1}, "c"),
    ("adam", {"b1": 0.8, "b2": 0.95, "eps": 0.05}, "b"),
    ("adamw", {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "wd": 0.01}, "b"),
    ("lion", {"b1": 0.9, "b2": 0.99, "eps": 0.0, "wd": 0.1}, "flat"),
    ("lion", {"b1": 0.5, "b2": 0.6, "eps": 0.25, "wd": 0.1}, "c"),
]
IDS = [f"{n}-{c}" for n, _, c in CASES]


def opaque(opt):
    """The same declaration with its weights hidden behind a plain function: the engine
    cannot see they are geometric and takes the general path."""
    averages = tuple(
        Average(av.feature, lambda n, k, w=av.weights: w(n, k), av.slope) for av in opt.averages
    )
    return replace(opt, averages=averages)


@pytest.mark.parametrize(("name", "hyper", "case"), CASES, ids=IDS)
def test_recursive_path_agrees_with_the_general_path(name, hyper, case):
    opt = make_optimizer(name, **hyper)
    assert isinstance(_plan(opt, 10), _Recursive) and _plan(opt, 10).case == case
    assert isinstance(_plan(opaque(opt), 10), _Schedule)
    fast = simulate(LOSS, opt, START, 0.01, 150)
    general = simulate(LOSS, opaque(opt), START, 0.01, 150)
    for k in DYNAMICS:
        assert torch.allclose(fast[k], general[k], rtol=0, atol=1e-13), k
    assert (fast.corrected - fast.memoryless).abs().max() > 1e-5 or case == "flat"


def test_per_row_hyperparameters_agree_with_the_general_path():
    starts = torch.tensor([[-1.2, 0.8], [0.5, -0.5], [1.5, 1.5]], dtype=F64)
    for opt in (
        make_optimizer("adamw", b1=[0.5, 0.8, 0.9], b2=[0.7, 0.9, 0.999], eps=0.1, wd=0.1),
        make_optimizer("hb", b1=[0.3, 0.6, 0.9]),
        make_optimizer("lion", b1=[0.5, 0.9, 0.7], b2=[0.6, 0.99, 0.9], eps=[0.1, 0.3, 0.2]),
    ):
        fast = simulate(LOSS, opt, starts, [0.02, 0.01, 0.005], 60)
        general = simulate(LOSS, opaque(opt), starts, [0.02, 0.01, 0.005], 60)
        # b1 = 0.9: the correction's coefficient b/(1-b)^3 = 900 scales the rounding
        for k in DYNAMICS:
            assert torch.allclose(fast[k], general[k], rtol=0, atol=1e-12), (opt.name, k)


class NoHistory(Geometric):
    def __call__(self, n, k):
        raise AssertionError("the recursive engine evaluated w(n, k)")


@pytest.mark.parametrize(("name", "hyper", "case"), CASES, ids=IDS)
def test_the_recursive_engine_never_sums_over_the_history(name, hyper, case):
    """No w(n, k) is ever evaluated: no history, no O(n) sum (THEORY §7)."""
    opt = make_optimizer(name, **hyper)
    hidden = replace(
        opt,
        averages=tuple(replace(av, weights=NoHistory(**vars(av.weights))) for av in opt.averages),
    )
    run = simulate(LOSS, hidden, START, 0.01, 40)
    ref = simulate(LOSS, opt, START, 0.01, 40)
    assert torch.equal(run.corrected, ref.corrected)
    limit_moments(hidden.averages[0].weights)  # closed form, no truncated sum


def test_exact_sign_lion_skips_the_hessian_vector_product(monkeypatch):
    seen = []
    original = dynamics.grad_and_hvp

    def spy(loss, theta, hessian=True, first=0):
        seen.append(hessian)
        return original(loss, theta, hessian, first)

    monkeypatch.setattr(dynamics, "grad_and_hvp", spy)
    simulate(LOSS, make_optimizer("lion", eps=0.0), START, 0.01, 20)
    assert seen and not any(seen)
    seen.clear()
    simulate(LOSS, make_optimizer("lion", eps=0.1), START, 0.01, 20)
    assert sum(seen) == 19  # every step but the first (M^(0) = 0)


GEOMETRIC = [
    Geometric(head=0.1, tail=0.09, ratio=0.9, bias_corrected=True),
    Geometric(head=1.0, tail=0.7, ratio=0.7),
    Geometric(head=0.001, tail=0.000999, ratio=0.999, bias_corrected=True),
    Geometric(head=0.5, tail=0.2, ratio=0.0),
    Geometric(head=np.array([0.2, 0.5]), tail=np.array([0.1, 0.3]), ratio=np.array([0.6, 0.95])),
]


@pytest.mark.parametrize("w", GEOMETRIC)
def test_tables_match_brute_force_sums(w):
    steps = 60
    t = w.tables(steps)
    # the brute-force sums divide by 1 - r^(n+1), which loses ~eps / (1 - r) of accuracy
    tol = 1e-15 / (1 - np.max(w.ratio))
    s = np.linspace(0.5, 2.0, steps)[:, None] * np.ones(t.ratio.shape)
    for n in range(steps):
        weights = np.asarray(w(n, np.arange(n + 1)), dtype=np.float64).reshape(n + 1, -1)
        k = np.arange(n + 1)[:, None]
        assert np.allclose(t.W[n], weights.sum(0), rtol=tol, atol=0)
        assert np.allclose(t.moment[n], (k * weights).sum(0), rtol=tol, atol=1e-300)
        if n:
            tails = np.cumsum(weights[::-1], 0)[::-1][1:]  # sum_{k>=j} w(n,k), j = 1..n
            assert np.allclose(t.tails(n), tails[::-1], rtol=tol, atol=1e-300)
            assert np.allclose(t.contraction(s)[n], (tails[::-1] * s[:n]).sum(0), rtol=tol)
    # the limits in closed form against the truncated sums of opaque weights
    W_inf, moment_inf = limit_moments(w)
    W_sum, moment_sum = limit_moments(lambda n, k: w(n, k))
    assert np.allclose(W_inf, W_sum, rtol=tol) and np.allclose(moment_inf, moment_sum, rtol=tol)


@pytest.mark.parametrize(
    ("name", "hyper"),
    [(n, h) for n, h, _ in CASES] + [("rmsprop", {"b2": 0.99, "eps": 1e-8}), ("adam", {})],
)
def test_declared_partials_match_autograd(name, hyper):
    """The declared partials, on floats and on tensors, against torch autograd of the
    readout's value; where v = 0 (a zero gradient), where autograd of sqrt gives inf * 0,
    against THEORY §14's 0, the limit along the run."""
    opt = make_optimizer(name, **hyper)
    g = torch.tensor([[-2.1, 0.23], [1e-3, 4.0], [0.0, -0.7]], dtype=F64)
    scales = [0.9 + 0.2 * i for i in range(len(opt.averages))]
    averages = [
        (w * av.feature(g)).requires_grad_(True) for w, av in zip(scales, opt.averages, strict=True)
    ]
    value = opt.value(g, *averages)
    on_tensors = [torch.as_tensor(p).expand_as(g) for p in opt.partials(g, *averages)]
    for i in range(len(averages)):
        (expected,) = torch.autograd.grad(value.sum(), averages[i], retain_graph=True)
        expected = torch.where(expected.isfinite(), expected, 0.0)  # v = 0 only
        assert expected.isfinite().all() or (g == 0.0).any()
        for r in range(g.shape[0]):
            for c in range(2):
                a = [float(A[r, c].detach()) for A in averages]
                x = float(g[r, c])
                assert opt.value(x, *a) == pytest.approx(float(value[r, c].detach()), rel=1e-15)
                partial = opt.partials(x, *a)[i]
                assert partial == pytest.approx(float(expected[r, c]), rel=1e-13, abs=1e-300)
                assert float(on_tensors[i][r, c]) == pytest.approx(partial, rel=1e-15, abs=1e-300)


@pytest.mark.parametrize("columns", [None, 1, 2, 17])
def test_the_state_recursion_is_the_loop(columns):
    """optimizers.recursion (scipy's lfilter) against the loop U(n+1) = phi_n + r U(n)
    written out: the same numbers, bit for bit, one ratio per column or one for all."""
    rng = np.random.default_rng(columns or 0)
    shape = (700,) if columns is None else (700, columns)
    x = rng.standard_normal(shape) * rng.lognormal(0, 3, shape)
    ratios = 0.9 if columns is None else rng.uniform(0.0, 0.999, columns)

    def loop(x, r):
        y, acc = np.empty_like(x), np.zeros(x.shape[1:])
        for b in range(len(x)):
            acc = x[b] + r * acc
            y[b] = acc
        return y

    got = recursion(x, ratios)
    assert got.shape == x.shape
    np.testing.assert_array_equal(got, loop(x, ratios))
    if columns:  # one ratio for every column is that ratio in each
        np.testing.assert_array_equal(recursion(x, 0.5), loop(x, 0.5))
