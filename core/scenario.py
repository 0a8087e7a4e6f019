"""Scenarios: one validated, immutable object per run, with an exact URL round trip.

A scenario class lists its fields as `Field` specs (key, parser, default, check, when it
applies).  `from_query` parses a page URL's query string (or the CLI's) into the object,
strictly (the CLI: the first problem is an error) or leniently (the app: each bad value
falls back to its default with a warning naming the key); `to_query` writes it back with
defaults omitted, so from_query(to_query(s)) == s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode

from core import limits
from core.dynamics import sums_history
from core.expression import MAX_LENGTH, ExpressionError, parse
from core.limits import MAX_COMPARE, MAX_COORD, MAX_GRID, MAX_LIST, MAX_ORDER_STEPS, MAX_STEPS
from core.losses import CUSTOM_WINDOW, ZOO
from core.optimizers import Optimizer, make_optimizer
from core.registry import RECORDS

VERSION = "1"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

# each optimizer's hyperparameters and their defaults, from its record (THEORY §8)
HYPER_DEFAULTS: dict[str, dict[str, float]] = {k: r.defaults for k, r in RECORDS.items()}


HYPER_KEYS = ("b1", "b2", "eps", "wd")


class ScenarioError(ValueError):
    """A bad query value; str() names the key and the problem."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


# --- value parsers: text -> value, ValueError with a short reason ---------------------


def number(text: str) -> float:
    if not _NUMBER.match(text.strip()):
        raise ValueError(f"{text!r} is not a number")
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"{text!r} is not finite")
    return v


def integer(text: str) -> int:
    if not re.fullmatch(r"\s*\+?\d{1,9}\s*", text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def numbers(text: str) -> tuple[float, ...]:
    parts = text.split(",")
    if len(parts) > MAX_LIST:
        raise ValueError(f"too many values (max {MAX_LIST})")
    return tuple(number(p) for p in parts)


def names(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(","))


def text_value(text: str) -> str:
    return text


def fmt(value: Any) -> str:
    """Shortest exact text: repr of a float round-trips, ints stay ints."""
    if isinstance(value, tuple):
        return ",".join(fmt(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def in_range(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    def check(v: float, _: Mapping) -> None:
        if (v < lo or (lo_open and v == lo)) or (v > hi or (hi_open and v == hi)):
            left, right = "(" if lo_open else "[", ")" if hi_open else "]"
            raise ValueError(f"{fmt(v)} is out of range {left}{fmt(lo)}, {fmt(hi)}{right}")

    return check


def one_of(choices) -> Callable[[Any, Mapping], None]:
    def check(v: str, _: Mapping) -> None:
        if v not in choices:
            raise ValueError(f"{v!r} is not one of {', '.join(choices)}")

    return check


@dataclass(frozen=True)
class Field:
    key: str
    parse: Callable[[str], Any]
    default: Callable[[Mapping[str, Any]], Any]  # from the fields parsed before it
    check: Callable[[Any, Mapping[str, Any]], None] = lambda v, s: None
    applies: Callable[[Mapping[str, Any]], bool] = lambda s: True


def constant(v):
    return lambda _: v


def hyper_field(key: str) -> Field:
    """A hyperparameter: default, range and applicability from the optimizer's record."""
    return Field(
        key,
        number,
        lambda s: HYPER_DEFAULTS[s["opt"]].get(key),
        lambda v, s: RECORDS[s["opt"]].spec(key).check(v),
        lambda s: key in HYPER_DEFAULTS[s["opt"]],
    )


OPTIMIZER_FIELDS = (
    Field("opt", str, constant("hb"), one_of(tuple(RECORDS))),
    Field("lr", number, constant(0.02), in_range(0.0, 10.0, lo_open=True)),
    *(hyper_field(k) for k in HYPER_KEYS),
)


def _check_expression(text: str, s: Mapping) -> None:
    try:
        parse(text)
    except ExpressionError as err:
        raise ValueError(str(err)) from None


def _check_window(w: tuple, s: Mapping) -> None:
    if len(w) != 4 or not (w[0] < w[1] and w[2] < w[3]):
        raise ValueError("needs xmin,xmax,ymin,ymax with xmin < xmax and ymin < ymax")
    if max(abs(v) for v in w) > MAX_COORD:
        raise ValueError(f"coordinates beyond ±{MAX_COORD:g}")


def _check_horizon(T: float, s: Mapping) -> None:
    in_range(0.1, 10.0)(T, s)


def _check_steps_list(hs: tuple, s: Mapping) -> None:
    if not 2 <= len(hs) <= limits.MAX_STEP_SIZES:
        raise ValueError(f"needs 2 to {limits.MAX_STEP_SIZES} step sizes")
    if any(not 0 < h <= 1 for h in hs):
        raise ValueError("step sizes must lie in (0, 1]")
    if len(set(hs)) != len(hs):
        raise ValueError("step sizes must differ")
    steps = [round(s["T"] / h) for h in hs]
    if sum(steps) > MAX_ORDER_STEPS:
        raise ValueError(f"T/h sums to {sum(steps)} steps (max {MAX_ORDER_STEPS})")
    if min(steps) < 1:
        raise ValueError("a step size is longer than the horizon T")
    seconds = limits.order_seconds(s["T"], hs, sums_history(optimizer(s)))
    _check_cost(seconds, "the order study", "T or the smallest h")


def optimizer(s: Mapping) -> Optimizer:
    """The optimizer of the values parsed so far (for the cost model)."""
    return make_optimizer(s["opt"], **{k: s[k] for k in HYPER_DEFAULTS[s["opt"]]})


def _check_cost(seconds: float, what: str, keys: str) -> None:
    message = limits.over_budget(seconds, what, keys)
    if message:
        raise ValueError(message)


def _check_steps(steps: int, s: Mapping) -> None:
    in_range(1, MAX_STEPS)(steps, s)
    seconds = limits.plane_run_seconds(steps, 1, sums_history(optimizer(s)))
    _check_cost(seconds, f"{steps} steps", "steps")


def _check_grid(grid: int, s: Mapping) -> None:
    in_range(10, MAX_GRID)(grid, s)
    seconds = limits.plane_seconds(s["steps"], grid, sums_history(optimizer(s)))
    _check_cost(seconds, f"{s['steps']} steps with a {grid}x{grid} grid", "steps or grid")


def _check_compare(opts: tuple, s: Mapping) -> None:
    if not 2 <= len(opts) <= MAX_COMPARE:
        raise ValueError(f"needs 2 to {MAX_COMPARE} optimizers")
    for o in opts:
        one_of(tuple(RECORDS))(o, s)
    for o in set(opts):
        if opts.count(o) > 1:
            raise ValueError(f"{o!r} is listed {opts.count(o)} times")


# /theory's default study: T/h = 62.5 ... 500 steps whatever T, so its cost is fixed and
# (with T = 0.25, heavy ball's beta = 0.7) it reaches the asymptotic slopes: about 19
# memory lengths at its largest h (THEORY §1, §12)
ORDER_STEPS = (62.5, 125.0, 250.0, 500.0)


def _default_step_sizes(s: Mapping) -> tuple[float, ...]:
    return tuple(s["T"] / n for n in ORDER_STEPS)


def _window_default(s: Mapping) -> tuple:
    return ZOO[s["loss"]].window if s["loss"] in ZOO else CUSTOM_WINDOW


def _start_default(i: int):
    return lambda s: ZOO[s["loss"]].start[i] if s["loss"] in ZOO else 0.5


_COORD = in_range(-MAX_COORD, MAX_COORD)

SCENARIO_FIELDS = OPTIMIZER_FIELDS + (
    Field("steps", integer, constant(100), _check_steps),
    Field("loss", str, constant("reference"), one_of((*ZOO, "custom"))),
    Field(
        "f",
        text_value,
        constant("x^2 + y^2"),
        _check_expression,
        lambda s: s["loss"] == "custom",
    ),
    Field("x0", number, _start_default(0), _COORD),
    Field("y0", number, _start_default(1), _COORD),
    Field("win", numbers, _window_default, _check_window),
    Field("grid", integer, constant(60), _check_grid),
    # the perturbed loss from M^(n) at the run's last step, or its limit (THEORY §1, §5)
    Field("rn", str, constant("run"), one_of(("run", "inf"))),
    Field("T", number, constant(0.25), _check_horizon),
    Field("hs", numbers, _default_step_sizes, _check_steps_list),
    Field("cmp", names, constant(("adamw", "lion")), _check_compare),
)


def _as_mapping(query: str | Mapping[str, Any]) -> dict[str, str]:
    if isinstance(query, str):
        q = query.split("?", 1)[1] if "?" in query else query
        return dict(parse_qsl(q.lstrip("?"), keep_blank_values=True))
    return {k: (v[-1] if isinstance(v, list | tuple) else v) for k, v in query.items()}


def parse_fields(
    specs: tuple[Field, ...],
    query: str | Mapping[str, Any],
    strict: bool,
    drop_inapplicable: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Values for every spec (None where it does not apply), and the warnings."""
    raw = _as_mapping(query)
    known = {f.key for f in specs} | {"v"}
    warnings = []
    unknown = [key for key in raw if key not in known]
    if unknown and strict:
        raise ScenarioError(unknown[0], "unknown key")
    if len(unknown) == 1:
        warnings.append(f"{unknown[0]}: unknown key, ignored")
    elif unknown:  # one warning for all of them, however many
        listed = ", ".join(repr(k[:40]) for k in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        warnings.append(f"{len(unknown)} unknown keys ignored: {listed}{more}")
    values: dict[str, Any] = {}
    for spec in specs:
        if not spec.applies(values):
            values[spec.key] = None
            if spec.key in raw and not drop_inapplicable:
                if strict:
                    raise ScenarioError(spec.key, "does not apply to this scenario")
                warnings.append(f"{spec.key}: does not apply to this scenario, ignored")
            continue
        default = spec.default(values)
        if spec.key not in raw:
            values[spec.key] = default
            continue
        text = str(raw[spec.key])
        try:
            if len(text) > MAX_LENGTH:
                raise ValueError(f"value too long ({len(text)} characters, max {MAX_LENGTH})")
            value = spec.parse(text)
            spec.check(value, values)
            values[spec.key] = value
        except ValueError as err:
            if strict:
                raise ScenarioError(spec.key, str(err)) from None
            warnings.append(f"{spec.key}: {err}; using the default {fmt(default)}")
            values[spec.key] = default
    return values, warnings


class QueryMixin:
    """from_query / to_query for a frozen dataclass whose fields are SPECS."""

    SPECS: tuple[Field, ...] = ()

    @classmethod
    def from_query(cls, query: str | Mapping[str, Any] = "", strict: bool = False):
        """(scenario, warnings); strict raises ScenarioError instead of warning.

        Leniently, a check that fails even for its key's default (a cap on the work of
        several keys together) resets the last earlier key the query set, and so on
        until the scenario is valid: all-default scenarios always are."""
        raw, notes = _as_mapping(query), []
        keys = [spec.key for spec in cls.SPECS]
        while True:
            values, warnings = parse_fields(cls.SPECS, raw, strict)
            try:
                return cls(**values), notes + warnings
            except ScenarioError as err:
                earlier = [k for k in keys[: keys.index(err.key)] if k in raw]
                if strict or not earlier:
                    raise
                notes.append(f"{earlier[-1]}: reset to its default, since otherwise {err}")
                raw = {k: v for k, v in raw.items() if k != earlier[-1]}

    @classmethod
    def parse(cls, query: str | Mapping[str, Any] = ""):
        """Strict parse: the scenario, or ScenarioError."""
        return cls.from_query(query, strict=True)[0]

    def to_params(self) -> dict[str, str]:
        """The non-default, applicable fields as query parameters (short, stable)."""
        values: dict[str, Any] = {}
        params = {"v": VERSION}
        for spec in self.SPECS:
            value = getattr(self, spec.key)
            applies = spec.applies(values)
            values[spec.key] = value
            # compared as text: -0.0 == 0.0, but they are different scenarios
            if applies and fmt(value) != fmt(spec.default(values)):
                params[spec.key] = fmt(value)
        return params

    def to_query(self) -> str:
        return urlencode(self.to_params())

    def updated(self, **changes):
        """A validated copy with some fields changed (strict: bad values raise).

        Fields whose defaults depend on a changed one (a loss's start and window, an
        optimizer's hyperparameters) follow it unless they were set explicitly."""
        params = self.to_params()
        for key, value in changes.items():
            params.pop(key, None)
            if value is not None:
                params[key] = fmt(value)
        values, _ = parse_fields(self.SPECS, params, strict=True, drop_inapplicable=True)
        return type(self)(**values)

    @property
    def hyper(self) -> dict[str, float]:
        """The optimizer's hyperparameters besides lr (scenarios with OPTIMIZER_FIELDS)."""
        return {k: getattr(self, k) for k in HYPER_DEFAULTS[self.opt]}

    def with_optimizer(self, opt: str, **hyper: float):
        """This scenario with another optimizer: its usual defaults unless given."""
        return self.updated(**({k: None for k in HYPER_KEYS} | hyper), opt=opt)

    def __post_init__(self):
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for spec in self.SPECS:
            value = values[spec.key]
            if not spec.applies(values):
                if value is not None:
                    raise ScenarioError(spec.key, "does not apply to this scenario")
                continue
            try:
                spec.check(value, values)
            except (ValueError, TypeError) as err:
                raise ScenarioError(spec.key, str(err)) from None


@dataclass(frozen=True)
class Scenario(QueryMixin):
    """A 2D run: optimizer, loss, start, steps, and the study settings of the pages."""

    SPECS = SCENARIO_FIELDS

    opt: str = "hb"
    lr: float = 0.02
    b1: float | None = 0.7
    b2: float | None = None
    eps: float | None = None
    wd: float | None = None
    steps: int = 100
    loss: str = "reference"
    f: str | None = None
    x0: float = -1.2
    y0: float = 0.8
    win: tuple[float, ...] = ZOO["reference"].window
    grid: int = 60
    rn: str = "run"
    T: float = 0.25
    hs: tuple[float, ...] = (0.004, 0.002, 0.001, 0.0005)
    cmp: tuple[str, ...] = ("adamw", "lion")

    @property
    def regularizer_step(self) -> int | None:
        """The step n whose M^(n) the perturbed loss is built from (None: n -> inf):
        by default the run's last update, n = steps - 1."""
        return None if self.rn == "inf" else self.steps - 1

    @property
    def expression(self) -> str:
        return self.f if self.loss == "custom" else ZOO[self.loss].expression
