"""Many-seed network studies: two optimizers (AdamW against Lion by default) trained on
the same data from the same S initializations, optionally over a small grid of learning
rates, with the statistics of THEORY §5's application (Lion's memory does not
anti-regularize, AdamW's does): final train and test loss, generalization gap,
sharpness (the Hessian's largest eigenvalue, core.sharpness) and the implicit regularizer
h R along training; means with 95% intervals and per-seed paired differences.

Seeds vary the initialization (seed0 + i); the data set is drawn once from seed0, so
both optimizers see the same data and each seed is a pair.  Only the memory run (the
optimizer itself) is simulated: core.dynamics.simulate with one row per (seed, lr).

The work is cut into fixed chunks of CHUNK seeds, each one batched simulate call
(stacked parameters), computed by `chunk` from plain arguments.  The chunks run in
process, or as Ray tasks when an address is given (RAY_ADDRESS, or `--ray` on the CLI):
the same chunks on the same inputs, reassembled in seed order, so the numbers are
identical wherever they run.  Ray is imported only then.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from core import compute, limits
from core.dynamics import simulate
from core.limits import (
    MAX_SEEDS,
    MAX_STUDY_CURVES,
    MAX_STUDY_LRS,
    MAX_STUDY_STEPS,
    MAX_STUDY_STORED,
)
from core.mlp import MLP
from core.network_scenario import (
    NETWORK_FIELDS,
    NetworkData,
    dataset,
    parameter_count,
    train_size,
)
from core.optimizers import OPTIMIZERS, make_optimizer
from core.query import (
    Field,
    constant,
    fmt,
    in_range,
    integer,
    names,
    numbers,
    query_dataclass,
)
from core.registry import record
from core.regularizer import common_warnings, potential_warnings, rms_ratio
from core.scenario import HYPER_DEFAULTS
from core.sharpness import PRODUCTS, sharpness
from core.training import as_tensors, data_loss, perturbation, values_and_grads

Tensor = torch.Tensor
CHUNK = 8  # seeds per batched simulate call (and per Ray task)
METRICS = ("train_loss", "test_loss", "gap", "sharpness", "hR_final", "hR_mean")
# each h R metric (M^(n) at the run's last update) and the same in the limit n -> infinity
LIMITS = {"hR_final": "hR_limit_final", "hR_mean": "hR_limit_mean"}
STATISTICS = METRICS + tuple(LIMITS.values())
REGULARIZER = (*LIMITS, *LIMITS.values())  # the metrics of h R: not defined off the theorem


def _check_opts(opts: tuple, s) -> None:
    if len(opts) != 2 or opts[0] == opts[1]:
        raise ValueError("needs two different optimizers, e.g. adamw,lion")
    for o in opts:
        if o not in OPTIMIZERS:
            raise ValueError(f"{o!r} is not one of {', '.join(OPTIMIZERS)}")


def _check_lrs(lrs: tuple, s) -> None:
    if not 1 <= len(lrs) <= MAX_STUDY_LRS or len(set(lrs)) != len(lrs):
        raise ValueError(f"needs 1 to {MAX_STUDY_LRS} different learning rates")
    for lr in lrs:
        in_range(0.0, 10.0, lo_open=True)(lr, s)


def study_seconds(s, steps: int, seeds: int) -> float:
    """The cost model's time of the study parsed so far, with `steps` and `seeds`."""
    calls = len(s["opts"]) * math.ceil(seeds / CHUNK)  # batched simulate calls
    rows = len(s["opts"]) * seeds * len(s["lrs"])
    units, d = s["width"] * s["depth"], parameter_count(s)
    n_train = train_size(s["n"], s["split"])
    return limits.study_seconds(units, d, steps, n_train, rows, calls, PRODUCTS)


def _check_steps(steps: int, s) -> None:
    in_range(1, MAX_STUDY_STEPS)(steps, s)
    runs, d = 2 * s["seeds"] * len(s["lrs"]), parameter_count(s)
    stored = d * (steps + 1) * min(s["seeds"], CHUNK) * len(s["lrs"])
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
    Field("opts", names, constant(("adamw", "lion")), _check_opts),
    Field("lrs", numbers, constant((0.01,)), _check_lrs),
    *(_NET[k] for k in ("data", "n", "noise", "split", "width", "depth", "act", "seed")),
    Field("seeds", integer, constant(16), in_range(2, MAX_SEEDS)),
    # 300 steps of the default 16 seeds measured 5.4 s (issue 18): 200 fit the budget
    Field("steps", integer, constant(150), _check_steps),
)


@query_dataclass
class StudyScenario(NetworkData):
    """Two optimizers (each with its usual hyperparameters), learning rates, data, network,
    the first seed and the number of seeds, steps."""

    SPECS = STUDY_FIELDS

    opts: tuple[str, ...]
    lrs: tuple[float, ...]
    seeds: int
    steps: int

    @property
    def seed_list(self) -> list[int]:
        return [self.seed + i for i in range(self.seeds)]

    def chunks(self) -> list[tuple[int, ...]]:
        seeds = self.seed_list
        return [tuple(seeds[i : i + CHUNK]) for i in range(0, len(seeds), CHUNK)]


# --- one chunk: plain arguments in, numpy arrays out (a Ray task runs exactly this) ----


def chunk(query: str, opt: str, seeds: tuple[int, ...], device: str = "cpu") -> dict:
    """Train optimizer `opt` from each seed's initialization at each learning rate of the
    study `query` (one batched simulate; rows ordered seed-major), and measure.

    Returns arrays of shape (len(seeds), len(lrs)) per metric, and the curves
    (len(seeds), len(lrs), steps + 1) of the training loss and of h R along the run, R
    from M^(n) at the run's last update and in the limit n -> infinity (NaN where the
    update is not smooth: not defined, THEORY §11)."""
    with limits.allowance(math.inf):  # its cost was admitted where the study was parsed
        s = StudyScenario.parse(query)
    dev = torch.device(device)
    data = dataset(s)
    mlp = MLP(data.in_dim, s.width, s.depth, s.act, data.out_dim)
    train = data_loss(mlp, data.task, *as_tensors(data.x_train, data.y_train, dev))
    test = data_loss(mlp, data.task, *as_tensors(data.x_test, data.y_test, dev))
    S, K, d = len(seeds), len(s.lrs), mlp.size
    theta0 = torch.stack([mlp.init(k, device=dev) for k in seeds]).repeat_interleave(K, 0)
    lr = np.tile(np.asarray(s.lrs, dtype=np.float64), S)
    hyper = HYPER_DEFAULTS[opt]
    run = simulate(train, make_optimizer(opt, **hyper), theta0, lr, s.steps, ("memory",))
    paths = run.memory  # (steps + 1, S K, d)
    T = s.steps + 1
    L, g = values_and_grads(train, mlp, len(data.y_train), paths.reshape(-1, d))
    h = torch.as_tensor(lr, device=dev)
    hR, limit = (
        (h * perturbation(opt, hyper, L, g, paths.reshape(-1, d), n).reshape(T, S * K)).T
        for n in (s.regularizer_step, None)
    )  # (S K, T) each
    final = paths[-1]
    with torch.no_grad():
        train_final = train(final)
        test_final = test(final) if len(data.y_test) else torch.full_like(train_final, math.nan)
    sharp = sharpness(train, final, np.repeat(seeds, K))
    dead = torch.as_tensor(run.diverged["memory"] >= 0, device=dev)

    def shaped(v: Tensor, *tail: int) -> np.ndarray:
        v = torch.where(dead.reshape(-1, *([1] * len(tail))), math.nan, v)
        return v.reshape(S, K, *tail).cpu().numpy()

    return {
        "train_loss": shaped(train_final),
        "test_loss": shaped(test_final),
        "gap": shaped(test_final - train_final),
        "sharpness": shaped(sharp),
        "hR_final": shaped(hR[:, -1]),
        "hR_mean": shaped(hR.mean(-1)),
        "hR_limit_final": shaped(limit[:, -1]),
        "hR_limit_mean": shaped(limit.mean(-1)),
        "hR_curve": shaped(hR, T),
        "hR_limit_curve": shaped(limit, T),
        "train_curve": shaped(L.reshape(T, S * K).T, T),
        "diverged": run.diverged["memory"].reshape(S, K),
    }


# --- running the chunks: in process, or on Ray -----------------------------------------


def ray_address(explicit: str | None = None) -> str | None:
    """The Ray cluster to use: `explicit` (the CLI's --ray), else RAY_ADDRESS, else none."""
    return explicit or os.environ.get("RAY_ADDRESS") or None


def _run_chunks(jobs: list[tuple], address: str | None) -> list[dict]:
    if address is None:
        return [chunk(*job) for job in jobs]
    try:
        import ray  # optional dependency (requirements-ray.txt): only with an address
    except ImportError:
        raise ValueError(
            f"a Ray address ({address}) is set but ray is not installed: "
            "pip install -r requirements-ray.txt"
        ) from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False)
        except Exception as err:  # Ray raises several kinds; one line for the CLI
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"cannot use the Ray cluster at {address}: {message}") from None
    task = ray.remote(num_cpus=1)(chunk)
    return ray.get([task.remote(*job) for job in jobs])  # results in job order


@dataclass(frozen=True, eq=False)
class StudyResult:
    """per_seed[opt][metric]: (S, K) arrays for every metric of STATISTICS (NaN where the
    run diverged or the value is not defined), curves[opt][name]: (S, K, steps + 1);
    seeds, lrs as run."""

    scenario: StudyScenario
    seeds: list[int]
    per_seed: dict[str, dict[str, np.ndarray]]
    curves: dict[str, dict[str, np.ndarray]]
    diverged: dict[str, np.ndarray]


def compute_study(s: StudyScenario, address: str | None = None) -> StudyResult:
    """Every chunk of every optimizer (in process unless `address`), reassembled in seed
    order."""
    query = s.to_query()
    device = str(compute.device())
    jobs = [(query, opt, seeds, device) for opt in s.opts for seeds in s.chunks()]
    results = _run_chunks(jobs, address)
    per_seed, curves, diverged = {}, {}, {}
    n = len(s.chunks())
    for j, opt in enumerate(s.opts):
        parts = results[j * n : (j + 1) * n]
        joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        per_seed[opt] = {k: joined[k] for k in STATISTICS}
        curves[opt] = {k: joined[k] for k in ("hR_curve", "hR_limit_curve", "train_curve")}
        diverged[opt] = joined["diverged"]
    return StudyResult(s, s.seed_list, per_seed, curves, diverged)


# --- statistics ------------------------------------------------------------------------

_T975 = {  # exact (to double precision) for few seeds, where the expansion is poor
    1: 12.706204736174698,
    2: 4.302652729749464,
    3: 3.182446305284263,
    4: 2.776445105197793,
    5: 2.570581835636314,
    6: 2.446911851144969,
    7: 2.364624251592785,
    8: 2.306004135204166,
    9: 2.262157162798205,
}


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with df degrees of freedom: tabulated for
    df <= 9, else the Cornish-Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5;
    error below 1e-5 from df = 10 on)."""
    if df in _T975:
        return _T975[df]
    z = 1.959963984540054
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def interval(values: np.ndarray) -> dict:
    """Mean and 95% t-interval over the finite values (seeds), and their count."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    mean = float(v.mean())
    if v.size < 2:
        return {"mean": mean, "lo": None, "hi": None, "n": 1}
    half = t_quantile(v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "n": int(v.size)}


def summary(res: StudyResult) -> dict:
    """Per learning rate: each optimizer's mean and 95% interval of every metric, and the
    paired difference (second optimizer minus first) over the seeds where both ran."""
    a, b = res.scenario.opts
    out = {}
    for k, lr in enumerate(res.scenario.lrs):
        entry = {
            opt: {m: interval(res.per_seed[opt][m][:, k]) for m in STATISTICS} for opt in (a, b)
        }
        entry[f"{b} - {a}"] = {
            m: interval(res.per_seed[b][m][:, k] - res.per_seed[a][m][:, k]) for m in STATISTICS
        }
        out[fmt(lr)] = entry
    return out


def study_warnings(res: StudyResult) -> list[str]:
    """What a reader of the study must know, the page and the JSON alike: per optimizer
    the regularizer card's warnings by its rule (a non-smooth update, whose h R is not
    defined; a correction far from its n -> infinity limit at the run's step, read from
    h R against the limit over every run), diverged runs, and runs without a sharpness."""
    s, out = res.scenario, []
    for opt in s.opts:
        label = record(opt).label
        hR, limit = (res.curves[opt][k] for k in ("hR_curve", "hR_limit_curve"))
        fraction = rms_ratio(hR, limit)
        hyper = HYPER_DEFAULTS[opt]
        n = s.regularizer_step
        said = common_warnings(opt, hyper, n, fraction) + potential_warnings(opt, hyper, n)
        out += [f"{label}: {w}" for w in said]
        dead = res.diverged[opt] >= 0
        for k, lr in enumerate(s.lrs):
            if dead[:, k].any():
                out.append(
                    f"{label}: {int(dead[:, k].sum())} of {len(res.seeds)} runs diverged at "
                    f"h = {lr:g}; the means leave them out"
                )
        missing = int((~dead & ~np.isfinite(res.per_seed[opt]["sharpness"])).sum())
        if missing:
            out.append(
                f"{label}: no sharpness for {missing} of {dead.size} runs (the Lanczos solver "
                "did not converge, or the Hessian is not finite); the means leave them out"
            )
    return out


def outside_theorem(opt: str) -> bool:
    """Whether the optimizer's update (with the defaults a study uses) is not smooth: its
    h R is not defined (THEORY §11)."""
    return not record(opt).smooth(HYPER_DEFAULTS[opt])


def paired_verdict(res: StudyResult, metric: str, k: int) -> str:
    """What the paired difference (second optimizer minus first) of `metric` at the k-th
    learning rate shows over the seeds, read from its 95% interval."""
    a, b = res.scenario.opts
    undefined = [o for o in (a, b) if outside_theorem(o)]
    if metric in REGULARIZER and undefined:
        names = " and ".join(record(o).label for o in undefined)
        return f"not defined: h·R of {names} is outside the theorem (THEORY §11)"
    diff = interval(res.per_seed[b][metric][:, k] - res.per_seed[a][metric][:, k])
    if diff["n"] == 0:
        return "no seed has both values"
    if diff["lo"] is None:
        return "too few seeds for an interval"
    if diff["lo"] > 0:
        return f"{b} is higher: the interval excludes 0"
    if diff["hi"] < 0:
        return f"{b} is lower: the interval excludes 0"
    return "the interval contains 0: no difference shown at this sample size"
