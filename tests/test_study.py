"""Many-seed network studies (core.analyses.study): each seed's run equals torch.optim /
lion-pytorch training the same network (the sharpness: tests/test_sharpness.py), read at the
end of the budget or at its first step at the threshold `until`, each optimizer at its own
learning rates and weight decay; h R is the value at the run's own step n and Lion's is not
defined, the warnings are the page's, the intervals respect each metric's range and agree
with textbook values, the sentences follow from the numbers, Ray stays unimported in
process, the CLI prints JSON and bad input is refused."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lion_pytorch import Lion
from scenarios import refusal
from scipy import stats
from torch.func import functional_call

from core import cli
from core.analyses.study import (
    STATISTICS,
    StudyScenario,
    chunk,
    compute_study,
    interval,
    matched,
    paired_sentence,
    paired_verdict,
    study_warnings,
    summary,
)
from core.models.datasets import make_dataset
from core.models.mlp import MLP
from core.scenarios.pair import settings as study_settings

QUERY = "seeds=3&steps=25&n=60&width=6&lrs=0.02,0.005&seed=7&until=0"
bce = torch.nn.functional.binary_cross_entropy_with_logits


def reference(s: StudyScenario, opt: str, seed: int, lr: float, until: float = 0.0):
    """Train the same network with torch.optim (AdamW) or lion-pytorch (Lion) at the
    study's weight decay, stopping at the first step n >= 1 with training loss <= until
    (0: after every step): that step, the train and test loss there, and the network."""
    data = make_dataset(s.data, s.n, s.noise, s.split, s.seed)
    mlp = MLP(data.in_dim, s.width, s.depth, s.act)
    net = mlp.module(mlp.init(seed))
    params, wd = list(net.parameters()), s.hyper(opt)["wd"]
    if opt == "adamw":
        step = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    else:
        step = Lion(params, lr=lr, betas=(0.9, 0.99), weight_decay=wd)
    x, y = (torch.as_tensor(a) for a in (data.x_train, data.y_train))
    xt, yt = (torch.as_tensor(a) for a in (data.x_test, data.y_test))
    n = 0
    while n < s.steps:
        n += 1
        step.zero_grad()
        bce(net(x)[:, 0], y).backward()
        step.step()
        with torch.no_grad():
            train = float(bce(net(x)[:, 0], y))
        if until and train <= until:
            break
    else:
        if until:
            return None  # never reached within the budget
    with torch.no_grad():
        return n, train, float(bce(net(xt)[:, 0], yt)), net


def hessian_top(net, data) -> float:
    """The training loss's largest Hessian eigenvalue at the network's parameters, from
    torch.autograd.functional.hessian over the flat parameter vector."""
    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    x, y = (torch.as_tensor(a) for a in (data.x_train, data.y_train))

    def loss(v):
        parts, i = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            parts[name] = v[i : i + shape.numel()].reshape(shape)
            i += shape.numel()
        return bce(functional_call(net, parts, (x,))[:, 0], y)

    return float(torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, flat))[-1])


@pytest.mark.parametrize("opt", ["adamw", "lion"])
def test_each_seed_and_lr_equals_a_torch_optimizer_run(opt):
    s = StudyScenario.parse(QUERY)
    out = chunk(s.to_query(), opt, tuple(s.seed_list))
    assert out["train_loss"].shape == (3, 2) and out["train_curve"].shape == (3, 2, 26)
    assert (out["steps"] == 25).all()  # until = 0: every run read at the end of the budget
    for i, seed in enumerate(s.seed_list):
        for k, lr in enumerate(s.rates(opt)):
            _, train, test, _ = reference(s, opt, seed, lr)
            assert out["train_loss"][i, k] == pytest.approx(train, rel=1e-9)
            assert out["test_loss"][i, k] == pytest.approx(test, rel=1e-9)
            assert out["gap"][i, k] == pytest.approx(test - train, rel=1e-8, abs=1e-12)
            assert out["train_curve"][i, k, -1] == out["train_loss"][i, k]
    if opt == "lion":  # exact sign: R is not defined, outside the theorem (THEORY §11)
        assert np.isnan(out["hR_curve"]).all() and np.isnan(out["hR_limit_curve"]).all()
    else:  # AdamW's defaults: c1 - c2 = 9 - 999 < 0, R anti-regularizes along the run
        assert (out["hR_curve"][..., 1:] < 0).all() and (out["hR_limit_curve"] < 0).all()


# --- issue 20: matched training loss, each optimizer's own settings, ranged intervals ---


@pytest.mark.parametrize("opt", ["adamw", "lion"])
def test_until_reads_every_metric_at_the_first_step_at_the_threshold(opt):
    """until = L: each run is read at its first step with training loss <= L, as a
    torch.optim / lion-pytorch loop stopped there: the step count, train and test loss,
    gap and sharpness (the Hessian's top eigenvalue by autograd) at that step; the
    per-optimizer learning rates and weight decays are the ones each optimizer gets."""
    s = StudyScenario.parse(
        "seeds=3&steps=250&n=60&width=3&seed=2&until=0.3"
        "&lrs=adamw:0.05,lion:0.02&wd=adamw:0.02,lion:0.1"
    )
    assert s.rates("adamw") == (0.05,) and s.rates("lion") == (0.02,)
    assert s.hyper("adamw")["wd"] == 0.02 and s.hyper("lion")["wd"] == 0.1
    out = chunk(s.to_query(), opt, tuple(s.seed_list))
    data = make_dataset(s.data, s.n, s.noise, s.split, s.seed)
    for i, seed in enumerate(s.seed_list):
        n, train, test, net = reference(s, opt, seed, s.rates(opt)[0], s.until)
        assert out["steps"][i, 0] == n and train <= 0.3 and n < s.steps
        assert out["train_loss"][i, 0] == pytest.approx(train, rel=1e-9)
        assert out["test_loss"][i, 0] == pytest.approx(test, rel=1e-9)
        assert out["gap"][i, 0] == pytest.approx(test - train, rel=1e-8, abs=1e-12)
        assert out["sharpness"][i, 0] == pytest.approx(hessian_top(net, data), rel=1e-6)
        curve = out["train_curve"][i, 0]  # the run stops at the threshold
        assert np.isfinite(curve[: n + 1]).all() and np.isnan(curve[n + 1 :]).all()
        assert (curve[1:n] > 0.3).all() and curve[n] == out["train_loss"][i, 0]


def test_h_R_at_the_threshold_is_at_each_runs_own_step():
    """Heavy ball's h R where a run stops is C(n)/W(n) of its limit at n = its steps - 1
    (the defining sums of THEORY §5), run by run: the runs stop at different steps."""
    s = StudyScenario.parse("opts=hb,gd&lrs=0.3&seeds=4&steps=60&n=40&width=4&until=0.45")
    out = chunk(s.to_query(), "hb", tuple(s.seed_list))
    stops = out["steps"][:, 0]
    assert np.isfinite(stops).all() and len(set(stops)) > 1, stops
    b = 0.7  # heavy ball's default beta
    for i, stop in enumerate(stops.astype(int)):
        n = stop - 1
        W = [sum(b**k for k in range(m + 1)) for m in range(n + 1)]
        T = [sum(b**k for k in range(j, n + 1)) for j in range(n + 1)]
        share = sum(W[m] * T[n - m] for m in range(n)) / W[n] / (b / (1 - b) ** 2)
        assert out["hR_final"][i, 0] == pytest.approx(
            share * out["hR_limit_final"][i, 0], rel=1e-10
        )
        curve = out["hR_curve"][i, 0]
        assert out["hR_mean"][i, 0] == pytest.approx(curve[: stop + 1].mean(), rel=1e-12)


def test_runs_that_never_reach_the_threshold_are_counted_left_out_and_warned(capsys):
    query = "seeds=3&steps=8&n=40&width=3&until=0.001"
    assert cli.main(["study", query]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["matched"] == {"train_loss": 0.001, "steps": 8} and out["n"] is None
    for opt, label in (("adamw", "AdamW"), ("lion", "Lion")):
        assert out["left_out"][opt] == {"diverged": [0], "not_reached": [3]}
        assert out["per_seed"][opt]["train_loss"] == [[None]] * 3
        assert out["summary"]["adamw:0.03,lion:0.01"][opt]["train_loss"]["n"] == 0
        said = f"{label}: 3 of 3 runs did not reach training loss ≤ 0.001 within 8 steps"
        assert any(w.startswith(said) for w in out["warnings"]), out["warnings"]
    assert "reached by 0 of 3 AdamW and 0 of 3 Lion runs" in out["settings"][-1]


def test_the_issue_example_has_no_negative_loss_bound(capsys):
    """Issue 20: `seeds=4&steps=100` gave AdamW's train loss the interval [-0.021, 0.212]
    (a t-interval).  Read at the end of the budget (until=0) as the issue did, and at the
    default threshold: every interval lies within its per-seed values' range, so no loss,
    sharpness or step count gets a negative bound."""
    for query in ("seeds=4&steps=100&until=0", "seeds=4&steps=100"):
        assert cli.main(["study", query]) == 0
        out = json.loads(capsys.readouterr().out)
        (entry,) = out["summary"].values()
        for opt in out["opts"]:
            for metric in STATISTICS:
                values = [v for (v,) in out["per_seed"][opt][metric] if v is not None]
                got = entry[opt][metric]
                if len(values) < 2:
                    continue
                assert min(values) <= got["lo"] <= got["hi"] <= max(values), (opt, metric)
            for metric in ("train_loss", "test_loss", "sharpness", "steps"):
                assert entry[opt][metric]["lo"] >= 0, (query, opt, metric)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(1e-12, 1e6, allow_nan=False), min_size=2, max_size=40),
    st.floats(1e-9, 1e3),
)
def test_no_interval_of_a_positive_metric_goes_below_zero(values, scale):
    v = np.array(values) * scale
    got = interval(v)
    assert got["n"] == len(v) and got["mean"] == pytest.approx(v.mean())
    assert 0 <= v.min() * (1 - 1e-12) <= got["lo"] <= got["mean"] <= got["hi"]
    assert got["hi"] <= v.max() * (1 + 1e-12)


def test_interval_ignores_diverged_seeds_and_agrees_with_textbook_values():
    """NaN seeds are left out; for many normal values the bootstrap interval is the
    textbook mean +- 1.96 sd/sqrt(n); a paired difference keeps its sign (a negative
    bound where the data go below 0)."""
    got = interval(np.array([1.0, 2.0, 3.0, np.nan]))
    assert got["n"] == 3 and got["mean"] == 2.0 and 1.0 <= got["lo"] < 2.0 < got["hi"] <= 3.0
    x = np.random.default_rng(0).normal(3.0, 2.0, size=400)
    half = stats.norm.ppf(0.975) * x.std(ddof=1) / np.sqrt(x.size)
    got = interval(x)
    assert got["lo"] == pytest.approx(x.mean() - half, rel=0.01)
    assert got["hi"] == pytest.approx(x.mean() + half, rel=0.01)
    d = np.array([-0.3, 0.1, -0.2, 0.4, -0.1])
    got = interval(d)
    assert got["lo"] < 0 < got["hi"]
    assert interval(np.array([2.5, 2.5, 2.5])) == {"mean": 2.5, "lo": 2.5, "hi": 2.5, "n": 3}
    assert interval(np.array([np.nan, 4.0])) == {"mean": 4.0, "lo": None, "hi": None, "n": 1}


def _ratio_words(text: str, what: str) -> float:
    """The ratio a settings sentence states for `what` (learning rate, weight decay), as a
    factor of Lion's value over AdamW's."""
    found = re.search(
        rf"{what} (?:is )?(the same as AdamW's|([\d.]+)x (smaller|larger) than AdamW's"
        r"|not a multiple of AdamW's \(one of them is 0\))",
        text,
    )
    if found.group(1).startswith("not a multiple"):
        return float("nan")
    if found.group(2) is None:  # the same
        return 1.0
    factor = float(found.group(2))
    return 1 / factor if found.group(3) == "smaller" else factor


@pytest.mark.parametrize(
    "query",
    [
        "",
        "lrs=0.01",
        "lrs=adamw:0.1,lion:0.01",
        "lrs=adamw:0.2,lion:0.01",
        "lrs=adamw:0.03,lion:0.01&wd=adamw:0.01,lion:0.01",
        "lrs=adamw:0.03,adamw:0.1,lion:0.01,lion:0.02&seeds=8",
        "lrs=0.01,0.02&wd=0.05&seeds=8",
        "wd=adamw:0.01,lion:0",
        "wd=adamw:0,lion:0.03",
        "wd=0",
    ],
)
def test_the_settings_sentences_follow_from_the_numbers(query):
    """Issue 20: the caption says each optimizer's learning rate and weight decay, how
    Lion's compare with AdamW's and whether that is the Lion paper's usual ratio (lr
    3-10x smaller, wd 3-10x larger), computed here from the scenario's numbers."""
    s = StudyScenario.parse(query)
    said = study_settings(s)
    for o, label in (("adamw", "AdamW"), ("lion", "Lion")):
        rates = ", ".join(f"{v:g}" for v in s.rates(o))
        assert f"{label} at h = {rates}, weight decay λ = {s.hyper(o)['wd']:g}" in said[0]
    assert len(said) == 1 + s.columns
    wd_lion, wd_adamw = s.hyper("lion")["wd"], s.hyper("adamw")["wd"]
    if wd_lion == wd_adamw:
        wd = 1.0
    else:  # a ratio only where neither is 0
        wd = wd_lion / wd_adamw if wd_lion and wd_adamw else float("nan")
    for k, text in enumerate(said[1:]):
        lr = s.rates("lion")[k] / s.rates("adamw")[k]
        assert _ratio_words(text, "learning rate") == pytest.approx(lr, rel=1e-3)
        assert _ratio_words(text, "weight decay") == pytest.approx(wd, rel=1e-3, nan_ok=True)
        inside = lambda r: 3 - 1e-9 <= r <= 10 + 1e-9  # noqa: E731
        usual = inside(1 / lr) and inside(wd)
        assert ("outside the usual ratio" not in text) == usual, text
        assert (": the usual ratio (Chen et al. 2023" in text) == usual, text
    if query == "":  # the default study is the usual ratio
        assert "the usual ratio (" in said[1] and "3x smaller" in said[1]


def test_the_verdict_and_the_matched_sentence_follow_from_the_numbers():
    """Which optimizer is lower is said only where the paired interval excludes 0; the
    matched sentence counts the runs read at the threshold."""
    res = compute_study(StudyScenario.parse("seeds=5&steps=250&n=60&width=6&until=0.2"))
    table = summary(res)["adamw:0.03,lion:0.01"]["lion - adamw"]
    for metric in ("train_loss", "test_loss", "gap", "sharpness", "steps"):
        diff, verdict = table[metric], paired_verdict(res, metric, 0)
        paired = res.per_seed["lion"][metric][:, 0] - res.per_seed["adamw"][metric][:, 0]
        assert diff["mean"] == pytest.approx(np.nanmean(paired))
        if diff["lo"] > 0:
            assert verdict.startswith("lion is higher")
        elif diff["hi"] < 0:
            assert verdict.startswith("lion is lower")
        else:
            assert verdict.startswith("the interval contains 0")
        sentence = paired_sentence(res, metric, 0)
        assert f"[{diff['lo']:.4g}, {diff['hi']:.4g}]" in sentence and verdict in sentence
    counts = {o: int(np.isfinite(res.per_seed[o]["steps"]).sum()) for o in res.scenario.opts}
    assert f"reached by {counts['adamw']} of 5 AdamW and {counts['lion']} of 5 Lion" in (
        matched(res)
    )
    assert "≤ 0.2" in matched(res) and "budget of 250 steps" in matched(res)
    off = compute_study(StudyScenario.parse("seeds=2&steps=5&n=40&width=3&until=0"))
    assert "the training losses are not matched" in matched(off)


def test_in_process_study_does_not_import_ray():
    code = (
        "import sys; from core.analyses.study import StudyScenario, compute_study; "
        "compute_study(StudyScenario.parse('seeds=2&steps=3&n=40&width=3')); "
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "RAY_ADDRESS"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr


def test_cli_study_prints_per_seed_and_summary(capsys):
    assert cli.main(["study", "seeds=3&steps=10&n=40&width=4&lrs=0.01&until=0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == [0, 1, 2] and out["opts"] == ["adamw", "lion"]
    gaps = out["per_seed"]["adamw"]["gap"]
    assert np.shape(gaps) == (3, 1)
    mean = out["summary"]["0.01"]["adamw"]["gap"]["mean"]
    assert mean == pytest.approx(np.mean(gaps))
    diff = out["summary"]["0.01"]["lion - adamw"]["gap"]["mean"]
    paired = np.array(out["per_seed"]["lion"]["gap"]) - np.array(gaps)
    assert diff == pytest.approx(paired.mean())


@pytest.mark.parametrize(
    "query, key, words",
    [
        ("seeds=300", "seeds", "out of range"),
        ("seeds=1", "seeds", "out of range"),
        ("opts=adamw,adamw", "opts", "two different"),
        ("opts=adamw,sgd", "opts", "not one of"),
        ("lrs=0.1,0.2,0.3,0.4,0.5", "lrs", "1 to 4"),
        ("seeds=64&steps=1000", "steps", "would take about"),
        ("n=20&width=64&depth=4&steps=200&seeds=8", "steps", "runs per chunk"),
        ("n=20&width=1&depth=1&seeds=256&lrs=0.1,0.2,0.3,0.4&steps=1000", "steps", "curves"),
        # issue 20: per-optimizer learning rates and weight decays, the threshold
        ("lrs=sgd:0.1,lion:0.01", "lrs", "not one of the compared optimizers"),
        ("lrs=0.01,lion:0.001", "lrs", "give each the same number"),
        ("lrs=adamw:0.1,adamw:0.1,lion:0.01,lion:0.02", "lrs", "different learning rates"),
        ("lrs=adamw:", "lrs", "not a number"),
        ("lrs=:0.1", "lrs", "empty name"),
        ("lrs=adamw:-0.1,lion:0.01", "lrs", "out of range"),
        ("opts=hb,adamw&wd=hb:0.1", "wd", "hb has no weight decay"),
        ("wd=adamw:0.1,adamw:0.2", "wd", "one per optimizer"),
        ("wd=lion:11", "wd", "out of range"),
        ("until=-1", "until", "out of range"),
        ("until=nan", "until", "not a number"),
        # two learning rates each as named pairs: 2 columns of 256 seeds, over the cap
        ("seeds=256&lrs=adamw:0.1,adamw:0.2,lion:0.1,lion:0.2&steps=2000&width=64&depth=4",)
        + ("steps", "exceeds the cap"),
    ],
)
def test_bad_study_queries(query, key, words, capsys):
    assert words in refusal(StudyScenario, query, key)
    assert cli.main(["study", query]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_study_url_round_trip():
    s = StudyScenario.parse("opts=hb,adam&lrs=0.05,0.01&seeds=12&steps=50&data=circles")
    assert StudyScenario.parse(s.to_query()) == s
    named = "lrs=adamw:0.01,lion:0.001&wd=adamw:0.01,lion:0.1&until=0.02"
    s = StudyScenario.parse(named)
    assert s.to_params() == {"v": "1"} | dict(p.split("=") for p in named.split("&"))
    assert StudyScenario.parse(s.to_query()) == s


def test_the_default_study_is_the_usual_ratio_matched_at_a_training_loss():
    """Issue 20: AdamW and Lion each at its usual setting (Lion's learning rate 3x
    smaller, its weight decay 3x larger), read at training loss 0.05; a pair without a
    usual ratio shares one learning rate; a new pair keeps what still applies."""
    s = StudyScenario()
    assert (s.rates("adamw"), s.rates("lion")) == ((0.03,), (0.01,))
    assert (s.hyper("adamw")["wd"], s.hyper("lion")["wd"]) == (0.01, 0.03)
    assert s.until == 0.05 and s.to_query() == "v=1"
    other = s.with_opts(("hb", "adam"))
    assert other.rates("hb") == other.rates("adam") == (0.01,) and other.wd is None
    kept = StudyScenario.parse("lrs=0.02").with_opts(("adamw", "adam"))
    assert kept.rates("adam") == (0.02,)
    reset = StudyScenario.parse("lrs=adamw:0.02,lion:0.01").with_opts(("hb", "adam"))
    assert reset.rates("hb") == (0.01,)


def test_a_ray_address_without_ray_is_one_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert cli.main(["study", "seeds=2&steps=2&n=40&width=3", "--ray", "auto"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "requirements-ray.txt" in err


def test_study_h_R_is_at_the_runs_step_lion_is_not_defined_and_the_json_warns(capsys):
    """Issue 17, findings 2 and 3: heavy ball's h R at the end is C(n)/W(n) of its limit
    (the defining sums of THEORY §5 at n = steps - 1); exact-sign Lion's h R is null, its
    interval empty; the JSON carries the list of warnings the page shows."""
    query = "opts=hb,lion&seeds=3&steps=10&n=40&width=4&until=0"
    assert cli.main(["study", query]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 9
    b, n = 0.7, 9  # heavy ball's default beta
    W = [sum(b**k for k in range(m + 1)) for m in range(n + 1)]
    T = [sum(b**k for k in range(j, n + 1)) for j in range(n + 1)]
    share = sum(W[m] * T[n - m] for m in range(n)) / W[n] / (b / (1 - b) ** 2)
    hb = out["per_seed"]["hb"]
    np.testing.assert_allclose(
        np.array(hb["hR_final"]), share * np.array(hb["hR_limit_final"]), rtol=1e-12
    )
    lion = out["per_seed"]["lion"]
    for metric in ("hR_final", "hR_mean", "hR_limit_final", "hR_limit_mean"):
        assert lion[metric] == [[None]] * 3
        for entry in ("lion", "lion - hb"):
            assert out["summary"]["0.01"][entry][metric] == {
                "mean": None,
                "lo": None,
                "hi": None,
                "n": 0,
            }
    warnings = out["warnings"]
    assert warnings == study_warnings(compute_study(StudyScenario.parse(query)))
    assert any(w.startswith("Lion: non-smooth update") for w in warnings)
    finite_n = any(w.startswith("Heavy ball (SGD momentum): finite n") for w in warnings)
    assert finite_n == (abs(share - 1) > 0.1)  # the 2D card's rule, on h R against its limit
