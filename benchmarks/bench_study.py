"""Many-seed network studies (core.analyses.study), threads pinned, ratios from one run:

1. a 16-seed AdamW-vs-Lion study (300 steps: over the pages' budget, within the command
   line's, under which the studies here are parsed) in process: seconds, and the
   same runs one seed at a time (a loop) against the batched chunks;
2. a 64-seed study on a local Ray instance with 2 one-thread workers against one
   in-process worker with one thread: the throughput ratio (Ray's start and the
   workers' first import are excluded: a small study warms them up first).

    python benchmarks/bench_study.py [--steps 300] [--seeds 16] [--ray-seeds 64] [--no-ray]
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.update({k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from core.analyses.study import StudyScenario, chunk, compute_study  # noqa: E402
from core.scenarios import limits  # noqa: E402

TARGET_S = 20.0
TARGET_RAY = 1.6


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--ray-seeds", type=int, default=64)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch threads {torch.get_num_threads()}, OMP/MKL/OPENBLAS_NUM_THREADS=1, CPU float64")
    print(f"load average (1 min) at the start: {os.getloadavg()[0]:.2f}")

    s = StudyScenario.parse(f"seeds={args.seeds}&steps={args.steps}")
    batched = timed(lambda: compute_study(s))
    q = s.to_query()
    loop = timed(lambda: [chunk(q, opt, (k,)) for opt in s.opts for k in s.seed_list])
    print(f"study {q}: {2 * s.seeds} runs of {s.steps} steps, default network")
    print(
        f"  in process, batched chunks: {batched:7.2f} s   (target <= {TARGET_S:g} s: "
        f"{'met' if batched <= TARGET_S else 'missed'})"
    )
    print(f"  one seed at a time (loop):  {loop:7.2f} s   loop / batched = {loop / batched:.2f}")
    if args.no_ray:
        return

    import ray

    big = StudyScenario.parse(f"seeds={args.ray_seeds}&steps={args.steps}")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        compute_study(StudyScenario.parse("seeds=16&steps=2&n=40&width=4"), "auto")  # warm up
        on_ray = timed(lambda: compute_study(big, "auto"))
    finally:
        ray.shutdown()
    here = timed(lambda: compute_study(big))
    ratio = here / on_ray
    print(f"study {big.to_query()}: {2 * big.seeds} runs, {len(big.chunks()) * 2} chunks")
    print(f"  one in-process worker, 1 thread: {here:7.2f} s")
    print(f"  local Ray, 2 one-thread workers: {on_ray:7.2f} s")
    print(
        f"  throughput ratio Ray / in-process: {ratio:.2f} (target >= {TARGET_RAY:g}: "
        f"{'met' if ratio >= TARGET_RAY else 'missed'}); load average (1 min) now "
        f"{os.getloadavg()[0]:.2f}: other processes take the two cores from the workers"
    )


if __name__ == "__main__":
    with limits.allowance(limits.CLI_BUDGET_S):
        main()
