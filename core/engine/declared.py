"""An optimizer declared by its memory (THEORY §2-§3; docs/theory.md §15): up to three
averaged features m1, m2, m3 of one gradient coordinate g, their weights over the past
and a readout r of g and the averages, e.g. Adam by hand,

    opt=custom&m1=g&w1=ema_bc:0.9&m2=g^2&w2=ema_bc:0.999&r=m1/(sqrt(m2)+1e-8)

The expressions use the loss parser's grammar (core.models.expression) over the names g
(features) and g, m1, m2, m3 (readout); the features' slopes and the readout's partials
come from their trees (core.models.derivatives.FirstOrder), so no user text is executed.
The declaration becomes an Optimizer (core.engine.optimizers) and a Record (built by
core.engine.registry.declared_record): the engine derives everything else as for a
built-in optimizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from core.engine.kernel import memory_average
from core.engine.optimizers import (
    Average,
    Geometric,
    Optimizer,
    Readout,
    _weights_param,
    gradient,
    gradient_slope,
    recursion,
    square,
    square_slope,
)
from core.models.derivatives import FirstOrder
from core.models.expression import Binary, ExpressionError, Num, Var, functions, parse, to_latex

CUSTOM = "custom"  # the value of `opt` that declares an optimizer
FEATURES = ("m1", "m2", "m3")
WEIGHTS = ("w1", "w2", "w3")
READOUT = "r"
# a declared readout's past sums cost 1/BUILTIN_OPERATIONS times a built-in's per
# operation of its value's code (core.scenarios.limits prices them by `work`): measured on
# /playground's surfaces, 0.93 s at 2000 steps for a readout of 5 operations and 5.1 s at
# 1000 steps for one of 64, where the built-ins' model said 0.27 s and 0.9 s; rounded
# down, so that the model errs on the side of refusing
BUILTIN_OPERATIONS = 0.8
DECLARATION = ("m1", "w1", "m2", "w2", "m3", "w3", READOUT)  # its URL keys, in order
# functions whose derivative jumps: a readout or feature that calls one is outside the
# theorem's smoothness assumption (THEORY §11)
KINKS = ("abs", "min", "max")
WEIGHT_FORMS = (
    "ema:B (an EMA from 0, as PyTorch's), ema_bc:B (with Adam's bias correction), "
    "sum:B (heavy ball's buffer), geo:HEAD:TAIL:RATIO or geo_bc:HEAD:TAIL:RATIO"
)
# heavy ball (β = 0.7, as the built-in's default) written as a declaration: what the
# sidebar opens a new declaration with
DEFAULT = {"m1": "g", "w1": "sum:0.7", "r": "m1"}


@dataclass(frozen=True)
class Weight:
    """The weights w(n, k) of one average (k = 0 the current step): ema:B is (1 - B) B^k,
    ema_bc:B that over 1 - B^(n+1), sum:B is B^k, geo:HEAD:TAIL:RATIO is HEAD at k = 0 and
    TAIL RATIO^(k-1) after, geo_bc with the bias correction."""

    kind: str
    ratio: float  # B, or RATIO: the share of itself the memory keeps per step
    head: float = 0.0  # geo only
    tail: float = 0.0

    def geometric(self, ratio=None) -> Geometric:
        """The weights as core.engine.optimizers.Geometric, with another ratio (a float or
        one per trajectory) where given: a sweep over the B of a weight."""
        b = _weights_param(self.ratio if ratio is None else ratio)
        corrected = self.kind.endswith("_bc")
        if self.kind in ("ema", "ema_bc"):
            return Geometric(head=1 - b, tail=(1 - b) * b, ratio=b, bias_corrected=corrected)
        if self.kind == "sum":
            return Geometric(head=1.0, tail=b, ratio=b)
        return Geometric(head=self.head, tail=self.tail, ratio=b, bias_corrected=corrected)

    def text(self, ratio: float | None = None) -> str:
        """The URL form, with another ratio where given (a sweep's cell)."""
        b = repr(float(self.ratio if ratio is None else ratio))
        if self.kind.startswith("geo"):
            return f"{self.kind}:{self.head!r}:{self.tail!r}:{b}"
        return f"{self.kind}:{b}"

    def latex(self) -> str:
        """w(n, k) as a formula."""
        b = _number(self.ratio)
        if self.kind == "sum":
            return rf"{b}^k"
        if self.kind in ("ema", "ema_bc"):
            w = rf"(1-{b})\,{b}^k"
        else:
            w = rf"\begin{{cases}}{_number(self.head)} & k=0\\ {_number(self.tail)}\,{b}^{{k-1}}"
            w += r" & k\ge 1\end{cases}"
        return rf"\frac{{{w}}}{{1-{b}^{{n+1}}}}" if self.kind.endswith("_bc") else w


def _number(v: float) -> str:
    return f"{v:.6g}"


def _ratio(text: str, what: str) -> float:
    b = _finite(text, what)
    if b == 1.0:
        raise ValueError(
            f"{what} = 1 never forgets: memory must fade (0 ≤ {what} < 1), and with 1 the "
            "weights' sum W(n) grows without bound"
        )
    if not 0.0 <= b < 1.0:
        raise ValueError(f"{what} = {text} is outside [0, 1): memory must fade")
    return b


def _finite(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(v) or not text.strip().isascii():
        raise ValueError(f"{what} {text!r} is not a finite number")
    return v


def parse_weight(text: str) -> Weight:
    """A weight's text (`ema:0.9`, `geo:0.1:0.09:0.99`, ...) as a Weight; ValueError with
    what is wrong and the forms it may take."""
    kind, *numbers = text.strip().split(":")
    if kind in ("ema", "ema_bc", "sum") and len(numbers) == 1:
        return Weight(kind, _ratio(numbers[0], "B"))
    if kind in ("geo", "geo_bc") and len(numbers) == 3:
        head, tail = _finite(numbers[0], "HEAD"), _finite(numbers[1], "TAIL")
        return Weight(kind, _ratio(numbers[2], "RATIO"), head, tail)
    raise ValueError(f"{text!r} is not a weight: write {WEIGHT_FORMS}")


def parse_feature(text: str):
    """A feature's tree: an expression of g."""
    return parse(text, ("g",))


def parse_readout(text: str, declared: tuple[str, ...]):
    """The readout's tree: an expression of g and the declared averages; a name of an
    average that is not declared is named as such."""
    try:
        return parse(text, ("g", *declared))
    except ExpressionError as err:
        if err.token in FEATURES:
            key = err.token
            raise ExpressionError(
                f"{key!r} is not declared (declare it with {key}= and w{key[1]}=)",
                err.position,
                err.token,
            ) from None
        raise


def _feature(tree) -> tuple:
    if tree == Var("g"):
        return gradient, gradient_slope
    if tree == Binary("^", Var("g"), Num(2.0)):
        return square, square_slope
    code = FirstOrder(tree, ("g",), ("g",))
    return code.value, code.slope


class Declaration(str):
    """The value of `opt` for a declared optimizer: it reads "custom" (a URL's opt, a
    page's, a JSON's) and carries the declaration, its texts as given (checked by the
    scenario's fields) and what is built from them on first use: the trees (one parse),
    the derivative code (one compile) and the record (core.engine.registry)."""

    features: tuple[str, ...]
    weights: tuple[str, ...]
    readout: str

    def __new__(cls, features: tuple[str, ...], weights: tuple[str, ...], readout: str):
        self = super().__new__(cls, CUSTOM)
        self.features, self.weights, self.readout = tuple(features), tuple(weights), readout
        return self

    def __reduce__(self):  # pickled to another process (Ray, a worker): its texts
        return (Declaration, (self.features, self.weights, self.readout))

    @classmethod
    def of(cls, values) -> Declaration:
        """The declaration in a scenario's values (m1, w1, ..., r)."""
        features = tuple(values[k] for k in FEATURES if values.get(k) is not None)
        weights = tuple(values[w] for w in WEIGHTS[: len(features)])
        return cls(features, weights, values[READOUT])

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURES[: len(self.features)]

    @property
    def params(self) -> dict[str, str]:
        """The declaration's URL keys."""
        out = {}
        for k, w, f, t in zip(FEATURES, WEIGHTS, self.features, self.weights, strict=False):
            out[k], out[w] = f, t
        return out | {READOUT: self.readout}

    def with_ratios(self, **ratios: float) -> dict[str, str]:
        """The declaration's keys with some weights' ratios changed (w1=0.95, ...)."""
        out = self.params
        for key, w in zip(WEIGHTS, self.parsed_weights, strict=False):
            if key in ratios:
                out[key] = w.text(ratios[key])
        return out

    @cached_property
    def parsed_weights(self) -> tuple[Weight, ...]:
        return tuple(map(parse_weight, self.weights))

    @cached_property
    def trees(self) -> tuple:
        """The features' trees, then the readout's."""
        features = tuple(map(parse_feature, self.features))
        return (*features, parse_readout(self.readout, self.names))

    @cached_property
    def _code(self) -> tuple[tuple[tuple, ...], FirstOrder]:
        """Each feature as (phi, phi') and the readout's code: g and g^2 as the built-ins'
        own functions (the same arithmetic, a call less per coordinate and step)."""
        *features, readout = self.trees
        return tuple(map(_feature, features)), FirstOrder(readout, ("g", *self.names), self.names)

    @cached_property
    def kinks(self) -> tuple[str, ...]:
        """The keys whose expression calls a function with a kink (abs, min, max)."""
        keys = (*self.names, READOUT)
        return tuple(k for k, t in zip(keys, self.trees, strict=True) if functions(t) & set(KINKS))

    @cached_property
    def record(self):
        """Its record (core.engine.registry.declared_record), built once."""
        from core.engine.registry import declared_record  # the registry imports this module

        return declared_record(self)

    @property
    def linear(self) -> bool:
        """Whether the readout is m1 + ... + mp (each declared average once, THEORY §7 a)."""
        terms, stack = [], [self.trees[-1]]
        while stack:
            node = stack.pop()
            if isinstance(node, Binary) and node.op == "+":
                stack += [node.left, node.right]
            else:
                terms.append(node)
        names = sorted(t.name for t in terms if isinstance(t, Var))
        return len(names) == len(terms) and names == sorted(self.names)

    def optimizer(self, wd=0.0, **ratios) -> Optimizer:
        """The declared optimizer with decoupled weight decay `wd`; a weight's ratio may be
        given by its key (w1=...: a float or one per trajectory, as a sweep's)."""
        features, readout = self._code
        averages = tuple(
            Average(phi, w.geometric(ratios.get(key)), slope)
            for (phi, slope), w, key in zip(features, self.parsed_weights, WEIGHTS, strict=False)
        )
        rule = Readout(readout.readout_value, readout.readout_partials)
        work = max(1.0, readout.operations / BUILTIN_OPERATIONS)
        return Optimizer(self, averages, rule, _weights_param(wd), linear=self.linear, work=work)

    def latex(self) -> list[str]:
        """The declaration as short formulas (a sidebar's width): what an average is, each
        feature and its weights, the readout r, and the update it implies."""
        lines = [r"m_i(n) = \textstyle\sum_{k} w_i(n,k)\,\phi_i(g_{n-k})"]
        for k, t, w in zip(self.names, self.trees, self.parsed_weights, strict=False):
            lines += [rf"\phi_{k[1]}(g) = {to_latex(t)}", rf"w_{k[1]}(n,k) = {w.latex()}"]
        lines.append(rf"r = {to_latex(self.trees[-1], _SYMBOLS)}")
        lines.append(r"\theta_{n+1} = \theta_n - h\,(r + \lambda\theta_n)")
        return lines


_SYMBOLS = {"g": "g", "m1": "m_1", "m2": "m_2", "m3": "m_3"}


def readout_notes(opt: Optimizer, grads: np.ndarray) -> tuple[str, ...]:
    """What a declared readout does along a memory run whose gradients are `grads`
    (steps, d), in words: the first step where its value is not finite (the run stops
    there), or where it is but one of its partials is not (the correction is not
    defined from there: outside the theorem, THEORY §11).  Every step at once: each
    average's recursion U(n+1) = phi_n + r U(n) (THEORY §7) by optimizers.recursion."""
    steps = len(grads)
    with np.errstate(all="ignore"):
        averages = []
        for av in opt.averages:
            w, feature = av.weights, av.feature(grads)
            z = w.tables(steps).z[:steps]
            # the state U(n) of every step at once
            past = recursion(feature, float(w.ratio))
            U = np.concatenate([np.zeros_like(feature[:1]), past[:-1]])
            averages.append(memory_average(feature, U, w.head, w.tail, w.ratio, z)[0])
        value = np.isfinite(opt.value(grads, *averages)).all(-1)
        partials = np.ones(steps, dtype=bool)
        for p in opt.partials(grads, *averages):
            partials &= np.isfinite(np.broadcast_to(p, grads.shape)).all(-1)
    notes = []
    broken = np.flatnonzero(value & ~partials)
    if len(broken) and (value.all() or broken[0] < np.argmin(value)):
        notes.append(
            f"outside the theorem from step {broken[0]}: a partial derivative of the declared "
            "readout is not finite there (a square root or a fractional power at 0), so the "
            "correction M is not defined (THEORY §11)"
        )
    if not value.all():
        notes.insert(
            0,
            f"the memory run stops at step {np.argmin(value)}: the declared readout r is not "
            "finite there (a division by 0, or a log or square root of a negative number)",
        )
    return tuple(notes)
