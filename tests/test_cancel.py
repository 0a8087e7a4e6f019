"""Every long computation stops when its caller's check raises (core.cancel; issue 18): the
check is called between steps, and the first raise ends the computation (no step after
it).  The app's side, a closed tab stopping the run, is tests/test_browser_robust.py."""

from __future__ import annotations

import pytest

from core.analyses import compute
from core.analyses.network import view
from core.analyses.study import StudyScenario, compute_study
from core.analyses.sweep import SweepScenario, compute_sweep
from core.scenarios.network_scenario import NetworkScenario
from core.scenarios.scenario import Scenario


class Stop(BaseException):  # as Streamlit's StopException: not an Exception
    pass


class Counter:
    """A check that counts its calls and raises at call `stop_at` (never when None)."""

    def __init__(self, stop_at: int | None = None):
        self.calls, self.stop_at = 0, stop_at

    def __call__(self) -> None:
        self.calls += 1
        if self.calls == self.stop_at:
            raise Stop


COMPUTATIONS = {
    "sweep": lambda check: compute_sweep(
        SweepScenario.parse("x=b1:0.5:0.9:4&y=b2:0.5:0.99:3&steps=40"), check=check
    ),
    # case (c): the card's verdicts sum the past, group by group
    "sweep-lion": lambda check: compute_sweep(
        SweepScenario.parse("opt=lion&eps=0.1&x=b2:0.5:0.99:3&y=b1:0.5:0.9:2&steps=40"),
        check=check,
    ),
    "study": lambda check: compute_study(
        StudyScenario.parse("seeds=10&steps=40&n=60&width=4"), check=check
    ),
    "network": lambda check: view(NetworkScenario.parse("steps=40&n=60&width=4"), check=check),
}
STEPS = 40


@pytest.mark.parametrize("name", list(COMPUTATIONS))
def test_the_check_runs_between_steps(name):
    check = Counter()
    COMPUTATIONS[name](check)
    assert check.calls >= STEPS


@pytest.mark.parametrize("name", list(COMPUTATIONS))
@pytest.mark.parametrize("stop_at", [1, 25])
def test_a_raising_check_ends_the_computation(name, stop_at):
    check = Counter(stop_at)
    with pytest.raises(Stop):
        COMPUTATIONS[name](check)
    assert check.calls == stop_at  # nothing ran past the stop, not even another check


def test_the_card_verdicts_call_the_check_group_by_group():
    """Case (c) has a group per cell (3 x 2 here): its sums over the past and its fits
    call the check once per group, after the runs' steps."""
    check = Counter()
    COMPUTATIONS["sweep-lion"](check)
    assert check.calls >= STEPS + 2 * 6


def test_an_order_study_checks_before_each_run():
    """/theory's order study (the 2D float path): a check before each step size's run of
    each dynamics (one run at the caps takes ~0.1 s)."""
    s = Scenario.parse("opt=adam&hs=0.04,0.02,0.01,0.005&T=1")
    check = Counter()
    compute.order(s, check=check)
    assert check.calls == 4 * 3
    stop = Counter(5)
    with pytest.raises(Stop):
        compute.order(s, check=stop)
    assert stop.calls == 5
