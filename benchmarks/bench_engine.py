"""Engine throughput: steps per second of each dynamics, single and batched, against a
naive loop that steps torch.optim on a 2-vector, measured in the same process.

    python benchmarks/bench_engine.py [--steps 300] [--batch 64]
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import median_seconds  # noqa: E402

from core.dynamics import DYNAMICS, simulate  # noqa: E402
from core.losses import ZOO, batched  # noqa: E402
from core.optimizers import make_optimizer  # noqa: E402

LOSS = batched(ZOO["reference"].expression)
HYPER = {"b1": 0.5, "b2": 0.7, "eps": 0.5, "wd": 0.1}  # THEORY §6's AdamW


def naive_torch_optim(steps: int) -> None:
    p = torch.tensor([-1.2, 0.8], requires_grad=True)
    opt = torch.optim.AdamW([p], lr=0.01, betas=(0.5, 0.7), eps=0.5, weight_decay=0.1)
    for _ in range(steps):
        opt.zero_grad()
        LOSS(p[None]).sum().backward()
        opt.step()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    steps, B = args.steps, args.batch
    opt = make_optimizer("adamw", **HYPER)
    starts = torch.randn(B, 2, generator=torch.Generator().manual_seed(0)) * 0.5
    baseline = steps / median_seconds(lambda: naive_torch_optim(steps))
    print(f"AdamW on the reference loss, {steps} steps, torch {torch.__version__}, CPU float64")
    print(f"{'run':<34}{'steps/s':>12}{'traj.steps/s':>15}{'vs torch.optim':>16}")
    print(f"{'naive torch.optim loop (memory)':<34}{baseline:>12.0f}{baseline:>15.0f}{1.0:>16.2f}")
    cases = [(f"{k} only", (k,)) for k in DYNAMICS] + [("all three", DYNAMICS)]
    for label, dyn in cases:
        for b, theta0 in ((1, starts[0]), (B, starts)):
            rate = steps / median_seconds(
                lambda t=theta0, d=dyn: simulate(LOSS, opt, t, 0.01, steps, d)
            )
            name = f"{label}, batch {b}"
            print(f"{name:<34}{rate:>12.0f}{rate * b:>15.0f}{rate * b / baseline:>16.2f}")


if __name__ == "__main__":
    main()
