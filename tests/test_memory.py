"""Bounded memory while computing (issue 18): a sweep keeps no paths, so what it allocates
does not grow with its steps (a 64 x 64 x 2000 sweep kept 393 MB of paths, and the
farthest-distance metric as many again).  How many computations run at once is
tests/test_cache.py's; ten sessions at once, benchmarks/bench_memory.py --concurrent."""

from __future__ import annotations

import tracemalloc

from core.analyses.sweep import SweepScenario, compute_sweep

AXES = "opt=hb&x=lr:0.005:0.1:32&y=b1:0:0.95:32"


def traced_peak(query: str) -> int:
    """The highest memory numpy held at once (numpy reports its arrays to tracemalloc)."""
    s = SweepScenario.parse(query)
    tracemalloc.start()
    try:
        compute_sweep(s)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_sweeps_memory_does_not_grow_with_its_steps():
    short, long = (traced_peak(f"{AXES}&steps={n}") for n in (100, 800))
    paths = 700 * 2 * 3 * 32 * 32 * 8  # what the 700 more steps' paths would take: 34 MB
    assert long - short < paths / 10, (short, long)
