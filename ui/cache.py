"""The app's computations, cached at its edge (core/ stays pure and uncached).

Each cached function takes the scenario's query string, the exact key of what it
computes (x0=-0.0 and x0=0 are different strings, so they never share an entry), and
returns a compact result (plain arrays of bounded size), so every cache is bounded by
max_entries x the largest entry.

One computation per scenario: st.cache_data computes a missing value once while the
other sessions asking for it wait (they keep answering stop and rerun requests). Every
long computation (networks, sweeps, studies, order studies) takes `_check` (core.cancel)
and calls it between steps: when its session has left (a closed tab) or asked for a
rerun (a changed widget), Streamlit's yield check raises, the stop is logged (as the
start was), and the run ends within a step instead of computing a result nobody will
see. (A 2D scenario's runs and surfaces take well under a second at the caps: no check
needed.)

Memory: the caches hold at most ~0.4 GB at the caps (max_entries x the largest entries
below); a long computation holds its own arrays while it runs, so at most MEMORY_JOBS of
them run at once (the others wait their turn, still stoppable), and each hands what it
freed back to the system when it ends.  benchmarks/bench_memory.py --concurrent 10
measures ten sessions at once.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import threads
from core.analyses import compute, network, paper
from core.analyses.compute import PathSummary
from core.analyses.order import OrderStudy
from core.analyses.regularizer import Report
from core.analyses.study import StudyResult, StudyScenario, compute_study
from core.analyses.surfaces import Surfaces
from core.analyses.sweep import SweepResult, SweepScenario, compute_sweep
from core.distribute import ray_address
from core.scenarios.network_scenario import NetworkScenario
from core.scenarios.scenario import Scenario

_CHECK_EVERY_S = 0.05  # how often a running computation asks whether to go on
JOBS = "MEMORY_JOBS"
_log = logging.getLogger(__name__)  # to the server's stderr (app.py: `_log_to_stderr`)


def _check(what: str):
    """A callable for core's `check` (core.cancel): Streamlit's stop/rerun check of this
    script run, asked at most every _CHECK_EVERY_S, logging the stop of computation
    `what` (None outside a script run, e.g. the CLI)."""
    ctx = get_script_run_ctx(suppress_warning=True)
    yield_check = getattr(ctx, "yield_check", None)
    if yield_check is None:
        return None
    start = time.monotonic()
    last = [start]

    def check() -> None:
        now = time.monotonic()
        if now - last[0] >= _CHECK_EVERY_S:
            last[0] = now
            try:
                yield_check()
            except BaseException as stop:  # Streamlit's stop and rerun are BaseExceptions
                _log.info("stopped %s after %.1f s: %s", what, now - start, type(stop).__name__)
                raise

    return check


@functools.cache
def _slots() -> threading.BoundedSemaphore:
    """The long computations that run at once in this server process: MEMORY_JOBS, by
    default as many as the CPUs it may use hold (MEMORY_THREADS threads each).  More
    would not finish sooner, and each holds its arrays while it runs (up to ~0.4 GB at
    the caps): ten sessions computing at once took 1.8 GB (issue 18)."""
    try:
        per_job = threads.requested()
    except ValueError:
        per_job = threads.DEFAULT  # app.py has said so
    default = max(1, len(os.sched_getaffinity(0)) // per_job)
    try:
        jobs = threads.count(JOBS, default)
    except ValueError as err:
        _log.warning("%s; using %d", err, default)
        jobs = default
    return threading.BoundedSemaphore(jobs)


def _trim() -> None:
    """Hand the memory a finished computation freed back to the system: glibc keeps
    freed heap memory in per-thread arenas (nothing to do on other C libraries)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _long(what: str, query: str, compute_it, *args):
    """compute_it(*args, check=...) in its turn among the _slots(), stoppable
    (core.cancel) while it waits for its turn and while it runs."""
    name = f"{what} {query}"
    check = _check(name)
    slots = _slots()
    while not slots.acquire(timeout=_CHECK_EVERY_S):
        if check is not None:
            check()
    try:
        _log.info("computing %s", name)
        return compute_it(*args, check=check)
    finally:
        slots.release()
        _trim()


# Entry sizes at the caps (core.scenarios.limits): a summary <= 0.4 MB, surfaces <= 2.3 MB (more
# with the half-grid fit's numbers: a few floats), a regularizer report < 1 kB, an
# order study < 1 kB, a network view <= 1 MB (its largest part: 3 final parameter vectors).
# A 2D scenario's functions take the scenario itself too (`_s`, not hashed: its query is
# the key), so the runs and surfaces of one page share its loss's tree and derivative code
# (core.models.expression.Expression): one parse and one compile a script run.
@st.cache_data(max_entries=128, show_spinner=False)
def _summary(query: str, _s: Scenario) -> PathSummary:
    return compute.summary(_s)


@st.cache_data(max_entries=64, show_spinner=False)
def _surfaces(query: str, _s: Scenario) -> Surfaces:
    return compute.surfaces(_s)


@st.cache_data(max_entries=64, show_spinner=False)
def _order(query: str, _s: Scenario) -> OrderStudy:
    return _long("order study", query, compute.order, _s)


@st.cache_data(max_entries=64, show_spinner=False)
def _regularizer(query: str, _s: Scenario) -> Report:
    return compute.regularizer(_s, _surfaces(query, _s), _summary(query, _s))


@st.cache_data(max_entries=32, show_spinner=False)
def _network_view(query: str) -> network.NetworkView:
    return _long("network view", query, network.view, NetworkScenario.parse(query))


@st.cache_data(max_entries=64, show_spinner=False)
def _network_result(query: str) -> network.NetworkResult:
    return _long("network", query, network.result, NetworkScenario.parse(query))


# a sweep at the caps <= 1 MB (4096 cells x the metrics, the fine verdict grid); a study
# <= 17 MB (core.scenarios.limits.MAX_STUDY_CURVES: its two curves per run)
@st.cache_data(max_entries=8, show_spinner=False)
def _sweep(query: str) -> SweepResult:
    return _long("sweep", query, compute_sweep, SweepScenario.parse(query))


@st.cache_data(max_entries=4, show_spinner=False)
def _study(query: str) -> StudyResult:
    return _long("study", query, compute_study, StudyScenario.parse(query), ray_address())


def summary(s: Scenario) -> PathSummary:
    """The three runs of a 2D scenario (core.analyses.compute.summary)."""
    return _summary(s.to_query(), s)


def surfaces(s: Scenario) -> Surfaces:
    return _surfaces(s.to_query(), s)


def order(s: Scenario) -> OrderStudy:
    return _order(s.to_query(), s)


def regularizer(s: Scenario) -> Report:
    """The verdict read from R on the window and along the run (core.analyses.regularizer)."""
    return _regularizer(s.to_query(), s)


def network_view(s: NetworkScenario) -> network.NetworkView:
    """/network: result, fit and landscape of one run."""
    return _network_view(s.to_query())


def network_result(s: NetworkScenario) -> network.NetworkResult:
    """A network result alone (comparisons, gallery thumbnails)."""
    return _network_result(s.to_query())


def sweep(s: SweepScenario) -> SweepResult:
    """/sweep: every cell's three runs and metrics (core.analyses.sweep)."""
    return _sweep(s.to_query())


def study(s: StudyScenario) -> StudyResult:
    """/study: the seeds of both optimizers (core.analyses.study; on Ray when RAY_ADDRESS is
    set)."""
    return _study(s.to_query())


# /paper's experiments run for up to a minute (more when the cost model admits it) with a
# progress bar.  st.cache_data replays the elements a cached function draws, and a
# progress bar updated from inside one would be replayed on a cache hit against an
# element of another run (CacheReplayClosureError); so the experiments are computed in
# the script run itself, with the bar, and kept in one bounded store shared by the
# sessions (results: curves and per-seed numbers, < 1 MB each).
PAPER_ENTRIES = 8
_PROGRESS_EVERY_S = 0.1


class _Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[str, str], object] = OrderedDict()


@st.cache_resource
def _paper_store() -> _Store:
    return _Store()


def paper_cached(experiment: str, s) -> object | None:
    """The stored result of this experiment and scenario, or None."""
    store, key = _paper_store(), (experiment, s.to_query())
    with store.lock:
        if key in store.entries:
            store.entries.move_to_end(key)
            return store.entries[key]
    return None


def paper_result(experiment: str, s, show: Callable[[float], None]) -> object:
    """/paper: the experiment's result, from the store or computed here with show(fraction)
    called as it goes (at most every 0.1 s), taking its turn and stopping with its
    session as every long computation does (`_long`)."""
    hit = paper_cached(experiment, s)
    if hit is not None:
        return hit

    def run(check=None) -> object:
        last = [0.0]

        def progress(fraction: float) -> None:
            now = time.monotonic()
            if now - last[0] >= _PROGRESS_EVERY_S:
                last[0] = now
                show(fraction)
            if check is not None:  # itself asks Streamlit at most every _CHECK_EVERY_S
                check()

        return paper.RUN[experiment](s, progress=progress, address=ray_address())

    # in its turn among the long computations, stopped with its session (core.cancel)
    result = _long(f"paper {experiment}", s.to_query(), run)
    store = _paper_store()
    with store.lock:
        store.entries[(experiment, s.to_query())] = result
        while len(store.entries) > PAPER_ENTRIES:
            store.entries.popitem(last=False)
    return result
