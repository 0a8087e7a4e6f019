"""Every fact about an optimizer sits in its record (core.engine.registry): what /sweep draws,
the colours, the labels, the card's sentences and /about's tables are read from the
records, and an optimizer added as one record (QHM, here, at test time) runs on every
page and through the CLI with no other edit."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import app_harness
import independent
import numpy as np
import pytest
import torch

from core import cli
from core.analyses.sweep import SweepResult, SweepScenario
from core.engine.dynamics import simulate
from core.engine.optimizers import LINEAR, Average, Geometric, Optimizer, gradient, gradient_slope
from core.engine.registry import (
    COMPARED,
    RECORDS,
    ClosedForm,
    Record,
    Sweep,
    beta,
    make_optimizer,
    record,
    swept,
)
from core.models.losses import batched
from core.scenarios.scenario import Scenario
from ui import layout, network_plots, study_plots
from ui.style import NEUTRAL
from ui.sweep_plots import effect_figure

ROOT = Path(__file__).resolve().parents[1]

# --- QHM (Ma & Yarats 2019), declared here: update (1 - nu) g + nu m, m an EMA of g ------


def _param(v):
    a = np.asarray(v, dtype=np.float64)
    return float(a) if a.ndim == 0 else a


def qhm(b1=0.7, b2=0.999) -> Optimizer:
    """b1 = nu (the mix, as Lion's b1), b2 = beta (the EMA, m_n = beta m_{n-1} + (1 -
    beta) g_n): one average of g with w(n, 0) = 1 - nu beta, w(n, k) = nu (1 - beta) beta^k."""
    nu, b = _param(b1), _param(b2)
    weights = Geometric(head=1 - nu * b, tail=nu * (1 - b) * b, ratio=b)
    average = Average(gradient, weights, gradient_slope)
    return Optimizer("qhm", (average,), LINEAR, linear=True)


def _qhm_R(h, L, g, theta):
    """nu beta/(2 (1 - beta)) |g|^2: M/P = m H g with m = sum_k k w(inf, k) (THEORY §5)."""
    return h["b1"] * h["b2"] / (2 * (1 - h["b2"])) * (g * g).sum(-1)


QHM = Record(
    name="qhm",
    label="QHM (quasi-hyperbolic momentum)",
    declare=qhm,
    hyper=(
        beta("b1", "ν (interpolation)", 0.7, "the step's mix of memory and g"),
        beta("b2", "β (momentum)", 0.999, "the average keeps β of itself per step"),
    ),
    memory="QHM steps by a mix of the current gradient (1 − ν) and an average of past ones (ν).",
    forms=(
        ClosedForm(
            r"R = \frac{\nu\beta}{2(1-\beta)}\,\|\nabla L\|_2^2",
            "everywhere (n → ∞)",
            _qhm_R,
            lambda h, g: torch.ones(g.shape[:-1], dtype=torch.bool),
            effect="regularizes",
        ),
    ),
    potential=lambda h, L, g, theta, sums: sums[0][1] / 2 * (g * g).sum(-1),
    betas=("b2",),
    sweep=Sweep(("lr:0.005:0.05:3", "b1:0.1:0.9:3")),
    color="#d95f02",
    limit=("g", r"\frac{\nu\beta}{1-\beta}\,H g"),
)


@pytest.fixture
def with_qhm(monkeypatch):
    monkeypatch.setitem(RECORDS, "qhm", QHM)


def test_qhm_is_one_of_the_choices_and_its_scenario_takes_its_defaults(with_qhm):
    s = Scenario.parse("opt=qhm&b1=0.5")
    assert (s.opt, s.hyper) == ("qhm", {"b1": 0.5, "b2": 0.999})
    assert "qhm" in swept()
    assert SweepScenario.parse("opt=qhm").x.key == "lr"


def test_qhm_memory_run_is_the_hand_written_loop(with_qhm):
    """The engine's memory run from the declaration against QHM written as its recursion."""
    nu, b, lr, steps = 0.7, 0.9, 0.05, 40
    run = simulate(
        batched("x^2 + 3*y^2 + x*y"),
        make_optimizer("qhm", b1=nu, b2=b),
        torch.tensor([1.0, -0.5], dtype=torch.float64),
        lr,
        steps,
    )
    theta, m, path = np.array([1.0, -0.5]), np.zeros(2), [np.array([1.0, -0.5])]
    for _ in range(steps):
        x, y = theta
        g = np.array([2 * x + y, 6 * y + x])
        m = b * m + (1 - b) * g
        theta = theta - lr * ((1 - nu) * g + nu * m)
        path.append(theta)
    assert np.allclose(run["memory"][:, 0].numpy(), np.array(path), rtol=1e-12, atol=1e-14)


def test_qhm_corrected_run_is_the_independent_one(with_qhm, monkeypatch):
    """tests/independent.py takes QHM as its recursion; the three runs agree."""

    def qhm_update(grad, history, b1, b2):
        m = torch.zeros_like(history[0])
        for theta in history:
            m = b2 * m + (1 - b2) * grad(theta)
        return (1 - b1) * grad(history[-1]) + b1 * m

    monkeypatch.setitem(independent.UPDATES, "qhm", qhm_update)
    loss = batched("x^2 + 3*y^2 + x*y + 0.1*x^4")
    start = torch.tensor([0.8, -0.4], dtype=torch.float64)
    hyper = {"b1": 0.7, "b2": 0.8}
    ref = independent.trajectories(loss, "qhm", hyper, start, 0.02, 12)
    run = simulate(loss, make_optimizer("qhm", **hyper), start, 0.02, 12)
    for k in ("memory", "memoryless", "corrected"):
        assert torch.allclose(run[k][:, 0], ref[k], rtol=1e-10, atol=1e-12), k


@pytest.mark.parametrize(
    "command, query",
    [
        ("simulate", "opt=qhm&loss=custom&f=x^2%2By^2&steps=20"),
        ("regularizer", "opt=qhm&steps=20&grid=12"),
        ("order", "opt=qhm&b2=0.5&T=0.2&hs=0.02,0.01"),
        ("sweep", "opt=qhm&steps=10"),
    ],
)
def test_qhm_runs_through_the_cli(with_qhm, capsys, command, query):
    assert cli.main([command, query]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert "qhm" in json.dumps(out)


@pytest.mark.parametrize(
    "page, params",
    [
        ("playground", {"opt": "qhm", "steps": "20", "grid": "16"}),
        ("compare", {"cmp": "gd,qhm", "steps": "20", "grid": "16"}),
        ("theory", {"opt": "qhm", "b2": "0.5", "hs": "0.04,0.02", "T": "0.4"}),
        ("sweep", {"opt": "qhm", "steps": "10"}),
        ("network", {"opt": "qhm", "steps": "10", "n": "60", "width": "6", "compare": "1"}),
        ("study", {"opts": "qhm,hb", "seeds": "3", "steps": "20", "n": "60", "width": "6"}),
    ],
)
def test_qhm_runs_on_every_page(with_qhm, page, params):
    at = app_harness.open_page(page, {"v": "1"} | params)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_the_optimizer_choices_and_about_are_read_from_the_records(with_qhm):
    at = app_harness.open_page("playground", {"v": "1", "steps": "20", "grid": "16"})
    choices = next(s for s in at.selectbox if s.label == "Optimizer")
    assert QHM.label in choices.options
    assert QHM.forms[0].effect in layout.perturbation_table()
    assert r"\frac{\nu\beta}{1-\beta}" in layout.limit_table()


# --- /sweep: the lines a record declares ---------------------------------------------------


def _result(query: str) -> SweepResult:
    """A sweep result built by hand (no run): the figure reads its axes and boundary."""
    s = SweepScenario.parse(query)
    ny, nx = s.shape
    fine = np.linspace(0.5, 0.99, 5)
    kappa = np.ones((5, 5))
    return SweepResult(
        scenario=s,
        x=s.x.values,
        y=s.y.values,
        metrics={"effect": np.zeros((ny, nx))},
        diverged={},
        boundary={"x": fine, "y": fine, "kappa_min": kappa, "kappa_max": kappa},
    )


def _names(fig) -> list[str]:
    return [t.name or "" for t in fig.data]


def test_lion_sweep_on_b1_b2_has_no_adam_diagonal_and_adam_has_it():
    """Lion's b1 (a mix) and b2 (its momentum) are not Adam's: c1 = c2 is not its line."""
    axes = "&x=b1:0.5:0.99:4&y=b2:0.5:0.999:4"
    lion = _names(effect_figure(_result("opt=lion" + axes)))
    assert not any("β₁ = β₂" in n for n in lion)
    for opt in ("adam", "adamw", "adamw_epsin"):
        assert any("β₁ = β₂" in n for n in _names(effect_figure(_result(f"opt={opt}" + axes))))


def test_sweep_axes_are_named_by_the_records_labels():
    fig = effect_figure(_result("opt=lion&x=b1:0.5:0.99:4&y=b2:0.5:0.999:4"))
    assert fig.layout.xaxis.title.text == record("lion").spec("b1").label  # an interpolation
    assert fig.layout.yaxis.title.text == record("lion").spec("b2").label


def test_the_sweep_page_offers_only_the_optimizers_it_can_sweep():
    at = app_harness.open_page("sweep", {"v": "1", "steps": "10", "x": "b1:0.5:0.9:3"})
    # and a declared optimizer, which sweeps lr and its weights' ratios
    labels = [record(k).label for k in swept()]
    assert list(at.selectbox[0].options) == [*labels, "Custom (declare its memory)"]
    assert "gd" not in swept() and set(swept()) == {k for k, r in RECORDS.items() if r.sweep}


# --- colours, sentences and tables --------------------------------------------------------


def test_figure_colours_are_the_records(with_qhm):
    line = network_plots._opt_line("qhm", "QHM", np.zeros(3), True)
    assert line.line.color == QHM.color
    assert network_plots._opt_line("hb", "HB", np.zeros(3), True).line.color == NEUTRAL
    study = type("R", (), {"scenario": type("S", (), {"opts": ("qhm", "hb")})()})()
    assert study_plots.color(study, "qhm") == QHM.color


def test_the_crossover_sentence_is_the_records():
    """Eps inside the root flips sign at sqrt(eps c1/(c2 - c1)), not Adam's eps c1/(c2-c1)."""
    eps, c1, c2 = 1e-4, 0.9 / 0.1, 0.999 / 0.001
    at = app_harness.open_page(
        "playground", {"v": "1", "opt": "adamw_epsin", "eps": "0.0001", "steps": "20"}
    )
    captions = " ".join(c.value for c in at.caption)
    assert f"√(εc₁/(c₂ − c₁)) = {math.sqrt(eps * c1 / (c2 - c1)):.3g}" in captions
    at = app_harness.open_page("playground", {"v": "1", "opt": "adam", "eps": "0.0001"})
    captions = " ".join(c.value for c in at.caption)
    assert f"εc₁/(c₂ − c₁) = {eps * c1 / (c2 - c1):.3g}" in captions


def test_about_tables_have_every_records_closed_forms():
    table = layout.perturbation_table()
    for r in RECORDS.values():
        for form in r.forms:
            assert form.formula.removeprefix("R = ").replace(r"\|", r"\Vert ") in table
    lines = table.splitlines()
    assert len(lines) == 2 + sum(len(r.forms) + bool(r.not_smooth) for r in RECORDS.values())
    assert all(line.count("|") == 5 for line in lines)  # no pipe inside a cell
    limits = layout.limit_table().splitlines()
    assert len(limits) == 2 + sum(r.limit is not None for r in RECORDS.values())
    about = app_harness.open_page("about", {"v": "1"})
    assert not about.exception
    shown = " ".join(m.value for m in about.markdown)
    assert table in shown and record("adamw_epsin").label in shown


def test_farther_reason_names_the_records_bend():
    """Lion's update bends at |g| ~ sqrt(eps), not at eps."""
    from core.analyses.order import farther

    text = farther(record("lion"), {"b1": 0.9, "b2": 0.99, "eps": 0.01, "wd": 0.0}, 2.0, 1.0)
    assert "0.1," in text and "0.01" not in text


# --- nothing outside the records says what an optimizer is --------------------------------


def test_the_default_pair_is_written_once():
    pair = re.compile(r"""["']adamw["']\s*,\s*["']lion["']""")
    found = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("app_pages/*.py")]
        if p.name != "registry.py"
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pair.search(line)
    ]
    assert not found, found
    assert COMPARED == ("adamw", "lion")
