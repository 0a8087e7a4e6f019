"""/paper's experiments on a local Ray instance (2 CPUs) give the in-process numbers: the
same jobs (core.distribute, as /study's chunks) wherever they run.

CI sets REQUIRE_RAY=1 (and installs requirements-ray.txt): there a missing Ray is a
failure, not a skip."""

from __future__ import annotations

import numpy as np
import pytest
import ray_local  # noqa: F401  (a skip without Ray; a failure where CI requires it)

from core.analyses import paper
from core.scenarios.report import PAPER_JSON

TINY = {
    # 2 seeds over 2 values of beta2 and Lion: 2 jobs
    "beta2": "n=100&width=4&seeds=2&b2=0.9,0.99&steps=60&until=1.5&lion_lr=0.01",
    # 2 optimizers x 2 step sizes: 4 jobs
    "distance": "n=100&width=4&h=0.02,0.01&t=0.2",
    "sharpness": "n=100&width=4&steps=12&points=3&h=0.01",
}


@pytest.mark.parametrize("experiment", list(TINY))
def test_ray_gives_the_in_process_numbers(local_ray, experiment):
    s = paper.SCENARIOS[experiment].parse(TINY[experiment])
    here = paper.RUN[experiment](s)
    shares: list[float] = []
    there = paper.RUN[experiment](s, progress=shares.append, address="auto")
    assert shares and shares[-1] == 1.0  # the driver reports the jobs done
    # every number the page and the JSON show, bit for bit (NaN where NaN)
    assert PAPER_JSON[experiment](here) == PAPER_JSON[experiment](there)
    if experiment == "beta2":
        assert here.accuracy.shape == (2, 2)
        for name in ("steps", "accuracy", "hR", "lion_steps", "lion_accuracy"):
            np.testing.assert_array_equal(getattr(here, name), getattr(there, name), name)
        assert np.isfinite(here.accuracy).all()
