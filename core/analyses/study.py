"""Many-seed network studies: two optimizers (AdamW against Lion by default) trained on
the same data from the same S initializations, optionally over a small grid of learning
rates, with the statistics of THEORY §5's application (Lion's memory does not
anti-regularize, AdamW's does): train and test loss, generalization gap, sharpness (the
Hessian's largest eigenvalue, core.analyses.sharpness) and the implicit regularizer h R; means
with 95% bootstrap intervals and per-seed paired differences.

A fair comparison matches what the optimizers reach, not the steps they take: with
`until` = L each run is read at its first step with training loss <= L (every metric
there, and the steps it took); runs that never get there within the step budget are
counted and left out.  Each optimizer has its own learning rates and weight decay
(`lrs=adamw:0.03,lion:0.01`, `wd=adamw:0.01,lion:0.03`; a value without a name applies
to both); by default a pair whose record states its usual ratio (Lion against AdamW:
learning rate 3-10x smaller, weight decay as much larger) runs at it.

Seeds vary the initialization (seed0 + i); the data set is drawn once from seed0, so
both optimizers see the same data and each seed is a pair.  Only the memory run (the
optimizer itself) is simulated: core.engine.dynamics.simulate with one row per (seed, lr).

The work is cut into fixed chunks of CHUNK seeds, each one batched simulate call
(stacked parameters), computed by `chunk` from plain arguments.  The chunks run in
process, or as Ray tasks when an address is given (RAY_ADDRESS, or `--ray` on the CLI;
core.distribute, as /paper's jobs): the same chunks on the same inputs, reassembled in
seed order, so the numbers are identical wherever they run.  Ray is imported only then.
The two optimizers' keys (`opts`, `lrs`, `wd`) and the sentences on their ratio are
core.scenarios.pair's, shared with /network's compare mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.analyses import compute
from core.analyses.regularizer import common_warnings, potential_warnings, rms_ratio
from core.analyses.sharpness import PRODUCTS, sharpness
from core.cancel import Check, checked
from core.distribute import run_tasks
from core.engine.dynamics import simulate
from core.engine.registry import make_optimizer, record
from core.models.mlp import MLP
from core.models.training import as_tensors, data_loss, perturbation, values_and_grads
from core.scenarios import limits
from core.scenarios.limits import (
    MAX_SEEDS,
    MAX_STUDY_CURVES,
    MAX_STUDY_LRS,
    MAX_STUDY_STEPS,
    MAX_STUDY_STORED,
)
from core.scenarios.network_scenario import (
    NETWORK_FIELDS,
    NetworkData,
    dataset,
    parameter_count,
    train_size,
)
from core.scenarios.pair import PairQuery, columns, pair_fields
from core.scenarios.query import Field, constant, in_range, integer, number, query_dataclass

Tensor = torch.Tensor
CHUNK = 8  # seeds per batched simulate call (and per Ray task)
METRICS = ("train_loss", "test_loss", "gap", "sharpness", "hR_final", "hR_mean")
# each h R metric (M^(n) at the run's last update) and the same in the limit n -> infinity
LIMITS = {"hR_final": "hR_limit_final", "hR_mean": "hR_limit_mean"}
# "steps": where each run is read (its first step at the threshold, or the budget)
STATISTICS = (*METRICS, *LIMITS.values(), "steps")
REGULARIZER = (*LIMITS, *LIMITS.values())  # the metrics of h R: not defined off the theorem
UNTIL = 0.05  # the default threshold: the paper's (issue 20), reached by the default study
CONFIDENCE = 0.95
RESAMPLES = 9999  # bootstrap resamples per interval


def study_seconds(s, steps: int, seeds: int) -> float:
    """The cost model's time of the study parsed so far, with `steps` and `seeds`: every
    run goes the full step budget (one batched call), whatever its threshold."""
    calls = len(s["opts"]) * math.ceil(seeds / CHUNK)  # batched simulate calls
    rows = len(s["opts"]) * seeds * columns(s)
    units, d = s["width"] * s["depth"], parameter_count(s)
    n_train = train_size(s["n"], s["split"])
    return limits.study_seconds(units, d, steps, n_train, rows, calls, PRODUCTS)


def _check_steps(steps: int, s) -> None:
    in_range(1, MAX_STUDY_STEPS)(steps, s)
    runs, d = 2 * s["seeds"] * columns(s), parameter_count(s)
    stored = d * (steps + 1) * min(s["seeds"], CHUNK) * columns(s)
    if stored > MAX_STUDY_STORED:
        raise ValueError(
            f"{d} parameters x {steps + 1} iterates x {stored // (d * (steps + 1))} runs per "
            f"chunk = {stored:.3g} exceeds the cap {MAX_STUDY_STORED:.3g}; lower steps, "
            "lrs, width or depth"
        )
    if runs * (steps + 1) > MAX_STUDY_CURVES:
        raise ValueError(
            f"{runs} runs x {steps + 1} steps of curves exceeds the cap {MAX_STUDY_CURVES:.3g}; "
            "lower steps, seeds or lrs"
        )
    seconds = study_seconds(s, steps, s["seeds"])
    if seconds > limits.budget():
        fewer_steps = limits.largest(lambda n: study_seconds(s, n, s["seeds"]), 1, steps)
        fewer_seeds = limits.largest(lambda n: study_seconds(s, steps, n), 2, s["seeds"])
        most = [
            f"at most {n} {key} with these {other}"
            for n, key, other in ((fewer_steps, "steps", "seeds"), (fewer_seeds, "seeds", "steps"))
            if n is not None
        ]
        raise ValueError(
            limits.over_budget(
                seconds,
                f"{runs} runs of {d} parameters x {steps} steps",
                "steps, seeds, lrs, width, depth or n",
                ", or ".join(most) or None,
            )
        )


_NET = {f.key: f for f in NETWORK_FIELDS}
STUDY_FIELDS = (
    *pair_fields(MAX_STUDY_LRS),
    # 0: no threshold, every run read at the end of its step budget
    Field("until", number, constant(UNTIL), in_range(0.0, 1000.0)),
    *(_NET[k] for k in ("data", "n", "noise", "split", "width", "depth", "act", "seed")),
    Field("seeds", integer, constant(16), in_range(2, MAX_SEEDS)),
    # runs reach the default threshold by about step 104; 300 steps cost 6.2 s (issue 18)
    Field("steps", integer, constant(150), _check_steps),
)


class Seeds:
    """The seeds of a many-seed query (fields `seed` and `seeds`): seed, seed + 1, ...,
    cut into fixed chunks of CHUNK (one batched engine call, or Ray task, each)."""

    @property
    def seed_list(self) -> list[int]:
        return [self.seed + i for i in range(self.seeds)]

    def chunks(self) -> list[tuple[int, ...]]:
        seeds = self.seed_list
        return [tuple(seeds[i : i + CHUNK]) for i in range(0, len(seeds), CHUNK)]


@query_dataclass
class StudyScenario(PairQuery, NetworkData, Seeds):
    """Two optimizers, their learning rates and weight decays (each optimizer's usual
    other hyperparameters), the training loss they are matched at, data, network, the
    first seed and the number of seeds, the step budget."""

    SPECS = STUDY_FIELDS

    until: float
    seeds: int
    steps: int


# --- one chunk: plain arguments in, numpy arrays out (a Ray task runs exactly this) ----


def stopping_steps(train_curve: np.ndarray, diverged: np.ndarray, until: float) -> np.ndarray:
    """Per run (rows of the training loss curve (R, T)): the step it is read at, -1 where
    it is left out.  until = 0: the last step, unless the run diverged; else the first
    step n >= 1 with loss <= until before any divergence (the iterates from `diverged`
    on are not the run's: core.engine.dynamics repeats its last finite point there)."""
    R, T = train_curve.shape
    if until == 0:
        return np.where(diverged >= 0, -1, T - 1)
    n = np.arange(T)
    alive = n[None, :] < np.where(diverged >= 0, diverged, T)[:, None]
    hit = (train_curve <= until) & (n[None, :] >= 1) & alive
    return np.where(hit.any(1), hit.argmax(1), -1)


def chunk(
    query: str, opt: str, seeds: tuple[int, ...], device: str = "cpu", check: Check = None
) -> dict:
    """Train optimizer `opt` from each seed's initialization at each of its learning rates
    in the study `query` (one batched simulate over the full step budget; rows ordered
    seed-major), and measure each run where it is read (`stopping_steps`); `check` is
    called before every step and evaluation chunk (core.cancel).

    Returns arrays of shape (len(seeds), K) per metric, the step each run is read at
    ("stop", -1: left out) and the curves (len(seeds), K, steps + 1) of the training
    loss and of h R up to that step (NaN after it and for runs left out), R from M^(n) at
    the run's last update n = stop - 1 and in the limit n -> infinity (NaN where the update
    is not smooth: not defined, THEORY §11)."""
    with limits.allowance(math.inf):  # its cost was admitted where the study was parsed
        s = StudyScenario.parse(query)
    dev = torch.device(device)
    data = dataset(s)
    mlp = MLP(data.in_dim, s.width, s.depth, s.act, data.out_dim)
    train = data_loss(mlp, data.task, *as_tensors(data.x_train, data.y_train, dev))
    test = data_loss(mlp, data.task, *as_tensors(data.x_test, data.y_test, dev))
    S, K, d = len(seeds), s.columns, mlp.size
    theta0 = torch.stack([mlp.init(k, device=dev) for k in seeds]).repeat_interleave(K, 0)
    lr = np.tile(np.asarray(s.rates(opt), dtype=np.float64), S)
    hyper = s.hyper(opt)
    run = simulate(
        checked(train, check), make_optimizer(opt, **hyper), theta0, lr, s.steps, ("memory",)
    )
    T, rows = s.steps + 1, torch.arange(S * K, device=dev)
    L, g = values_and_grads(train, mlp, len(data.y_train), run.memory.reshape(-1, d), check)
    # per run (S K, T ...): its iterates, losses and gradients along the budget
    paths, L, g = (v.reshape(T, S * K, -1).transpose(0, 1) for v in (run.memory, L, g))
    L = L[..., 0]
    stop = stopping_steps(L.cpu().numpy(), run.diverged["memory"], s.until)
    kept = torch.as_tensor(stop >= 0, device=dev)
    at = torch.as_tensor(np.where(stop >= 0, stop, 0), device=dev)
    h = torch.as_tensor(lr, device=dev)[:, None]

    def R(which: Tensor, n) -> Tensor:  # (runs, T): R along each run with M^(n)
        flat = (v[which].reshape(-1, *v.shape[2:]) for v in (L, g, paths))
        return perturbation(opt, hyper, *flat, n).reshape(int(which.sum()), T)

    hR = torch.full((S * K, T), math.nan, dtype=L.dtype, device=dev)
    for n in np.unique(stop[stop >= 0]):  # each run's own last update: n - 1
        which = torch.as_tensor(stop == n, device=dev)
        hR[which] = h[which] * R(which, int(n) - 1)
    limit = h * R(torch.ones(S * K, dtype=torch.bool, device=dev), None)
    theta, train_at = paths[rows, at], L[rows, at]
    with torch.no_grad():
        test_at = test(theta) if len(data.y_test) else torch.full_like(train_at, math.nan)
    sharp = torch.full((S * K,), math.nan, dtype=L.dtype, device=dev)
    if kept.any():
        runs = np.repeat(seeds, K)[stop >= 0]
        sharp[kept] = sharpness(train, theta[kept], runs).to(sharp)
    ran = torch.as_tensor(np.arange(T)[None, :] <= stop[:, None], device=dev)  # the run

    def shaped(v: Tensor, *tail: int) -> np.ndarray:
        v = torch.where(kept.reshape(-1, *([1] * len(tail))), v, math.nan)
        return v.reshape(S, K, *tail).cpu().numpy()

    def mean_over_run(v: Tensor) -> Tensor:
        return torch.where(ran, v, 0.0).sum(-1) / ran.sum(-1).clamp(min=1)

    hR, limit = (torch.where(ran, v, math.nan) for v in (hR, limit))
    return {
        "train_loss": shaped(train_at),
        "test_loss": shaped(test_at),
        "gap": shaped(test_at - train_at),
        "sharpness": shaped(sharp),
        "hR_final": shaped(hR[rows, at]),
        "hR_mean": shaped(mean_over_run(hR)),
        "hR_limit_final": shaped(limit[rows, at]),
        "hR_limit_mean": shaped(mean_over_run(limit)),
        "steps": shaped(torch.as_tensor(stop, dtype=L.dtype, device=dev)),
        "hR_curve": shaped(hR, T),
        "hR_limit_curve": shaped(limit, T),
        "train_curve": shaped(torch.where(ran, L, math.nan), T),
        "stop": stop.reshape(S, K),
        "diverged": run.diverged["memory"].reshape(S, K),
    }


@dataclass(frozen=True, eq=False)
class StudyResult:
    """per_seed[opt][metric]: (S, K) arrays for every metric of STATISTICS, read where each
    run stops (NaN where the run is left out or the value is not defined),
    curves[opt][name]: (S, K, steps + 1) up to that step; stop[opt]: (S, K) the step each
    run is read at (-1: left out), diverged[opt] the step it diverged at (-1: never)."""

    scenario: StudyScenario
    seeds: list[int]
    per_seed: dict[str, dict[str, np.ndarray]]
    curves: dict[str, dict[str, np.ndarray]]
    stop: dict[str, np.ndarray]
    diverged: dict[str, np.ndarray]

    def left_out(self, opt: str) -> dict[str, np.ndarray]:
        """(S, K) masks of the runs left out: diverged first, or (with a threshold)
        never reached it within the step budget."""
        out, dead = self.stop[opt] < 0, self.diverged[opt] >= 0
        return {"diverged": out & dead, "not_reached": out & ~dead}


def compute_study(s: StudyScenario, address: str | None = None, check: Check = None) -> StudyResult:
    """Every chunk of every optimizer (in process unless `address`), reassembled in seed
    order; `check` is called between steps and chunks (core.cancel)."""
    query = s.to_query()
    device = str(compute.device())
    jobs = [(query, opt, seeds, device) for opt in s.opts for seeds in s.chunks()]
    results = run_tasks(chunk, jobs, address, check)
    per_seed, curves, stop, diverged = {}, {}, {}, {}
    n = len(s.chunks())
    for j, opt in enumerate(s.opts):
        parts = results[j * n : (j + 1) * n]
        joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        per_seed[opt] = {k: joined[k] for k in STATISTICS}
        curves[opt] = {k: joined[k] for k in ("hR_curve", "hR_limit_curve", "train_curve")}
        stop[opt], diverged[opt] = joined["stop"], joined["diverged"]
    return StudyResult(s, s.seed_list, per_seed, curves, stop, diverged)


# --- statistics ------------------------------------------------------------------------


def intervals(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per column of `values` (S, C): the mean over its finite values (the seeds), a 95%
    BCa bootstrap interval of that mean (scipy.stats.bootstrap, seeded: the same data give
    the same interval) and the count.  The bounds are means of resamples, so they lie
    within the values' range: a nonnegative metric gets no negative bound.  NaN bounds
    below 2 values; a constant sample's interval is its value."""
    from scipy.stats import bootstrap  # imported when used: scipy.stats loads slowly

    v = np.asarray(values, dtype=float)
    v = v[:, None] if v.ndim == 1 else v
    finite = np.isfinite(v)
    count = finite.sum(0)
    mean, lo, hi = (np.full(v.shape[1], np.nan) for _ in range(3))
    for mask in np.unique(finite.T, axis=0):  # columns with the same seeds finite: one call
        cols = np.flatnonzero((finite.T == mask).all(1))
        x = v[mask][:, cols]
        if x.shape[0] == 0:
            continue
        mean[cols] = x.mean(0)
        if x.shape[0] < 2:
            continue
        spread = np.ptp(x, axis=0) > 0
        lo[cols[~spread]] = hi[cols[~spread]] = mean[cols[~spread]]
        if spread.any():
            ci = bootstrap(
                (x[:, spread],),
                np.mean,
                n_resamples=RESAMPLES,
                batch=1000,  # bounds the memory of many columns at once
                confidence_level=CONFIDENCE,
                method="BCa",
                rng=np.random.default_rng(0),
            ).confidence_interval
            lo[cols[spread]], hi[cols[spread]] = ci.low, ci.high
    return {"mean": mean, "lo": lo, "hi": hi, "n": count}


def _entry(got: dict[str, np.ndarray], j: int) -> dict:
    out = {k: float(got[k][j]) if np.isfinite(got[k][j]) else None for k in ("mean", "lo", "hi")}
    return out | {"n": int(got["n"][j])}


def interval(values: np.ndarray) -> dict:
    """`intervals` of one sample: mean, lo, hi (None where not defined) and n."""
    return column_intervals(np.asarray(values, dtype=float).reshape(-1, 1))[0]


def column_intervals(values: np.ndarray) -> list[dict]:
    """interval() of each column of `values` (S, C), computed together."""
    got = intervals(values)
    return [_entry(got, j) for j in range(len(got["n"]))]


def _table(values: dict[str, np.ndarray]) -> dict[str, dict]:
    """interval() of each named sample, computed together."""
    got = column_intervals(np.stack(list(values.values()), axis=1))
    return dict(zip(values, got, strict=True))


def difference(res: StudyResult, metric: str, k: int) -> np.ndarray:
    """Per seed, the second optimizer's `metric` minus the first's at column k."""
    a, b = res.scenario.opts
    return res.per_seed[b][metric][:, k] - res.per_seed[a][metric][:, k]


def summary(res: StudyResult) -> dict:
    """Per column of learning rates (keyed as StudyScenario.column writes it): each
    optimizer's mean and 95% interval of every metric, and the paired difference (second
    optimizer minus first) over the seeds where both were read."""
    a, b = res.scenario.opts
    out = {}
    for k in range(res.scenario.columns):
        entry = {o: _table({m: res.per_seed[o][m][:, k] for m in STATISTICS}) for o in (a, b)}
        entry[f"{b} - {a}"] = _table({m: difference(res, m, k) for m in STATISTICS})
        out[res.scenario.column(k)] = entry
    return out


# --- what the page and the JSON say --------------------------------------------------


def matched(res: StudyResult) -> str:
    """What the two optimizers are matched at: the training loss each run is read at
    (with how many runs reached it) and the step budget."""
    s = res.scenario
    if s.until == 0:
        return (
            f"Matched: the step budget only, every run read after {s.steps} steps; the "
            "training losses are not matched (until = 0)"
        )
    reached = []
    for o in s.opts:
        counts = (res.stop[o] >= 0).sum(0)
        reached.append(
            f"{' / '.join(str(c) for c in counts)} of {len(res.seeds)} {record(o).label}"
        )
    per = " (per learning rate)" if s.columns > 1 else ""
    return (
        f"Matched: the training loss, each run read at its first step with training loss "
        f"≤ {s.until:g} (the steps it took are a metric), within a budget of {s.steps} "
        f"steps; reached by {' and '.join(reached)} runs{per}"
    )


def study_warnings(res: StudyResult) -> list[str]:
    """What a reader of the study must know, the page and the JSON alike: per optimizer
    the regularizer card's warnings by its rule (a non-smooth update, whose h R is not
    defined; a correction far from its n -> infinity limit at the runs' steps, read from
    h R against the limit over every run, n the earliest run's), the runs left out
    (diverged, or never at the threshold), and runs without a sharpness."""
    s, out = res.scenario, []
    for opt in s.opts:
        label = record(opt).label
        hR, limit = (res.curves[opt][k] for k in ("hR_curve", "hR_limit_curve"))
        fraction = rms_ratio(hR, limit)
        hyper = s.hyper(opt)
        read = res.stop[opt][res.stop[opt] >= 0]
        n = int(read.min()) - 1 if read.size else s.regularizer_step
        said = common_warnings(opt, hyper, n, fraction) + potential_warnings(opt, hyper, n)
        out += [f"{label}: {w}" for w in said]
        left = res.left_out(opt)
        before = " before reaching the threshold" if s.until else ""
        for k, lr in enumerate(s.rates(opt)):
            if dead := int(left["diverged"][:, k].sum()):
                out.append(
                    f"{label}: {dead} of {len(res.seeds)} runs diverged{before} at h = "
                    f"{lr:g}; the means leave them out"
                )
            if short := int(left["not_reached"][:, k].sum()):
                out.append(
                    f"{label}: {short} of {len(res.seeds)} runs did not reach training loss "
                    f"≤ {s.until:g} within {s.steps} steps at h = {lr:g}; the means leave "
                    "them out (raise steps, or the threshold until)"
                )
        kept = res.stop[opt] >= 0
        missing = int((kept & ~np.isfinite(res.per_seed[opt]["sharpness"])).sum())
        if missing:
            out.append(
                f"{label}: no sharpness for {missing} of {kept.size} runs (the Lanczos solver "
                "did not converge, or the Hessian is not finite); the means leave them out"
            )
    return out


def outside_theorem(opt: str) -> bool:
    """Whether the optimizer's update (with the defaults a study uses) is not smooth: its
    h R is not defined (THEORY §11)."""
    return not record(opt).smooth(record(opt).defaults)


def paired_verdict(res: StudyResult, metric: str, k: int) -> str:
    """What the paired difference (second optimizer minus first) of `metric` at the k-th
    column shows over the seeds, read from its 95% interval: a side only where the
    interval excludes 0."""
    a, b = res.scenario.opts
    undefined = [o for o in (a, b) if outside_theorem(o)]
    if metric in REGULARIZER and undefined:
        names = " and ".join(record(o).label for o in undefined)
        return f"not defined: h·R of {names} is outside the theorem (THEORY §11)"
    diff = interval(difference(res, metric, k))
    if diff["n"] == 0:
        return "no seed has both values"
    if diff["lo"] is None:
        return "too few seeds for an interval"
    side = lower(res, metric, k)
    if side is None:
        return "the interval contains 0: no difference shown at this sample size"
    return f"{b} is {'lower' if side == b else 'higher'}: the interval excludes 0"


def lower(res: StudyResult, metric: str, k: int) -> str | None:
    """The optimizer whose `metric` is lower at column k, by the 95% interval of the
    paired difference; None where the interval holds 0 (or there is none)."""
    a, b = res.scenario.opts
    diff = interval(difference(res, metric, k))
    if diff["lo"] is None:
        return None
    return b if diff["hi"] < 0 else a if diff["lo"] > 0 else None


def paired_sentence(res: StudyResult, metric: str, k: int) -> str:
    """The paired difference of `metric` at column k in words: its mean and 95% interval
    over the seeds where both runs were read, and the verdict they give."""
    a, b = res.scenario.opts
    diff = interval(difference(res, metric, k))
    verdict = paired_verdict(res, metric, k)
    if diff["n"] == 0 or verdict.startswith("not defined"):
        return f"{b} − {a} per seed: {verdict}"
    if diff["lo"] is None:
        return f"{b} − {a} per seed: mean {diff['mean']:.4g} over 1 seed: {verdict}"
    return (
        f"{b} − {a} per seed: mean {diff['mean']:.4g}, 95% interval [{diff['lo']:.4g}, "
        f"{diff['hi']:.4g}] over {diff['n']} seeds: {verdict}"
    )
