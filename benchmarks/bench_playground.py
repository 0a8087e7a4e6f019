"""A full /playground recompute (1000 steps of the three dynamics, every surface) against
the cheapest part of that work done naively: a torch.optim loop for the memory run alone.
Measured in the same process; caches are cleared before every repeat.

    python benchmarks/bench_playground.py [QUERY] [--repeats 5]
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import median_seconds  # noqa: E402

from core import compute  # noqa: E402
from core.scenario import Scenario  # noqa: E402

TARGET_S = 0.100


def recompute(s: Scenario) -> None:
    compute.summary(s)  # core is uncached: every call recomputes
    compute.surfaces(s)


def naive_memory_run(s: Scenario) -> None:
    loss = compute.loss(s)
    p = torch.tensor([s.x0, s.y0], requires_grad=True)
    opt = torch.optim.SGD([p], lr=s.lr, momentum=s.b1)
    for _ in range(s.steps):
        opt.zero_grad()
        loss(p[None]).sum().backward()
        opt.step()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("query", nargs="?", default="opt=hb&steps=1000")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    s = Scenario.parse(args.query)
    if s.opt != "hb":
        raise SystemExit("the naive baseline is written for heavy ball (opt=hb)")
    full = median_seconds(lambda: recompute(s), args.repeats)
    naive = median_seconds(lambda: naive_memory_run(s), args.repeats)
    print(f"scenario {s.to_query()} ({s.steps} steps, grid {s.grid}x{s.grid}), CPU float64")
    print(f"full playground recompute (3 dynamics + surfaces): {full * 1e3:8.1f} ms median")
    print(f"naive torch.optim loop, memory run only:           {naive * 1e3:8.1f} ms median")
    print(f"ratio full / naive memory-only:                    {full / naive:8.2f}")
    verdict = "met" if full <= TARGET_S else "missed"
    print(f"target median <= {TARGET_S * 1e3:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
