"""python -m core simulate|order|network|sweep|study|regularizer 'QUERY': the page
URLs' query strings on the command line, JSON on stdout; any bad input is one line on
stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from core import compute
from core.dynamics import DYNAMICS
from core.expression import ExpressionError
from core.order import run_warnings
from core.query import ScenarioError, numbers
from core.registry import record
from core.regularizer import residual_text
from core.scenario import Scenario


def _finite_path(path, diverged_at: int) -> list[list[float]]:
    """The trajectory up to its last finite point."""
    end = path.shape[0] if diverged_at < 0 else diverged_at
    return path[:end].tolist()


def simulate_json(s: Scenario) -> dict:
    run = compute.trajectories(s)
    out = {"scenario": s.to_query(), "settings": _settings(s)}
    for k in DYNAMICS:
        out[k] = _finite_path(run[k][:, 0].cpu().numpy(), int(run.diverged[k][0]))
    out["diverged"] = {k: (int(d[0]) if d[0] >= 0 else None) for k, d in run.diverged.items()}
    out["warnings"] = run_warnings(record(s.opt), s.hyper, compute.summary(s), s.win)
    return out


def _number(v: float):
    """JSON has no inf/nan: null."""
    return v if math.isfinite(v) else None


def regularizer_json(s: Scenario) -> dict:
    """The perturbed loss's verdict over the window (THEORY §9), for the page's view."""
    surf = compute.surfaces(s)
    rep = compute.regularizer(s, surf)
    best = rep.best
    return {
        "scenario": s.to_query(),
        "formula": best.formula,
        "regime": best.regime,
        "in_regime": rep.in_regime,
        "forms": [
            {"formula": f.formula, "regime": f.regime, "inside_fraction": f.inside}
            for f in rep.forms
        ],
        "crossover": rep.crossover,
        "n": "inf" if rep.n is None else rep.n,
        "limit_fraction": _number(rep.limit_fraction),
        "positive_fraction": _number(rep.window.positive_fraction),
        "run_positive_fraction": _number(rep.run.positive_fraction) if rep.run else None,
        "effect": rep.effect,
        "run_effect": rep.run.effect if rep.run else None,
        "source": surf.source,
        "residual": surf.residual,
        "residual_half_grid": surf.residual_coarse,
        "residual_note": residual_text(surf),
        "sign_agreement_half_grid": surf.sign_agreement,
        "warnings": list(rep.warnings),
    }


def order_json(s: Scenario) -> dict:
    st = compute.order(s)

    def clean(v):  # a diverged error is null
        return [_number(x) for x in v]

    return {
        "scenario": s.to_query(),
        "h": list(st.h),
        "horizon": s.T,
        "corrected": clean(st.corrected),
        "memoryless": clean(st.memoryless),
        "slopes": {
            "corrected": clean(st.slopes_corrected),
            "memoryless": clean(st.slopes_memoryless),
        },
        "asymptotic": list(st.asymptotic),
        "fitted_slope": clean([st.fit_corrected, st.fit_memoryless]),
        "fitted_rows": st.fit_rows,
        "warnings": list(st.warnings),
    }


def _settings(s) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(s).items()}


class UsageError(ValueError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage + message
        raise UsageError(f"{message} (see python -m core --help)")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("simulate", "order", "network", "sweep", "study", "regularizer"):
        p = sub.add_parser(name)
        p.add_argument("query", nargs="?", default="", help="the page URL's query string")
        if name == "study":
            p.add_argument("--ray", metavar="ADDRESS", help="run the seeds as Ray tasks there")
        if name == "order":
            p.add_argument("--h", help="comma-separated step sizes, e.g. 0.04,0.02,0.01")
            p.add_argument("--horizon", help="the horizon T (steps = round(T/h))")
    try:
        out = run_command(parser.parse_args(argv))
    except (ScenarioError, ExpressionError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, default=_to_builtin)
    sys.stdout.write("\n")
    return 0


def run_command(args) -> dict:
    if args.command == "network":
        from core.network import NetworkScenario, network_json

        return network_json(NetworkScenario.parse(args.query))
    if args.command == "study":
        from core.study import StudyScenario, compute_study, ray_address, study_json

        s = StudyScenario.parse(args.query)
        return study_json(compute_study(s, ray_address(args.ray)))
    if args.command == "sweep":
        from core.sweep import SweepScenario, compute_sweep, sweep_json

        return sweep_json(compute_sweep(SweepScenario.parse(args.query)))
    s = Scenario.parse(args.query)
    if args.command == "simulate":
        return simulate_json(s)
    if args.command == "regularizer":
        return regularizer_json(s)
    changes = {}
    if args.h is not None:
        try:
            changes["hs"] = numbers(args.h)
        except ValueError as err:
            raise ScenarioError("--h", str(err)) from None
    if args.horizon is not None:
        try:
            changes["T"] = numbers(args.horizon)[0]
        except ValueError as err:
            raise ScenarioError("--horizon", str(err)) from None
    return order_json(s.updated(**changes) if changes else s)


def _to_builtin(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serializable: {type(v).__name__}")
