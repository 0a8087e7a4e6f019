"""The curated scenarios of /gallery (and the picture on /): each opens a page with its
full query string, and states what its caption claims as data (`Claim`): a measured
quantity, a comparison and a value.  tests/test_gallery.py computes every claim, so a
caption that its own numbers contradict cannot land."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.network_scenario import NetworkScenario
from core.scenario import Scenario
from core.sweep import SweepScenario
from ui import cache


@dataclass(frozen=True)
class Claim:
    text: str  # the words, as the gallery shows them
    metric: str  # a key of METRICS
    op: str  # "==", "<", ">", "<=", ">="
    value: object
    opt: str | None = None  # on /compare: the optimizer the claim is about


@dataclass(frozen=True)
class Example:
    title: str
    page: str  # url path
    query: str
    blurb: str
    claims: tuple[Claim, ...] = ()


def _end(run: str, axis: int) -> Callable[[Scenario], float]:
    return lambda s: float(cache.summary(s).paths[run][-1][axis])


def _gap_ratio(s: Scenario) -> float:
    """max |memory - corrected| / max |memory - memoryless| over the run (< 1: closer)."""
    summary = cache.summary(s)
    return summary.gap_corrected / summary.gap_memoryless


def _sweep(s: SweepScenario):
    return cache.sweep(s)


def _cells(s: SweepScenario):
    """The sweep's effect per cell and the two swept settings on the same grid."""
    r = _sweep(s)
    xx, yy = np.meshgrid(r.x, r.y)
    return r, xx, yy


def _regularizing_share_below_diagonal(s: SweepScenario) -> float:
    r, xx, yy = _cells(s)
    below = yy < xx
    return float((r.metrics["effect"][below] == 1).mean())


def _above_diagonal(effect: int) -> Callable[[SweepScenario], int]:
    def count(s: SweepScenario) -> int:
        r, xx, yy = _cells(s)
        return int((r.metrics["effect"][yy > xx] == effect).sum())

    return count


def _regularizing_share_with_memory(s: SweepScenario) -> float:
    """Share of the cells with beta > 0 (the y axis) whose verdict is +1."""
    r, _, yy = _cells(s)
    return float((r.metrics["effect"][yy > 0] == 1).mean())


def _smallest_beta_where_corrected_diverges(s: SweepScenario) -> float:
    r, _, yy = _cells(s)
    dead = r.diverged["corrected"] >= 0
    return float(yy[dead].min()) if dead.any() else float("inf")


def _memory_divergences(s: SweepScenario) -> int:
    return int((_sweep(s).diverged["memory"] >= 0).sum())


def _error_ratio_at_small_h_and_beta(s: SweepScenario) -> float:
    """max |memory - corrected| / max |memory - memoryless| in the cell of the smallest h
    and the smallest beta (row 0, column 0; the axis starts above 0)."""
    return float(_sweep(s).metrics["theory_error"][0, 0])


def _net_distance_ratio(s: NetworkScenario) -> float:
    r = cache.network_result(s)
    return float(np.nanmax(r.distance["corrected"]) / np.nanmax(r.distance["memoryless"]))


METRICS: dict[str, Callable] = {
    "effect": lambda s: cache.regularizer(s).effect,  # the verdict on the window
    "run effect": lambda s: cache.regularizer(s).run.effect,
    "gap ratio": _gap_ratio,
    "memory end x": _end("memory", 0),
    "memoryless end x": _end("memoryless", 0),
    "fitted slope corrected": lambda s: cache.order(s).fit_corrected,
    "fitted slope memoryless": lambda s: cache.order(s).fit_memoryless,
    "last slope corrected": lambda s: cache.order(s).slopes_corrected[-1],
    "network effect": lambda s: cache.network_result(s).regularizer.effect,
    "sweep regularizing share below the diagonal": _regularizing_share_below_diagonal,
    "sweep regularizing cells above the diagonal": _above_diagonal(1),
    "sweep anti-regularizing cells above the diagonal": _above_diagonal(-1),
    "sweep regularizing share with memory": _regularizing_share_with_memory,
    "sweep mixed cells above the diagonal": _above_diagonal(0),
    "sweep smallest beta where corrected diverges": _smallest_beta_where_corrected_diverges,
    "sweep memory divergences": _memory_divergences,
    "sweep error ratio at small h and beta": _error_ratio_at_small_h_and_beta,
    "network distance ratio": _net_distance_ratio,
}
_OPS = {"==": operator.eq, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def scenario(example: Example, opt: str | None = None):
    """The scenario a claim is measured on (compare: one optimizer with its defaults)."""
    if example.page == "network":
        s = NetworkScenario.parse(example.query.replace("&compare=1", ""))
    elif example.page == "sweep":
        return SweepScenario.parse(example.query)
    else:
        s = Scenario.parse(example.query)
    return s.with_optimizer(opt) if opt else s


def check(example: Example, claim: Claim) -> tuple[bool, object]:
    """(does the claim hold, the measured value)."""
    measured = METRICS[claim.metric](scenario(example, claim.opt))
    return bool(_OPS[claim.op](measured, claim.value)), measured


# the wide well of sharp_flat lies at x ~ -1.5, the sharp one at x ~ 1
WIDE, SHARP = -0.5, 0.5
_MEM, _FREE = "memory end x", "memoryless end x"

GALLERY = (
    Example(
        "Heavy ball on an ill-conditioned quadratic",
        "playground",
        "v=1&opt=hb&lr=0.01&b1=0.7&loss=quadratic&steps=150",
        "Momentum zig-zags across the steep direction; its memory adds "
        "β/(2(1−β)²)·h·‖∇L‖², a gradient-norm penalty: it regularizes, and the corrected "
        "run stays closer to the memory run than the memoryless one.",
        (
            Claim("memory regularizes on the window", "effect", "==", "regularizes"),
            Claim("corrected closer than memoryless", "gap ratio", "<", 1.0),
        ),
    ),
    Example(
        "AdamW vs Lion on a sharp and a flat minimum",
        "compare",
        "v=1&opt=adamw&lr=0.02&steps=300&loss=sharp_flat&grid=120",
        "Same start, same h. AdamW's memory anti-regularizes on this window and its memory "
        "run settles in the sharp well. Lion's exact sign is outside the smooth theorem (no "
        "correction), yet memory matters: its memory run reaches the wide well while its "
        "memoryless run stays in the sharp one.",
        (
            Claim("AdamW anti-regularizes", "effect", "==", "anti-regularizes", "adamw"),
            Claim("AdamW's memory run ends in the sharp well", "memory end x", ">", SHARP, "adamw"),
            Claim("Lion's memory run ends in the wide well", "memory end x", "<", WIDE, "lion"),
            Claim(
                "Lion's memoryless run ends in the sharp well",
                "memoryless end x",
                ">",
                SHARP,
                "lion",
            ),
        ),
    ),
    Example(
        "Adam with its usual betas anti-regularizes",
        "playground",
        "v=1&opt=adam&lr=0.02&steps=300&loss=sharp_flat&grid=120",
        "β₁ = 0.9, β₂ = 0.999: R ≈ (c₁ − c₂)‖∇L‖₁ with c₁ − c₂ = 9 − 999 = −990 wherever "
        "|∇L| ≫ ε. At h = 0.02 that term is far from small, and the corrected run ends "
        "farther from the memory run than the memoryless one (see the note on the page).",
        (
            Claim("memory anti-regularizes on the window", "effect", "==", "anti-regularizes"),
            Claim("corrected farther than memoryless", "gap ratio", ">", 1.0),
        ),
    ),
    Example(
        "Lion with the exact sign",
        "playground",
        "v=1&opt=lion&lr=0.02&steps=300&loss=sharp_flat",
        "ε = 0: the sign's derivative is 0 away from sign changes, so the formula gives no "
        "correction and the corrected run is the memoryless one. Memory still acts at sign "
        "changes: the memory run crosses to the wide well, the memoryless run stays in the "
        "sharp one. The smooth theorem does not cover this case.",
        (
            Claim("no correction: no effect on the loss", "effect", "==", "none"),
            Claim("the memory run ends in the wide well", "memory end x", "<", WIDE),
            Claim("the memoryless run ends in the sharp well", "memoryless end x", ">", SHARP),
        ),
    ),
    Example(
        "RMSProp on Himmelblau",
        "playground",
        "v=1&opt=rmsprop&lr=0.05&b2=0.9&eps=0.01&loss=himmelblau",
        "RMSProp's memory is −c₂‖∇L‖₁ where |∇L| ≫ ε: it anti-regularizes on this window; "
        "the corrected run stays closer to the memory run than the memoryless one.",
        (
            Claim("memory anti-regularizes on the window", "effect", "==", "anti-regularizes"),
            Claim("corrected closer than memoryless", "gap ratio", "<", 1.0),
        ),
    ),
    Example(
        "Reference case: heavy ball β = 0.5 (THEORY §6)",
        "theory",
        "v=1&opt=hb&b1=0.5&hs=0.008,0.004,0.002,0.001&T=0.25",
        "With h small against the memory length the corrected error falls like h², the "
        "memoryless one like h: fitted slopes about 1.9 and 1.0.",
        (
            Claim("fitted corrected slope ≥ 1.8", "fitted slope corrected", ">=", 1.8),
            Claim("fitted memoryless slope ≤ 1.1", "fitted slope memoryless", "<=", 1.1),
            Claim("fitted memoryless slope ≥ 0.9", "fitted slope memoryless", ">=", 0.9),
        ),
    ),
    Example(
        "Reference case: AdamW 0.5/0.7, ε = 0.5, λ = 0.1",
        "theory",
        "v=1&opt=adamw&b1=0.5&b2=0.7&eps=0.5&wd=0.1&hs=0.04,0.02,0.01,0.005&T=1",
        "THEORY §6's table: the local corrected slopes climb 1.5 → 1.8; the fit over the "
        "settled rows gives about 1.8 against 0.9 for the memoryless run.",
        (
            Claim("fitted corrected slope ≥ 1.7", "fitted slope corrected", ">=", 1.7),
            Claim("fitted memoryless slope ≤ 1.05", "fitted slope memoryless", "<=", 1.05),
        ),
    ),
    Example(
        "Reference case: Lion 0.5/0.6, smoothed sign ε = 0.25",
        "theory",
        "v=1&opt=lion&b1=0.5&b2=0.6&eps=0.25&wd=0.1&hs=0.04,0.02,0.01,0.005&T=1",
        "With a smoothed sign (ε > 0) Lion's update is smooth and the theorem applies: the "
        "local corrected slope climbs to about 1.7 at these h, the memoryless one stays "
        "near 1.",
        (
            Claim("last corrected slope ≥ 1.65", "last slope corrected", ">=", 1.65),
            Claim("fitted memoryless slope ≤ 1.05", "fitted slope memoryless", "<=", 1.05),
        ),
    ),
    Example(
        "Rosenbrock's banana valley",
        "playground",
        "v=1&opt=adam&lr=0.01&b1=0.5&b2=0.7&eps=0.1&steps=400&loss=rosenbrock",
        "Steep walls, flat floor: with ε = 0.1 the update bends on a scale h = 0.01 does "
        "not resolve, and both memoryless runs drift from the memory run by O(1); the "
        "corrected one somewhat less.",
        (
            Claim("corrected closer than memoryless", "gap ratio", "<", 1.0),
            Claim("the corrected run's drift is O(1)", "gap ratio", ">", 0.5),
        ),
    ),
    Example(
        "A small network in the smooth regime (THEORY §6)",
        "network",
        "v=1&opt=adamw&lr=0.02&b1=0.5&b2=0.7&eps=1.0&wd=0.01&steps=50",
        "An MLP on two moons with ε = 1: gradients are far below ε, so AdamW's memory "
        "regularizes (R ≈ c₁‖∇L‖²/(2ε)), and the corrected parameters stay closer to the "
        "real run's than the memoryless ones.",
        (
            Claim("memory regularizes along the run", "network effect", "==", "regularizes"),
            Claim("corrected closer than memoryless", "network distance ratio", "<", 1.0),
        ),
    ),
    Example(
        "AdamW vs Lion on a network: the paper's application",
        "network",
        "v=1&compare=1",
        "Same data, seed and h: each one's generalization gap next to the measured sign of "
        "its memory's perturbation along its run. With the usual hyperparameters AdamW's "
        "anti-regularizes; exact-sign Lion's has no correction (outside the smooth theorem).",
        (
            Claim("AdamW anti-regularizes", "network effect", "==", "anti-regularizes", "adamw"),
            Claim("exact-sign Lion: no correction", "network effect", "==", "none", "lion"),
        ),
    ),
    Example(
        "Phase diagram: where Adam's memory anti-regularizes",
        "sweep",
        "v=1&opt=adam&eps=0.5&x=b1:0.5:0.999:24&y=b2:0.5:0.999:24&steps=150",
        "β₁ × β₂ cells, each with its regularizer card's verdict: R = (c₁ − c₂)‖∇L‖₁ "
        "anti-regularizes above β₁ = β₂ where |∇L| ≫ ε; with ε = 0.5 some cells just above "
        "the diagonal are mixed instead: where |∇L| is below the crossover εc₁/(c₂ − c₁) "
        "the sign flips, so the boundary moves with ε.",
        (
            Claim(
                "every cell below the diagonal regularizes",
                "sweep regularizing share below the diagonal",
                "==",
                1.0,
            ),
            Claim(
                "some cells above the diagonal anti-regularize",
                "sweep anti-regularizing cells above the diagonal",
                ">",
                0,
            ),
            Claim(
                "some cells above the diagonal are mixed",
                "sweep mixed cells above the diagonal",
                ">",
                0,
            ),
            Claim(
                "no cell above the diagonal regularizes",
                "sweep regularizing cells above the diagonal",
                "==",
                0,
            ),
        ),
    ),
    Example(
        "Phase diagram: heavy ball's step size against its momentum",
        "sweep",
        "v=1&opt=hb&x=lr:0.005:0.1:24&y=b1:0.05:0.95:24&steps=150",
        "Memory regularizes in every cell with β > 0. The corrected run tracks the real one "
        "for small h and β, and diverges towards large h and β (only for β > 0.4 here), "
        "where the memory run itself does not.",
        (
            Claim(
                "every cell with β > 0 regularizes",
                "sweep regularizing share with memory",
                "==",
                1.0,
            ),
            Claim(
                "the corrected run diverges only for β > 0.4",
                "sweep smallest beta where corrected diverges",
                ">",
                0.4,
            ),
            Claim("the memory run never diverges", "sweep memory divergences", "==", 0),
            Claim(
                "corrected closer than memoryless at the smallest h and β",
                "sweep error ratio at small h and beta",
                "<",
                1.0,
            ),
        ),
    ),
    Example(
        "Escaping a saddle with momentum",
        "playground",
        "v=1&opt=hb&lr=0.05&b1=0.6&loss=saddle",
        "Started next to the saddle's stable direction, all three runs leave it; the "
        "corrected one stays closest to the real run.",
        (
            Claim("corrected closer than memoryless", "gap ratio", "<", 1.0),
            Claim("memory regularizes on the window", "effect", "==", "regularizes"),
        ),
    ),
)
