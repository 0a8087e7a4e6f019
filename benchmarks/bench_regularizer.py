"""What the truthful perturbed loss costs: the surfaces with R from M^(n) at the run's
last step (two fields: M^(n) and the limit, and two least-squares fits: the grid and its
half) against the limit's field alone (one field, the bare minimum for a map of M),
measured in the same process, one torch thread.

    python benchmarks/bench_regularizer.py [QUERY] [--repeats 5]
"""

import argparse
import os
import sys
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import median_seconds  # noqa: E402

from core.analyses import compute  # noqa: E402
from core.analyses.surfaces import compute_surfaces  # noqa: E402
from core.engine.dynamics import asymptotic_fields  # noqa: E402
from core.scenarios.scenario import Scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("query", nargs="?", default="opt=adam&steps=300")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    s = Scenario.parse(args.query)
    loss, opt = compute.loss(s), compute.optimizer(s)
    x = torch.linspace(s.win[0], s.win[1], s.grid, dtype=torch.float64)
    y = torch.linspace(s.win[2], s.win[3], s.grid, dtype=torch.float64)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)

    def surfaces(n):
        return lambda: compute_surfaces(loss, opt, s.hyper, s.lr, s.win, s.grid, "cpu", n)

    base = median_seconds(lambda: asymptotic_fields(loss, opt, pts), args.repeats)
    limit = median_seconds(surfaces(None), args.repeats)
    finite = median_seconds(surfaces(s.steps - 1), args.repeats)
    print(f"threads: torch {torch.get_num_threads()}, OMP/MKL/OPENBLAS 1")
    print(f"scenario: {s.to_query()} (grid {s.grid}, n = {s.steps - 1})")
    print(f"limit field alone (baseline):        {base * 1e3:8.1f} ms")
    print(f"surfaces, R from the limit:          {limit * 1e3:8.1f} ms  ({limit / base:.2f}x)")
    print(f"surfaces, R from M^(n) (the default): {finite * 1e3:8.1f} ms  ({finite / base:.2f}x)")


if __name__ == "__main__":
    main()
