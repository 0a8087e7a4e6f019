"""The most expensive URLs each page allows (core.scenarios.limits), measured: time and peak memory.

For every page the script builds corner scenarios (each size at its cap or at 1, the
costliest optimizers, long loss expressions) and pushes `steps` (or the order study's
smallest h) to the largest value the scenario still accepts; each corner then runs the
page's computation (what ui.cache calls) in a fresh process, which reports its wall time,
its CPU time and its peak RSS.  The cost model's prediction is printed next to the CPU
time, and the worst of each page against the targets (<= 5 s, <= 1 GiB).  The URLs that
issue 18 measured over the budget are printed first: refused (with the message), or
measured like a corner.

    python benchmarks/bench_caps.py [--pages playground,...] [--quick] [--no-issue]

(pages: playground, compare, theory, network, network-compare, sweep, study)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

THREADS = "1"
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = THREADS
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.analyses import network  # noqa: E402
from core.analyses.compute import compare_seconds  # noqa: E402
from core.analyses.study import StudyScenario, study_seconds  # noqa: E402
from core.analyses.sweep import SweepScenario, sweep_seconds_of  # noqa: E402
from core.scenarios import limits  # noqa: E402
from core.scenarios.network_scenario import NetworkScenario, view_seconds  # noqa: E402
from core.scenarios.query import ScenarioError  # noqa: E402
from core.scenarios.scenario import Scenario, order_seconds, plane_seconds  # noqa: E402

TARGET_S, TARGET_BYTES = 5.0, 1 << 30

# the child: run one page's computation, print {"seconds", "rss_before", "rss_peak"}
CHILD = """
import json, resource, sys, time
import torch
torch.set_num_threads(1)
from core.analyses import compute, network
from core.scenarios import limits
from core.scenarios.network_scenario import NetworkScenario
from core.engine.registry import COMPARED
from core.scenarios.scenario import Scenario
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
    for opt in COMPARED:
        network.result(s.with_optimizer(opt))
elif page == "study":
    from core.analyses.study import StudyScenario, compute_study
    compute_study(StudyScenario.parse(query))
elif page == "theory":
    compute.order(Scenario.parse(query))
elif page == "sweep":
    from core.analyses.sweep import SweepScenario, compute_sweep
    compute_sweep(SweepScenario.parse(query))
elif page == "compare":
    s = Scenario.parse(query)
    for opt in s.cmp:
        r = s.with_optimizer(opt)
        compute.summary(r), compute.surfaces(r)
else:  # /playground: the summary and the surfaces (its downloads read the summary)
    s = Scenario.parse(query)
    compute.summary(s), compute.surfaces(s)
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


# the cost model's prediction of each page's computation, from its scenario
def _playground(s: Scenario) -> float:
    return plane_seconds(vars(s), s.steps, s.grid)


def _theory(s: Scenario) -> float:
    return order_seconds(vars(s), s.hs)


PREDICTED = {
    "playground": (Scenario, _playground),
    "compare": (Scenario, compare_seconds),
    "theory": (Scenario, _theory),
    "network": (NetworkScenario, lambda s: view_seconds(vars(s), s.steps)),
    "network-compare": (NetworkScenario, lambda s: network.compare_seconds(s, s.steps)),
    "sweep": (SweepScenario, lambda s: sweep_seconds_of(vars(s), s.y)),
    "study": (StudyScenario, lambda s: study_seconds(vars(s), s.steps, s.seeds)),
}


def _corner(page: str, base: str, key: str, hi: int, fits=None):
    """`base` with `key` at the largest value in [1, hi] the page admits, and the model's
    prediction; None when no value is admitted."""
    cls, predict = PREDICTED[page]

    def valid(n: int) -> bool:
        if not _parses(cls, f"{base}&{key}={n}"):
            return False
        return fits is None or fits(cls.parse(f"{base}&{key}={n}"))

    n = largest(valid, 1, hi)
    if n is None:
        return None
    s = cls.parse(f"{base}&{key}={n}")
    return s.to_query(), predict(s)


def _f(text: str) -> str:
    return "loss=custom&f=" + quote(text, safe="")


OPTIMIZERS_2D = ["opt=adamw", "opt=lion&eps=0.1", "opt=rmsprop", "opt=hb&b1=0.9"]
# a query string: "+" is written %2B (a bare "+" reads as a space)
LOSSES_2D = ["loss=rosenbrock", _f("sin(3*x)*cos(3*y)+tanh(x*y)+x^2")]
# issue 18's long losses (55 s, 41.6 s and 11.5 s URLs), and the longest derivative code
# found within the 300 characters: products of powers x^y^x
SUM16 = "+".join(["sin(x*y)*cos(x-y)"] * 16)
SIN38 = "sin(" * 38 + "x*y" + ")" * 38
PRODUCT36 = "*".join(["(x+y+1)"] * 36)
POWERS = "*".join(["x^y^x"] * 50)
LONG_LOSSES = [_f(text) for text in (PRODUCT36, SUM16, SIN38, POWERS)]


def playground_corners(quick: bool):
    pairs = list(itertools.product(OPTIMIZERS_2D[: 2 if quick else 4], LOSSES_2D))
    pairs += [(opt, loss) for opt in ("opt=adam", "opt=rmsprop") for loss in LONG_LOSSES]
    for opt, loss in pairs[:: 2 if quick else 1]:
        yield _corner("playground", f"v=1&{opt}&{loss}&grid={limits.MAX_GRID}", "steps", 5000)


def compare_corners(quick: bool):
    cmp = "cmp=adamw,lion,rmsprop,nesterov"
    for loss in (LOSSES_2D + LONG_LOSSES[-1:])[:: 2 if quick else 1]:
        base = f"v=1&{loss}&grid={limits.MAX_GRID}&{cmp}"
        yield _corner("compare", base, "steps", limits.MAX_STEPS, compare_fits)


def compare_fits(s: Scenario) -> bool:
    return compare_seconds(s) <= limits.budget()


def theory_corners(quick: bool):
    cases = [(opt, "loss=rosenbrock") for opt in OPTIMIZERS_2D[: 2 if quick else 4]]
    cases += [("opt=adamw", LONG_LOSSES[-1])]
    for (opt, loss), sizes in itertools.product(cases, (2, limits.MAX_STEP_SIZES)):

        def hs(n: int, sizes: int = sizes) -> str:  # the smallest h = T/n, others coarser
            return ",".join(repr(1.0 / (n // 2**i or 1)) for i in range(sizes))

        def valid(n: int, opt: str = opt, loss: str = loss) -> bool:
            return _parses(Scenario, f"v=1&{opt}&{loss}&T=1&hs={hs(n)}")

        n = largest(valid, 2**sizes, limits.MAX_ORDER_STEPS)
        if n:
            s = Scenario.parse(f"v=1&{opt}&{loss}&T=1&hs={hs(n)}")
            yield s.to_query(), _theory(s)


NET_SHAPES = [(64, 1), (64, 4), (8, 1), (32, 2)]


def network_corners(quick: bool):
    opts = ["opt=adamw", "opt=lion&eps=0.1"][: 1 if quick else 2]
    for opt, (width, depth), n, batch in itertools.product(
        opts, NET_SHAPES[: 2 if quick else 4], (200, limits.MAX_POINTS), (0, 32)
    ):
        base = f"v=1&{opt}&width={width}&depth={depth}&n={n}&batch={batch}"
        yield _corner("network", base, "steps", limits.MAX_NET_STEPS)
    for width, depth in NET_SHAPES[:2]:  # the PCA plane (its SVD of the path)
        base = f"v=1&width={width}&depth={depth}&plane=pca"
        yield _corner("network", base, "steps", limits.MAX_NET_STEPS)


def network_compare_corners(quick: bool):
    for (width, depth), n in itertools.product(NET_SHAPES[:2], (200, limits.MAX_POINTS)):
        base = f"v=1&width={width}&depth={depth}&n={n}"
        yield _corner(
            "network-compare",
            base,
            "steps",
            limits.MAX_NET_STEPS,
            lambda s: network.compare_refusal(s) is None,
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
    for axes, n in itertools.product(AXES_SWEEP[:: 2 if quick else 1], (limits.MAX_AXIS, 16, 4)):
        yield _corner("sweep", "v=1&" + axes.format(n=n), "steps", limits.MAX_SWEEP_STEPS)
    for axes, loss in ((AXES_SWEEP[2], SUM16), (AXES_SWEEP[0], SIN38), (AXES_SWEEP[0], POWERS)):
        base = f"v=1&{axes.format(n=limits.MAX_AXIS)}&{_f(loss)}"
        yield _corner("sweep", base, "steps", limits.MAX_SWEEP_STEPS)


def study_corners(quick: bool):
    yield "v=1", study_seconds(vars(StudyScenario.parse("")), 200, 16)  # the default
    bases = [
        "seeds=256&lrs=0.01,0.003,0.001,0.0003",  # issue 18: 33.6 s at 19 steps
        "seeds=256",  # 29.7 s at 77 steps
        "seeds=16",  # 22.4 s at 1,236 steps
        "seeds=8&width=64&depth=4",
        "seeds=8&width=64&n=2000",
    ]
    for base in bases[: 3 if quick else 5]:
        yield _corner("study", f"v=1&{base}", "steps", limits.MAX_STUDY_STEPS)


def corners(page: str, quick: bool) -> list[tuple[str, float]]:
    """The page's corners that some value of their key admits: (query, predicted s)."""
    return [c for c in PAGES[page](quick) if c is not None]


PAGES = {
    "playground": playground_corners,
    "compare": compare_corners,
    "theory": theory_corners,
    "network": network_corners,
    "network-compare": network_compare_corners,
    "sweep": sweep_corners,
    "study": study_corners,
}

# issue 18's URLs over the budget (findings 1-3): now refused, or measured
ISSUE_URLS = [
    ("sweep", f"opt=hb&x=lr:0.005:0.1:64&y=b1:0:0.95:64&steps=2000&{_f(SUM16)}"),
    ("sweep", f"x=b1:0:0.99:64&y=b2:0.5:0.999:64&steps=2000&{_f(SIN38)}"),
    ("playground", f"opt=adam&steps=5000&grid=200&{_f(PRODUCT36)}"),
    ("study", "seeds=256&lrs=0.01,0.003,0.001,0.0003&steps=19"),
    ("study", "seeds=256&steps=77"),
    ("study", "seeds=16&steps=1236"),
    ("study", ""),
    ("network", "plane=pca&width=64&depth=4&steps=111"),
    ("network", "width=64&depth=4&steps=111"),
]


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


def _line(page: str, m: dict, predicted: float, query: str) -> str:
    peak = m["rss_peak"] / 2**20
    grown = (m["rss_peak"] - m["rss_before"]) / 2**20
    return (
        f"  {page:15s} CPU {m['cpu']:5.2f} s, model {predicted:5.2f} s (wall {m['seconds']:5.2f}"
        f" s) peak RSS {peak:5.0f} MiB (+{grown:4.0f})  {query}"
    )


def issue_urls() -> None:
    """Issue 18's URLs: refused with the message a visitor reads, or measured."""
    print("issue 18's URLs:")
    for page, query in ISSUE_URLS:
        cls, predict = PREDICTED[page]
        try:
            s = cls.parse(query)
        except ScenarioError as err:
            print(f"  {page:15s} refused: {err}")
            continue
        print(_line(page, measure(page, query), predict(s), query), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--quick", action="store_true", help="fewer corners per page")
    parser.add_argument("--no-issue", action="store_true", help="skip issue 18's URLs")
    args = parser.parse_args()
    print(f"threads: torch 1, OMP/MKL/OPENBLAS {THREADS}; budget {limits.BUDGET_S} s predicted")
    print(f"load average at the start: {os.getloadavg()[0]:.2f} (CPU s: the process's own time)")
    print(f"targets: <= {TARGET_S} s CPU and <= {TARGET_BYTES / 2**30:.0f} GiB per computation")
    if not args.no_issue:
        issue_urls()
    worst_all = []
    for page in args.pages.split(","):
        rows = []
        for query, predicted in corners(page, args.quick):
            m = measure(page, query)
            if "error" in m:
                print(f"  {page:15s} ERROR {m['error']}  ({query})")
                continue
            print(_line(page, m, predicted, query), flush=True)
            rows.append((m["cpu"], m["rss_peak"], predicted, query))
        if rows:
            t = max(rows)
            r = max(rows, key=lambda row: row[1])
            # below a second the process's fixed costs dominate: no ratio to speak of
            ratio = max((row[0] / row[2] for row in rows if row[2] >= 1.0), default=0.0)
            print(
                f"WORST {page}: CPU {t[0]:.2f} s (model {t[2]:.2f} s; {t[3]}); peak RSS "
                f"{r[1] / 2**20:.0f} MiB; largest CPU / model (model >= 1 s) {ratio:.2f}",
                flush=True,
            )
            worst_all.append((page, t[0], r[1]))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    ok = all(t <= TARGET_S and m <= TARGET_BYTES for _, t, m in worst_all)
    print("ALL WITHIN TARGETS" if ok else "SOME PAGE EXCEEDS A TARGET")


if __name__ == "__main__":
    main()
