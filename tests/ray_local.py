"""The Ray tests' shared set-up: Ray itself (a skip where it is not installed, a failure
where CI requires it with REQUIRE_RAY=1).  Their local instance (2 CPUs) is the session
fixture `local_ray` (tests/conftest.py): one for the run, on the one worker that runs
every Ray module, so its worker processes are started and import torch once."""

import os

import pytest

try:
    import ray  # noqa: F401  (the tests and conftest take it from here)
except ImportError:
    if os.environ.get("REQUIRE_RAY"):
        pytest.fail("the Ray test is required but ray is not installed", pytrace=False)
    pytest.skip(
        "ray is not installed (pip install -r requirements-ray.txt)", allow_module_level=True
    )
