"""python -m core simulate|order|network|sweep|study|regularizer 'QUERY': the page
URLs' query strings on the command line, JSON on stdout; any bad input is one line on
stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from core.expression import ExpressionError
from core.network_scenario import NetworkScenario
from core.query import ScenarioError, numbers
from core.report import (
    network_json,
    order_json,
    regularizer_json,
    simulate_json,
    study_json,
    sweep_json,
)
from core.scenario import Scenario
from core.study import StudyScenario, compute_study, ray_address
from core.sweep import SweepScenario, compute_sweep
from core.threads import DEFAULT, VARIABLE, pin, requested

ENVIRONMENT = f"""environment: {VARIABLE}=N runs torch and BLAS on N threads (default
{DEFAULT}: the command shares the machine); MEMORY_DEVICE=cuda runs on a GPU when one is
present; RAY_ADDRESS runs a study's chunks on that Ray cluster."""


class UsageError(ValueError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage + message
        raise UsageError(f"{message} (see python -m core --help)")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m core", description=__doc__, epilog=ENVIRONMENT)
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
        pin(requested())
        out = run_command(parser.parse_args(argv))
    except (ScenarioError, ExpressionError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, default=_to_builtin)
    sys.stdout.write("\n")
    return 0


def run_command(args) -> dict:
    if args.command == "network":
        return network_json(NetworkScenario.parse(args.query))
    if args.command == "study":
        s = StudyScenario.parse(args.query)
        return study_json(compute_study(s, ray_address(args.ray)))
    if args.command == "sweep":
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
