"""The 2D scenario (optimizer, loss, start, steps, the pages' study settings) as a query
class (core.scenarios.query), and the optimizer fields every scenario with an optimizer shares:
each optimizer's hyperparameters, their defaults and ranges (from core.engine.registry)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from core.engine.declared import CUSTOM, DEFAULT
from core.engine.dynamics import sums_history
from core.engine.fast2d import leaves_the_floats
from core.engine.optimizers import Optimizer
from core.engine.registry import RECORDS, hyper_keys, make_optimizer, record, scenario_hyper
from core.models.expression import Expression, ExpressionError, tree
from core.models.losses import CUSTOM_WINDOW, ZOO, expression_of, loss_size
from core.scenarios import limits
from core.scenarios.declared_fields import Declared, declaration_fields, resolved
from core.scenarios.limits import (
    MAX_COMPARE,
    MAX_COORD,
    MAX_GRID,
    MAX_ORDER_STEPS,
    MAX_STEPS,
    LossSize,
)
from core.scenarios.query import (
    Field,
    QueryMixin,
    constant,
    in_range,
    integer,
    names,
    number,
    numbers,
    one_of,
    query_dataclass,
)

# every record's hyperparameter keys: one field each in every scenario with an optimizer
HYPER_KEYS = hyper_keys()


def named(s: Mapping) -> str:
    """The optimizer of the values parsed so far: a built-in's name, or for opt=custom
    the Declaration of its keys (core.engine.declared)."""
    return resolved(s["opt"], s)


def hyper_field(key: str) -> Field:
    """A hyperparameter: default, range and applicability from the optimizer's record."""
    return Field(
        key,
        number,
        lambda s: record(named(s)).defaults.get(key),
        lambda v, s: record(named(s)).spec(key).check(v),
        lambda s: key in record(named(s)).defaults,
    )


def known_optimizer(v: str, s: Mapping) -> None:
    """One of the records (read at the check: a record added later is known), or custom."""
    one_of((*RECORDS, CUSTOM))(v, s)


OPTIMIZER_FIELDS = (
    Field("opt", str, constant("hb"), known_optimizer),
    *declaration_fields(lambda s: s["opt"] == CUSTOM, "opt=custom"),
    Field("lr", number, constant(0.02), in_range(0.0, 10.0, lo_open=True)),
    *(hyper_field(k) for k in HYPER_KEYS),
)


def _check_expression(text: str, s: Mapping) -> None:
    try:
        tree(text)
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
    seconds = order_seconds(s, hs)
    _check_cost(seconds, "the order study", "T, the smallest h or the size of f")


def order_seconds(s: Mapping, hs: tuple[float, ...]) -> float:
    """The cost model's time of /theory's order study, for the values parsed so far."""
    opt = optimizer(s)
    return limits.order_seconds(s["T"], hs, sums_history(opt), loss_of(s), leaves_the_floats(opt))


def plane_seconds(s: Mapping, steps: int, grid: int):
    """The cost model's time of /playground (or of one optimizer of /compare), for the
    values parsed so far."""
    opt = optimizer(s)
    return limits.plane_seconds(
        steps,
        grid,
        sums_history(opt),
        loss_of(s),
        torch=leaves_the_floats(opt),
        exact=user_written(s),
    )


def user_written(s: Mapping) -> bool:
    """Whether the user wrote the loss or the optimizer (opt=custom): either may defeat
    case (c)'s interpolant (core.engine.coordinate), so its exact sums are priced."""
    return s["loss"] == "custom" or s["opt"] == CUSTOM


def optimizer(s: Mapping) -> Optimizer:
    """The optimizer of the values parsed so far (for the cost model)."""
    name = named(s)
    return make_optimizer(name, **scenario_hyper(name, s))


def loss_of(s: Mapping) -> LossSize:
    """The size of the loss parsed so far (for the cost model)."""
    return loss_size(expression_of(s["loss"], s["f"]))


def _check_cost(seconds: float, what: str, keys: str, most: str | None = None) -> None:
    message = limits.over_budget(seconds, what, keys, most)
    if message:
        raise ValueError(message)


def _check_steps(steps: int, s: Mapping) -> None:
    in_range(1, MAX_STEPS)(steps, s)
    # the loss comes later in the query: priced at its cheapest here, in full by `grid`
    opt = optimizer(s)
    history, torch = sums_history(opt), leaves_the_floats(opt)

    def seconds(n: int) -> float:
        return limits.plane_run_seconds(n, 1, history, _CHEAPEST, torch)

    if seconds(steps) > limits.budget():
        most = limits.largest(seconds, 1, steps)
        _check_cost(seconds(steps), f"{steps} steps", "steps", f"at most {most}")


def _check_grid(grid: int, s: Mapping) -> None:
    in_range(10, MAX_GRID)(grid, s)
    seconds = plane_seconds(s, s["steps"], grid)
    if seconds > limits.budget():
        most = limits.largest(lambda n: plane_seconds(s, n, grid), 1, s["steps"])
        _check_cost(
            seconds,
            f"{s['steps']} steps with a {grid}x{grid} grid",
            "steps, grid, the size of f" + (" or of r" if s["opt"] == CUSTOM else ""),
            None if most is None else f"at most {most} steps with this grid and loss",
        )


def _check_compare(opts: tuple, s: Mapping) -> None:
    if not 2 <= len(opts) <= MAX_COMPARE:
        raise ValueError(f"needs 2 to {MAX_COMPARE} optimizers")
    for o in opts:
        known_optimizer(o, s)
    if CUSTOM in opts and s["opt"] != CUSTOM:
        raise ValueError(
            "custom is the declared optimizer: declare it with opt=custom and its keys"
        )
    for o in set(opts):
        if opts.count(o) > 1:
            raise ValueError(f"{o!r} is listed {opts.count(o)} times")


# /theory's default study: T/h = 62.5 ... 500 steps whatever T, so its cost is fixed and
# (with T = 0.25, heavy ball's beta = 0.7) it reaches the asymptotic slopes: about 19
# memory lengths at its largest h (THEORY §1, §12)
ORDER_STEPS = (62.5, 125.0, 250.0, 500.0)


_CHEAPEST = loss_size("x")


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
        Expression,  # the text, which keeps its tree for the checks and the runs
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
    # /compare opens on memory against none: heavy ball's corrected run tracks its memory
    # run at the default h; AdamW's and Lion's usual settings are outside the theorem there
    # (the gallery's counter-example)
    Field("cmp", names, constant(("gd", "hb")), _check_compare),
)


class OptimizerQuery(Declared, QueryMixin):
    """A query class with OPTIMIZER_FIELDS: its hyperparameters, and a change of optimizer."""

    opt: str  # a built-in's name, or the Declaration of opt=custom
    lr: float
    b1: float | None
    b2: float | None
    eps: float | None
    wd: float | None

    def __post_init__(self):
        # opt=custom: the value of `opt` becomes its Declaration (it still reads
        # "custom"), so that every function that takes an optimizer's name takes it
        object.__setattr__(self, "opt", named(self.__dict__))
        super().__post_init__()

    @property
    def hyper(self) -> dict[str, float]:
        """The optimizer's hyperparameters besides lr (scenarios with OPTIMIZER_FIELDS);
        a declaration's also its weights' ratios (core.engine.registry.scenario_hyper)."""
        return scenario_hyper(self.opt, self.__dict__)

    def compared(self) -> list:
        """/compare's scenarios: this one with each optimizer of cmp (a list of their own:
        cmp is left at its default in each)."""
        return [self.with_optimizer(name, cmp=None) for name in self.cmp]

    @cached_property
    def optimizer(self) -> Optimizer:
        """The declared optimizer with this scenario's hyperparameters (built once)."""
        return make_optimizer(self.opt, **self.hyper)

    def resolve(self, name: str) -> str:
        """A name in a list of optimizers (/compare's cmp): custom is this declaration."""
        return self.opt if name == CUSTOM else name

    def with_optimizer(self, opt: str, **hyper):
        """This scenario with another optimizer: its usual defaults unless given; a new
        declaration opens as heavy ball written out (core.engine.declared.DEFAULT)."""
        if opt == CUSTOM and self.opt != CUSTOM:
            hyper = DEFAULT | hyper
        return self.updated(**({k: None for k in HYPER_KEYS} | hyper), opt=opt)


@query_dataclass
class Scenario(OptimizerQuery):
    """A 2D run: optimizer, loss, start, steps, and the study settings of the pages."""

    SPECS = SCENARIO_FIELDS

    steps: int
    loss: str
    f: str | None
    x0: float
    y0: float
    win: tuple[float, ...]
    grid: int
    rn: str
    T: float
    hs: tuple[float, ...]
    cmp: tuple[str, ...]

    @property
    def regularizer_step(self) -> int | None:
        """The step n whose M^(n) the perturbed loss is built from (None: n -> inf):
        by default the run's last update, n = steps - 1."""
        return None if self.rn == "inf" else self.steps - 1

    @property
    def expression(self) -> str:
        return expression_of(self.loss, self.f)
