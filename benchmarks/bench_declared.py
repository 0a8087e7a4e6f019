"""An optimizer declared in the URL (opt=custom, core.engine.declared) that equals a
built-in, against that built-in: /playground's recompute of one scenario (uncached, as
benchmarks/bench_playground.py times it, plus the regularizer's verdict the page shows)
and a /sweep phase diagram, measured round-robin in the same process with the threads
pinned by core.threads.

    python benchmarks/bench_declared.py [--repeats 7] [--sweep-repeats 5] [--threads N]

Target: the declaration within 1.5x of the built-in (median over the repeats, one
warm-up run not counted), for every pair and at both step counts.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# isort: off
from _timing import interleaved  # noqa: E402  (sets the BLAS threads before torch loads)

import torch  # noqa: E402

from core import threads  # noqa: E402
from core.analyses import compute  # noqa: E402
from core.analyses.sweep import SweepScenario, compute_sweep  # noqa: E402
from core.scenarios.scenario import Scenario  # noqa: E402
# isort: on

TARGET_RATIO = 1.5
ADAM = "opt=custom&m1=g&w1=ema_bc:0.9&m2=g^2&w2=ema_bc:0.999&r=m1/(sqrt(m2)%2B1e-8)"
# (name, built-in query, the same optimizer declared)
PAIRS = (
    ("adam", "v=1&opt=adam", f"v=1&{ADAM}"),
    ("hb", "v=1&opt=hb", "v=1&opt=custom&m1=g&w1=sum:0.7&r=m1"),
    (
        "rmsprop",
        "v=1&opt=rmsprop&b2=0.99&eps=1e-8",
        "v=1&opt=custom&m1=g^2&w1=ema:0.99&r=g/(sqrt(m1)%2B1e-8)",
    ),
)
STEPS = (None, 1000)  # the default, then a query key
AXES = "x=lr:0.005:0.05:16&steps=200"
SWEEP = ("adam", f"opt=adam&{AXES}&y=b2:0.9:0.999:16", f"{ADAM}&{AXES}&y=w2:0.9:0.999:16")


def recompute(s: Scenario) -> None:
    """What /playground computes for one scenario (core is uncached): the three runs, the
    surfaces and the verdict on them."""
    runs = compute.summary(s)
    surf = compute.surfaces(s)
    compute.regularizer(s, surf, runs)


def row(label: str, t: dict) -> str:
    builtin, custom = t["builtin"]["median"], t["custom"]["median"]
    ratio = custom / builtin
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    return (
        f"{label:<22}{builtin * 1e3:11.1f}{custom * 1e3:11.1f}{ratio:8.2f}"
        f"  <= {TARGET_RATIO}x: {verdict}"
    )


HEADER = f"{'':<22}{'built-in':>11}{'custom':>11}{'ratio':>8}  target"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7, help="/playground, per scenario")
    ap.add_argument("--sweep-repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="default: MEMORY_THREADS or 1")
    args = ap.parse_args()
    n = threads.requested() if args.threads is None else args.threads
    threads.pin(n)
    print(
        f"core.threads.pin({n}): torch {torch.__version__} on {torch.get_num_threads()} "
        f"thread(s), {torch.get_num_interop_threads()} inter-op; python {sys.version.split()[0]}"
    )
    for name, builtin, custom in PAIRS:
        print(f"{name}: built-in {builtin}\n{' ' * len(name)}  custom   {custom}")
    print(f"\n/playground recompute, ms (median of {args.repeats}, interleaved)")
    print(HEADER)
    for name, builtin, custom in PAIRS:
        for steps in STEPS:
            suffix = "" if steps is None else f"&steps={steps}"
            s = {
                "builtin": Scenario.parse(builtin + suffix),
                "custom": Scenario.parse(custom + suffix),
            }
            t = interleaved({k: lambda v=v: recompute(v) for k, v in s.items()}, args.repeats)
            print(row(f"{name}, {s['builtin'].steps} steps", t))

    name, builtin, custom = SWEEP
    sweep = {"builtin": SweepScenario.parse(builtin), "custom": SweepScenario.parse(custom)}
    b = sweep["builtin"]
    print(
        f"\n/sweep compute_sweep, ms (median of {args.sweep_repeats}, interleaved): "
        f"{b.x.n} x {b.y.n} cells, {b.steps} steps"
    )
    print(f"built-in {builtin}\ncustom   {custom}")
    print(HEADER)
    t = interleaved({k: lambda v=v: compute_sweep(v) for k, v in sweep.items()}, args.sweep_repeats)
    print(row(f"{name} sweep (lr, B2)", t))
    print(
        "\nrecompute = compute.summary + compute.surfaces + compute.regularizer, uncached "
        "(parsing excluded);\nratio = custom / built-in, medians; one warm-up run each, "
        "not counted"
    )


if __name__ == "__main__":
    main()
