"""python -m core simulate|order|network|sweep|study|regularizer 'QUERY' (network with
compare=1: two optimizers, each at its own lrs= and wd=, as on /study), and
python -m core paper distance|beta2|sharpness 'QUERY': the page URLs' query strings on
the command line, JSON on stdout (numbers that are not finite as null; what the reader
must know, such as a repeated key or a floating-point overflow, in its "warnings"); any
bad input is one line on stderr and exit status 2; a reader that stops reading (| head)
ends it quietly, with exit status 1."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from core.analyses import paper
from core.analyses.study import StudyScenario, compute_study
from core.analyses.sweep import SweepScenario, compute_sweep
from core.distribute import ray_address
from core.models.expression import ExpressionError
from core.scenarios import limits
from core.scenarios.network_scenario import CompareScenario, NetworkScenario, compare_mode
from core.scenarios.query import ScenarioError, escaped, numbers
from core.scenarios.report import (
    PAPER_JSON,
    compare_json,
    network_json,
    order_json,
    regularizer_json,
    simulate_json,
    study_json,
    sweep_json,
    to_json,
)
from core.scenarios.scenario import Scenario
from core.threads import DEFAULT, VARIABLE, pin, requested

ENVIRONMENT = f"""environment: {VARIABLE}=N runs torch and BLAS on N threads (default
{DEFAULT}: the command shares the machine); MEMORY_DEVICE=cuda runs on a GPU when one is
present; RAY_ADDRESS runs a study's chunks and the paper's experiments on that Ray cluster."""


class UsageError(ValueError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage + message
        raise UsageError(f"{message} (see python -m core --help)")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m core",
        description=__doc__,
        epilog=f"Sizes are capped as on the pages, but a computation predicted to take up to "
        f"{limits.CLI_BUDGET_S:g} s (core.scenarios.limits) is admitted, where the pages "
        f"refuse more than {limits.BUDGET_S:g} s: it runs on your machine. " + ENVIRONMENT,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("simulate", "order", "network", "sweep", "study", "regularizer"):
        p = sub.add_parser(name)
        p.add_argument("query", nargs="?", default="", help="the page URL's query string")
        if name == "study":
            p.add_argument("--ray", metavar="ADDRESS", help="run the seeds as Ray tasks there")
        if name == "order":
            p.add_argument("--h", help="comma-separated step sizes, e.g. 0.04,0.02,0.01")
            p.add_argument("--horizon", help="the horizon T (steps = round(T/h))")
    p = sub.add_parser("paper")
    p.add_argument("experiment", choices=paper.EXPERIMENTS)
    p.add_argument("query", nargs="?", default="", help="the /paper URL's query string")
    p.add_argument("--ray", metavar="ADDRESS", help="run the experiment's jobs as Ray tasks there")
    try:
        pin(requested())
        # this machine's time, not a server's; warnings said in the document
        with limits.allowance(limits.CLI_BUDGET_S), warnings.catch_warnings(record=True) as caught:
            out = run_command(parser.parse_args(argv))
    except (ScenarioError, ExpressionError, ValueError) as err:
        print(f"error: {escaped(str(err))}", file=sys.stderr)  # one line, whatever it quotes
        return 2
    # said in the document, not printed on stderr: each distinct warning once
    said = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
    out["warnings"] = [*out.get("warnings", []), *said]
    return _write(to_json(out) + "\n")


def _write(text: str) -> int:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader has gone (| head): nothing to say to anyone
        # Python flushes stdout again at exit; on /dev/null that cannot fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def run_command(args) -> dict:
    """The command's document, the query's warnings (a key given twice) first."""
    if args.command == "paper":
        cls = paper.SCENARIOS[args.experiment]
        query = paper.own_query(args.experiment, args.query)
    elif args.command == "network":  # compare=1: /network's compare mode
        comparing, query = compare_mode(args.query)
        cls = CompareScenario if comparing else NetworkScenario
    else:
        cls = {"study": StudyScenario, "sweep": SweepScenario}.get(args.command, Scenario)
        query = args.query
    s, notes = cls.from_query(query, strict=True)
    out = _document(args, s)
    out["warnings"] = [*notes, *out.get("warnings", [])]
    return out


def _document(args, s) -> dict:
    if args.command == "paper":
        run = paper.RUN[args.experiment](s, address=ray_address(args.ray))
        return PAPER_JSON[args.experiment](run)
    if args.command == "network":
        return compare_json(s) if isinstance(s, CompareScenario) else network_json(s)
    if args.command == "study":
        return study_json(compute_study(s, ray_address(args.ray)))
    if args.command == "sweep":
        return sweep_json(compute_sweep(s))
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
