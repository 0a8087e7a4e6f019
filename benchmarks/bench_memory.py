"""Bounded memory: load many distinct maximal scenarios per page through the app's caches
(ui.cache, the functions the pages call, st.cache_data in memory) and print the
process's RSS after each page.  Target: <= 1.5 GiB after all of them.

The scenarios are the corners of benchmarks/bench_caps.py (steps at the largest value
the caps allow), made distinct by the seed (networks) or the start (2D pages, sweeps).

    python benchmarks/bench_memory.py [--count 100] [--pages playground,compare,...,sweep]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from bench_caps import corners  # noqa: E402

from core.network_scenario import NetworkScenario  # noqa: E402
from core.scenario import Scenario  # noqa: E402
from core.sweep import SweepScenario  # noqa: E402
from ui import cache  # noqa: E402

TARGET_BYTES = 1.5 * 2**30


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def distinct(page: str, query: str, i: int) -> str:
    if page == "network":
        return f"{query}&seed={1000 + i}"
    return f"{query}&x0={-1.5 + 0.001 * i!r}&y0=1.5"


def load(page: str, query: str) -> None:
    if page == "network":
        cache.network_view(NetworkScenario.parse(query))
    elif page == "theory":
        cache.order(Scenario.parse(query))
    elif page == "sweep":
        cache.sweep(SweepScenario.parse(query))
    else:
        s = Scenario.parse(query)
        for r in [s.with_optimizer(o) for o in s.cmp] if page == "compare" else [s]:
            cache.summary(r), cache.surfaces(r)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100, help="distinct scenarios per page")
    parser.add_argument("--pages", default="playground,compare,theory,network,sweep")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"threads: torch {torch.get_num_threads()}, OMP/MKL/OPENBLAS 1")
    print(f"RSS at start {rss() / 2**20:.0f} MiB")
    peak = 0
    for page in args.pages.split(","):
        queries = [q for q, _ in corners(page, quick=True)]
        t0 = time.perf_counter()
        for i, corner in zip(range(args.count), itertools.cycle(queries), strict=False):
            load(page, distinct(page, corner, i))
            peak = max(peak, rss())
        gc.collect()
        print(
            f"{page:10s} {args.count} distinct maximal scenarios in "
            f"{time.perf_counter() - t0:.0f} s: RSS {rss() / 2**20:.0f} MiB "
            f"(highest so far {peak / 2**20:.0f} MiB)",
            flush=True,
        )
    verdict = "within" if peak <= TARGET_BYTES else "OVER"
    print(f"highest RSS {peak / 2**20:.0f} MiB: {verdict} the {TARGET_BYTES / 2**30} GiB target")


if __name__ == "__main__":
    main()
