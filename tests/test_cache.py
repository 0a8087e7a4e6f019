"""The app's caches (ui.cache): compact results, one computation per scenario, keys
that tell -0.0 from 0, and computations that stop when asked (issue 10, items 1, 2, 8)."""

from __future__ import annotations

import pickle
import threading
import time
from unittest import mock
from urllib.parse import quote

import numpy as np
import pytest
import streamlit as st

from core.analyses import compute, network
from core.models import training
from core.scenarios.network_scenario import NetworkScenario
from core.scenarios.scenario import Scenario
from tests.test_app import open_page
from ui import cache

NET = "v=1&steps=8&n=40&width=4"


@pytest.fixture(autouse=True)
def _empty_caches():
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def test_network_result_owns_its_arrays():
    """The final parameters were views into the (steps + 1, 3, d) run buffer, keeping
    it alive in the cache (91.5 MiB per entry at the old caps)."""
    r = network.result(NetworkScenario.parse(NET))
    arrays = [*r.final.values(), *r.train_loss.values(), *r.test_loss.values()]
    arrays += [*r.distance.values(), r.grad_sq, r.grad_l1, r.hR]
    for a in arrays:
        assert a.base is None or a.base.nbytes == a.nbytes, "a view into a larger buffer"
    s = r.scenario
    assert len(pickle.dumps(r)) < 64 * (s.steps + 1) * 8 + 8 * 3 * r.d + 4096


def test_page_computes_one_run_and_one_result():
    """The page asked result(s) and fit(s) (which asked result(s, None)): two entries,
    the evaluation computed twice."""
    # a result evaluates the losses with `values` twice (train, test); nothing else does
    with (
        mock.patch.object(network, "values", wraps=network.values) as values,
        mock.patch.object(training, "simulate", wraps=training.simulate) as simulate,
    ):
        at = open_page("network", dict(p.split("=") for p in NET.split("&")))
        assert not at.exception, at.exception
        assert simulate.call_count == 1 and values.call_count == 2
        open_page("network", dict(p.split("=") for p in NET.split("&")))  # a second visitor
        assert simulate.call_count == 1 and values.call_count == 2


def test_concurrent_requests_wait_for_one_run():
    s = Scenario.parse("v=1&steps=30&opt=adam")
    calls, original = [], compute.summary

    def slow(*args):
        calls.append(1)
        time.sleep(0.5)
        return original(*args)

    with mock.patch.object(cache.compute, "summary", slow):
        threads = [threading.Thread(target=cache.summary, args=(s,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(calls) == 1


def test_minus_zero_is_its_own_scenario():
    """f = tanh(1/x) + y^2 at (-0.0, 0.5) is -0.75, at (0, 0.5) 1.25; the two shared one
    cache entry (Scenario(-0.0) == Scenario(0.0)), so the second got the first's."""
    f = quote("tanh(1/x)+y^2", safe="")
    minus = Scenario.parse(f"v=1&loss=custom&f={f}&x0=-0.0&y0=0.5&steps=5")
    plus = Scenario.parse(f"v=1&loss=custom&f={f}&x0=0&y0=0.5&steps=5")
    assert minus.to_query() != plus.to_query()
    assert cache.summary(minus).losses["memory"][0] == -0.75
    assert cache.summary(plus).losses["memory"][0] == 1.25
    assert cache.summary(minus).losses["memory"][0] == -0.75


class Stop(Exception):
    pass


def test_a_check_that_raises_stops_the_run_at_once():
    """Core calls `check` before every training step, so a run whose sessions left
    stops within one step instead of running to the end."""
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 3:
            raise Stop

    with pytest.raises(Stop):
        network.view(NetworkScenario.parse("v=1&steps=300"), check=check)
    assert len(calls) == 3


def test_cached_entries_are_compact():
    """Entries are pickled compact results: bounded by the caps, not by a run buffer."""
    s = Scenario.parse("v=1&steps=1000&grid=200")
    assert len(pickle.dumps(cache.summary(s))) < 2 * 3 * 1001 * 3 * 8 + 4096
    assert len(pickle.dumps(cache.surfaces(s))) < 8 * 200 * 200 * 8 + 4096
    assert np.isfinite(cache.summary(s).losses["memory"]).all()


def test_core_is_pure_and_uncached():
    """No module-level caches in core/ (they kept whole runs alive) and no streamlit."""
    import ast
    import importlib
    import pkgutil
    from pathlib import Path

    import core

    found = list(pkgutil.walk_packages(core.__path__, "core."))
    assert len(found) > 30  # every module of every subpackage
    for info in found:
        if info.name == "core.__main__":  # runs the CLI
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            assert not hasattr(value, "cache_info"), f"{info.name}.{name} is cached"
        tree = ast.parse(Path(module.__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] == "streamlit" for n in names), info.name


@pytest.fixture
def jobs(monkeypatch):
    """MEMORY_JOBS for one test (ui.cache reads it once per process)."""

    def set_jobs(n: int) -> None:
        monkeypatch.setenv(cache.JOBS, str(n))
        cache._slots.cache_clear()

    yield set_jobs
    cache._slots.cache_clear()


def test_at_most_memory_jobs_long_computations_run_at_once(jobs):
    """Ten sessions computing at once held 1.8 GB (issue 18): the long computations take
    turns, MEMORY_JOBS at a time; each one here waits until three run together (or 1 s)."""
    jobs(2)
    running, most, ran = [0], [0], []
    together = threading.Condition()

    def fake_sweep(s, check=None):
        with together:
            running[0] += 1
            most[0] = max(most[0], running[0])
            together.notify_all()
            together.wait_for(lambda: running[0] >= 3, timeout=1.0)
            running[0] -= 1
        ran.append(s)

    with mock.patch.object(cache, "compute_sweep", fake_sweep):
        queries = [f"x=b1:0.1:0.9:3&y=b2:0.5:0.9:3&steps={k}" for k in (5, 6, 7, 8)]
        sessions = [threading.Thread(target=cache._sweep, args=(q,)) for q in queries]
        for t in sessions:
            t.start()
        for t in sessions:
            t.join()
    assert len(ran) == 4 and most[0] == 2


def test_a_computation_waiting_for_its_turn_still_stops(jobs):
    jobs(1)
    slots = cache._slots()
    computed = []

    def stop():
        raise Stop

    slots.acquire()  # another session's computation is running
    try:
        with mock.patch.object(cache, "_check", lambda what: stop), pytest.raises(Stop):
            cache._long("sweep", "steps=5", lambda check: computed.append(1))
    finally:
        slots.release()
    assert computed == []
