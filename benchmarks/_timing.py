"""Shared timing helpers for the benchmark scripts.

Importing this module pins the BLAS/OpenMP thread counts to 1 (before torch is
imported: import it first); `pin_threads` pins torch's and says what was pinned.
On a shared, noisy machine, `interleaved` runs the candidates round-robin so that each
ratio compares runs made under the same load.
"""

import os
import statistics
import sys
import time

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
for _name in _THREAD_VARIABLES:
    os.environ.setdefault(_name, "1")


def pin_threads(n: int = 1) -> str:
    """torch's intra- and inter-op threads to n; a line describing the setting."""
    import torch

    torch.set_num_threads(n)
    env = ", ".join(f"{v}={os.environ.get(v)}" for v in _THREAD_VARIABLES)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, {env}, "
        f"{os.cpu_count()} CPUs (load average {load}), python {sys.version.split()[0]}"
    )


def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict, repeats: int = 5, warmup: int = 1) -> dict[str, dict[str, float]]:
    """Wall times of each named function, run round-robin: {name: {median, min}}."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: {"median": statistics.median(v), "min": min(v)} for k, v in times.items()}
