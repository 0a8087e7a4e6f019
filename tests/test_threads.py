"""Threads are pinned where a process starts (issue 18): the CLI and the app run torch and
BLAS on MEMORY_THREADS threads, one by default; a bad value is named.  Each check runs
in a fresh interpreter: the counts are process-wide settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# the counts as a fresh thread sees them (torch's is taken per thread) and as every BLAS
# library loaded says (threadpoolctl reads each library's own count)
REPORT = """
import json, threading, torch
from threadpoolctl import threadpool_info
seen = {}
def read():
    seen["torch"] = torch.get_num_threads()
thread = threading.Thread(target=read)
thread.start(); thread.join()
blas = sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
print(json.dumps({"torch": seen["torch"], "blas": blas}))
"""

CLI = (
    """
import io, contextlib
from core.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["simulate", "steps=3"]) == 0
"""
    + REPORT
)

# two runs, the count changed between them: every script run (its own thread) pins again
APP = (
    """
import torch
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
torch.set_num_threads(2)
at.run()
assert not at.exception, at.exception
"""
    + REPORT
)


def run(script: str, threads: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in LIBRARY_VARIABLES}
    env.pop("MEMORY_THREADS", None)
    if threads is not None:
        env["MEMORY_THREADS"] = threads
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def counts(script: str, threads: str | None) -> dict:
    done = run(script, threads)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("threads, expected", [(None, 1), ("3", 3)])
def test_the_cli_pins_torch_and_blas_threads(threads, expected):
    assert counts(CLI, threads) == {"torch": expected, "blas": [expected]}


def test_the_app_pins_torch_and_blas_threads():
    assert counts(APP, "3") == {"torch": 3, "blas": [3]}


def test_a_bad_thread_count_is_one_line_naming_the_variable():
    done = subprocess.run(
        [sys.executable, "-m", "core", "simulate", "steps=3"],
        cwd=ROOT,
        env=os.environ | {"MEMORY_THREADS": "two"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "MEMORY_THREADS" in done.stderr


def test_pinning_reaches_a_thread_that_already_ran_in_parallel():
    """torch's OpenMP pool keeps a count per thread: pin() sets the calling thread's."""
    script = """
import threading, torch
from core import threads
torch.set_num_threads(2)
seen = []
def work():
    torch.ones(1000, 1000) @ torch.ones(1000, 1000)  # this thread's pool starts at 2
    threads.pin(1)
    seen.append(torch.get_num_threads())
thread = threading.Thread(target=work)
thread.start(); thread.join()
print(seen[0])
"""
    done = run(script, None)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1"]


def test_help_documents_the_thread_count():
    done = subprocess.run(
        [sys.executable, "-m", "core", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert "MEMORY_THREADS" in done.stdout
