"""Your own optimizer (issue 21): an optimizer declared in the URL by its memory (opt=custom,
m1..m3, w1..w3, r, core.engine.declared) runs on every page and CLI command as a built-in
does.  Its memory runs are compared with torch.optim and hand-written loops, its corrected
runs with tests/independent.py (written for these declarations here, sharing nothing with
core/), the custom Adam with opt=adam; every bad declaration is refused naming its key."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qsl, quote

import app_harness
import independent
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core import cli
from core.analyses import compute
from core.analyses.study import StudyScenario
from core.analyses.sweep import SweepScenario
from core.engine.declared import BUILTIN_OPERATIONS, Declaration, Weight, parse_weight
from core.engine.registry import record
from core.models.expression import parse, to_latex
from core.models.losses import batched
from core.scenarios.query import ScenarioError
from core.scenarios.scenario import Scenario

# the three examples, as written there
ADAM = "opt=custom&m1=g&w1=ema_bc:0.9&m2=g^2&w2=ema_bc:0.999&r=m1/(sqrt(m2)%2B1e-8)"
QHM = "opt=custom&m1=g&w1=ema:0.999&r=0.3*g%2B0.7*m1"
CENTERED = "opt=custom&m1=g&w1=ema:0.99&m2=g^2&w2=ema:0.99&r=g/(sqrt(m2-m1^2)%2B1e-8)"
EXAMPLES = {"adam": ADAM, "qhm": QHM, "centered": CENTERED}
REFERENCE = "0.5*(x-1)^2 + 2*(y - 0.5*x^2)^2 + 0.1*sin(3*x + y)"  # the default loss (THEORY §6)


def _grad(theta: torch.Tensor) -> torch.Tensor:
    theta = theta.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(batched(REFERENCE)(theta[None]).sum(), theta)
    return g


def test_centered_rmsprop_memory_run_is_torch_optims():
    s = Scenario.parse(CENTERED + "&steps=200&lr=0.001")
    run = compute.trajectories(s)
    theta = torch.tensor([s.x0, s.y0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RMSprop([theta], lr=s.lr, alpha=0.99, eps=1e-8, centered=True)
    path = [theta.detach().clone()]
    for _ in range(s.steps):
        opt.zero_grad()
        batched(REFERENCE)(theta[None]).sum().backward()
        opt.step()
        path.append(theta.detach().clone())
    assert torch.allclose(run["memory"][:, 0], torch.stack(path), rtol=1e-10, atol=1e-12)


def test_qhm_memory_run_is_the_hand_written_loop():
    s = Scenario.parse(QHM + "&steps=300&lr=0.001")
    run = compute.trajectories(s)
    theta, m = torch.tensor([s.x0, s.y0], dtype=torch.float64), torch.zeros(2)
    path = [theta]
    for _ in range(s.steps):
        g = _grad(theta)
        m = 0.999 * m + (1 - 0.999) * g
        theta = theta - s.lr * (0.3 * g + 0.7 * m)
        path.append(theta)
    assert torch.allclose(run["memory"][:, 0], torch.stack(path), rtol=1e-12, atol=1e-14)


def test_custom_adam_gives_the_three_runs_of_opt_adam():
    custom = compute.trajectories(Scenario.parse(ADAM + "&steps=300&lr=0.002"))
    builtin = compute.trajectories(Scenario.parse("opt=adam&steps=300&lr=0.002"))
    for k in ("memory", "memoryless", "corrected"):
        assert torch.allclose(custom[k], builtin[k], rtol=1e-9, atol=1e-12), k


def test_custom_adam_sweep_is_opt_adams():
    """A sweep over the B of the declaration's weights is a sweep over Adam's betas."""
    axes = "&x=w1:0.5:0.9:4&y=w2:0.9:0.99:4&steps=60&lr=0.002"
    custom = compute_sweep_json(ADAM + axes)
    builtin = compute_sweep_json("opt=adam" + axes.replace("w1", "b1").replace("w2", "b2"))
    for k, v in builtin["metrics"].items():
        assert np.allclose(
            np.array(custom["metrics"][k], dtype=float),
            np.array(v, dtype=float),
            rtol=1e-8,
            atol=1e-10,
            equal_nan=True,
        ), k


def compute_sweep_json(query: str) -> dict:
    from core.analyses.sweep import compute_sweep
    from core.scenarios.report import sweep_json

    return sweep_json(compute_sweep(SweepScenario.parse(query)))


def _ema_update(kind: str):
    """The declarations below as plain recursions over the whole history (independent of
    core's declaration): centered RMSprop and QHM."""

    def centered(grad, history, b):
        m = v = torch.zeros_like(history[0])
        for theta in history:
            g = grad(theta)
            m, v = b * m + (1 - b) * g, b * v + (1 - b) * g * g
        return grad(history[-1]) / (torch.sqrt(v - m * m) + 1e-8)

    def qhm(grad, history, b):
        m = torch.zeros_like(history[0])
        for theta in history:
            m = b * m + (1 - b) * grad(theta)
        return 0.3 * grad(history[-1]) + 0.7 * m

    return {"centered": centered, "qhm": qhm}[kind]


@pytest.mark.parametrize(
    "kind, query",
    [
        ("centered", "opt=custom&m1=g&w1=ema:0.5&m2=g^2&w2=ema:0.5&r=g/(sqrt(m2-m1^2)%2B1e-8)"),
        ("qhm", "opt=custom&m1=g&w1=ema:0.5&r=0.3*g%2B0.7*m1"),
    ],
)
def test_corrected_runs_of_declarations_are_the_independent_ones(kind, query, monkeypatch):
    monkeypatch.setitem(independent.UPDATES, kind, _ema_update(kind))
    loss = "x^2 + 3*y^2 + x*y + 0.1*x^4"
    s = Scenario.parse(query + f"&loss=custom&f={quote(loss)}&x0=0.8&y0=-0.4&steps=10&lr=0.01")
    run = compute.trajectories(s)
    start = torch.tensor([0.8, -0.4], dtype=torch.float64)
    ref = independent.trajectories(batched(loss), kind, {"b": 0.5}, start, 0.01, 10)
    for k in ("memory", "memoryless", "corrected"):
        assert torch.allclose(run[k][:, 0], ref[k], rtol=1e-9, atol=1e-12), k


# --- the declaration's own pieces ------------------------------------------------------


def test_the_readouts_partials_are_autograds():
    d = Declaration(("g", "g^2"), ("ema:0.9", "ema:0.99"), "m1/(sqrt(m2-m1^2)+1e-8) + tanh(g)*m1")
    opt = d.optimizer()
    args = [torch.tensor([0.3, -1.2], requires_grad=True) for _ in range(3)]
    g, m1, m2 = args[0], args[1], args[2] + 3.0
    value = opt.value(g, m1, m2)
    dm1, dm2 = torch.autograd.grad(value.sum(), (m1, m2))  # m2: a non-leaf, its own grad
    p1, p2 = opt.partials(g.detach(), m1.detach(), m2.detach())
    assert torch.allclose(p1, dm1) and torch.allclose(p2, dm2)
    # the same on floats and on arrays
    floats = opt.partials(0.3, 0.3, 3.3)
    assert math.isclose(floats[0], float(p1[0])) and math.isclose(floats[1], float(p2[0]))
    arrays = opt.partials(np.array([0.3]), np.array([0.3]), np.array([3.3]))
    assert np.allclose([a[0] for a in arrays], floats)
    assert opt.averages[1].slope(3.0) == 6.0


@pytest.mark.parametrize(
    "text, weights",
    [
        ("ema:0.9", (0.1, 0.1 * 0.9, 0.9, False)),
        ("ema_bc:0.9", (0.1, 0.1 * 0.9, 0.9, True)),
        ("sum:0.7", (1.0, 0.7, 0.7, False)),
        ("geo:0.1:0.09:0.99", (0.1, 0.09, 0.99, False)),
        ("geo_bc:1:0.5:0.5", (1.0, 0.5, 0.5, True)),
    ],
)
def test_weights_are_the_geometric_weights_they_name(text, weights):
    g = parse_weight(text).geometric()
    assert (g.head, g.tail, g.ratio, g.bias_corrected) == pytest.approx(weights)
    assert parse_weight(parse_weight(text).text()) == parse_weight(text)


@given(
    kind=st.sampled_from(["ema", "ema_bc", "sum", "geo", "geo_bc"]),
    ratio=st.floats(0.0, 1.0, exclude_max=True),
    head=st.floats(-10, 10),
    tail=st.floats(-10, 10),
)
def test_a_weights_text_round_trips(kind, ratio, head, tail):
    w = Weight(kind, ratio, head, tail) if kind.startswith("geo") else Weight(kind, ratio)
    assert parse_weight(w.text()) == w


FEATURE_TEXTS = ["g", "g^2", "abs(g)", "tanh(g)", "g^3 + 0.5*g"]
READOUTS = ["m1", "g", "m1/(sqrt(m2)+1e-8)", "0.3*g + 0.7*m1", "m1*m2 - m3", "tanh(m1)"]


@settings(max_examples=40, deadline=None)
@given(
    features=st.lists(st.sampled_from(FEATURE_TEXTS), min_size=1, max_size=3),
    kinds=st.lists(
        st.sampled_from(["ema:0.9", "ema_bc:0.5", "sum:0.25", "geo:1:0.5:0.5"]),
        min_size=3,
        max_size=3,
    ),
    readout=st.sampled_from(READOUTS),
)
def test_a_declaration_round_trips_through_its_url(features, kinds, readout):
    keys = {"opt": "custom", "r": readout}
    for i, f in enumerate(features):
        keys |= {f"m{i + 1}": f, f"w{i + 1}": kinds[i]}
    names = {f"m{i + 1}" for i in range(len(features))}
    needs = {n for n in ("m1", "m2", "m3") if n in readout}
    if not needs <= names:
        with pytest.raises(ScenarioError, match=r"^r: 'm\d' is not declared"):
            Scenario.parse(keys)
        return
    s = Scenario.parse(keys)
    assert Scenario.parse(s.to_query()) == s
    assert s.opt == "custom" and s.opt.features == tuple(features)
    assert Scenario.from_query(s.to_query())[1] == []


def test_the_declaration_is_drawn_as_formulas_built_from_its_trees():
    d = Declaration(("g", "g^2"), ("ema_bc:0.9", "geo:0.1:0.09:0.99"), "m1/(sqrt(m2)+1e-8)")
    lines = d.latex()
    assert lines[1:3] == [r"\phi_1(g) = g", r"w_1(n,k) = \frac{(1-0.9)\,0.9^k}{1-0.9^{n+1}}"]
    assert lines[3] == r"\phi_2(g) = {g}^{2}"
    assert lines[4].startswith(r"w_2(n,k) = \begin{cases}0.1 & k=0")
    assert lines[5] == r"r = \frac{m_1}{\sqrt{m_2} + 10^{-8}}"
    assert lines[6] == r"\theta_{n+1} = \theta_n - h\,(r + \lambda\theta_n)"
    # a number is re-printed from its value, never copied from the text
    assert to_latex(parse("000001.50e0*x")) == r"1.5\,x"


# --- smoothness and a readout that is not finite -----------------------------------------


@pytest.mark.parametrize(
    "readout, smooth",
    [("m1/abs(m1)", False), ("max(m1, 0)", False), ("min(g, m1)", False), ("m1^3", True)],
)
def test_a_readout_with_a_kink_is_outside_the_theorem(readout, smooth):
    s = Scenario.parse(f"opt=custom&m1=g&w1=ema:0.9&r={quote(readout)}&steps=20")
    rec = record(s.opt)
    assert rec.smooth(s.hyper) is smooth
    assert ("abs, min or max" in rec.not_smooth) is not smooth


def test_a_feature_with_a_kink_is_outside_the_theorem():
    s = Scenario.parse("opt=custom&m1=abs(g)&w1=ema:0.9&r=m1&steps=20")
    assert not record(s.opt).smooth(s.hyper)
    assert "m1" in record(s.opt).not_smooth


def test_a_readout_that_is_not_finite_stops_its_run_and_names_the_step(capsys):
    query = "opt=custom&m1=g&w1=ema:0.9&r=log(m1)&loss=custom&f=x^2%2By^2&x0=1&y0=-1&steps=30"
    assert cli.main(["simulate", query]) == 0
    out = json.loads(capsys.readouterr().out)
    # y's gradient is negative: log of a negative average at step 0
    assert out["diverged"]["memory"] == 1
    assert any(
        "stops at step 0: the declared readout r is not finite" in w for w in out["warnings"]
    )


def test_a_derivative_that_is_not_finite_is_named_outside_the_theorem():
    # y has no gradient on this loss: m2 = 0 there, and d/dm2 of sqrt(m2) is not finite
    s = Scenario.parse(
        "opt=custom&m1=g&w1=ema:0.9&m2=g^2&w2=ema:0.99&r=m1/(sqrt(m2)%2B0.1)"
        "&loss=custom&f=x^2&x0=1&y0=0.5&steps=20"
    )
    notes = compute.summary(s).notes
    assert notes and notes[0].startswith("outside the theorem from step 0")


# --- bad declarations: refused naming the key ------------------------------------------

BAD = [
    ("opt=custom&m1=q*g&w1=ema:0.9&r=m1", "m1", "unknown name 'q'"),
    ("opt=custom&m1=g&w1=ema:0.9&r=m1%2Bfoo", "r", "unknown name 'foo'"),
    ("opt=custom&w1=ema:0.9&r=m1", "m1", "missing"),
    ("opt=custom&m1=g&w1=ema:0.9&r=m1*m2", "r", "'m2' is not declared"),
    ("opt=custom&m1=g&w1=ema:1&r=m1", "w1", "B = 1 never forgets"),
    ("opt=custom&m1=g&w1=ema:1.5&r=m1", "w1", "outside [0, 1)"),
    ("opt=custom&m1=g&w1=geo:1:0.5:-0.1&r=m1", "w1", "outside [0, 1)"),
    ("opt=custom&m1=g&w1=ema&r=m1", "w1", "is not a weight"),
    ("opt=custom&m1=g&w1=ema:0.9:0.1&r=m1", "w1", "is not a weight"),
    ("opt=custom&m1=g&w1=geo:a:0.5:0.5&r=m1", "w1", "HEAD 'a' is not a number"),
    ("opt=custom&m1=g&w1=ema:0.9&m2=g^2&r=m1", "w2", "missing"),
    ("opt=custom&m1=g&w1=ema:0.9", "r", "missing"),
]


@pytest.mark.parametrize("query, key, problem", BAD)
def test_a_bad_declaration_is_one_line_naming_its_key_and_exit_2(query, key, problem, capsys):
    assert cli.main(["simulate", query]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {key}: ") and problem in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["order", "regularizer", "sweep", "network"])
def test_every_command_refuses_a_bad_declaration(command, capsys):
    assert cli.main([command, "opt=custom&m1=g&w1=ema:1&r=m1"]) == 2
    assert capsys.readouterr().err.startswith("error: w1: B = 1 never forgets")


def test_study_refuses_a_bad_declaration_in_its_pair(capsys):
    assert cli.main(["study", "opts=custom,adamw&m1=g&w1=ema:0.9&r=m2"]) == 2
    assert capsys.readouterr().err.startswith("error: r: 'm2' is not declared")


def test_a_page_warns_naming_the_key_and_falls_back_to_the_default():
    at = app_harness.open_page(
        "playground", {"v": "1", "opt": "custom", "m1": "g", "w1": "ema:1", "r": "m1", "grid": "16"}
    )
    assert not at.exception and not at.error
    warned = " ".join(w.value for w in at.warning)
    assert "w1: B = 1 never forgets" in warned and "using the default sum:0.7" in warned


# --- every page and every CLI command takes each example ----------------------------------

SMALL = {
    "simulate": "&steps=20",
    "order": "&T=0.2&hs=0.02,0.01",
    "regularizer": "&steps=20&grid=16",
    "sweep": "&steps=10&x=lr:0.005:0.02:3&y=w1:0.5:0.9:3",
    "network": "&steps=10&n=60&width=6",
}


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("command", [*SMALL, "study"])
def test_every_command_takes_each_example(command, example, capsys):
    query = EXAMPLES[example]
    if command == "study":  # a pair: the declaration against a built-in
        query = query.replace("opt=custom", "opts=custom,adamw") + "&seeds=2&steps=10&n=60&width=6"
    else:
        query += SMALL[command]
    assert cli.main([command, query]) == 0, capsys.readouterr().err
    out = json.dumps(json.loads(capsys.readouterr().out))
    assert "custom" in out


PAGES = [
    ("playground", {"steps": "20", "grid": "16"}),
    ("compare", {"cmp": "custom,adam", "steps": "20", "grid": "16"}),
    ("theory", {"hs": "0.02,0.01", "T": "0.2"}),
    ("sweep", {"steps": "10", "x": "lr:0.005:0.02:3", "y": "w1:0.5:0.9:3"}),
    ("network", {"steps": "10", "n": "60", "width": "6"}),
    ("network", {"steps": "10", "n": "60", "width": "6", "compare": "1", "opts": "custom,adamw"}),
    ("study", {"seeds": "2", "steps": "10", "n": "60", "width": "6", "opts": "custom,adamw"}),
]


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("page, params", PAGES, ids=[f"{p}-{len(q)}" for p, q in PAGES])
def test_every_page_takes_each_example(page, params, example):
    declared = dict(parse_qsl(EXAMPLES[example]))
    if "opts" in params:
        declared.pop("opt")
    at = app_harness.open_page(page, {"v": "1"} | declared | params)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert not [w.value for w in at.warning if "URL setting" in w.value]
    shown = [t.value for t in at.text_input]
    assert declared["r"] in shown  # the sidebar shows the declaration as typed


def test_the_sidebar_declares_an_optimizer():
    at = app_harness.open_page("playground", {"v": "1", "steps": "20", "grid": "16"})
    at.selectbox(key="w_opt").set_value("custom").run()
    assert not at.exception and not at.error
    assert at.text_input(key="w_m1").value == "g" and at.text_input(key="w_r").value == "m1"
    assert any(r"\theta_{n+1}" in e.body for e in at.latex)
    at.text_input(key="w_m2").set_value("g^2").run()  # a second average, with EMA weights
    assert at.text_input(key="w_w2").value == "ema:0.9"
    at.text_input(key="w_r").set_value("m1/(sqrt(m2)+1e-8)").run()
    assert at.query_params["r"] == "m1/(sqrt(m2)+1e-8)" and not at.error
    at.text_input(key="w_r").set_value("m1*m3").run()  # refused, naming why, kept as it was
    assert any("'m3' is not declared" in e.value for e in at.error)
    assert at.query_params["r"] == "m1/(sqrt(m2)+1e-8)"


def test_a_custom_loss_cannot_pass_the_declaration_to_a_study_without_custom():
    with pytest.raises(ScenarioError, match="m1: does not apply"):
        StudyScenario.parse("opts=adamw,lion&m1=g")


# --- the cost model prices a declaration by its readout's length --------------------------

LONG = "+".join(["tanh(sin(m1)*cos(m2))"] * 13)  # 64 operations in its value's code


def test_a_long_readout_is_priced_by_its_length_and_refused_where_it_would_pin_the_server():
    """A readout of 64 operations took 5.1 s at 1000 steps on /playground (its past sums
    on the grid), where a built-in's price said 0.9 s: it is refused, naming the keys."""
    declared = "opt=custom&m1=g&w1=ema:0.9&m2=g^2&w2=ema:0.99&r="
    short, long = (Scenario.parse(declared + quote(r)).optimizer for r in ("m1", LONG))
    # r = m1 has no operation: a built-in's price at the least
    assert short.work == 1.0 and long.work == 64 / BUILTIN_OPERATIONS
    assert record("rmsprop").optimizer().work == 1.0  # the built-ins: what was fitted
    refused = r"^grid: 1000 steps .*; lower steps, grid, the size of f or of r"
    with pytest.raises(ScenarioError, match=refused):
        Scenario.parse(declared + quote(LONG) + "&steps=1000")
    s, warned = Scenario.from_query(declared + quote(LONG) + "&steps=1000")
    assert s.steps == 100 and "steps: reset to its default" in warned[0]
    assert Scenario.parse(declared + "m1&steps=1000").steps == 1000  # a short one is not
