"""A full /playground recompute (the three dynamics at 1000 steps and every 60x60 surface)
against a naive torch.optim loop that computes the memory run alone, on the same loss and
hyperparameters, measured round-robin in the same process with the threads pinned.

    python benchmarks/bench_playground.py [QUERY ...] [--repeats 7]

Targets (issue 8): median <= 20 ms for Adam and heavy ball, <= 40 ms for Lion eps > 0,
i.e. about 0.15x and 0.3x of the naive loop on an unloaded 2-core machine.
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

from core.analyses import compute  # noqa: E402
from core.scenarios.scenario import Scenario  # noqa: E402
# isort: on

DEFAULT = ["opt=hb&steps=1000", "opt=adam&steps=1000", "opt=lion&eps=0.05&steps=1000"]
TARGET_MS = {"hb": 20.0, "adam": 20.0, "lion": 40.0}
TARGET_RATIO = {"hb": 0.15, "adam": 0.15, "lion": 0.3}  # the same, against the naive loop


def recompute(s: Scenario) -> None:
    """What a changed setting costs the page: every computation (core is uncached)."""
    compute.summary(s)
    compute.surfaces(s)


def reference_optimizer(s: Scenario, params):
    """The memory run as anyone would write it: torch.optim (lion-pytorch for Lion, whose
    exact sign is the closest reference for Lion eps > 0)."""
    h = s.hyper
    if s.opt == "hb":
        return torch.optim.SGD(params, lr=s.lr, momentum=h["b1"])
    if s.opt in ("adam", "adamw"):
        cls = torch.optim.Adam if s.opt == "adam" else torch.optim.AdamW
        extra = {"weight_decay": h["wd"]} if s.opt == "adamw" else {}
        return cls(params, lr=s.lr, betas=(h["b1"], h["b2"]), eps=h["eps"], **extra)
    if s.opt == "lion":
        return Lion(params, lr=s.lr, betas=(h["b1"], h["b2"]), weight_decay=h["wd"])
    raise SystemExit(f"no reference loop written for {s.opt}")


def naive_memory_run(s: Scenario) -> None:
    loss = compute.loss(s)
    p = torch.tensor([s.x0, s.y0], dtype=torch.float64, requires_grad=True)
    opt = reference_optimizer(s, [p])
    for _ in range(s.steps):
        opt.zero_grad()
        loss(p[None]).sum().backward()
        opt.step()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("queries", nargs="*", default=DEFAULT)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(pin_threads(1))
    print(f"{'scenario':<34}{'full ms':>9}{'(min)':>8}{'naive ms':>10}{'ratio':>7}  target")
    for query in args.queries:
        s = Scenario.parse(query)
        t = interleaved(
            {"full": lambda s=s: recompute(s), "naive": lambda s=s: naive_memory_run(s)},
            args.repeats,
        )
        full, naive = t["full"]["median"], t["naive"]["median"]
        verdict = ""
        if s.opt in TARGET_MS:
            ms, ratio = TARGET_MS[s.opt], TARGET_RATIO[s.opt]
            verdict = (
                f"<= {ms:.0f} ms: {'met' if full * 1e3 <= ms else 'missed'}, "
                f"<= {ratio}x: {'met' if full / naive <= ratio else 'missed'}"
            )
        print(
            f"{s.to_query():<34}{full * 1e3:9.1f}{t['full']['min'] * 1e3:8.1f}"
            f"{naive * 1e3:10.1f}{full / naive:7.3f}  {verdict}"
        )
    print("full = compute.summary + compute.surfaces (3 dynamics, grid 60x60), uncached;")
    print("naive = torch.optim (lion-pytorch) loop, memory run only; ratio = full / naive")


if __name__ == "__main__":
    main()
