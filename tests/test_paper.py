"""The paper's experiments (core.analyses.paper, /paper, `python -m core paper`) and what they stand
on: the digits (against scikit-learn's raw images), the multiclass MLP (against torch.nn),
the engine's kept iterates and observed moments (against torch.optim), the
preconditioned sharpness (against numpy on the full matrix), the threshold's closed
form, the captions against their numbers, intervals inside the metric's range, the CLI's
keys, no NaN from coordinates without gradient under both placements of eps, and the
page under AppTest.  Every run here is tiny."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
import torch
from app_harness import figures, open_page
from scipy.stats import bootstrap, linregress
from sklearn.datasets import load_digits, make_circles, make_moons

import core.analyses.sharpness as sharpness_module
from core import cli
from core.analyses import paper
from core.analyses.sharpness import sharpness
from core.analyses.study import interval
from core.engine.dynamics import DYNAMICS, simulate
from core.engine.registry import make_optimizer
from core.models.datasets import make_dataset
from core.models.mlp import MLP
from core.models.training import as_tensors, data_accuracy, data_loss
from core.scenarios import limits
from core.scenarios.query import ScenarioError
from core.scenarios.report import PAPER_JSON, paper_csv

F64 = torch.float64
TINY = {
    "distance": "n=100&width=4&h=0.02,0.01&t=0.2",
    "beta2": "n=100&width=4&seeds=2&steps=60&until=1.5&lion_lr=0.01",
    "sharpness": "n=100&width=4&steps=12&points=3&h=0.01",
}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def results():
    """One tiny run of each experiment, shared by the tests that read results."""
    return {e: paper.RUN[e](paper.SCENARIOS[e].parse(q)) for e, q in TINY.items()}


# --- the digits ------------------------------------------------------------------------


def test_digits_are_standardized_without_constant_pixels_and_split_by_seed():
    """Against scikit-learn's raw images: the rows each part says it holds, standardized
    by numpy with the training part's statistics, its constant pixels dropped."""
    raw_x, raw_y = load_digits(return_X_y=True)
    d = make_dataset("digits", 1797, 0.0, 0.25, seed=3)
    assert d.task == "multiclass" and d.classes == 10 and d.out_dim == 10
    assert d.x_train.shape == (1348, d.in_dim) and d.x_test.shape == (449, d.in_dim)
    rows = np.concatenate([d.source_train, d.source_test])
    np.testing.assert_array_equal(np.sort(rows), np.arange(1797))  # a partition
    train = raw_x[d.source_train]
    kept = train.std(0) > 0
    assert 50 <= kept.sum() < 64 and d.in_dim == kept.sum()
    mean, std = train[:, kept].mean(0), train[:, kept].std(0)
    np.testing.assert_allclose(d.x_train, (train[:, kept] - mean) / std, rtol=1e-12, atol=1e-12)
    test = raw_x[d.source_test][:, kept]
    np.testing.assert_allclose(d.x_test, (test - mean) / std, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(d.y_train, raw_y[d.source_train])
    np.testing.assert_array_equal(d.y_test, raw_y[d.source_test])
    assert np.all(d.x_train.std(0) > 0)
    same = make_dataset("digits", 1797, 0.0, 0.25, seed=3)
    other = make_dataset("digits", 1797, 0.0, 0.25, seed=4)
    np.testing.assert_array_equal(same.x_train, d.x_train)
    np.testing.assert_array_equal(same.source_test, d.source_test)
    assert not np.array_equal(other.source_train, d.source_train)


def test_digits_subset_and_constant_pixels_kept():
    raw_x, _ = load_digits(return_X_y=True)
    d = make_dataset("digits", 300, 0.0, 0.2, seed=0, constant=True)
    assert d.x_train.shape == (240, 64) and d.x_test.shape == (60, 64)
    assert len(set(d.source_train) | set(d.source_test)) == 300
    train = raw_x[d.source_train]
    constant = train.std(0) == 0
    assert constant.any()  # at least the image corners
    assert np.all(d.x_train[:, constant] == 0.0)  # centred, not scaled
    np.testing.assert_allclose(
        d.x_test[:, constant], raw_x[d.source_test][:, constant] - train[0, constant]
    )


def test_moons_and_circles_are_scikit_learns_shapes():
    """Without noise, the generated points are scikit-learn's (in a seeded order)."""
    for name, make in (("moons", make_moons), ("circles", make_circles)):
        d = make_dataset(name, 50, 0.0, 0.0, seed=1)
        kw = {"factor": 0.5} if name == "circles" else {}
        x, y = make(50, shuffle=False, noise=0.0, **kw)
        ours = sorted(map(tuple, np.c_[d.x_train, d.y_train].round(12).tolist()))
        theirs = sorted(map(tuple, np.c_[x, y].round(12).tolist()))
        assert ours == theirs


# --- the multiclass MLP ------------------------------------------------------------------


def test_cross_entropy_mlp_and_its_gradient_match_torch_nn():
    d = make_dataset("digits", 120, 0.0, 0.25, seed=2)
    for act in ("gelu", "tanh"):
        mlp = MLP(d.in_dim, 7, 1, act, d.out_dim)
        theta = torch.stack([mlp.init(0), mlp.init(1)])
        x, y = as_tensors(d.x_train, d.y_train, "cpu")
        t = theta.clone().requires_grad_(True)
        loss = data_loss(mlp, d.task, x, y)(t)
        (grad,) = torch.autograd.grad(loss.sum(), t)
        for r in range(2):
            net = mlp.module(theta[r])
            ref = torch.nn.CrossEntropyLoss()(net(x), y.long())
            ref.backward()
            ref_grad = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
            assert float(loss[r].detach()) == pytest.approx(float(ref.detach()), rel=1e-13)
            torch.testing.assert_close(grad[r], ref_grad, rtol=1e-11, atol=1e-13)
            with torch.no_grad():
                guess = net(x).argmax(-1)
            share = float((guess == y.long()).double().mean())
            assert float(data_accuracy(mlp, d.task, x, y)(theta)[r]) == pytest.approx(share)


def test_network_on_the_digits_reports_test_accuracy(capsys):
    """`python -m core network 'data=digits...'`: an MLP 64 -> width -> 10 with
    cross-entropy; its test accuracy at the end is the module's argmax on the test part."""
    from core import cli
    from core.analyses import network
    from core.scenarios.network_scenario import NetworkScenario

    query = "data=digits&n=120&width=5&depth=1&act=gelu&steps=6&lr=0.05"
    assert cli.main(["network", query]) == 0
    out = json.loads(capsys.readouterr().out)
    s = NetworkScenario.parse(query)
    r = network.result(s)
    d = make_dataset("digits", 120, 0.0, s.split, s.seed)
    assert out["parameters"] == (d.in_dim + 1) * 5 + (5 + 1) * 10
    mlp = MLP(d.in_dim, 5, 1, "gelu", 10)
    x, y = (torch.as_tensor(a) for a in (d.x_test, d.y_test))
    for k in DYNAMICS:
        with torch.no_grad():
            guess = mlp.module(torch.as_tensor(r.final[k]))(x).argmax(-1)
        assert out["test_accuracy"][k] == pytest.approx(float((guess == y.long()).double().mean()))
    assert cli.main(["network", "data=digits&noise=0.2"]) == 2
    assert capsys.readouterr().err.startswith("error: noise: does not apply")


# --- the engine's kept iterates and observed moments -----------------------------------


def test_kept_iterates_and_observed_moments_match_torch_optim_adam():
    d = make_dataset("digits", 100, 0.0, 0.25, seed=0)
    mlp = MLP(d.in_dim, 5, 1, "tanh", d.out_dim)
    x, y = as_tensors(d.x_train, d.y_train, "cpu")
    loss = data_loss(mlp, d.task, x, y)
    theta0, lr, steps, b2, eps = mlp.init(3), 0.01, 15, 0.95, 1e-6
    opt = make_optimizer("adamw", b1=0.8, b2=b2, eps=eps, wd=0.1)
    seen = {}

    def observe(n, theta, averages):
        seen[n] = opt.preconditioner(*averages)[0].clone()

    keep = [0, 7, 15]
    run = simulate(loss, opt, theta0, lr, steps, ("memory",), keep, observe)
    full = simulate(loss, opt, theta0, lr, steps, ("memory",))
    torch.testing.assert_close(run.memory[:, 0], full.memory[keep, 0], rtol=0, atol=0)
    net = mlp.module(theta0)
    step = torch.optim.AdamW(net.parameters(), lr, betas=(0.8, b2), eps=eps, weight_decay=0.1)
    for n in range(steps):
        step.zero_grad()
        torch.nn.CrossEntropyLoss()(net(x), y.long()).backward()
        step.step()
        v = torch.cat([step.state[p]["exp_avg_sq"].reshape(-1) for p in net.parameters()])
        P = (v / (1 - b2 ** (n + 1))).sqrt() + eps  # what torch's AdamW divides by
        torch.testing.assert_close(seen[n], P, rtol=1e-9, atol=1e-15)
    final = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    torch.testing.assert_close(run.memory[-1, 0], final, rtol=0, atol=1e-10)


# --- eps placement: no NaN from coordinates without gradient -------------------------


@pytest.mark.parametrize(
    ("name", "eps"), [("adamw", 1e-8), ("adamw", 0.0), ("adamw_epsin", 1e-8), ("rmsprop", 0.0)]
)
def test_constant_pixels_give_no_nan_under_either_placement(name, eps):
    """The constant pixels' weights have gradient exactly 0 at every step (v = 0): the
    three runs stay finite, and those weights do not move in any of them (THEORY §14)."""
    d = make_dataset("digits", 100, 0.0, 0.25, seed=0, constant=True)
    mlp = MLP(d.in_dim, 4, 1, "gelu", d.out_dim)
    loss = data_loss(mlp, d.task, *as_tensors(d.x_train, d.y_train, "cpu"))
    dead = np.flatnonzero(d.x_train.std(0) == 0)
    assert dead.size
    frozen = [w * d.in_dim + j for w in range(4) for j in dead]  # first layer (4, in)
    theta0 = mlp.init(0)
    run = simulate(loss, make_optimizer(name, eps=eps), theta0, 0.01, 12)
    for k in DYNAMICS:
        assert torch.isfinite(run[k]).all(), k
        assert run.diverged_at(k) is None, k
        moved = run[k][:, 0, frozen] - theta0[frozen]
        # decoupled weight decay shrinks them; nothing else moves them
        assert torch.all(moved.abs() <= 0.01 * 12 * 0.011 * theta0[frozen].abs().max())


def test_eps_zero_on_a_symmetry_axis_does_not_diverge():
    """Adam with eps = 0 started on x = 0 of x^2 + y^2: the x gradient is exactly 0 at
    every step; before THEORY §14's convention the runs were NaN from step 1."""
    from core.analyses import compute
    from core.scenarios.scenario import Scenario

    s = Scenario.parse("opt=adam&eps=0&loss=custom&f=x^2%2By^2&x0=0&y0=1&steps=20")
    run = compute.trajectories(s)
    for k in DYNAMICS:
        assert run.diverged_at(k) is None
        path = run[k][:, 0]
        assert torch.isfinite(path).all() and torch.all(path[:, 0] == 0.0)
        assert path[-1, 1] < 1.0  # y descends


# --- the preconditioned sharpness ------------------------------------------------------


@pytest.mark.parametrize("dense", [True, False])
def test_preconditioned_sharpness_is_the_top_eigenvalue_of_p_inverse_h(dense, monkeypatch):
    d = make_dataset("digits", 100, 0.0, 0.25, seed=1)
    mlp = MLP(d.in_dim, 2, 1, "tanh", d.out_dim) if not dense else None
    x, y = as_tensors(d.x_train, d.y_train, "cpu")
    if dense:  # d <= 32: a 3-input slice of the digits
        mlp = MLP(2, 2, 1, "tanh", 10)
        x = x[:, :2]
    loss = data_loss(mlp, d.task, x, y)
    theta = torch.stack([mlp.init(0), mlp.init(1)])
    P = torch.rand(theta.shape, generator=torch.Generator().manual_seed(0), dtype=F64) + 0.05
    if not dense:
        monkeypatch.setattr(sharpness_module, "DENSE", 0)
    got = sharpness(loss, theta, [0, 1], precondition=P)
    for r in range(2):
        H = torch.autograd.functional.hessian(lambda t: loss(t[None])[0], theta[r]).numpy()
        M = H / P[r].numpy()[:, None]  # P^-1 H, not symmetric
        expected = np.max(np.linalg.eigvals(M).real)
        assert float(got[r]) == pytest.approx(expected, rel=1e-7)


def test_threshold_is_the_closed_form(results):
    for b1, h in ((0.9, 0.01), (0.99, 0.002), (0.5, 1.0)):
        assert paper.threshold(b1, h) == pytest.approx((2 + 2 * b1) / ((1 - b1) * h), rel=1e-15)
    r = results["sharpness"]
    s = r.scenario
    expected = [(2 + 2 * b) / ((1 - b) * s.h) for b in s.b1]
    np.testing.assert_allclose(r.threshold, expected, rtol=1e-15)
    np.testing.assert_allclose(PAPER_JSON["sharpness"](r)["threshold"], expected, rtol=1e-15)


# --- intervals ---------------------------------------------------------------------------


def test_beta2_intervals_are_the_studys_and_never_below_zero(results):
    """The paper's intervals are /study's (one function): each equals an independent
    scipy.stats.bootstrap BCa call on the same seeds, and no interval of a nonnegative
    metric (accuracy, steps) goes below 0 where a t-interval would."""
    r = results["beta2"]
    B = len(r.scenario.b2)
    rng = np.random.default_rng(3)
    near_zero = np.array([0.0, 0.0, 0.3, 0.0, 0.01])  # mean - 2.78 se < 0
    wide = replace(
        r,
        accuracy=np.array([near_zero * (i + 1) for i in range(B)]),
        steps=rng.integers(1, 400, (B, 5)).astype(float),
        hR=rng.normal(0.0, 1.0, (B, 5)),
        lion_accuracy=near_zero[::-1].copy(),
        lion_steps=np.array([3.0, 4.0, 200.0, np.nan, 5.0]),
    )
    st = wide.stats()
    samples = {
        "test_accuracy": list(wide.accuracy),
        "steps_to_threshold": list(wide.steps),
        "hR": list(wide.hR),
        "lion": [wide.lion_accuracy],
        "lion_steps": [wide.lion_steps],
    }
    for name, rows in samples.items():
        got = st[name] if isinstance(st[name], list) else [st[name]]
        for entry, row in zip(got, rows, strict=True):
            x = row[np.isfinite(row)]
            ci = bootstrap(
                (x,),
                np.mean,
                confidence_level=0.95,
                n_resamples=9999,
                method="BCa",
                rng=np.random.default_rng(0),
            ).confidence_interval
            assert entry["n"] == x.size and entry["mean"] == pytest.approx(x.mean())
            assert entry["lo"] == pytest.approx(ci.low, rel=1e-12), name
            assert entry["hi"] == pytest.approx(ci.high, rel=1e-12), name
            if name != "hR":
                assert entry["lo"] >= 0, name
    out = PAPER_JSON["beta2"](wide)
    for key in ("test_accuracy", "steps_to_threshold"):
        assert min(out[key]["low"]) >= 0
        assert out[key]["low"] == [e["lo"] for e in st[key]]
    assert out["lion"]["test_accuracy"]["low"] >= 0
    t_low = near_zero.mean() - 2.776 * near_zero.std(ddof=1) / np.sqrt(5)
    assert t_low < 0  # what a symmetric interval would have said


# --- the experiments against independent runs ------------------------------------------


def test_beta2_reads_the_first_step_below_the_threshold_like_torch_optim(results):
    """One (seed, beta2) pair by torch.optim.AdamW on the module: the first step whose
    training loss is <= until, and the test accuracy there."""
    r = results["beta2"]
    s = r.scenario
    d = s.data()
    mlp = s.model(d)
    x, y = (torch.as_tensor(a) for a in (d.x_train, d.y_train))
    xt, yt = (torch.as_tensor(a) for a in (d.x_test, d.y_test))
    for i, b2 in enumerate(s.b2):
        net = mlp.module(mlp.init(s.seed))
        step = torch.optim.AdamW(
            net.parameters(), s.lr, betas=(s.b1, b2), eps=s.eps, weight_decay=s.wd
        )
        first, accuracy = None, None
        for n in range(s.steps + 1):
            loss = torch.nn.CrossEntropyLoss()(net(x), y.long())
            if loss.item() <= s.until:
                first = n
                with torch.no_grad():
                    accuracy = float((net(xt).argmax(-1) == yt.long()).double().mean())
                break
            step.zero_grad()
            loss.backward()
            step.step()
        assert first is not None
        assert r.steps[i, 0] == first
        assert r.accuracy[i, 0] == pytest.approx(accuracy, abs=1e-12)


def test_distance_records_the_sup_norm_along_the_run(results):
    r = results["distance"]
    s = r.scenario
    for opt in s.opt:
        for i in range(len(s.h)):
            assert r.memoryless[opt][i, 0] == 0.0 and r.corrected[opt][i, 0] == 0.0
            for k in ("memoryless", "corrected"):
                values = (r.memoryless if k == "memoryless" else r.corrected)[opt][i]
                assert r.largest[k][opt][i] >= values.max()
        # the order: the least-squares slope of log largest against log h, by scipy
        for k in ("memoryless", "corrected"):
            fit = linregress(np.log(s.h), np.log(r.largest[k][opt])).slope
            assert r.order[k][opt] == pytest.approx(fit, rel=1e-9)
    # an independent sup-norm distance at the horizon for one optimizer and h
    opt, h = s.opt[0], s.h[-1]
    net = paper.setup(s)
    steps = round(s.t / h)
    run = simulate(net.train, make_optimizer(opt, **s.hyper(opt)), net.mlp.init(s.seed), h, steps)
    far = (run.corrected[-1, 0] - run.memory[-1, 0]).abs().max()
    assert r.corrected[opt][-1, -1] == pytest.approx(float(far), rel=1e-9)


# --- captions against their numbers ------------------------------------------------------


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[+-]?\d+)?", text)]


def test_distance_caption_states_its_numbers_and_changes_with_them(results):
    r = results["distance"]
    s = r.scenario
    text = paper.distance_caption(r)
    for opt in s.opt:
        for k in ("corrected", "memoryless"):
            assert f"{r.order[k][opt]:.2f} ({k})" in text
            for v in r.largest[k][opt]:
                assert f"{v:.3g} {k}" in text
        closer = int(np.sum(r.largest["corrected"][opt] < r.largest["memoryless"][opt]))
        assert f"closer at {closer} of {len(s.h)}" in text
    # the verdict follows the orders: set them to the theorem's, then away from it
    opt = s.opt[0]
    ideal = {
        k: dict(v) | {opt: want}
        for (k, v), want in zip(r.order.items(), (paper.ORDERS[k] for k in r.order), strict=True)
    }
    good = replace(r, order=ideal)
    assert paper.record(opt).label + ": " in paper.distance_caption(good)
    assert "matches the theorem's orders" in paper.distance_caption(good).split(". ")[0]
    bad = replace(r, order={k: dict(v) | {opt: 0.3} for k, v in r.order.items()})
    assert "does not show" in paper.distance_caption(bad).split(". ")[0]
    assert not paper.distance_warnings(good)[:0]  # (warnings recomputed from numbers)
    assert any("not the theorem's" in w for w in paper.distance_warnings(bad))


def test_beta2_caption_trend_and_band_follow_the_numbers(results):
    r = results["beta2"]
    s = r.scenario
    text = paper.beta2_caption(r)
    means = np.nanmean(r.accuracy, axis=1)
    d = np.diff(means)
    word = "falls" if np.all(d < 0) else "rises" if np.all(d > 0) else "is not monotone"
    assert f"mean test accuracy {word}" in text
    assert f"({100 * means[0]:.1f}% to {100 * means[-1]:.1f}%)" in text
    negative = int(np.sum(np.nanmean(r.hR, axis=1) < 0))
    assert f"negative (anti-regularizing, THEORY §5) at {negative} of {len(s.b2)}" in text
    # make accuracy fall with beta2: the caption says so; rise: it says that
    falling = replace(r, accuracy=np.array([[0.9, 0.9], [0.8, 0.8], [0.7, 0.7]]))
    assert "mean test accuracy falls (90.0% to 70.0%)" in paper.beta2_caption(falling)
    rising = replace(r, accuracy=np.array([[0.5, 0.5], [0.6, 0.6], [0.7, 0.7]]))
    assert "mean test accuracy rises" in paper.beta2_caption(rising)
    lion = replace(r, lion_accuracy=np.array([0.5, 0.7]))
    band = interval(np.array([0.5, 0.7]))
    assert f"reaches 60.0% [{100 * band['lo']:.1f}%, {100 * band['hi']:.1f}%]" in (
        paper.beta2_caption(lion)
    )
    for stats in r.stats()["test_accuracy"]:
        assert 0.0 <= stats["lo"] <= stats["hi"] <= 1.0
    # a beta2 whose memory outlasts the run to the threshold is named, and only such
    for b, row in zip(s.b2, r.steps, strict=True):
        named = any(w.startswith(f"β₂ = {b:g}: its memory") for w in r.warnings)
        assert named == (1 / (1 - b) > np.nanmean(row))


def test_sharpness_caption_reads_the_peak_and_the_threshold(results):
    r = results["sharpness"]
    text = paper.sharpness_caption(r)
    for i, b in enumerate(r.scenario.b1):
        j = int(np.nanargmax(r.sharpness[i]))
        share = r.sharpness[i, j] / ((2 + 2 * b) / ((1 - b) * r.scenario.h))
        peak = f"peaks at {r.sharpness[i, j]:.4g} (step {int(r.step[j])}), {100 * share:.3g}%"
        assert peak in text
        assert ("it reaches it" if share >= 1 else "it stays below it") in text.split("; ")[i]
    above = replace(r, sharpness=r.threshold[:, None] * np.array([[0.5, 1.2, 0.9]]))
    parts = paper.sharpness_caption(above).split("; ")
    assert all("120% of its" in p and "it reaches it" in p for p in parts)


# --- the CLI -----------------------------------------------------------------------------

KEYS = {
    "distance": {"h", "t", "memoryless", "corrected", "order"},
    "beta2": {"b2", "until", "seeds", "test_accuracy", "steps_to_threshold", "hR", "lion"},
    "sharpness": {"b1", "h", "threshold", "step", "sharpness"},
}


@pytest.mark.parametrize("experiment", paper.EXPERIMENTS)
def test_cli_prints_the_issue_keys(experiment, results):
    out = json.loads(json.dumps(PAPER_JSON[experiment](results[experiment]), allow_nan=False))
    assert {"experiment", "dataset", "warnings"} <= set(out)
    assert out["experiment"] == experiment
    assert set(out["dataset"]) == {"name", "n_train", "n_test", "features", "classes"}
    assert KEYS[experiment] <= set(out)
    if experiment == "distance":
        assert set(out["order"]) == {"memoryless", "corrected"}
        assert len(out["t"]) == len(out["h"])
    if experiment == "beta2":
        for k in ("test_accuracy", "steps_to_threshold"):
            assert set(out[k]) == {"mean", "low", "high"}
        assert set(out["hR"]) >= {"mean"}
        assert {"lr", "wd", "test_accuracy"} <= set(out["lion"])
    if experiment == "sharpness":
        assert len(out["sharpness"]) == len(out["b1"]) == len(out["threshold"])
        assert all(len(row) == len(out["step"]) for row in out["sharpness"])
    assert paper_csv(experiment, results[experiment]).count("\n") > 1


def test_cli_runs_a_query_and_refuses_bad_input_in_one_line(capsys):
    assert cli.main(["paper", "sharpness", TINY["sharpness"] + "&points=2&steps=4"]) == 0
    assert json.loads(capsys.readouterr().out)["experiment"] == "sharpness"
    for args, key in (
        (("distance", "h=0"), "h"),
        (("distance", "h=0.001,0.0005&t=100"), "t"),
        (("beta2", "b2=1"), "b2"),
        (("beta2", "exp=sharpness"), "exp"),
        (("sharpness", "nope=1"), "nope"),
        (("moons",), None),
    ):
        assert cli.main(["paper", *args]) == 2
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert not out and len(lines) == 1, err
        if key:
            assert lines[0].startswith(f"error: {key}: ")


def test_the_cost_model_refuses_beyond_its_cap_naming_the_keys():
    with pytest.raises(ScenarioError) as err:
        paper.Beta2Scenario.parse("n=1797&width=64&seeds=32&b2=0.9,0.99,0.999,0.9999&steps=20000")
    assert err.value.key == "steps" and "max 600 s" in str(err.value)
    assert "seeds" in str(err.value)
    for name, cls in paper.SCENARIOS.items():
        # every default is predicted within the default budget, and every preset admitted
        assert paper.SECONDS[name](vars(cls.parse(""))) <= limits.PAPER_DEFAULT_S
        for query in paper.PRESETS[name].values():
            cls.parse(query)


# --- the page ------------------------------------------------------------------------------


@pytest.mark.parametrize("experiment", paper.EXPERIMENTS)
def test_the_page_shows_each_experiment_with_its_caption(experiment, results):
    params = dict(p.split("=") for p in TINY[experiment].split("&")) | {
        "v": "1",
        "exp": experiment,
    }
    at = open_page("paper", params)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.title[0].value == "The paper's experiments"
    assert [w.value for w in at.warning] == results[experiment].warnings
    assert figures(at)
    caption = {
        "distance": paper.distance_caption,
        "beta2": paper.beta2_caption,
        "sharpness": paper.sharpness_caption,
    }[experiment](results[experiment])
    assert any(m.value == caption for m in at.markdown)
    assert any("scikit-learn's handwritten digits" in m.value for m in at.markdown)
    assert at.query_params["exp"] == experiment


def test_a_widget_change_reaches_the_url_and_the_figure():
    params = dict(p.split("=") for p in TINY["distance"].split("&")) | {"v": "1"}
    at = open_page("paper", params | {"exp": "distance"})
    at.number_input(key="wpdistance_t").set_value(0.1).run()
    assert not at.exception and not at.error
    assert at.query_params["t"] == "0.1" and at.query_params["exp"] == "distance"
    s = paper.DistanceScenario.parse(TINY["distance"] + "&t=0.1")
    assert any(m.value == paper.distance_caption(paper.distance(s)) for m in at.markdown)


def test_eps_inside_potential_integrates_its_field_coefficient():
    """THEORY §14: Psi(a) = int_0^a (c1 - c2 u^2/(u^2 + eps)) u/sqrt(u^2 + eps) du, by
    quadrature; the coefficient vanishes at the crossover sqrt(eps c1/(c2 - c1))."""
    rec = paper.record("adamw_epsin")
    for a, eps, b1, b2 in ((1e-4, 1.0, 0.9, 0.999), (0.5, 0.01, 0.9, 0.99), (30.0, 0.1, 0.5, 0.9)):
        c1, c2 = b1 / (1 - b1), b2 / (1 - b2)
        u = np.linspace(0, a, 400001)
        psi = np.trapezoid((c1 - c2 * u**2 / (u**2 + eps)) * u / np.sqrt(u**2 + eps), u)
        hyper = {"b1": b1, "b2": b2, "eps": eps, "wd": 0.0}
        g = torch.tensor([[a, -a]], dtype=F64)
        R = rec.potential(hyper, torch.zeros(1, dtype=F64), g, torch.zeros_like(g))
        assert float(R[0]) == pytest.approx(2 * psi, rel=1e-6, abs=1e-18)
        cross = rec.crossover(hyper)
        assert c1 - c2 * cross**2 / (cross**2 + eps) == pytest.approx(0.0, abs=1e-9)


def test_bad_url_values_fall_back_with_a_warning_naming_the_key():
    params = dict(p.split("=") for p in TINY["beta2"].split("&"))
    at = open_page("paper", params | {"v": "1", "exp": "beta2", "b2": "0.9,1.5"})
    assert not at.exception and not at.error
    assert any("b2" in w.value and "1.5" in w.value for w in at.warning)
    assert "b2" not in at.query_params  # the default, written back
    tiny = dict(p.split("=") for p in TINY["distance"].split("&"))
    at = open_page("paper", tiny | {"v": "1", "exp": "nope"})  # the first experiment
    assert any("exp" in w.value for w in at.warning)


def test_every_distance_panel_is_on_the_log_axis_it_shares(results):
    """The panels share one y axis: each is drawn on a log scale (a shared axis takes no
    type from its neighbour), so Lion's distances read on the scale AdamW's do."""
    from ui.paper_plots import distance_figure

    fig = distance_figure(results["distance"])
    axes = [fig.layout[k] for k in fig.layout if k.startswith("yaxis")]
    assert len(axes) == len(results["distance"].scenario.opt) >= 2
    assert all(a.type == "log" for a in axes)


def test_one_seed_list_and_one_download_pair():
    """The seeds of a many-seed query are written once (the study's and beta2's), and
    every page's CSV/JSON pair goes through ui.layout.downloads."""
    from pathlib import Path

    from core.analyses.study import StudyScenario

    assert paper.Beta2Scenario.seed_list is StudyScenario.seed_list
    assert paper.SCENARIOS["beta2"].parse("seed=4&seeds=3").seed_list == [4, 5, 6]
    pages = Path(__file__).resolve().parents[1] / "app_pages"
    by_hand = [p.name for p in pages.glob("*.py") if "download_button" in p.read_text()]
    assert by_hand == []
