"""A study on a local Ray instance (2 CPUs) gives the same numbers as in process.

CI sets REQUIRE_RAY=1 (and installs requirements-ray.txt): there a missing Ray is a
failure, not a skip."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from ray_local import ray

from core.analyses.study import StudyScenario, compute_study
from core.scenarios import limits

QUERY = "seeds=10&steps=15&n=60&width=6&lrs=0.01,0.003&seed=5&until=0"


def test_ray_gives_the_in_process_numbers(local_ray):
    s = StudyScenario.parse(QUERY)
    here = compute_study(s)
    there = compute_study(s, address="auto")  # 2 chunks x 2 optimizers: 4 Ray tasks
    assert here.seeds == there.seeds == list(range(5, 15))
    for opt in s.opts:
        for name, values in here.per_seed[opt].items():
            assert values.shape == (10, 2)
            np.testing.assert_array_equal(values, there.per_seed[opt][name], err_msg=name)
        for name, values in here.curves[opt].items():
            np.testing.assert_array_equal(values, there.curves[opt][name], err_msg=name)
        np.testing.assert_array_equal(here.stop[opt], there.stop[opt])
    assert np.isfinite(here.per_seed["adamw"]["train_loss"]).all()


class Stop(BaseException):  # as Streamlit's StopException
    pass


def test_a_stopped_study_cancels_its_ray_tasks(local_ray):
    """The driver checks between waits for the tasks; a stop cancels those not done."""
    calls = []

    def check():
        calls.append(1)
        raise Stop

    with limits.allowance(math.inf):  # 8 tasks, longer than a page admits (the CLI may)
        s = StudyScenario.parse("seeds=32&steps=400&n=200&width=8&seed=7")
    with mock.patch.object(ray, "cancel", wraps=ray.cancel) as cancel, pytest.raises(Stop):
        compute_study(s, address="auto", check=check)
    assert calls == [1]
    assert cancel.call_count >= 6  # two CPUs: at most two tasks done by the first check
