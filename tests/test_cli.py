"""python -m core: the page URL's query strings in, JSON out; bad input -> exit 2."""

import json
import math
import os
import subprocess
import sys

import cli_run
import independent
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core import cli
from core.models.losses import batched
from core.scenarios.scenario import Scenario

CASES = [
    "opt=gd&lr=0.05&loss=custom&f=x^2%2B3*y^2%2Bsin(x*y)&x0=1&y0=-0.5",
    "opt=hb&b1=0.8&lr=0.03&loss=custom&f=log(1%2Bx^2)%2Btanh(y)^2&x0=1.5&y0=0.7",
    "opt=nesterov&b1=0.5&lr=0.002&loss=beale",
    "opt=rmsprop&b2=0.9&eps=0.2&lr=0.02&loss=custom&f=softplus(x-y)%2B0.5*y^2&x0=-1&y0=1",
    "opt=adam&b1=0.7&b2=0.8&eps=0.3&lr=0.05&loss=custom&f=sqrt(1%2Bx^2%2By^4)&x0=2&y0=1",
    "opt=adamw&b1=0.5&b2=0.7&eps=0.5&wd=0.1&lr=0.04&loss=custom&f=max(x,y)^2%2Bsigmoid(x)%2B0.1*y^2",
    "opt=lion&b1=0.5&b2=0.6&eps=0.25&wd=0.1&lr=0.04&loss=custom&f=exp(0.3*x)%2Bcos(y)*x^2",
    "opt=lion&b1=0.9&b2=0.99&lr=0.01&loss=himmelblau",
]


run_cli = cli_run.run  # in this process: cli.main, its status and what it wrote


def test_python_m_core_is_cli_main():
    """The module entry point itself, once in a subprocess: JSON out, nothing on stderr."""
    res = subprocess.run(
        [sys.executable, "-m", "core", "simulate", "steps=3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0 and res.stderr == ""
    assert json.loads(res.stdout)["scenario"] == "v=1&steps=3"


@pytest.mark.parametrize("query", CASES, ids=lambda q: q.split("&")[0])
def test_simulate_agrees_with_an_independent_implementation(query, capsys):
    query += "&steps=12"
    assert cli.main(["simulate", query]) == 0
    out = json.loads(capsys.readouterr().out)
    s = Scenario.parse(query)
    expected = independent.trajectories(
        batched(s.expression), s.opt, s.hyper, torch.tensor([s.x0, s.y0]), s.lr, s.steps
    )
    assert Scenario.parse(out["scenario"]) == s
    for k, path in expected.items():
        got = torch.tensor(out[k])
        assert got.shape == (s.steps + 1, 2) and got.dtype == torch.float64
        assert torch.allclose(got, path, rtol=1e-8, atol=1e-12), k
    assert out["diverged"] == {"memory": None, "memoryless": None, "corrected": None}


def test_order_prints_errors_and_slopes():
    res = run_cli("order", "opt=hb&b1=0.5", "--h", "0.04,0.02,0.01", "--horizon", "1")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["h"] == [0.04, 0.02, 0.01]
    assert len(out["corrected"]) == len(out["memoryless"]) == 3
    assert all(c < m for c, m in zip(out["corrected"], out["memoryless"], strict=True))
    assert len(out["slopes"]["corrected"]) == 2 and out["slopes"]["corrected"][-1] > 1.3


def test_order_json_says_when_the_study_is_not_asymptotic():
    """Issue 17 (6): Lion on Himmelblau has settled slopes 1.15-1.30 that are still
    climbing; the JSON fits nothing (null), says so, and names the step sizes to add."""
    query = "opt=lion&b1=0.5&b2=0.6&eps=0.25&wd=0.1&loss=himmelblau&x0=-0.3&y0=-0.9&T=1"
    res = run_cli("order", query, "--h", "0.08,0.04,0.02,0.01,0.005")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["fitted_slope"] == [None, None] and out["fitted_rows"] == 0
    assert not any(out["asymptotic"])
    assert out["asymptotic_regime"] is False and out["next_h"] == [0.0025, 0.00125]
    (said,) = [w for w in out["warnings"] if w.startswith("not asymptotic")]
    assert "h = 0.0025, 0.00125" in said
    # a study that reaches its regime: fitted, and the rows it fits are the last ones
    res = run_cli("order", "opt=hb&b1=0.5", "--h", "0.008,0.004,0.002,0.001", "--horizon", "0.25")
    out = json.loads(res.stdout)
    assert out["asymptotic_regime"] is True and out["next_h"] == []
    assert out["asymptotic"] == [True] * 4 and out["fitted_slope"][0] > 1.8


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["simulate", "opt=adamx"], "opt"),
        (["simulate", "loss=custom&f=x%2B%24"], "'$' at position 2"),
        (["simulate", "steps=999999999"], "steps"),
        (["order", "opt=hb", "--h", "0.1,abc"], "--h"),
        (["order", "opt=hb", "--h", "0.1"], "hs"),
        (["simulate", "loss=custom&f=__import__(%27os%27).system(%27true%27)"], "f:"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(args, needle):
    res = run_cli(*args)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.stderr


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_any_query_either_runs_or_exits_2(text):
    # in-process: main() returns 0 with JSON or 2 with one stderr line, never raises
    try:
        s = Scenario.parse(text)
    except ValueError:
        s = None
    if s is not None:  # keep valid queries cheap: a few steps
        text = s.updated(steps=2).to_query()
    code = cli.main(["simulate", "--", text])
    assert code in (0, 2) and (code == 0) == (s is not None)


def test_reports_write_null_for_every_non_finite_number():
    from core.scenarios.report import finite_or_none

    assert finite_or_none(2.5) == 2.5 and finite_or_none(math.inf) is None
    assert finite_or_none([1.0, math.nan, -math.inf]) == [1.0, None, None]
    assert finite_or_none(np.array([[1.0, np.inf], [np.nan, 3.0]])) == [[1.0, None], [None, 3.0]]
    assert all(type(v) is float for v in finite_or_none(np.arange(3.0)))


@pytest.mark.parametrize(
    "command, query",
    [
        ("network", "steps=4&n=40&width=3"),
        ("sweep", "x=b1:0.5:0.9:3&y=b2:0.5:0.9:2&steps=5"),
        ("study", "seeds=2&steps=3&n=40&width=3"),
    ],
)
def test_one_report_module_writes_what_the_cli_prints(command, query, capsys):
    """core.scenarios.report is the one module of documents: the network, sweep and study reports
    lived in their computation modules (core.analyses.network, core.analyses.sweep,
    core.analyses.study)."""
    from core.analyses.study import StudyScenario, compute_study
    from core.analyses.sweep import SweepScenario, compute_sweep
    from core.scenarios import report
    from core.scenarios.network_scenario import NetworkScenario

    assert cli.main([command, query]) == 0
    printed = json.loads(capsys.readouterr().out)
    document = {
        "network": lambda: report.network_json(NetworkScenario.parse(query)),
        "sweep": lambda: report.sweep_json(compute_sweep(SweepScenario.parse(query))),
        "study": lambda: report.study_json(compute_study(StudyScenario.parse(query))),
    }[command]()
    expected = json.loads(report.to_json(document))
    expected.setdefault("warnings", [])  # the CLI's list of what the reader must know
    assert printed == expected


# --- issue 18, item 7: stdout is JSON, an error is one clean line, a closed pipe is quiet


def strict_json(text: str):
    """json.loads that refuses NaN and infinities (Python's json reads them by default)."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_to_json_writes_every_non_finite_number_as_null():
    from core.scenarios.report import to_json

    document = {
        "a": math.nan,
        "b": np.float64(-np.inf),
        "c": [np.array([1.5, np.nan]), (np.int64(3), np.bool_(True))],
        "d": {"e": np.array([[np.inf]]), "f": "text"},
    }
    assert strict_json(to_json(document)) == {
        "a": None,
        "b": None,
        "c": [[1.5, None], [3, True]],
        "d": {"e": [[None]], "f": "text"},
    }


# a loss whose M/P overflows when squared on the grid (its residual was NaN, with numpy's
# overflow warnings on stderr); a study whose runs diverge (NaN in its summary)
OVERFLOWING = [
    ("regularizer", "loss=custom&f=exp%28exp%28exp%28x%29%29%29"),
    ("sweep", "opt=adam&loss=custom&f=exp(exp(exp(x)))&x=b1:0.5:0.9:3&y=b2:0.5:0.9:3&steps=30"),
    ("study", "seeds=2&steps=10&n=40&width=3&lrs=1,10"),
]


@pytest.mark.parametrize(("command", "query"), OVERFLOWING, ids=[c for c, _ in OVERFLOWING])
def test_stdout_is_strict_json_and_stderr_is_empty(command, query):
    res = run_cli(command, query)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    out = strict_json(res.stdout)
    assert isinstance(out["warnings"], list)


def test_floating_point_warnings_are_said_in_the_document(monkeypatch, capsys):
    def overflowing(s):
        return {"x": float(np.float64(1e308) * 10), "warnings": ["a run's own warning"]}

    monkeypatch.setattr(cli, "simulate_json", overflowing)
    assert cli.main(["simulate", "steps=2"]) == 0
    captured = capsys.readouterr()
    out = strict_json(captured.out)
    assert out["x"] is None and captured.err == ""
    assert out["warnings"] == [
        "a run's own warning",
        "RuntimeWarning: overflow encountered in scalar multiply",
    ]


ESCAPED = [
    ("zz%0Azz=1", "zz\\nzz: unknown key"),
    ("a%0D%0Ab=1", "a\\r\\nb: unknown key"),
    ("%1B%5B31mRED%1B%5B0m=1", "\\x1b[31mRED\\x1b[0m: unknown key"),
    ("steps=%1B%5B31m", "steps: '\\x1b[31m' is not a whole number"),
]


@pytest.mark.parametrize(
    ("command", "query", "line"),
    # every kind on one command, and one kind on every command (one process each)
    [("simulate", q, line) for q, line in ESCAPED]
    + [(c, *ESCAPED[2]) for c in ("order", "regularizer", "network", "sweep", "study")],
)
def test_an_error_is_one_line_with_its_control_characters_escaped(command, query, line):
    res = run_cli(command, query)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == f"error: {line}\n"


def test_an_argument_error_is_one_escaped_line_too():
    res = run_cli("simulate", "steps=2", "--\x1b[2J\nx")  # argparse quotes it raw
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr[:-1].isprintable(), res.stderr
    assert "\\x1b[2J\\nx" in res.stderr


def test_a_closed_pipe_ends_quietly():
    # the reader has gone before the first write (python -m core network '' | head -c 0)
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "wb") as stdout:
        res = subprocess.run(
            [sys.executable, "-m", "core", "simulate", "steps=3"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert res.stderr == "" and res.returncode == 1


def test_a_repeated_key_is_said_and_the_last_value_taken():
    res = run_cli("simulate", "steps=3&steps=4")
    assert res.returncode == 0 and res.stderr == ""
    out = strict_json(res.stdout)
    assert out["settings"]["steps"] == 4 and len(out["memory"]) == 5
    assert out["warnings"][0] == "steps: given more than once, the last value taken"


@pytest.mark.parametrize(
    ("command", "query", "line"),
    [
        ("simulate", "steps=%D9%A3", "steps: '٣' has digits other than 0-9"),
        ("simulate", "b1=%EF%BC%91", "b1: '１' has digits other than 0-9"),
        ("sweep", "x=b1:0:1:100000", "x: 100000 cells on an axis (2 to 64)"),
    ],
)
def test_digits_are_ascii_and_range_messages_name_the_limit(command, query, line):
    res = run_cli(command, query)
    assert res.returncode == 2 and res.stderr == f"error: {line}\n"
