"""The batched torch engine (core.engine.dynamics.simulate) on B trajectories of a 2D loss
against a naive batched torch.optim loop on one (B, 2) parameter that computes the memory
run alone; and one trajectory on the float path (core.engine.fast2d) against the torch engine.
Measured round-robin in the same process, threads pinned.

    python benchmarks/bench_engine.py [--batch 4096] [--steps 1000] [--repeats 3]

Targets (issue 8), B = 4096, 1000 steps: memory run alone <= 1.5x the naive loop, all
three dynamics <= 3x.  Lion with eps > 0 and RMSprop have no exact recursion for the
directions (THEORY §7 c): their correction costs O(n) a step, shown at fewer steps.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# isort: off
from _timing import interleaved, pin_threads  # noqa: E402  (pins BLAS threads before torch)

import torch  # noqa: E402
from lion_pytorch import Lion  # noqa: E402

from core.engine import fast2d  # noqa: E402
from core.engine.dynamics import DYNAMICS, simulate  # noqa: E402
from core.models.losses import ZOO, batched  # noqa: E402
from core.engine.registry import make_optimizer  # noqa: E402
# isort: on

EXPRESSION = ZOO["reference"].expression
LOSS = batched(EXPRESSION)
# name, hyperparameters, the reference optimizer of the memory run, steps factor
CASES = [
    ("adam", {"b1": 0.9, "b2": 0.999, "eps": 1e-8}, 1.0),
    ("hb", {"b1": 0.7}, 1.0),
    ("lion", {"b1": 0.9, "b2": 0.99, "eps": 0.0, "wd": 0.0}, 1.0),
    ("lion", {"b1": 0.9, "b2": 0.99, "eps": 0.05, "wd": 0.0}, 0.2),
]


def _label(name: str, h: dict) -> str:
    return f"{name} " + ",".join(f"{k}={v:g}" for k, v in h.items() if k != "wd")


def reference(name: str, h: dict, params, lr: float):
    if name == "hb":
        return torch.optim.SGD(params, lr=lr, momentum=h["b1"])
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(h["b1"], h["b2"]), eps=h["eps"])
    return Lion(params, lr=lr, betas=(h["b1"], h["b2"]), weight_decay=h["wd"])


def naive(name, h, starts, lr, steps):
    def run():
        p = starts.clone().requires_grad_(True)
        opt = reference(name, h, [p], lr)
        for _ in range(steps):
            opt.zero_grad()
            LOSS(p).sum().backward()
            opt.step()

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(pin_threads(1))
    B, lr = args.batch, 0.01
    gen = torch.Generator().manual_seed(0)
    starts = torch.randn(B, 2, generator=gen, dtype=torch.float64) * 0.5 + 0.2
    print(f"reference loss, {B} trajectories, CPU float64; ratios against the naive loop")
    print(f"{'optimizer':<31}{'steps':>6}{'naive s':>9}{'memory':>8}{'all 3':>8}  targets 1.5x, 3x")
    for name, h, factor in CASES:
        steps = max(1, int(args.steps * factor))
        opt = make_optimizer(name, **h)
        t = _medians(
            {
                "naive": naive(name, h, starts, lr, steps),
                "memory": lambda o=opt, n=steps: simulate(LOSS, o, starts, lr, n, ("memory",)),
                "all": lambda o=opt, n=steps: simulate(LOSS, o, starts, lr, n, DYNAMICS),
            },
            args.repeats,
        )
        base = t["naive"]
        print(
            f"{_label(name, h):<31}{steps:>6}{base:9.3f}{t['memory'] / base:7.2f}x"
            f"{t['all'] / base:7.2f}x"
        )

    print("\none trajectory, 1000 steps, all three dynamics: float path vs torch engine")
    start = torch.tensor(ZOO["reference"].start, dtype=torch.float64)
    for name, h, _ in CASES:
        opt = make_optimizer(name, **h)
        t = _medians(
            {
                "naive": naive(name, h, start[None], lr, 1000),
                "fast2d": lambda o=opt: fast2d.simulate(EXPRESSION, o, start, lr, 1000),
                "torch": lambda o=opt: simulate(LOSS, o, start, lr, 1000),
            },
            args.repeats,
        )
        base = t["naive"]
        print(
            f"{_label(name, h):<31}fast2d {t['fast2d'] * 1e3:7.1f} ms "
            f"({t['fast2d'] / base:.3f}x naive), torch engine "
            f"{t['torch'] * 1e3:7.1f} ms ({t['torch'] / base:.2f}x)"
        )


def _medians(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each function, timed round-robin."""
    return {k: v["median"] for k, v in interleaved(fns, repeats).items()}


if __name__ == "__main__":
    main()
