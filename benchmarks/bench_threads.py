"""Threads under load: the CLI's commands with one torch/BLAS thread (MEMORY_THREADS=1,
the default) against one per CPU (what torch takes when nothing pins it), while BUSY
processes spin on the CPUs as other jobs would.  Each command is a fresh process;
the two settings run in turns, and the wall and CPU times of each are printed with
the load average.

    python benchmarks/bench_threads.py [--busy 2] [--repeats 3] [COMMAND QUERY ...]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# default: a default network, a 32 x 32 sweep, a default study (python -m core COMMAND '')
COMMANDS = [
    ("network", ""),
    ("sweep", "x=b1:0.5:0.99:32&y=b2:0.9:0.999:32&steps=300"),
    ("study", ""),
]
LIBRARY_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy(n: int):
    """n processes spinning on the CPUs while the block runs."""
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(n)]
    for p in spinners:
        p.start()
    try:
        yield
    finally:
        for p in spinners:
            p.terminate()
            p.join()


def run(command: str, query: str, threads: int) -> tuple[float, float]:
    """Wall and CPU seconds of `python -m core command query` on `threads` threads."""
    env = {k: v for k, v in os.environ.items() if k not in LIBRARY_VARIABLES}
    env["MEMORY_THREADS"] = str(threads)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "core", command, query],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=600,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--busy", type=int, default=2, help="spinning processes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("pairs", nargs="*", help="COMMAND QUERY pairs")
    args = parser.parse_args()
    pairs = list(zip(args.pairs[::2], args.pairs[1::2], strict=True)) or COMMANDS
    cpus = len(os.sched_getaffinity(0))
    print(f"{cpus} CPUs, {args.busy} busy processes; load average {os.getloadavg()[0]:.1f}")
    with busy(args.busy):
        for command, query in pairs:
            times = {1: [], cpus: []}
            for _ in range(args.repeats):
                for threads in times:
                    times[threads].append(run(command, query, threads))
            line = ", ".join(
                f"{threads} thread{'s' * (threads > 1)}: wall "
                f"{statistics.median(w for w, _ in t):.2f} s, CPU "
                f"{statistics.median(c for _, c in t):.2f} s"
                for threads, t in times.items()
            )
            print(f"{command} {query!r}: {line} (load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
