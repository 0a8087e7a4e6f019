"""The Ray tests' shared set-up: Ray itself (a skip where it is not installed, a failure
where CI requires it with REQUIRE_RAY=1) and one local instance (2 CPUs) per module."""

import os

import pytest

try:
    import ray
except ImportError:
    if os.environ.get("REQUIRE_RAY"):
        pytest.fail("the Ray test is required but ray is not installed", pytrace=False)
    pytest.skip(
        "ray is not installed (pip install -r requirements-ray.txt)", allow_module_level=True
    )


def local_ray():
    """A module fixture's body: a local Ray for the module's tests."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
