"""Many-seed network studies: two optimizers (AdamW against Lion by default) trained on
the same data from the same S initializations, optionally over a small grid of learning
rates, with the statistics of THEORY §5's application (Lion's memory does not
anti-regularize, AdamW's does): final train and test loss, generalization gap,
sharpness (power iteration with Hessian-vector products) and the implicit regularizer
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

from core import compute
from core.cancel import Check, checked
from core.datasets import make_dataset
from core.dynamics import simulate
from core.limits import (
    MAX_SEEDS,
    MAX_STUDY_CURVES,
    MAX_STUDY_LRS,
    MAX_STUDY_STEPS,
    MAX_STUDY_STORED,
    MAX_STUDY_WORK,
)
from core.mlp import MLP
from core.network_scenario import NETWORK_FIELDS, NetworkData, parameter_count, train_size
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
from core.scenario import HYPER_DEFAULTS
from core.training import as_tensors, data_loss, perturbation, values_and_grads

Tensor = torch.Tensor
CHUNK = 8  # seeds per batched simulate call (and per Ray task)
POWER_ITERATIONS = 30  # Hessian-vector products per sharpness estimate
METRICS = ("train_loss", "test_loss", "gap", "sharpness", "hR_final", "hR_mean")


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


def study_work(s) -> int:
    """Rows x parameters x training points x steps: what the training costs."""
    rows = 2 * s["seeds"] * len(s["lrs"])
    return rows * parameter_count(s) * train_size(s["n"], s["split"]) * s["steps"]


def _check_steps(steps: int, s) -> None:
    in_range(1, MAX_STUDY_STEPS)(steps, s)
    work = study_work(s | {"steps": steps})
    runs, d = 2 * s["seeds"] * len(s["lrs"]), parameter_count(s)
    if work > MAX_STUDY_WORK:
        raise ValueError(
            f"{runs} runs x {d} parameters x {train_size(s['n'], s['split'])} points x "
            f"{steps} steps = {work:.3g} exceeds the cap {MAX_STUDY_WORK:.3g}; lower steps, "
            "seeds, lrs, width, depth or n"
        )
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


_NET = {f.key: f for f in NETWORK_FIELDS}
STUDY_FIELDS = (
    Field("opts", names, constant(("adamw", "lion")), _check_opts),
    Field("lrs", numbers, constant((0.01,)), _check_lrs),
    *(_NET[k] for k in ("data", "n", "noise", "split", "width", "depth", "act", "seed")),
    Field("seeds", integer, constant(16), in_range(2, MAX_SEEDS)),
    Field("steps", integer, constant(300), _check_steps),
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


def sharpness(loss, theta: Tensor, seeds, iterations: int = POWER_ITERATIONS) -> Tensor:
    """The dominant Hessian eigenvalue of the loss at each row of theta (R, d), by power
    iteration on Hessian-vector products (one graph, double backward); each row starts
    from a unit vector drawn from its own seed, so a row's value does not depend on the
    rows beside it."""
    start = [
        torch.randn(
            theta.shape[1], generator=torch.Generator().manual_seed(int(k)), dtype=torch.float64
        )
        for k in seeds
    ]
    v = torch.stack(start).to(theta)
    v = v / v.norm(dim=-1, keepdim=True)
    t = theta.detach().requires_grad_(True)
    rayleigh = torch.zeros(theta.shape[0], dtype=theta.dtype, device=theta.device)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(loss(t).sum(), t, create_graph=True)
        for _ in range(iterations):
            (hv,) = torch.autograd.grad(g, t, v, retain_graph=True)
            rayleigh = (v * hv).sum(-1)
            v = hv / hv.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return rayleigh.detach()


def chunk(
    query: str, opt: str, seeds: tuple[int, ...], device: str = "cpu", check: Check = None
) -> dict:
    """Train optimizer `opt` from each seed's initialization at each learning rate of the
    study `query` (one batched simulate; rows ordered seed-major), and measure; `check`
    is called before every step and evaluation chunk (core.cancel).

    Returns arrays of shape (len(seeds), len(lrs)) per metric, and the curves
    (len(seeds), len(lrs), steps + 1) of the training loss and of h R along the run."""
    s = StudyScenario.parse(query)
    dev = torch.device(device)
    data = make_dataset(s.data, s.n, s.noise, s.split, s.seed)
    mlp = MLP(data.in_dim, s.width, s.depth, s.act)
    train = data_loss(mlp, data.task, *as_tensors(data.x_train, data.y_train, dev))
    test = data_loss(mlp, data.task, *as_tensors(data.x_test, data.y_test, dev))
    S, K, d = len(seeds), len(s.lrs), mlp.size
    theta0 = torch.stack([mlp.init(k, device=dev) for k in seeds]).repeat_interleave(K, 0)
    lr = np.tile(np.asarray(s.lrs, dtype=np.float64), S)
    hyper = HYPER_DEFAULTS[opt]
    run = simulate(
        checked(train, check), make_optimizer(opt, **hyper), theta0, lr, s.steps, ("memory",)
    )
    paths = run.memory  # (steps + 1, S K, d)
    T = s.steps + 1
    L, g = values_and_grads(train, mlp, len(data.y_train), paths.reshape(-1, d), check)
    R = perturbation(opt, hyper, L, g, paths.reshape(-1, d)).reshape(T, S * K)
    hR = (torch.as_tensor(lr, device=dev) * R).T  # (S K, T)
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
        "hR_curve": shaped(hR, T),
        "train_curve": shaped(L.reshape(T, S * K).T, T),
        "diverged": run.diverged["memory"].reshape(S, K),
    }


# --- running the chunks: in process, or on Ray -----------------------------------------


def ray_address(explicit: str | None = None) -> str | None:
    """The Ray cluster to use: `explicit` (the CLI's --ray), else RAY_ADDRESS, else none."""
    return explicit or os.environ.get("RAY_ADDRESS") or None


def _run_chunks(jobs: list[tuple], address: str | None, check: Check) -> list[dict]:
    if address is None:
        return [chunk(*job, check=check) for job in jobs]
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
    refs = [task.remote(*job) for job in jobs]
    pending = refs
    while check is not None and pending:  # stopped: the tasks not done are cancelled
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.1)
        try:
            check()
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
    return ray.get(refs)  # results in job order


@dataclass(frozen=True, eq=False)
class StudyResult:
    """per_seed[opt][metric]: (S, K) arrays (NaN where the run diverged), curves[opt]
    [name]: (S, K, steps + 1); seeds, lrs as run."""

    scenario: StudyScenario
    seeds: list[int]
    per_seed: dict[str, dict[str, np.ndarray]]
    curves: dict[str, dict[str, np.ndarray]]
    diverged: dict[str, np.ndarray]


def compute_study(s: StudyScenario, address: str | None = None, check: Check = None) -> StudyResult:
    """Every chunk of every optimizer (in process unless `address`), reassembled in seed
    order; `check` is called between steps and chunks (core.cancel)."""
    query = s.to_query()
    device = str(compute.device())
    jobs = [(query, opt, seeds, device) for opt in s.opts for seeds in s.chunks()]
    results = _run_chunks(jobs, address, check)
    per_seed, curves, diverged = {}, {}, {}
    n = len(s.chunks())
    for j, opt in enumerate(s.opts):
        parts = results[j * n : (j + 1) * n]
        joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        per_seed[opt] = {k: joined[k] for k in METRICS}
        curves[opt] = {k: joined[k] for k in ("hR_curve", "train_curve")}
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
        entry = {opt: {m: interval(res.per_seed[opt][m][:, k]) for m in METRICS} for opt in (a, b)}
        entry[f"{b} - {a}"] = {
            m: interval(res.per_seed[b][m][:, k] - res.per_seed[a][m][:, k]) for m in METRICS
        }
        out[fmt(lr)] = entry
    return out
