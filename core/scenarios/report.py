"""The documents the CLI prints and the pages export: JSON of 2D runs, order studies,
regularizer verdicts, networks, sweeps and studies, and CSV of 2D paths and sweeps, with
the one rule every JSON report follows: no NaN or infinity, null instead (`to_json`, the
one way a report becomes text, checks it)."""

from __future__ import annotations

import io
import json
import math

import numpy as np

from core.analyses import compute, network, paper
from core.analyses.compute import PathSummary
from core.analyses.network import NetworkResult
from core.analyses.order import farther, run_warnings
from core.analyses.regularizer import residual_text
from core.analyses.study import StudyResult, matched, study_warnings, summary
from core.analyses.sweep import METRICS, SweepResult
from core.engine.dynamics import DYNAMICS
from core.engine.registry import record
from core.scenarios.network_scenario import CompareScenario, NetworkScenario
from core.scenarios.pair import settings
from core.scenarios.query import ScenarioError
from core.scenarios.scenario import Scenario


def finite_or_none(a):
    """A number or an array as JSON-ready floats (nested lists), NaN and infinities as
    None (JSON has neither; a diverged value is null)."""
    a = np.asarray(a, dtype=float)
    out = a.astype(object)
    out[~np.isfinite(a)] = None
    return out.tolist()


def to_json(document: dict, indent: int | None = None) -> str:
    """A report as JSON text, whatever it holds: numpy numbers and arrays as Python's,
    every float through finite_or_none, and json's allow_nan=False to prove it."""
    return json.dumps(_cleaned(document), indent=indent, allow_nan=False)


def _cleaned(v):
    if isinstance(v, dict):
        return {k: _cleaned(x) for k, x in v.items()}
    if isinstance(v, list | tuple | np.ndarray):
        return [_cleaned(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    return finite_or_none(v) if isinstance(v, float) else v


def simulate_json(s: Scenario, runs: PathSummary | None = None) -> dict:
    """The three runs of s, each up to its last finite point, with their warnings; `runs`:
    their summary, already computed (the page's cached one: a download computes nothing)."""
    runs = compute.summary(s) if runs is None else runs
    out = {"scenario": s.to_query(), "settings": _settings(s)}
    for k in DYNAMICS:
        out[k] = runs.paths[k].tolist()
    out["diverged"] = dict(runs.diverged)
    out["warnings"] = run_warnings(record(s.opt), s.hyper, runs, s.win)
    return out


def regularizer_json(s: Scenario) -> dict:
    """The perturbed loss's verdict over the window (THEORY §9), for the page's view."""
    surf = compute.surfaces(s)
    rep = compute.regularizer(s, surf)
    best = rep.best
    return {
        "scenario": s.to_query(),
        "formula": best and best.formula,  # null: no closed form (a declared optimizer)
        "regime": best and best.regime,
        "in_regime": rep.in_regime,
        "forms": [
            {"formula": f.formula, "regime": f.regime, "inside_fraction": f.inside}
            for f in rep.forms
        ],
        "crossover": rep.crossover,
        "n": "inf" if rep.n is None else rep.n,
        "limit_fraction": finite_or_none(rep.limit_fraction),
        "positive_fraction": finite_or_none(rep.window.positive_fraction),
        "run_positive_fraction": finite_or_none(rep.run.positive_fraction) if rep.run else None,
        "effect": rep.effect,
        "run_effect": rep.run.effect if rep.run else None,
        "source": surf.source,
        "residual": surf.residual,
        "residual_half_grid": surf.residual_coarse,
        "grid_error": surf.grid_error,
        "residual_note": residual_text(surf),
        "sign_agreement_half_grid": surf.sign_agreement,
        "warnings": list(rep.warnings),
    }


def order_json(s: Scenario) -> dict:
    st = compute.order(s)

    return {
        "scenario": s.to_query(),
        "h": list(st.h),
        "horizon": s.T,
        "corrected": finite_or_none(st.corrected),
        "memoryless": finite_or_none(st.memoryless),
        "slopes": {
            "corrected": finite_or_none(st.slopes_corrected),
            "memoryless": finite_or_none(st.slopes_memoryless),
        },
        "asymptotic": list(st.asymptotic),
        "fitted_slope": finite_or_none([st.fit_corrected, st.fit_memoryless]),
        "fitted_rows": st.fit_rows,
        "asymptotic_regime": st.reached,
        "next_h": list(st.next_h),  # no fit: the smaller step sizes to try
        "warnings": list(st.warnings),
    }


def _settings(s) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.values().items()}


def paths_csv(summary: PathSummary) -> str:
    """A 2D run's paths: one row per dynamics and step."""
    out = io.StringIO()
    out.write("dynamics,n,x,y,loss\n")
    for k in DYNAMICS:
        for n, ((x, y), value) in enumerate(zip(summary.paths[k], summary.losses[k], strict=True)):
            out.write(f"{k},{n},{float(x)!r},{float(y)!r},{float(value)!r}\n")
    return out.getvalue()


# --- networks -------------------------------------------------------------------------


def network_warnings(r: NetworkResult) -> list[str]:
    """What a reader of this run must know (THEORY §9, §11): the regularizer's warnings
    (a non-smooth update, a correction far from its n -> infinity limit at the run's
    step), divergence, overflow, and a corrected run farther from the memory run than
    the memoryless one."""
    out = list(r.regularizer.warnings)
    for k in DYNAMICS:
        if r.diverged[k] is not None:
            out.append(f"divergence: the {k} run diverged at step {r.diverged[k]}")
        elif not np.isfinite(r.train_loss[k]).all():
            out.append(f"overflow: the loss of the {k} run is not finite at some steps")
    s = r.scenario
    far = farther(record(s.opt), s.hyper, r.max_distance("corrected"), r.max_distance("memoryless"))
    return [*out, far] if far else out


def network_json(s: NetworkScenario) -> dict:
    r = network.result(s)
    return {
        "scenario": s.to_query(),
        "parameters": r.d,
        "train_loss": {k: finite_or_none(r.train_loss[k]) for k in DYNAMICS},
        "test_loss": {k: finite_or_none(r.test_loss[k]) for k in DYNAMICS},
        "test_accuracy": {k: finite_or_none(r.test_accuracy[k]) for k in DYNAMICS},
        "distance": {k: finite_or_none(v) for k, v in r.distance.items()},
        "regularizer": {
            "formula": r.regularizer.best and r.regularizer.best.formula,
            "regime": r.regularizer.best and r.regularizer.best.regime,
            "in_regime": r.regularizer.in_regime,
            "effect": r.regularizer.effect,
            "positive_fraction": finite_or_none(r.regularizer.window.positive_fraction),
            "grad_sq": finite_or_none(r.grad_sq),
            "grad_l1": finite_or_none(r.grad_l1),
            "n": r.regularizer.n,
            "hR": finite_or_none(r.hR),
            "hR_limit": finite_or_none(r.hR_limit),
            "limit_fraction": finite_or_none(r.regularizer.limit_fraction),
        },
        "diverged": r.diverged,
        "warnings": network_warnings(r),
    }


def compare_json(c: CompareScenario) -> dict:
    """/network's compare mode (`python -m core network 'compare=1&...'`): what each
    optimizer ran with (its own learning rate and weight decay, core.scenarios.pair), what is
    matched, and per optimizer the losses, gap and h R of its memory run."""
    refusal = network.compare_refusal(c)
    if refusal:
        raise ScenarioError("steps", refusal)
    results = [network.result(c.run(opt)) for opt in c.opts]
    rows = network.compare_rows(results)
    return {
        "scenario": f"compare=1&{c.to_query()}",
        "settings": settings(c),
        "matched": network.compare_matched(c),
        "optimizers": {
            row.opt: {
                "lr": row.lr,
                "hyper": row.hyper,
                "train_loss": finite_or_none(row.train_loss),
                "test_loss": finite_or_none(row.test_loss),
                "gap": finite_or_none(row.gap),
                "effect": row.effect,
                "hR": finite_or_none(row.hR),
                "hR_mean": finite_or_none(row.hR_mean),
                "hR_limit": finite_or_none(row.hR_limit),
            }
            for row in rows
        },
        "text": network.compare_text(rows),
        "warnings": [
            f"{record(r.scenario.opt).label}: {w}" for r in results for w in network_warnings(r)
        ],
    }


# --- sweeps and studies ---------------------------------------------------------------


def sweep_json(res: SweepResult) -> dict:
    s = res.scenario
    metrics = {k: finite_or_none(v) for k, v in res.metrics.items() if k != "effect"}
    metrics["effect"] = res.metrics["effect"].astype(int).tolist()
    return {
        "scenario": s.to_query(),
        "x": {"key": s.x.key, "values": res.x.tolist(), "log": s.x.log},
        "y": {"key": s.y.key, "values": res.y.tolist(), "log": s.y.log},
        "metrics": metrics,
        "descriptions": METRICS,
        "diverged": {k: np.where(v >= 0, v, -1).tolist() for k, v in res.diverged.items()},
    }


def sweep_csv(res: SweepResult) -> str:
    """One line per cell: its indices, its two hyperparameter values, every metric (empty
    where a needed run diverged) and the step where each run diverged (-1: never)."""
    s = res.scenario
    names = list(res.metrics)
    head = ["ix", "iy", s.x.key, s.y.key, *names, *(f"diverged_{k}" for k in DYNAMICS)]
    lines = [",".join(head)]
    for iy, yv in enumerate(res.y):
        for ix, xv in enumerate(res.x):
            values = [res.metrics[k][iy, ix] for k in names]
            cells = [repr(float(v)) if math.isfinite(v) else "" for v in values]
            steps = [str(int(res.diverged[k][iy, ix])) for k in DYNAMICS]
            lines.append(
                ",".join([str(ix), str(iy), repr(float(xv)), repr(float(yv)), *cells, *steps])
            )
    return "\n".join(lines) + "\n"


def study_json(res: StudyResult) -> dict:
    s = res.scenario
    return {
        "scenario": s.to_query(),
        "opts": list(s.opts),
        "lrs": {opt: list(s.rates(opt)) for opt in s.opts},  # the k-th of each: column k
        "wd": {opt: s.hyper(opt).get("wd") for opt in s.opts},
        # what the optimizers are matched at: each run read at its first step with training
        # loss <= until (null: at the end of the budget), within `steps`
        "matched": {"train_loss": s.until or None, "steps": s.steps},
        "settings": settings(s) + [matched(res)],
        "seeds": res.seeds,
        "per_seed": {
            opt: {m: finite_or_none(v) for m, v in metrics.items()}
            for opt, metrics in res.per_seed.items()
        },
        "diverged": {opt: v.tolist() for opt, v in res.diverged.items()},
        "left_out": {
            opt: {k: v.sum(0).tolist() for k, v in res.left_out(opt).items()} for opt in s.opts
        },
        # the step of M^(n) behind hR_* (hR_limit_*: n -> infinity): each run's last update,
        # per_seed steps - 1; the same for every run without a threshold
        "n": None if s.until else s.regularizer_step,
        "summary": summary(res),
        "warnings": study_warnings(res),
    }


# --- the paper's experiments (core.analyses.paper) ----------------------------------------------


def _paper_common(experiment: str, result) -> dict:
    return {
        "experiment": experiment,
        "scenario": result.scenario.to_query(),
        "dataset": result.dataset,
    }


def distance_json(r: paper.DistanceResult) -> dict:
    s = r.scenario
    return _paper_common("distance", r) | {
        "opt": list(s.opt),
        "h": list(s.h),
        "steps": paper.distance_steps(s.h, s.t),
        "t": [r.t.tolist() for _ in s.h],
        "memoryless": {o: finite_or_none(r.memoryless[o]) for o in s.opt},
        "corrected": {o: finite_or_none(r.corrected[o]) for o in s.opt},
        "largest": {k: {o: finite_or_none(v[o]) for o in s.opt} for k, v in r.largest.items()},
        "order": {k: {o: finite_or_none(v[o]) for o in s.opt} for k, v in r.order.items()},
        "caption": paper.distance_caption(r),
        "warnings": list(r.warnings),
    }


# the JSON's names of an interval's keys (core.analyses.study.interval's mean, lo, hi)
_BOUNDS = {"mean": "mean", "low": "lo", "high": "hi"}


def _bounds(stats: dict) -> dict:
    return {k: stats[v] for k, v in _BOUNDS.items()}


def _band(stats: list[dict]) -> dict:
    return {k: [v[own] for v in stats] for k, own in _BOUNDS.items()}


def beta2_json(r: paper.Beta2Result) -> dict:
    s, st = r.scenario, r.stats()
    lion = st["lion"]
    return _paper_common("beta2", r) | {
        "opt": s.opt,
        "b2": list(s.b2),
        "until": s.until,
        "seeds": s.seed_list,
        "test_accuracy": _band(st["test_accuracy"]),
        "steps_to_threshold": _band(st["steps_to_threshold"]),
        "hR": _band(st["hR"]),
        "reached": [int(np.isfinite(row).sum()) for row in r.steps],
        "lion": {
            "lr": s.lion_lr,
            "wd": s.lion_wd,
            "test_accuracy": _bounds(lion),
            "steps_to_threshold": _bounds(st["lion_steps"]),
        },
        "per_seed": {
            "test_accuracy": finite_or_none(r.accuracy),
            "steps_to_threshold": finite_or_none(r.steps),
            "hR": finite_or_none(r.hR),
            "lion_test_accuracy": finite_or_none(r.lion_accuracy),
        },
        "caption": paper.beta2_caption(r),
        "warnings": list(r.warnings),
    }


def sharpness_json(r: paper.SharpnessResult) -> dict:
    s = r.scenario
    return _paper_common("sharpness", r) | {
        "opt": s.opt,
        "b1": list(s.b1),
        "h": s.h,
        "threshold": finite_or_none(r.threshold),
        "step": r.step.tolist(),
        "sharpness": finite_or_none(r.sharpness),
        "train_loss": finite_or_none(r.train_loss),
        "caption": paper.sharpness_caption(r),
        "warnings": list(r.warnings),
    }


PAPER_JSON = {"distance": distance_json, "beta2": beta2_json, "sharpness": sharpness_json}


def paper_csv(experiment: str, r) -> str:
    """The numbers of a figure of /paper, one line per point."""
    out = io.StringIO()
    s = r.scenario
    if experiment == "distance":
        out.write("opt,h,t,memoryless,corrected\n")
        for o in s.opt:
            for i, h in enumerate(s.h):
                for t, m, c in zip(r.t, r.memoryless[o][i], r.corrected[o][i], strict=True):
                    out.write(f"{o},{h!r},{float(t)!r},{float(m)!r},{float(c)!r}\n")
    elif experiment == "beta2":
        out.write("opt,b2,seed,steps_to_threshold,test_accuracy,hR\n")
        for i, b in enumerate(s.b2):
            for j, seed in enumerate(s.seed_list):
                values = (r.steps[i, j], r.accuracy[i, j], r.hR[i, j])
                out.write(f"{s.opt},{b!r},{seed}," + ",".join(_cell(v) for v in values) + "\n")
        for j, seed in enumerate(s.seed_list):
            values = (r.lion_steps[j], r.lion_accuracy[j], math.nan)
            out.write(f"lion,,{seed}," + ",".join(_cell(v) for v in values) + "\n")
    else:
        out.write("b1,threshold,step,sharpness,train_loss\n")
        for i, b in enumerate(s.b1):
            for j, n in enumerate(r.step):
                values = (r.sharpness[i, j], r.train_loss[i, j])
                out.write(
                    f"{b!r},{float(r.threshold[i])!r},{int(n)},"
                    + ",".join(_cell(v) for v in values)
                    + "\n"
                )
    return out.getvalue()


def _cell(v) -> str:
    """A CSV value: the float, or empty where it is not finite (a run that never reached
    its threshold, a solve that did not converge)."""
    return repr(float(v)) if math.isfinite(v) else ""
