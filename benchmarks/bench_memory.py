"""Bounded memory: load many distinct maximal scenarios per page through the app's caches
(ui.cache, the functions the pages call, st.cache_data in memory) and print the
process's RSS after each page.  Target: <= 1.5 GiB after all of them.

With --concurrent N, N sessions at once instead: N threads (as Streamlit runs each
session's script in its own thread, threads pinned as app.py pins them), each loading a
distinct maximal scenario, cycling through the pages; it prints the peak RSS of that
phase alone (the kernel's high-water mark, reset before it).  Target: <= 1.5 GiB.

The scenarios are the corners of benchmarks/bench_caps.py (steps at the largest value
the caps allow) and the largest studies, made distinct by the seed (networks, studies)
or the start (2D pages, sweeps).

    python benchmarks/bench_memory.py [--count 100] [--pages playground,compare,...,study]
    python benchmarks/bench_memory.py --concurrent 10 [--pages network,sweep,study]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
import threading
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from bench_caps import corners  # noqa: E402

from core import threads  # noqa: E402
from core.analyses.study import StudyScenario  # noqa: E402
from core.analyses.sweep import SweepScenario  # noqa: E402
from core.scenarios.network_scenario import NetworkScenario  # noqa: E402
from core.scenarios.scenario import Scenario  # noqa: E402
from ui import cache  # noqa: E402

TARGET_BYTES = 1.5 * 2**30


PAGES = ("playground", "compare", "theory", "network", "sweep", "study")


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """The kernel's high-water mark of this process's RSS (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmHWM in /proc/self/status")


def distinct(page: str, query: str, i: int) -> str:
    if page in ("network", "study"):
        return f"{query}&seed={1000 + i}"
    return f"{query}&x0={-1.5 + 0.001 * i!r}&y0=1.5"


def load(page: str, query: str) -> None:
    if page == "network":
        cache.network_view(NetworkScenario.parse(query))
    elif page == "theory":
        cache.order(Scenario.parse(query))
    elif page == "sweep":
        cache.sweep(SweepScenario.parse(query))
    elif page == "study":
        cache.study(StudyScenario.parse(query))
    else:
        s = Scenario.parse(query)
        for r in [s.with_optimizer(o) for o in s.cmp] if page == "compare" else [s]:
            cache.summary(r), cache.surfaces(r)


def sequential(pages: list[str], count: int) -> int:
    """count distinct maximal scenarios per page, one after the other: the highest RSS."""
    peak = 0
    for page in pages:
        queries = [q for q, _ in corners(page, quick=True)]
        t0 = time.perf_counter()
        for i, corner in zip(range(count), itertools.cycle(queries), strict=False):
            load(page, distinct(page, corner, i))
            peak = max(peak, rss())
        gc.collect()
        print(
            f"{page:10s} {count} distinct maximal scenarios in "
            f"{time.perf_counter() - t0:.0f} s: RSS {rss() / 2**20:.0f} MiB "
            f"(highest so far {peak / 2**20:.0f} MiB)",
            flush=True,
        )
    return peak


def concurrent(pages: list[str], sessions: int) -> int:
    """`sessions` threads at once, each a distinct maximal scenario (in turn each page's
    two corners of the highest predicted cost): the peak RSS of this phase."""
    top = {p: sorted(corners(p, quick=True), key=lambda c: -(c[1] or 0.0))[:2] for p in pages}
    corners = [(p, top[p][j][0]) for j in range(2) for p in pages if j < len(top[p])]
    jobs = [
        (page, distinct(page, q, i))
        for i, (page, q) in zip(range(sessions), itertools.cycle(corners), strict=False)
    ]
    errors = []

    def session(page: str, query: str) -> None:
        threads.pin(1)  # as app.py does on every script run
        try:
            load(page, query)
        except Exception as err:  # reported below, not raised in a thread
            errors.append(f"{page}?{query}: {type(err).__name__}: {err}")

    workers = [threading.Thread(target=session, args=job) for job in jobs]
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to now
    start, t0 = rss(), time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    peak = peak_rss()
    mix = ", ".join(f"{p} {sum(page == p for page, _ in jobs)}" for p in pages)
    print(
        f"{sessions} concurrent sessions ({mix}) in {time.perf_counter() - t0:.0f} s: "
        f"RSS {start / 2**20:.0f} MiB at the start, "
        f"peak {peak / 2**20:.0f} MiB, {rss() / 2**20:.0f} MiB at the end; errors {len(errors)}"
    )
    for e in errors:
        print(f"  {e}")
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100, help="distinct scenarios per page")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--concurrent", type=int, default=0, help="sessions at once")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"threads: torch {torch.get_num_threads()}, OMP/MKL/OPENBLAS 1")
    print(f"RSS at start {rss() / 2**20:.0f} MiB")
    pages = args.pages.split(",")
    if args.concurrent:
        peak = concurrent(pages, args.concurrent)
    else:
        peak = sequential(pages, args.count)
    verdict = "within" if peak <= TARGET_BYTES else "OVER"
    print(f"highest RSS {peak / 2**20:.0f} MiB: {verdict} the {TARGET_BYTES / 2**30} GiB target")


if __name__ == "__main__":
    main()
