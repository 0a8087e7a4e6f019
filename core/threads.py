"""The torch and BLAS thread count of a process: for its entry points only (app.py on
every script run, core.cli at its start); the library itself sets nothing.

One thread per request by default: a server answers several sessions at once and a
command shares the machine, and the engine's small tensors gain little from more
threads while oversubscribed cores lose a lot (issue 18: a /sweep 9.5 s with the
default threads against 5.0 s with one, under load).  MEMORY_THREADS sets another
count.
"""

from __future__ import annotations

import os

import torch
from threadpoolctl import threadpool_limits

VARIABLE = "MEMORY_THREADS"
DEFAULT = 1
# read by OpenMP, OpenBLAS and MKL when they load: the libraries loaded later (and
# child processes) start with the same count
_LIBRARY_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def requested(environ=os.environ) -> int:
    """The thread count MEMORY_THREADS asks for (DEFAULT when unset); ValueError naming
    the variable when it is not a positive whole number."""
    return count(VARIABLE, DEFAULT, environ)


def count(variable: str, default: int, environ=os.environ) -> int:
    """The positive whole number the environment variable sets (default when unset);
    ValueError naming the variable otherwise."""
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValueError(f"{variable}={raw[:20]!r} is not a positive whole number")
    return int(raw)


def pin(n: int) -> None:
    """Run torch and the BLAS libraries on n threads, from the calling thread on.

    torch keeps the count process-wide, but its OpenMP pool takes it per thread: a thread
    that already ran a parallel op keeps the count it had then, so a server calls this at
    the start of every request's thread (Streamlit: every script run)."""
    for var in _LIBRARY_VARIABLES:
        os.environ[var] = str(n)
    threadpool_limits(limits=n)  # the BLAS and OpenMP libraries loaded now
    torch.set_num_threads(n)  # torch's count, and this thread's OpenMP pool
