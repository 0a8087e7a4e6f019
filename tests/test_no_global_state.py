"""core/ is a pure library: importing and running it changes no global torch setting
(the thread count is the entry points' business: tests/test_threads.py),
and it holds no module-level caches (the UI edge caches)."""

import subprocess
import sys

from core.models import losses

SCRIPT = """
import torch
threads = torch.get_num_threads()
from core.analyses import compute, network
from core.engine.dynamics import simulate
from core.models.losses import batched
from core.engine.registry import make_optimizer
from core.scenarios.scenario import Scenario
assert torch.get_default_dtype() == torch.float32, "importing core changed the default dtype"
s = Scenario.parse("opt=adam&steps=20&grid=12")
run = compute.trajectories(s)
surf = compute.surfaces(s)
start = compute.start(s)
torch_run = simulate(batched(s.expression), compute.optimizer(s), start, s.lr, 20)
assert start.dtype == run.memory.dtype == torch_run.corrected.dtype == torch.float64
assert surf.loss.dtype.name == "float64"
assert torch.get_default_dtype() == torch.float32, "running core changed the default dtype"
assert torch.get_num_threads() == threads, "core changed the thread count (entry points do)"
print("ok")
"""


def test_core_sets_no_default_dtype_and_computes_in_float64():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_losses_hold_no_module_level_cache():
    assert not hasattr(losses.surface_function, "cache_info")
    assert losses.surface_function("x^2") is not losses.surface_function("x^2")
