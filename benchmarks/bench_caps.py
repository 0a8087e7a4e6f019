"""The most expensive URLs each page allows (core.limits), measured: time and peak memory.

For every page the script builds corner scenarios (each size at its cap or at 1, the
costliest optimizers) and pushes `steps` (or the order study's smallest h) to the largest
value the scenario still accepts; each corner then runs the page's computation (what
ui.cache calls) in a fresh process, which reports its wall time and its peak RSS.  The
worst of each page is printed against the targets (<= 5 s, <= 1 GiB).  The cost model's
prediction is printed next to each measurement.

    python benchmarks/bench_caps.py [--pages playground,compare,theory,network,sweep] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

THREADS = "1"
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = THREADS
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import limits  # noqa: E402
from core.compute import compare_seconds  # noqa: E402
from core.dynamics import sums_history  # noqa: E402
from core.network_scenario import (  # noqa: E402
    NetworkScenario,
    model,
    train_size,  # noqa: E402
)
from core.optimizers import make_optimizer  # noqa: E402
from core.query import ScenarioError  # noqa: E402
from core.scenario import Scenario  # noqa: E402

TARGET_S, TARGET_BYTES = 5.0, 1 << 30

# the child: run one page's computation, print {"seconds", "rss_before", "rss_peak"}
CHILD = """
import json, resource, sys, time
import torch
torch.set_num_threads(1)
from core import compute, network, limits
from core.network_scenario import NetworkScenario
from core.scenario import Scenario
page, query = sys.argv[1], sys.argv[2]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
warm = Scenario.parse("v=1&steps=5&grid=10")
compute.summary(warm), compute.surfaces(warm)  # imports and first-call costs
network.view(NetworkScenario.parse("v=1&steps=2&n=20&width=2"))
before = rss()
t0, c0 = time.perf_counter(), time.process_time()
if page == "network":
    network.view(NetworkScenario.parse(query))
elif page == "network-compare":
    s = NetworkScenario.parse(query)
    for opt in ("adamw", "lion"):
        network.result(s.with_optimizer(opt))
elif page == "theory":
    compute.order(Scenario.parse(query))
elif page == "sweep":
    from core.sweep import SweepScenario, compute_sweep
    compute_sweep(SweepScenario.parse(query))
else:
    s = Scenario.parse(query)
    for opt in (s.cmp if page == "compare" else (s.opt,)):
        r = s.with_optimizer(opt) if page == "compare" else s
        compute.summary(r), compute.surfaces(r)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_before": before, "rss_peak": peak}))
"""


def largest(valid, lo: int, hi: int) -> int | None:
    """The largest n in [lo, hi] with valid(n) (valid is monotone: true, then false)."""
    if not valid(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if valid(mid) else (lo, mid - 1)
    return lo


def _parses(cls, query: str) -> bool:
    try:
        cls.parse(query)
        return True
    except ScenarioError:
        return False


OPTIMIZERS_2D = ["opt=adamw", "opt=lion&eps=0.1", "opt=rmsprop", "opt=hb&b1=0.9"]
# a query string: "+" is written %2B (a bare "+" reads as a space)
LOSSES_2D = ["loss=rosenbrock", "loss=custom&f=sin(3*x)*cos(3*y)%2Btanh(x*y)%2Bx^2"]


def playground_corners(quick: bool):
    for opt, loss in itertools.product(OPTIMIZERS_2D[: 2 if quick else 4], LOSSES_2D):
        base = f"v=1&{opt}&{loss}&grid={limits.MAX_GRID}"
        steps = largest(lambda n, b=base: _parses(Scenario, f"{b}&steps={n}"), 1, limits.MAX_STEPS)
        if steps:
            s = Scenario.parse(f"{base}&steps={steps}")
            history = sums_history(make_optimizer(s.opt, **s.hyper))
            yield s.to_query(), limits.plane_seconds(steps, limits.MAX_GRID, history)


def compare_corners(quick: bool):
    cmp = "cmp=adamw,lion,rmsprop,nesterov"
    for loss in LOSSES_2D[: 1 if quick else 2]:
        base = f"v=1&{loss}&grid={limits.MAX_GRID}&{cmp}"

        def fits(n: int, b: str = base) -> bool:
            return _parses(Scenario, f"{b}&steps={n}") and (
                compare_seconds(Scenario.parse(f"{b}&steps={n}")) <= limits.BUDGET_S
            )

        steps = largest(fits, 1, limits.MAX_STEPS)
        if steps:
            s = Scenario.parse(f"{base}&steps={steps}")
            yield s.to_query(), compare_seconds(s)


def theory_corners(quick: bool):
    for opt in OPTIMIZERS_2D[: 2 if quick else 4]:
        for sizes in (2, limits.MAX_STEP_SIZES):

            def hs(n: int, sizes: int = sizes) -> str:  # the smallest h = T/n, others coarser
                return ",".join(repr(1.0 / (n // 2**i or 1)) for i in range(sizes))

            def valid(n: int, opt: str = opt) -> bool:
                return _parses(Scenario, f"v=1&{opt}&T=1&hs={hs(n)}")

            n = largest(valid, 2**sizes, limits.MAX_ORDER_STEPS)
            if n:
                s = Scenario.parse(f"v=1&{opt}&T=1&hs={hs(n)}")
                yield s.to_query(), limits.order_seconds(s.T, s.hs)


def network_corners(quick: bool):
    opts = ["opt=adamw", "opt=lion&eps=0.1"][: 1 if quick else 2]
    shapes = [(64, 1), (64, 4), (8, 1), (32, 2)][: 2 if quick else 4]
    for opt, (width, depth), n, batch in itertools.product(
        opts, shapes, (200, limits.MAX_POINTS), (0, 32)
    ):
        base = f"v=1&{opt}&width={width}&depth={depth}&n={n}&batch={batch}"
        steps = largest(
            lambda k, b=base: _parses(NetworkScenario, f"{b}&steps={k}"), 1, limits.MAX_NET_STEPS
        )
        if steps:
            s = NetworkScenario.parse(f"{base}&steps={steps}")
            nt = train_size(s.n, s.split)
            units, d, points = s.width * s.depth, model(s).size, s.batch or nt
            history = sums_history(make_optimizer(s.opt, **s.hyper))
            yield (
                s.to_query(),
                limits.network_seconds(units, d, s.steps, points, nt, s.n - nt, history),
            )


# /sweep: the axes of each direction case (THEORY §7): b (Adam's b1 x b2: one group; AdamW's
# wd x eps: a group per cell), a (heavy ball), c (RMSprop, Lion eps > 0: O(steps) per cell)
AXES_SWEEP = [
    "opt=adam&x=b1:0.5:0.999:{n}&y=b2:0.5:0.999:{n}",
    "opt=adamw&x=wd:0:1:{n}&y=eps:0.001:1:{n}:log",
    "opt=hb&x=lr:0.005:0.1:{n}&y=b1:0.0:0.95:{n}",
    "opt=rmsprop&x=b2:0.5:0.999:{n}&y=eps:0.0001:1:{n}:log",
    "opt=lion&x=eps:0.0001:1:{n}:log&y=b1:0.5:0.99:{n}",
]


def sweep_corners(quick: bool):
    from core.sweep import SweepScenario, sweep_seconds_of

    for axes, n in itertools.product(AXES_SWEEP[:: 2 if quick else 1], (limits.MAX_AXIS, 16, 4)):
        base = "v=1&" + axes.format(n=n)
        steps = largest(
            lambda k, b=base: _parses(SweepScenario, f"{b}&steps={k}"), 1, limits.MAX_SWEEP_STEPS
        )
        if steps:
            s = SweepScenario.parse(f"{base}&steps={steps}")
            fields = {k: getattr(s, k) for k in ("opt", "lr", "b1", "b2", "eps", "wd", "steps")}
            yield s.to_query(), sweep_seconds_of(fields | {"x": s.x}, s.y)


PAGES = {
    "playground": playground_corners,
    "compare": compare_corners,
    "theory": theory_corners,
    "network": network_corners,
    "sweep": sweep_corners,
}


def measure(page: str, query: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, page, query],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--quick", action="store_true", help="fewer corners per page")
    args = parser.parse_args()
    print(f"threads: torch 1, OMP/MKL/OPENBLAS {THREADS}; budget {limits.BUDGET_S} s predicted")
    print(f"load average at the start: {os.getloadavg()[0]:.2f} (CPU s: the process's own time)")
    print(f"targets: <= {TARGET_S} s and <= {TARGET_BYTES / 2**30:.0f} GiB per page computation")
    worst_all = []
    for page in args.pages.split(","):
        rows = []
        for query, predicted in PAGES[page](args.quick):
            m = measure(page, query)
            if "error" in m:
                print(f"  {page:10s} ERROR {m['error']}  ({query})")
                continue
            peak = m["rss_peak"] / 2**20
            grown = (m["rss_peak"] - m["rss_before"]) / 2**20
            print(
                f"  {page:10s} {m['seconds']:6.2f} s (CPU {m['cpu']:5.2f} s, model "
                f"{predicted:5.2f} s) "
                f"peak RSS {peak:6.0f} MiB (+{grown:5.0f})  {query}",
                flush=True,
            )
            rows.append((m["seconds"], m["rss_peak"], query))
        if rows:
            t = max(rows)
            r = max(rows, key=lambda row: row[1])
            print(f"WORST {page}: time {t[0]:.2f} s ({t[2]}); peak RSS {r[1] / 2**20:.0f} MiB")
            worst_all.append((page, t[0], r[1]))
    ok = all(t <= TARGET_S and m <= TARGET_BYTES for _, t, m in worst_all)
    print("ALL WITHIN TARGETS" if ok else "SOME PAGE EXCEEDS A TARGET")


if __name__ == "__main__":
    main()
