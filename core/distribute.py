"""Running a long computation's fixed jobs in process or as Ray tasks, with the same
numbers: each job is a module-level function of plain arguments (a query string, names,
seeds, a device), so a Ray worker computes exactly what this process would, and the
results come back in job order.  /study's seed chunks and /paper's experiments go
through here; Ray is imported only when an address is given (RAY_ADDRESS, or `--ray` on
the CLI), from requirements-ray.txt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from core.cancel import Check

Progress = Callable[[float], None] | None
_WAIT_S = 0.1  # the driver's poll of the Ray tasks: check and progress at this pace


def ray_address(explicit: str | None = None) -> str | None:
    """The Ray cluster to use: `explicit` (the CLI's --ray), else RAY_ADDRESS, else none."""
    return explicit or os.environ.get("RAY_ADDRESS") or None


def run_tasks(
    task: Callable,
    jobs: list[tuple],
    address: str | None,
    check: Check = None,
    progress: Progress = None,
    weights: Sequence[float] | None = None,
) -> list:
    """[task(*job) for job in jobs], in process (`address` None) or as Ray tasks there.

    In process each call gets, when given, `check` (called between its steps, raises to
    stop) and its own `progress` callback (its fraction of the work,
    mapped to the whole by `weights`, equal by default).  On Ray the tasks get neither:
    the driver calls check() and progress(share of the weights done) while it waits, and
    a stop cancels the tasks not done."""
    w = [1.0] * len(jobs) if weights is None else [float(x) for x in weights]
    total = sum(w) or 1.0
    if address is None:
        out, before = [], 0.0
        for job, wj in zip(jobs, w, strict=True):
            kwargs: dict = {} if check is None else {"check": check}
            if progress is not None:
                kwargs["progress"] = lambda f, b=before, wj=wj: progress((b + wj * f) / total)
            out.append(task(*job, **kwargs))
            before += wj
        return out
    ray = _connect(address)
    remote = ray.remote(num_cpus=1)(task)
    refs = [remote.remote(*job) for job in jobs]
    pending = refs
    while (check is not None or progress is not None) and pending:
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=_WAIT_S)
        try:
            if check is not None:
                check()
            if progress is not None:
                waiting = set(pending)
                done = sum(wj for r, wj in zip(refs, w, strict=True) if r not in waiting)
                progress(done / total)
        except BaseException:  # stopped: the tasks not done are cancelled
            for ref in pending:
                ray.cancel(ref)
            raise
    return ray.get(refs)  # results in job order


def _connect(address: str):
    try:
        import ray  # optional dependency (requirements-ray.txt): only with an address
    except ImportError:
        raise ValueError(
            f"a Ray address ({address}) is set but ray is not installed: "
            "pip install -r requirements-ray.txt"
        ) from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False)
        except Exception as err:  # Ray raises several kinds; one line for the CLI
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"cannot use the Ray cluster at {address}: {message}") from None
    return ray
