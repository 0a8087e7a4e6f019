"""A study on a local Ray instance (2 CPUs) gives the same numbers as in process.

CI sets REQUIRE_RAY=1 (and installs requirements-ray.txt): there a missing Ray is a
failure, not a skip."""

from __future__ import annotations

import os

import numpy as np
import pytest

from core.study import StudyScenario, compute_study

try:
    import ray
except ImportError:
    if os.environ.get("REQUIRE_RAY"):
        pytest.fail("the Ray test is required but ray is not installed", pytrace=False)
    pytest.skip(
        "ray is not installed (pip install -r requirements-ray.txt)", allow_module_level=True
    )

QUERY = "seeds=10&steps=15&n=60&width=6&lrs=0.01,0.003&seed=5&until=0"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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
