"""Exact gradient and Hessian of a 2D loss expression, without autograd (THEORY §7).

The validated tree of core.models.expression is differentiated symbolically in forward mode:
every node becomes a jet (value, gradient, Hessian) of straight-line code, with the
derivative rules torch's autograd uses (its masks at 0 included), so the results agree
with autograd to rounding.  The code is built only from the tree: every name in it comes
from this module's fixed vocabulary (x, y, temporaries t0, t1, ..., the F_* helpers) and
every number is re-printed by `_literal` from a float; no text of the input reaches it.

It runs on Python floats (one trajectory: core.engine.fast2d) or numpy arrays (grids,
batches).  On floats a math domain error (log(0), exp overflow, 1/0) raises, and the
point is evaluated again on numpy, which gives torch's inf and nan instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from core.models.expression import Binary, Call, Const, Expression, Node, Num, Unary, Var, parse

Entry = str | float | None  # a temporary's name, a constant, or None: structurally zero
ORDER = ("value", "gx", "gy", "hxx", "hxy", "hyy")
_ELEMENTS = 1 << 24  # temporaries' elements of one evaluation on tensors: 128 MB


@dataclass(frozen=True)
class Jet:
    value: str | float
    grad: tuple[Entry, Entry]
    hess: tuple[Entry, Entry, Entry]  # xx, xy, yy


def _literal(c: float) -> str:
    if math.isnan(c):
        return "F_nan"
    if math.isinf(c):
        return "F_inf" if c > 0 else "(-F_inf)"
    return repr(float(c)) if math.copysign(1.0, c) > 0 else f"({float(c)!r})"


class _Code:
    """Straight-line code: one assignment per temporary, constants folded where exact,
    differentiating with respect to `variables`, to second order (the Hessian entries
    over `pairs`) or, with second=False, to first order only (no pairs)."""

    def __init__(self, variables: tuple[str, ...] = ("x", "y"), second: bool = True) -> None:
        self.lines: list[tuple[str, str]] = []
        self.variables = variables
        n = len(variables)
        self.pairs = tuple((i, j) for i in range(n) for j in range(i, n)) if second else ()

    def text(self, a: str | float) -> str:
        return a if isinstance(a, str) else _literal(a)

    def let(self, template: str, *args: str | float) -> str:
        name = f"t{len(self.lines)}"
        self.lines.append((name, template.format(*(self.text(a) for a in args))))
        return name

    def call(self, helper: str, *args: str | float) -> str:
        return self.let(f"{helper}({', '.join('{}' for _ in args)})", *args)

    def add(self, a: Entry, b: Entry) -> Entry:
        if a is None:
            return b
        if b is None:
            return a
        if isinstance(a, float) and isinstance(b, float):
            return a + b
        return self.let("{} + {}", a, b)

    def neg(self, a: Entry) -> Entry:
        if a is None or isinstance(a, float):
            return None if a is None else -a
        return self.let("-{}", a)

    def sub(self, a: Entry, b: Entry) -> Entry:
        if b is None:
            return a
        if a is None:
            return self.neg(b)
        if isinstance(a, float) and isinstance(b, float):
            return a - b
        return self.let("{} - {}", a, b)

    def mul(self, a: Entry, b: Entry) -> Entry:
        # only structural zeros vanish: a literal 0.0 times inf must stay nan
        if a is None or b is None:
            return None
        if isinstance(a, float) and isinstance(b, float):
            return a * b
        if a == 1.0:
            return b
        if b == 1.0:
            return a
        return self.let("{} * {}", a, b)

    def div(self, a: Entry, b: str | float) -> Entry:
        return None if a is None else self.let("{} / {}", a, b)

    def total(self, *terms: Entry) -> Entry:
        out = None
        for t in terms:
            out = self.add(out, t)
        return out


def _variable(code: _Code, name: str) -> Jet:
    grad = tuple(1.0 if v == name else None for v in code.variables)
    return Jet(name, grad, (None,) * len(code.pairs))


def _constant(code: _Code, value: float | str) -> Jet:
    value = value if isinstance(value, str) else float(value)
    return Jet(value, (None,) * len(code.variables), (None,) * len(code.pairs))


def _chain(code: _Code, u: Jet, value: str, d1: Entry, d2: Entry) -> Jet:
    """f(u) with f' = d1 and f'' = d2 at u."""
    grad = tuple(code.mul(d1, gi) for gi in u.grad)
    hess = tuple(
        code.add(code.mul(code.mul(d2, u.grad[i]), u.grad[j]), code.mul(d1, u.hess[k]))
        for k, (i, j) in enumerate(code.pairs)
    )
    return Jet(value, grad, hess)


def _is_constant(j: Jet) -> bool:
    return all(d is None for d in (*j.grad, *j.hess))


def _power(code: _Code, u: Jet, w: Jet) -> Jet:
    value = _pow_value(code, u.value, w)
    if _is_constant(w):
        c = w.value
        if isinstance(c, float) and c == 0.0:  # torch masks the derivative of u^0
            return _constant(code, value)
        if isinstance(c, float):
            d1 = code.mul(c, _pow_or_one(code, u.value, c - 1.0))
            d2 = None if c == 1.0 else code.mul(c * (c - 1.0), _pow_or_one(code, u.value, c - 2.0))
            return _chain(code, u, value, d1, d2)
        d1 = code.mul(c, code.call("F_pow", u.value, code.sub(c, 1.0)))
        d2 = code.mul(code.mul(c, code.sub(c, 1.0)), code.call("F_pow", u.value, code.sub(c, 2.0)))
        return _chain(code, u, value, d1, d2)
    # both vary: the partials as autograd's pow rules have them, masks included (f_u is
    # 0 where w = 0, f_w where u = 0 and w >= 0), so the mixed partial is not symmetric
    fu = code.call("F_powd", u.value, w.value)
    fw = code.call("F_powlog", u.value, w.value, value)
    fuu = code.call("F_powuu", u.value, w.value)
    fuw = code.call("F_powuw", u.value, w.value)  # d f_u / d w
    fwu = code.call("F_powwu", u.value, w.value, value, fu)  # d f_w / d u
    fww = code.call("F_powww", u.value, w.value, fw)
    grad = tuple(
        code.add(code.mul(fu, u.grad[i]), code.mul(fw, w.grad[i])) for i in range(len(u.grad))
    )
    hess = []
    for k, (i, j) in enumerate(code.pairs):
        hess.append(
            code.total(
                code.mul(code.mul(fuu, u.grad[i]), u.grad[j]),
                code.mul(code.mul(fuw, u.grad[i]), w.grad[j]),
                code.mul(code.mul(fwu, w.grad[i]), u.grad[j]),
                code.mul(code.mul(fww, w.grad[i]), w.grad[j]),
                code.mul(fu, u.hess[k]),
                code.mul(fw, w.hess[k]),
            )
        )
    return Jet(value, grad, tuple(hess))


def _pow_or_one(code: _Code, u: str | float, c: float) -> str | float:
    return 1.0 if c == 0.0 else u if c == 1.0 else code.call("F_pow", u, c)


def _pow_value(code: _Code, u: str | float, w: Jet) -> str:
    # u^2 as u * u: what torch's pow does for the exponent 2, and much cheaper on arrays
    if w.value == 2.0 and _is_constant(w):
        return code.let("{} * {}", u, u)
    return code.call("F_pow", u, w.value)


def _product(code: _Code, u: Jet, w: Jet) -> Jet:
    grad = tuple(
        code.add(code.mul(u.grad[i], w.value), code.mul(u.value, w.grad[i]))
        for i in range(len(u.grad))
    )
    hess = tuple(
        code.total(
            code.mul(u.hess[k], w.value),
            code.mul(u.grad[i], w.grad[j]),
            code.mul(u.grad[j], w.grad[i]),
            code.mul(u.value, w.hess[k]),
        )
        for k, (i, j) in enumerate(code.pairs)
    )
    return Jet(code.let("{} * {}", u.value, w.value), grad, hess)


def _quotient(code: _Code, u: Jet, w: Jet) -> Jet:
    q = code.let("{} / {}", u.value, w.value)
    grad = tuple(
        code.div(code.sub(u.grad[i], code.mul(q, w.grad[i])), w.value) for i in range(len(u.grad))
    )
    hess = tuple(
        code.div(
            code.sub(
                code.sub(
                    code.sub(u.hess[k], code.mul(grad[i], w.grad[j])), code.mul(w.grad[i], grad[j])
                ),
                code.mul(q, w.hess[k]),
            ),
            w.value,
        )
        for k, (i, j) in enumerate(code.pairs)
    )
    return Jet(q, grad, hess)


def _select(code: _Code, name: str, u: Jet, w: Jet) -> Jet:
    """min / max: autograd sends the gradient to the chosen argument, half to each on ties."""
    value = code.call(f"F_{name}", u.value, w.value)
    a = code.call(f"F_{name}a", u.value, w.value)
    b = code.call(f"F_{name}a", w.value, u.value)
    grad = tuple(
        code.add(code.mul(a, gu), code.mul(b, gw)) for gu, gw in zip(u.grad, w.grad, strict=True)
    )
    hess = tuple(
        code.add(code.mul(a, hu), code.mul(b, hw)) for hu, hw in zip(u.hess, w.hess, strict=True)
    )
    return Jet(value, grad, hess)


def _function(code: _Code, name: str, u: Jet) -> Jet:
    """A whitelisted function of one argument: its value and f', f'' as autograd has them."""
    v = code.call(f"F_{name}", u.value)
    if name == "sin":
        d1, d2 = code.call("F_cos", u.value), code.neg(v)
    elif name == "cos":
        d1 = code.neg(code.call("F_sin", u.value))
        d2 = code.neg(v)
    elif name == "tan":
        d1 = code.let("1.0 + {} * {}", v, v)
        d2 = code.let("2.0 * {} * {}", v, d1)
    elif name == "exp":
        d1 = d2 = v
    elif name == "log":
        d1 = code.let("1.0 / {}", u.value)
        d2 = code.let("-({} * {})", d1, d1)
    elif name == "sqrt":
        d1 = code.let("1.0 / (2.0 * {})", v)
        d2 = code.let("-({} * {}) / {}", d1, d1, v)
    elif name == "abs":
        d1, d2 = code.call("F_sign", u.value), None
    elif name == "tanh":
        d1 = code.let("1.0 - {} * {}", v, v)
        d2 = code.let("-2.0 * {} * {}", v, d1)
    elif name == "sigmoid":
        d1 = code.let("(1.0 - {}) * {}", v, v)
        d2 = code.let("{} * (1.0 - 2.0 * {})", d1, v)
    elif name == "softplus":
        d1, d2 = code.call("F_softplus1", u.value), code.call("F_softplus2", u.value)
    else:  # pragma: no cover - the parser admits only the names above
        raise ValueError(f"no derivative rule for {name!r}")
    return _chain(code, u, v, d1, d2)


_CONSTANTS = {"pi": math.pi, "e": math.e}


def _jet(code: _Code, node: Node) -> Jet:
    match node:
        case Var(name) if name in code.variables:
            return _variable(code, name)
        case Num(value):
            return _constant(code, value)
        case Const(name) if name in _CONSTANTS:
            return _constant(code, _CONSTANTS[name])
        case Unary("+", operand):
            return _jet(code, operand)
        case Unary("-", operand):
            u = _jet(code, operand)
            value = -u.value if isinstance(u.value, float) else code.let("-{}", u.value)
            return Jet(value, tuple(map(code.neg, u.grad)), tuple(map(code.neg, u.hess)))
        case Binary(op, left, right) if op in "+-*/^":
            u, w = _jet(code, left), _jet(code, right)
            if op == "+":
                return _sum(code, u, w, code.add)
            if op == "-":
                return _sum(code, u, w, code.sub)
            if op == "*":
                return _product(code, u, w)
            if op == "/":
                return _quotient(code, u, w)
            return _power(code, u, w)
        case Call(name, (arg,)) if name in _UNARY:
            return _function(code, name, _jet(code, arg))
        case Call(name, (a, b)) if name in ("min", "max"):
            return _select(code, name, _jet(code, a), _jet(code, b))
    raise ValueError(f"not a valid expression node: {node!r}")


def _sum(code: _Code, u: Jet, w: Jet, op) -> Jet:
    if isinstance(u.value, float) and isinstance(w.value, float):
        value = op(u.value, w.value)
    else:
        value = code.let("{} + {}" if op == code.add else "{} - {}", u.value, w.value)
    grad = tuple(op(a, b) for a, b in zip(u.grad, w.grad, strict=True))
    hess = tuple(op(a, b) for a, b in zip(u.hess, w.hess, strict=True))
    return Jet(value, grad, hess)


_UNARY = ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "softplus")
_TEMP = re.compile(r"\bt[0-9]+\b")


FUNCTIONS = {"gradient": ORDER[1:3], "hessian": ORDER[1:], "jets": ORDER}


def _bodies(
    node: Node,
    functions: dict[str, tuple[str, ...]] = FUNCTIONS,
    variables: tuple[str, ...] = ("x", "y"),
    second: bool = True,
) -> dict[str, tuple[list[str], list[str]]]:
    """Per function of `functions` (name -> the entries it returns: "value", "g" + a
    variable for a first partial, "h" + two variables for a second one, as in ORDER):
    its assignments (only the temporaries it needs, in order) and the texts of its
    results."""
    code = _Code(variables, second)
    jet = _jet(code, node)
    names = (
        "value",
        *(f"g{v}" for v in variables),
        *(f"h{variables[i]}{variables[j]}" for i, j in code.pairs),
    )
    entries = dict(zip(names, (jet.value, *jet.grad, *jet.hess), strict=True))
    bodies = {}
    for function, outputs in functions.items():
        results = [code.text(0.0 if entries[k] is None else entries[k]) for k in outputs]
        needed = set(_TEMP.findall(" ".join(results)))
        kept = []
        for name, expr in reversed(code.lines):  # dead-code elimination
            if name in needed:
                kept.append(f"{name} = {expr}")
                needed.update(_TEMP.findall(expr))
        bodies[function] = (kept[::-1], results)
    return bodies


def source(node: Node) -> str:
    """The Python source of the FUNCTIONS, each f(x, y) returning its jet entries
    (names from ORDER) with only the temporaries they need."""
    return _source(_bodies(node))


def _source(
    bodies: dict[str, tuple[list[str], list[str]]], variables: tuple[str, ...] = ("x", "y")
) -> str:
    parts = []
    for function, (lines, results) in bodies.items():
        body = "".join(f"    {line}\n" for line in lines)
        arguments = ", ".join(variables)
        parts.append(f"def {function}({arguments}):\n{body}    return ({', '.join(results)},)\n")
    return "\n".join(parts)


# the helpers that are one library call (the others are several operations each: a
# Python function on floats, masks and `where`s on arrays)
_SINGLE = {"F_sin", "F_cos", "F_tan", "F_exp", "F_log", "F_sqrt", "F_abs", "F_tanh", "F_pow"}


def operations(node: Node) -> dict[str, tuple[int, int]]:
    """Per function of FUNCTIONS: the temporaries it computes (an operation each per
    point) and how many of them call a helper of several operations (F_powd, F_sigmoid,
    ...): core.scenarios.limits prices a loss's derivatives by these two counts."""
    return _operations(_bodies(node))


def _operations(bodies) -> dict[str, tuple[int, int]]:
    def composite(line: str) -> bool:
        helper = line.split(" = ", 1)[1].split("(", 1)[0]
        return helper.startswith("F_") and helper not in _SINGLE

    return {f: (len(lines), sum(map(composite, lines))) for f, (lines, _) in bodies.items()}


# --- the helpers' two implementations: Python floats and numpy arrays ----------------


def _sigmoid(u: float) -> float:
    if u >= 0:
        return 1.0 / (1.0 + math.exp(-u))
    z = math.exp(u)
    return z / (1.0 + z)


def _softplus1(u: float) -> float:  # torch: z / (z + 1), 1 past the threshold 40
    if u > 40.0:
        return 1.0
    z = math.exp(u)
    return z / (z + 1.0)


def _softplus2(u: float) -> float:
    if u > 40.0:
        return 0.0
    z = math.exp(u)
    return z / ((z + 1.0) * (z + 1.0))


def _sign(u: float) -> float:
    return 1.0 if u > 0 else -1.0 if u < 0 else u * 0.0  # nan stays nan


def _max(u: float, w: float) -> float:
    return u if u >= w else w if w > u else u + w  # nan if either is nan


def _min(u: float, w: float) -> float:
    return u if u <= w else w if w < u else u + w


def _maxa(u: float, w: float) -> float:  # the share of max's gradient going to u
    return 0.5 if u == w else 0.0 if u < w else 1.0


def _mina(u: float, w: float) -> float:
    return 0.5 if u == w else 0.0 if u > w else 1.0


def _powd(u: float, w: float) -> float:
    return 0.0 if w == 0.0 else w * math.pow(u, w - 1.0)


def _powlog(u: float, w: float, v: float) -> float:
    return 0.0 if u == 0.0 and w >= 0.0 else v * math.log(u)


def _powuu(u: float, w: float) -> float:
    return 0.0 if w == 0.0 else w * (w - 1.0) * math.pow(u, w - 2.0)


def _powuw(u: float, w: float) -> float:
    return 0.0 if w == 0.0 else math.pow(u, w - 1.0) * (1.0 + w * math.log(u))


def _powwu(u: float, w: float, v: float, fu: float) -> float:
    return 0.0 if u == 0.0 and w >= 0.0 else fu * math.log(u) + v / u


def _powww(u: float, w: float, fw: float) -> float:
    return 0.0 if u == 0.0 and w >= 0.0 else fw * math.log(u)


FLOAT_HELPERS: dict[str, Callable] = {
    "F_sin": math.sin,
    "F_cos": math.cos,
    "F_tan": math.tan,
    "F_exp": math.exp,
    "F_log": math.log,
    "F_sqrt": math.sqrt,
    "F_abs": abs,
    "F_tanh": math.tanh,
    "F_sigmoid": _sigmoid,
    "F_softplus": lambda u: u if u > 40.0 else math.log1p(math.exp(u)),
    "F_softplus1": _softplus1,
    "F_softplus2": _softplus2,
    "F_sign": _sign,
    "F_pow": math.pow,
    "F_powd": _powd,
    "F_powlog": _powlog,
    "F_powuu": _powuu,
    "F_powuw": _powuw,
    "F_powwu": _powwu,
    "F_powww": _powww,
    "F_max": _max,
    "F_min": _min,
    "F_maxa": _maxa,
    "F_mina": _mina,
    "F_inf": math.inf,
    "F_nan": math.nan,
}


def _array_helpers(xp, asarray) -> dict[str, Callable]:
    """The helpers on arrays of the module xp (numpy or torch: the names they share);
    `asarray` makes a constant operand an array first."""

    def lift(fn):
        return lambda *args: fn(*map(asarray, args))

    def sigmoid(u):
        z = xp.exp(-xp.abs(u))
        return xp.where(u >= 0, 1.0 / (1.0 + z), z / (1.0 + z))

    def below40(u):  # exp past the threshold is never used: keep it finite
        return xp.exp(xp.where(u > 40.0, 40.0, u))

    def softplus1(u):
        z = below40(u)
        return xp.where(u > 40.0, 1.0, z / (z + 1.0))

    def softplus2(u):
        z = below40(u)
        return xp.where(u > 40.0, 0.0, z / ((z + 1.0) * (z + 1.0)))

    def masked(u, w):
        return (u == 0.0) & (w >= 0.0)

    helpers = {
        "F_sin": xp.sin,
        "F_cos": xp.cos,
        "F_tan": xp.tan,
        "F_exp": xp.exp,
        "F_log": xp.log,
        "F_sqrt": xp.sqrt,
        "F_abs": xp.abs,
        "F_tanh": xp.tanh,
        "F_sigmoid": sigmoid,
        "F_softplus": lambda u: xp.where(u > 40.0, u, xp.log1p(below40(u))),
        "F_softplus1": softplus1,
        "F_softplus2": softplus2,
        "F_sign": xp.sign,
        "F_pow": xp.pow,
        "F_powd": lambda u, w: xp.where(w == 0.0, 0.0, w * xp.pow(u, w - 1.0)),
        "F_powlog": lambda u, w, v: xp.where(masked(u, w), 0.0, v * xp.log(u)),
        "F_powuu": lambda u, w: xp.where(w == 0.0, 0.0, w * (w - 1.0) * xp.pow(u, w - 2.0)),
        "F_powuw": lambda u, w: xp.where(w == 0.0, 0.0, xp.pow(u, w - 1.0) * (1.0 + w * xp.log(u))),
        "F_powwu": lambda u, w, v, fu: xp.where(masked(u, w), 0.0, fu * xp.log(u) + v / u),
        "F_powww": lambda u, w, fw: xp.where(masked(u, w), 0.0, fw * xp.log(u)),
        "F_max": xp.maximum,
        "F_min": xp.minimum,
        "F_maxa": lambda u, w: xp.where(u == w, 0.5, xp.where(u < w, 0.0, 1.0)),
        "F_mina": lambda u, w: xp.where(u == w, 0.5, xp.where(u > w, 0.0, 1.0)),
    }
    return {name: lift(fn) for name, fn in helpers.items()} | {
        "F_inf": math.inf,
        "F_nan": math.nan,
    }


def _on_torch(fn):
    """A numpy float64 function computed by torch: numpy's sin and cos run ~8x slower
    than torch's vectorized ones (they dominate a batched step of a loss with a ripple);
    the results agree to an ulp."""

    def apply(u) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        if not (u.flags.writeable and u.flags.c_contiguous):  # broadcast views: a copy
            u = np.array(u)
        return fn(torch.from_numpy(u)).numpy()

    return apply


ARRAY_HELPERS = _array_helpers(np, lambda v: np.asarray(v, dtype=np.float64)) | {
    "F_sin": _on_torch(torch.sin),
    "F_cos": _on_torch(torch.cos),
}
TORCH_HELPERS = _array_helpers(
    torch, lambda v: v if isinstance(v, torch.Tensor) else torch.tensor(v, dtype=torch.float64)
)


def _build(code, helpers: dict[str, Callable]) -> dict[str, Callable]:
    namespace = {"__builtins__": {}, **helpers}
    exec(code, namespace)  # noqa: S102 - built from the validated tree only (see `source`)
    return namespace


class Derivatives:
    """The loss of an expression with its exact derivatives, on floats and on arrays.

    `gradient(x, y)` -> (gx, gy); `hessian(x, y)` -> (gx, gy, hxx, hxy, hyy);
    `arrays(x, y)` -> the six ORDER entries as numpy arrays of the broadcast shape.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        bodies = _bodies(node)
        self.operations = _operations(bodies)
        code = compile(_source(bodies), "<loss derivatives>", "exec")
        floats = _build(code, FLOAT_HELPERS)
        self._grad, self._hess = floats["gradient"], floats["hessian"]
        arrays = _build(code, ARRAY_HELPERS)
        self._arrays = arrays["jets"]
        self._array_parts = {k: arrays[k] for k in ("gradient", "hessian")}
        self._tensors = _build(code, TORCH_HELPERS)

    @classmethod
    def of(cls, text: str) -> Derivatives:
        """The derivatives of `text`: an Expression's own (compiled once)."""
        return text.derivatives if isinstance(text, Expression) else cls(parse(text))

    def arrays(self, x, y) -> tuple[np.ndarray, ...]:
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        with np.errstate(all="ignore"):
            out = self._arrays(x, y)
        return tuple(np.broadcast_to(np.asarray(v, dtype=np.float64), x.shape) for v in out)

    def on_arrays(self, x: np.ndarray, y: np.ndarray, hessian: bool = True) -> tuple:
        """The gradient (and Hessian) entries on float64 numpy arrays of one shape, as in
        `hessian` and `gradient` (five entries, or two); torch's inf and nan.  For batched
        engines, called once a step: no copies beyond broadcasting constant entries, and
        no np.errstate of its own (the caller's, around its loop: entering one costs more
        than a small step)."""
        out = self._array_parts["hessian" if hessian else "gradient"](x, y)
        return tuple(v if isinstance(v, np.ndarray) else np.full(x.shape, v) for v in out)

    def tensors(self, x: Tensor, y: Tensor, hessian: bool = True) -> tuple[Tensor, ...]:
        """The gradient (and Hessian) entries on torch tensors of one shape (1D), as in
        `hessian` and `gradient`: five entries, or two.  Every temporary of the code
        lives until it returns, so long rows go in chunks of at most _ELEMENTS
        temporaries' elements (a long expression on a 200 x 200 grid: 1 GB at once)."""
        function = "hessian" if hessian else "gradient"
        rows = max(1, _ELEMENTS // max(1, self.operations[function][0]))

        def part(a: Tensor, b: Tensor) -> tuple[Tensor, ...]:
            out = self._tensors[function](a, b)
            return tuple(
                torch.as_tensor(v, dtype=a.dtype, device=a.device).expand_as(a) for v in out
            )

        if x.shape[0] <= rows:
            return part(x, y)
        parts = [part(x[i : i + rows], y[i : i + rows]) for i in range(0, x.shape[0], rows)]
        return tuple(torch.cat(entry) for entry in zip(*parts, strict=True))

    def _at(self, x: float, y: float, first: int, last: int) -> tuple[float, ...]:
        return tuple(float(v[0]) for v in self.arrays(np.array([x]), np.array([y]))[first:last])

    def gradient(self, x: float, y: float) -> tuple[float, float]:
        try:
            return self._grad(x, y)
        except (ArithmeticError, ValueError):  # a domain error: numpy gives torch's inf/nan
            return self._at(x, y, 1, 3)

    def hessian(self, x: float, y: float) -> tuple[float, float, float, float, float]:
        try:
            return self._hess(x, y)
        except (ArithmeticError, ValueError):
            return self._at(x, y, 1, 6)


_FLOATS = {float, np.float64}


class FirstOrder:
    """An expression of named variables with its first partials, from its tree as a
    loss's derivatives are (no text of the input is executed): a declared optimizer's
    feature of g, or its readout of g, m1, m2, m3 (core.engine.declared).
    `value(*args)` and `partials(*args)` (d/d each of `wrt`) take Python floats, numpy
    arrays or torch tensors, in the order of `variables`, and return the same kind."""

    def __init__(self, node: Node, variables: tuple[str, ...], wrt: tuple[str, ...]) -> None:
        functions = {"value": ("value",), "partials": tuple(f"g{v}" for v in wrt)}
        bodies = _bodies(node, functions, variables, second=False)
        # the value's temporaries, its helpers of several operations counted as three
        lines, composite = _operations(bodies)["value"]
        self.operations = lines + 2 * composite
        code = compile(_source(bodies, variables), "<declared optimizer>", "exec")
        self._floats = _build(code, FLOAT_HELPERS)
        self._arrays = _build(code, ARRAY_HELPERS)
        self._tensors = _build(code, TORCH_HELPERS)

    def _call(self, function: str, args: tuple) -> tuple:
        # the float engine calls this a few times per coordinate and step: one set of
        # types decides (a generator per call cost it 1.6 µs, ten times the code's work)
        if set(map(type, args)) <= _FLOATS:
            try:
                return self._floats[function](*args)
            except (ArithmeticError, ValueError):  # a domain error: numpy's inf/nan
                with np.errstate(all="ignore"):
                    out = self._arrays[function](*(np.float64(a) for a in args))
                return tuple(float(v) for v in out)
        if any(isinstance(a, Tensor) for a in args):
            return self._tensors[function](*args)
        with np.errstate(all="ignore"):
            return self._arrays[function](*args)

    def value(self, *args):
        return self._call("value", args)[0]

    def partials(self, *args) -> tuple:
        return self._call("partials", args)

    # as core.engine.optimizers' Readout and Average take them (a declaration's readout
    # has no hyperparameters `p`; a feature's slope is its one partial)
    def readout_value(self, p, *args):
        return self._call("value", args)[0]

    def readout_partials(self, p, *args) -> tuple:
        return self._call("partials", args)

    def slope(self, g):
        return self._call("partials", (g,))[0]
