"""What the page scripts used to compute themselves (issue 19, finding 7), now in core/
and ui/: each checked against numbers built by hand or computed independently here."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import quote

import app_harness
import independent
import numpy as np
import pytest
import torch

from core.analyses import compute
from core.analyses.network import CompareRow, NetworkResult, result
from core.analyses.order import OrderStudy, asymptotic_h, asymptotic_steps, farther, steps_to
from core.analyses.sweep import SweepResult, SweepScenario
from core.engine.registry import record
from core.models.losses import batched
from core.scenarios.network_scenario import NetworkScenario
from core.scenarios.scenario import Scenario
from ui import sweep_plots, tables

HB = record("hb")


# --- the "farther" check: one function for the 2D pages, /network and the JSON ------


def test_farther_speaks_only_when_the_corrected_run_is_farther():
    said = farther(HB, {"b1": 0.9}, 0.93, 0.57)
    assert "farther" in said and "0.93 against 0.57" in said
    assert "1/(1−β) ≈ 10 steps" in said  # beta = 0.9: a memory of ten steps
    assert farther(HB, {"b1": 0.9}, 0.57, 0.93) is None
    assert farther(HB, {"b1": 0.9}, 0.5, 0.5) is None
    assert farther(HB, {"b1": 0.9}, float("nan"), 0.5) is None  # no finite distance


def test_a_networks_largest_distance_skips_its_non_finite_steps():
    r = SimpleNamespace(
        distance={
            "corrected": np.array([0.0, 0.1, np.inf, 0.3, np.nan]),
            "memoryless": np.array([np.nan, np.nan]),
        }
    )
    assert NetworkResult.max_distance(r, "corrected") == 0.3
    assert np.isnan(NetworkResult.max_distance(r, "memoryless"))


# --- /compare's budget and its table -----------------------------------------------

PRODUCT36 = quote("*".join(["(x+y+1)"] * 36), safe="")


def test_compare_refusal_names_the_keys_and_the_most_steps_it_admits():
    assert compute.compare_refusal(Scenario.parse("cmp=gd,hb,adam,lion")) is None
    s = Scenario.parse(f"cmp=rmsprop,lion,adam,hb&steps=5000&grid=200&loss=custom&f={PRODUCT36}")
    message = compute.compare_refusal(s)
    assert "4 optimizers x 5000 steps" in message and "lower steps, grid" in message
    most = int(message.split("at most ")[1].split(" steps")[0])
    assert compute.compare_refusal(s.updated(steps=most)) is None
    assert compute.compare_refusal(s.updated(steps=most + 1)) is not None


def test_the_compare_table_holds_the_runs_numbers():
    """Two optimizers on the quadratic 0.5 x² + 10 y², their runs by tests/independent.py:
    the end of the memory run, its loss there and the largest distances."""
    s = Scenario.parse("loss=quadratic&steps=15&grid=12&lr=0.02")
    results, expected = [], []
    for opt in ("gd", "hb"):
        r = s.with_optimizer(opt)
        results.append((r, compute.summary(r), compute.regularizer(r)))
        runs = independent.trajectories(
            batched(r.expression), r.opt, r.hyper, torch.tensor([r.x0, r.y0]), r.lr, r.steps
        )
        runs = {k: v.numpy() for k, v in runs.items()}
        x, y = runs["memory"][-1]
        far = {
            k: np.linalg.norm(runs[k] - runs["memory"], axis=1).max()
            for k in ("memoryless", "corrected")
        }
        loss = [0.5 * p[-1, 0] ** 2 + 10 * p[-1, 1] ** 2 for p in runs.values()]
        expected.append((x, y, loss, far))
    table = tables.compare_2d(results)
    assert list(table["optimizer"]) == [record("gd").label, record("hb").label]
    for (_, row), (x, y, loss, far) in zip(table.iterrows(), expected, strict=True):
        assert row["memory run ends at"] == f"({x:.3g}, {y:.3g})"
        assert row["final loss: memory / memoryless / corrected"] == " / ".join(
            f"{v:.4g}" for v in loss
        )
        gaps = f"{far['memoryless']:.3g} / {far['corrected']:.3g}"
        assert row["max distance to memory: memoryless / corrected"] == gaps


def test_the_network_table_says_undefined_and_missing_values_in_words():
    row = dict(train_loss=0.25, test_loss=np.nan, gap=np.nan, positive_fraction=0.5)
    rows = [
        CompareRow("adamw", 0.03, {"b1": 0.9}, effect="regularizes", hR=0.01, hR_mean=0.02,
                   hR_limit=0.03, **row),
        CompareRow("lion", 0.01, {}, effect="undefined", hR=np.nan, hR_mean=np.nan,
                   hR_limit=np.nan, **row),
    ]  # fmt: skip
    table = tables.compare_networks(rows, 99)
    adamw, lion = (table.iloc[i] for i in range(2))
    # each optimizer's own step size first (core.scenarios.pair: a fair comparison)
    assert (
        adamw["hyperparameters"] == "h = 0.03, b1 = 0.9" and lion["hyperparameters"] == "h = 0.01"
    )
    assert adamw["train loss"] == "0.25" and adamw["test loss"] == "–"
    assert adamw["h·R at the end (n = 99)"] == "0.01" and adamw["h·R > 0 on the run"] == "50%"
    assert ":green-badge[regularizes]" in adamw["verdict along the run"]
    for column in ("h·R > 0 on the run", "h·R at the end (n = 99)", "mean h·R"):
        assert lion[column] == tables.UNDEFINED


# --- /theory's horizon and its table -----------------------------------------------


def test_the_horizon_holds_twenty_memory_lengths():
    assert asymptotic_steps(10.0) == 200.0  # beta = 0.9: 20 x 1/(1 - 0.9)
    assert asymptotic_h(1.0, 10.0) == pytest.approx(0.005)
    assert steps_to(1.0, [0.3, 0.1, 4.0]) == [3, 10, 1]  # at least one step


def test_the_order_table_has_one_row_per_step_size():
    study = OrderStudy(
        h=(0.1, 0.05),
        corrected=(4e-3, 1e-3),
        memoryless=(2e-2, 1e-2),
        slopes_corrected=(2.0,),
        slopes_memoryless=(1.0,),
        fit_corrected=2.0,
        fit_memoryless=1.0,
        asymptotic=(False, True),
        fit_rows=1,
        extent=(1.0, 1.0),
        next_h=(),
        warnings=(),
    )
    table = tables.order(study, 1.0)
    assert list(table["steps T/h"]) == [10, 20]
    assert list(table["slope corrected"]) == ["–", "2.00"]
    assert list(table["error memoryless"]) == ["2.000e-02", "1.000e-02"]
    assert list(table["asymptotic"]) == ["✗ pre-asymptotic", "✓"]


# --- /sweep's counts ---------------------------------------------------------------


def test_the_sweep_caption_counts_each_verdict_and_the_diverged_cells():
    effect = np.array([[1, 1, -1], [0, 1, -1]])
    never, at_3 = np.full((2, 3), -1), np.array([[-1, 3, -1], [-1, -1, -1]])
    res = SweepResult(
        SweepScenario.parse(""),
        np.arange(3.0),
        np.arange(2.0),
        {"effect": effect},
        {"memory": never, "memoryless": at_3, "corrected": at_3},
        {},
    )
    assert sweep_plots.tally(res) == {1: 3, -1: 2, 0: 1, "diverged": 1}


@pytest.mark.parametrize("opt", ["adam", "hb"])
def test_the_network_page_says_farther_exactly_when_its_distances_do(opt):
    """Adam at h = 0.02 over 40 steps: corrected 37 against memoryless 2.8 (farther);
    heavy ball: 0.011 against 0.075 (not)."""
    params = {"v": "1", "steps": "40", "n": "40", "width": "4", "opt": opt}
    at = app_harness.open_page("network", params)
    assert not at.exception
    s = NetworkScenario.parse("&".join(f"{k}={v}" for k, v in params.items()))
    far = {k: np.nanmax(np.where(np.isfinite(d), d, np.nan)) for k, d in result(s).distance.items()}
    said = [i.value for i in at.info if "farther" in i.value]
    assert bool(said) == (far["corrected"] > far["memoryless"])
    if said:
        assert f"{far['corrected']:.3g} against {far['memoryless']:.3g}" in said[0]
