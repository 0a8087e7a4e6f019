"""What one view of /playground computes (issue 19, findings 5 and 6): the three runs once,
downloads serialized only when clicked and equal to what the CLI prints, one parse and
one compile of each loss."""

from __future__ import annotations

import json
import pickle
import sys

import app_harness
import pytest
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest

from core import cli
from core.analyses import compute
from core.engine.optimizers import Geometric
from core.models.derivatives import Derivatives
from core.models.expression import Expression, parse

# a query no other test opens: the caches cannot hold its results already
QUERY = {
    "v": "1",
    "opt": "adam",
    "steps": "30",
    "grid": "14",
    "loss": "custom",
    "f": "x^2 + 3*y^2 + 0.3*x*y",
    "x0": "2.5",  # the runs start outside the window: the JSON carries that warning
    "y0": "1",
    "win": "-2,2,-2,2",
}


@pytest.fixture
def downloads(monkeypatch):
    """Every download button a page draws: label -> its `data` argument."""
    seen = {}
    draw = DeltaGenerator.download_button

    def recording(self, label, data, *args, **kwargs):
        seen[label] = data
        return draw(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    return seen


def _open_counting(page: str, monkeypatch) -> tuple[AppTest, list]:
    """`page` opened with QUERY, counting the runs of the three dynamics
    (core.analyses.compute.trajectories, the engine's entry) made while it renders."""
    st.cache_data.clear()
    at = AppTest.from_file(app_harness.APP, default_timeout=120)
    at.query_params.update(QUERY)
    at.run()  # the entry point (the home page) first, as app_harness does
    runs = []
    trajectories = compute.trajectories

    def counting(s):
        runs.append(s.to_query())
        return trajectories(s)

    monkeypatch.setattr(compute, "trajectories", counting)
    at.switch_page(f"app_pages/{page}.py").run()
    app_harness.assert_clean(at, page.capitalize())
    return at, runs


def test_playground_runs_once_and_its_json_is_what_the_cli_prints(monkeypatch, downloads, capsys):
    _, runs = _open_counting("playground", monkeypatch)
    assert len(runs) == 1, runs  # the summary; the downloads read it
    document = downloads["⬇ JSON"]
    assert callable(document) and callable(downloads["⬇ CSV"])  # nothing built unclicked
    page = json.loads(document())
    assert len(runs) == 1  # built from the cached summary, even when clicked
    assert cli.main(["simulate", runs[0]]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert page == printed
    assert any("leaves the window" in w for w in page["warnings"])
    rows = downloads["⬇ CSV"]().splitlines()
    assert rows[0] == "dynamics,n,x,y,loss" and len(rows) == 1 + 3 * 31


def test_playground_parses_and_compiles_each_loss_once(monkeypatch):
    """One view (the first: nothing cached) parses each expression it meets at most once
    and compiles the derivative code of each at most once: the page's loss, shared by
    the checks of its URL, the runs and the surfaces, and the zoo's in the sidebar."""
    parsed, compiled = [], []
    init = Derivatives.__init__

    def counting_parse(text, *variables):
        parsed.append(str(text))
        return parse(text, *variables)

    def counting_init(self, node):
        compiled.append(node)
        init(self, node)

    for module in [m for name, m in sys.modules.items() if name.startswith(("core", "ui"))]:
        if getattr(module, "parse", None) is parse:  # every module that holds the parser
            monkeypatch.setattr(module, "parse", counting_parse)
    monkeypatch.setattr(Derivatives, "__init__", counting_init)
    _open_counting("playground", monkeypatch)
    assert QUERY["f"] in parsed
    assert len(parsed) == len(set(parsed)), parsed
    assert len(compiled) == len(set(compiled)) >= 1, compiled  # the page's loss at least


def test_playground_builds_each_weights_tables_once(monkeypatch):
    """One view (nothing cached) builds the recursion tables of each of its optimizer's
    averages once (issue 19): its runs, surfaces and verdict share its optimizer."""
    built = []
    tables = Geometric._tables

    def counting(self, steps):
        built.append((steps, float(self.head), float(self.tail), float(self.ratio)))
        return tables(self, steps)

    monkeypatch.setattr(Geometric, "_tables", counting)
    _open_counting("playground", monkeypatch)
    # Adam: its two moments, each once, at the run's steps (the verdict's step n = steps - 1
    # reads the same tables)
    # Adam: its two moments, each once at the run's steps (the verdict's step n = steps - 1
    # reads the same tables); the cost model's one-step probes aside
    run = sorted((steps, ratio) for steps, _, _, ratio in built if steps > 1)
    home = [(150, 0.7)]  # the entry point's page (home) shows heavy ball's run first
    assert sorted(set(run) - set(home)) == [(30, 0.9), (30, 0.999)]
    assert len(run) == len(set(run)), run


def test_an_expression_is_its_text():
    e = Expression("x^2 + y")
    assert e == "x^2 + y" and hash(e) == hash("x^2 + y") and e.tree == parse("x^2 + y")
    assert e.derivatives is Derivatives.of(e) and e.derivatives.gradient(1.0, 2.0) == (2.0, 1.0)
    copy = pickle.loads(pickle.dumps(e))  # text only: a copy builds its own
    assert copy == e and isinstance(copy, Expression) and "tree" not in vars(copy)
