"""A /sweep phase diagram (every cell: the three dynamics, end-point metrics, the
verdict) against a naive batched torch.optim loop computing the memory run alone: one
torch.optim.Adam on a (cells, 2) parameter (one setting for every cell, the cheapest
thing torch.optim can do for the same rows and steps).  Same process, threads pinned.

    python benchmarks/bench_sweep.py [QUERY] [--repeats 3] [--threads 1]
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import interleaved  # noqa: E402

TARGET_S = 2.0
TARGET_RATIO = 3.0
DEFAULT = "opt=adam&x=b1:0.5:0.999:64&y=b2:0.5:0.999:64&steps=1000"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("query", nargs="?", default=DEFAULT)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    from core.analyses import compute
    from core.analyses.sweep import SweepScenario, compute_sweep

    torch.set_num_threads(args.threads)
    s = SweepScenario.parse(args.query)
    cells = s.x.n * s.y.n
    loss = compute.loss(s)

    def naive_memory_run() -> None:
        p = torch.tensor([s.x0, s.y0], dtype=torch.float64).repeat(cells, 1).requires_grad_()
        opt = torch.optim.Adam([p], lr=s.lr)
        for _ in range(s.steps):
            opt.zero_grad()
            loss(p).sum().backward()
            opt.step()

    load = os.getloadavg()[0]
    # round-robin, so that both see the same load on a shared machine; the minimum is the
    # run least disturbed by other processes
    t = interleaved({"full": lambda: compute_sweep(s), "naive": naive_memory_run}, args.repeats)
    full, naive = t["full"]["min"], t["naive"]["min"]
    print(f"sweep {s.to_query()}: {s.x.n} x {s.y.n} = {cells} cells, {s.steps} steps, CPU float64")
    print(f"torch threads {torch.get_num_threads()}, OMP/MKL/OPENBLAS_NUM_THREADS={args.threads}")
    print(f"load average (1 min) at the start {load:.2f}, at the end {os.getloadavg()[0]:.2f}")
    print(
        f"full sweep (3 dynamics + metrics + verdict): {full:8.3f} s min "
        f"({t['full']['median']:.3f} median) of {args.repeats}, interleaved"
    )
    print(
        f"naive batched torch.optim, memory run only: {naive:8.3f} s min "
        f"({t['naive']['median']:.3f} median)"
    )
    print(f"ratio full / naive (min):                    {full / naive:8.2f}")
    print(f"target <= {TARGET_S:g} s: {'met' if full <= TARGET_S else 'missed'}")
    print(
        f"target ratio <= {TARGET_RATIO:g}: {'met' if full / naive <= TARGET_RATIO else 'missed'}"
    )


if __name__ == "__main__":
    main()
