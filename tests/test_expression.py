"""Tests for core.models.expression: values, precedence, errors, caps, gradients, safety."""

from __future__ import annotations

import contextlib
import math
import operator
import pickle
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Lets `pytest tests/test_expression.py` import `core` from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.models.expression import (
    MAX_DEPTH,
    MAX_LENGTH,
    Binary,
    Call,
    Const,
    ExpressionError,
    Num,
    Unary,
    Var,
    compile_expression,
    parse,
    to_torch,
    unparse,
)

F64 = torch.float64
FUNCTIONS = ["sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sigmoid"]
FUNCTIONS += ["softplus"]


def values(text: str, points: list[tuple[float, float]]) -> list[float]:
    xs, ys = zip(*points, strict=True)
    f = compile_expression(text)
    return f(torch.tensor(xs, dtype=F64), torch.tensor(ys, dtype=F64)).tolist()


# --- values against Python's math module --------------------------------------------

POSITIVE_POINTS = [(0.7, 1.3), (2.0, 0.5), (1.25, 3.0), (0.3, 0.9)]

TABLE: list[tuple[str, Callable[[float, float], float]]] = [
    ("x + y", lambda x, y: x + y),
    ("x - y - 1", lambda x, y: (x - y) - 1),
    ("x / y / 2", lambda x, y: (x / y) / 2),
    ("x * y + x / y", lambda x, y: x * y + x / y),
    ("-x^2", lambda x, y: -(x**2)),
    ("-x**2", lambda x, y: -(x**2)),
    ("2^3^2", lambda x, y: 512.0),
    ("x^y^2", lambda x, y: x ** (y**2)),
    ("2^-1", lambda x, y: 0.5),
    ("x^-2 + x^0.5", lambda x, y: x**-2 + x**0.5),
    ("+x - -y", lambda x, y: x + y),
    ("3. + .5 + 1.5e-3 + 2E+4", lambda x, y: 3.0 + 0.5 + 0.0015 + 20000.0),
    ("pi * e", lambda x, y: math.pi * math.e),
    ("e^x", lambda x, y: math.e**x),
    (" x\t*\n y ", lambda x, y: x * y),
    ("sin(x) + cos(y) + tan(x)", lambda x, y: math.sin(x) + math.cos(y) + math.tan(x)),
    ("exp(-x) * log(1 + y)", lambda x, y: math.exp(-x) * math.log(1 + y)),
    ("sqrt(x^2 + y^2)", lambda x, y: math.sqrt(x**2 + y**2)),
    ("abs(x - y) + tanh(x)", lambda x, y: abs(x - y) + math.tanh(x)),
    ("sigmoid(x - y)", lambda x, y: 1 / (1 + math.exp(-(x - y)))),
    # 30*x crosses softplus's switch to the identity; it must stay exact there.
    ("softplus(30*x)", lambda x, y: math.log1p(math.exp(30 * x))),
    ("min(x, y) - max(x, y)", lambda x, y: min(x, y) - max(x, y)),
    ("min(max(x, 0.5), 1)", lambda x, y: min(max(x, 0.5), 1)),
    ("(1 - x)^2 + 100*(y - x^2)^2", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2),
    ("2.5", lambda x, y: 2.5),
]


@pytest.mark.parametrize(("text", "reference"), TABLE)
def test_values_match_math(text, reference):
    got = values(text, POSITIVE_POINTS)
    for value, (x, y) in zip(got, POSITIVE_POINTS, strict=True):
        assert math.isclose(value, reference(x, y), rel_tol=1e-12), (text, x, y)


def test_domain_errors_give_nan_or_inf_without_raising():
    points = [(-3.0, 0.0), (-2.0, 0.0)]
    assert values("x^2", points) == [9.0, 4.0]
    assert values("x^3", points) == [-27.0, -8.0]
    assert values("x^-1", points) == [-1 / 3, -0.5]
    assert values("(-2)^2 + 0*x", points) == [4.0, 4.0]
    for text in ["log(x)", "sqrt(x)", "x^0.5", "0/y"]:
        assert all(math.isnan(v) for v in values(text, points)), text
    assert values("1/y", points) == [math.inf, math.inf]


# --- precedence and spelling ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("x^2", "x**2"),
        ("2 ^ -x ^ y", "2**-x**y"),
        ("-x^2", "-(x^2)"),
        ("2^3^2", "2^(3^2)"),
        ("x^y^2", "x^(y^2)"),
        ("x-y-1", "(x-y)-1"),
        ("x/y/2", "(x/y)/2"),
        ("x+y*2", "x+(y*2)"),
        ("-x*y", "(-x)*y"),
        ("2^-1", "2^(-1)"),
    ],
)
def test_precedence_and_associativity(text, same_as):
    assert parse(text) == parse(same_as)


def test_ast_shape():
    assert parse("-x^2") == Unary("-", Binary("^", Var("x"), Num(2.0)))
    assert parse("x-y-1") == Binary("-", Binary("-", Var("x"), Var("y")), Num(1.0))
    assert parse("max(pi, y)") == Call("max", (Const("pi"), Var("y")))
    assert parse("x^y^2") != parse("(x^y)^2")


def test_unparse_is_canonical():
    assert unparse(parse("-x^2")) == "(-(x ^ 2))"
    assert unparse(parse("2**3^2")) == "(2 ^ (3 ^ 2))"
    assert unparse(parse("min( x,y)+.5")) == "(min(x, y) + 0.5)"
    with pytest.raises(ValueError):
        unparse(Num(-1.0))


# --- generated expressions with an independent evaluator -----------------------------

# Precedence levels of the test's own printer: an operand is parenthesised when
# its level is below what its position needs.
SUM, PRODUCT, SIGNED, POWER, ATOM = range(1, 6)
BINARY = {  # op -> (python op, own level, left needs, right needs)
    "+": (operator.add, SUM, SUM, PRODUCT),
    "-": (operator.sub, SUM, SUM, PRODUCT),
    "*": (operator.mul, PRODUCT, PRODUCT, SIGNED),
    "/": (operator.truediv, PRODUCT, PRODUCT, SIGNED),
    "^": (math.pow, POWER, ATOM, SIGNED),  # right-assoc; -x^2 is -(x^2)
}


def _nan_aware(pick):
    # torch.minimum/maximum propagate nan; Python's min/max depend on order.
    return lambda a, b: math.nan if math.isnan(a) or math.isnan(b) else pick(a, b)


def _softplus(a):
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


MATH = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": math.fabs,
    "tanh": math.tanh,
    "sigmoid": lambda a: 1 / (1 + math.exp(-a)),
    "softplus": _softplus,
    "min": _nan_aware(min),
    "max": _nan_aware(max),
}
Jitter = Callable[[float], float]


@dataclass(frozen=True)
class Gen:
    """A generated expression: its text, and its value at (x, y) by Python math.

    `ref(x, y, jitter)` passes every intermediate result through `jitter`, which
    lets the test measure how much rounding differences can move the result.
    """

    text: str
    level: int
    height: int
    ref: Callable[[float, float, Jitter], float]


def _wrap(gen: Gen, needs: int, space: str) -> str:
    return gen.text if gen.level >= needs else f"({space}{gen.text}{space})"


def _leaf(text: str, value_of: Callable[[float, float], float]) -> Gen:
    return Gen(text, ATOM, 0, lambda x, y, jitter: value_of(x, y))


def _binary(op: str, left: Gen, right: Gen, caret: str, space: str) -> Gen:
    fn, level, left_needs, right_needs = BINARY[op]
    spelled = caret if op == "^" else op
    text = f"{_wrap(left, left_needs, space)}{space}{spelled}{space}"
    text += _wrap(right, right_needs, space)

    def ref(x, y, jitter):
        return jitter(fn(left.ref(x, y, jitter), right.ref(x, y, jitter)))

    return Gen(text, level, 1 + max(left.height, right.height), ref)


def _signed(sign: str, operand: Gen, space: str) -> Gen:
    def ref(x, y, jitter):
        value = operand.ref(x, y, jitter)
        return -value if sign == "-" else value

    text = f"{sign}{space}{_wrap(operand, SIGNED, space)}"
    return Gen(text, SIGNED, 1 + operand.height, ref)


def _call(name: str, args: tuple[Gen, ...], space: str) -> Gen:
    def ref(x, y, jitter):
        return jitter(MATH[name](*(arg.ref(x, y, jitter) for arg in args)))

    text = f"{name}{space}({space}{f'{space},{space}'.join(a.text for a in args)})"
    return Gen(text, ATOM, 1 + max(a.height for a in args), ref)


LITERALS = ["0", "1", "2", "3", "10", "0.5", ".5", "3.", "2.50", "1.5e-3", "2E+4"]
leaves = st.one_of(
    st.sampled_from(LITERALS).map(lambda t: _leaf(t, lambda x, y: float(t))),
    st.just(_leaf("x", lambda x, y: x)),
    st.just(_leaf("y", lambda x, y: y)),
    st.just(_leaf("pi", lambda x, y: math.pi)),
    st.just(_leaf("e", lambda x, y: math.e)),
)
spaces = st.sampled_from(["", " ", "  ", "\t"])


def _extend(children):
    carets = st.sampled_from(["^", "**"])
    return st.one_of(
        st.builds(_binary, st.sampled_from("+-*/^"), children, children, carets, spaces),
        st.builds(_signed, st.sampled_from("+-"), children, spaces),
        st.builds(_call, st.sampled_from(FUNCTIONS), st.tuples(children), spaces),
        st.builds(_call, st.sampled_from(["min", "max"]), st.tuples(children, children), spaces),
    )


expressions = st.recursive(leaves, _extend, max_leaves=8).filter(
    lambda gen: gen.height <= 10 and len(gen.text) <= MAX_LENGTH
)
FIXED_POINTS = [(0.5, -1.25), (1.5, 2.0), (-2.0, 0.75), (3.0, 0.1)]
coordinates = st.floats(-4.0, 4.0)


def _reference(gen: Gen, x: float, y: float) -> float | None:
    """Python-math value at (x, y), or None where it is not a fair comparison.

    Skipped: math errors (domain, overflow, division by zero), non-finite values,
    and ill-conditioned points, where flipping each intermediate result by about
    nine ulps (random signs, three tries) moves the value by more than 1e-13: there
    one-ulp differences between libm and torch kernels could exceed the tolerance.
    """
    try:
        exact = gen.ref(x, y, lambda v: v)
        if not math.isfinite(exact):
            return None
        rng = random.Random(0)
        for _ in range(3):
            moved = gen.ref(x, y, lambda v: v * (1 + rng.choice((-2e-15, 2e-15))))
            if not abs(moved - exact) <= 1e-13 * abs(exact):
                return None
    except (ArithmeticError, ValueError):
        return None
    return exact


@settings(max_examples=250, deadline=None)
@given(expressions, coordinates, coordinates)
def test_generated_expressions_match_math(gen, x0, y0):
    points = [*FIXED_POINTS, (x0, y0)]
    got = values(gen.text, points)
    for value, (x, y) in zip(got, points, strict=True):
        expected = _reference(gen, x, y)
        if expected is not None:
            assert math.isclose(value, expected, rel_tol=1e-12), (gen.text, x, y)


@settings(max_examples=250, deadline=None)
@given(expressions)
def test_unparse_round_trip(gen):
    tree = parse(gen.text)
    canonical = unparse(tree)
    assume(len(canonical) <= MAX_LENGTH)
    assert parse(canonical) == tree
    assert unparse(parse(canonical)) == canonical


# --- hostile input --------------------------------------------------------------------

# The hook cannot be removed once added, so it is installed once and only records
# while a test has switched it on.
WATCHED = {"exec", "compile", "import", "os.system", "subprocess.Popen", "open"}
_audit = {"on": False, "events": []}


def _audit_hook(event, args):
    if _audit["on"] and event in WATCHED:
        _audit["events"].append(event)


sys.addaudithook(_audit_hook)


@contextlib.contextmanager
def audited():
    _audit["events"].clear()
    _audit["on"] = True
    try:
        yield _audit["events"]
    finally:
        _audit["on"] = False


def test_audit_hook_records_dynamic_code():
    with audited() as events:
        compile("1 + 1", "<probe>", "eval")
    assert "compile" in events


GRAMMAR = ["x", "y", "pi", "e", "0", "2.5", ".5", "3.", "1e3", "2E-2"]
GRAMMAR += ["+", "-", "*", "/", "^", "**", "(", ")", ",", " ", *FUNCTIONS, "min", "max"]
JUNK = [
    "__import__('os')", "x.__class__", "lambda", "lambda x: x", ";", "`", "`ls`",
    "import os", "os.system('true')", "open('f')", "exec", "eval('1')", "'", '"',
    "\\", "\n", "#", "[", "]", "{", "}", "@", "!", "=", "&", "|", "~", "%", "0x1f",
    "1_000", "1j", "..", "1e", "__builtins__", "sin.__globals__", "\x00", "\u0663",
    "\u2028", "\uff58", "\u00e9",
]  # fmt: skip
# (prefix, suffix, nesting levels per repetition)
NESTINGS = [("(", ")", 1), ("-", "", 1), ("+-", "", 2), ("x^", "", 1), ("2**", "", 1)]
NESTINGS += [("sin(", ")", 1), ("min(x,", ")", 1), ("abs(-(", "))", 3)]
hostile = st.one_of(
    st.text(max_size=2 * MAX_LENGTH),
    st.lists(st.sampled_from(GRAMMAR + JUNK), max_size=150).map("".join),
    st.builds(
        lambda nesting, n: nesting[0] * n + "x" + nesting[1] * n,
        st.sampled_from(NESTINGS),
        st.integers(0, 1000),
    ),
)


@settings(max_examples=600, deadline=None)
@given(hostile)
def test_hostile_input_is_parsed_or_rejected_and_nothing_runs(text):
    with audited() as events:
        try:
            tree = parse(text)
        except ExpressionError as err:
            tree = None
            assert text[err.position : err.position + len(err.token)] == err.token
            assert str(err).splitlines() == [str(err)]
    assert events == []
    if tree is not None:  # evaluation never raises either, whatever the value
        x = torch.linspace(-2, 2, 5, dtype=F64)
        assert to_torch(tree)(x, x.flip(0)).shape == (5,)


@pytest.mark.parametrize("value", [None, 42, 1.5, b"x", ["x"], object()])
def test_non_string_input_is_rejected(value):
    with pytest.raises(ExpressionError):
        parse(value)


# --- error messages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "token", "phrase"),
    [
        ("x + $", 4, "$", "unexpected token"),
        ("foo(x)", 0, "foo", "unknown name"),
        ("2x", 1, "x", "unexpected token"),
        ("sin x", 4, "x", "expected '('"),
        ("min(x)", 0, "min", "takes 2 arguments"),
        ("sin(x, y)", 0, "sin", "takes 1 argument"),
        ("(x", 2, "", "unexpected end"),
        ("x)", 1, ")", "unexpected token"),
        ("x +", 3, "", "unexpected end"),
        ("", 0, "", "empty"),
        ("   ", 0, "", "empty"),
        ("x ** * y", 5, "*", "unexpected token"),
        ("x.__class__", 1, ".", "unexpected token"),
        ("__import__('os')", 0, "__import__", "unknown name"),
        ("foo + $", 0, "foo", "unknown name"),  # the first mistake is reported
        ("1e999", 0, "1e999", "too large"),
    ],
)
def test_error_position_and_token(text, position, token, phrase):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    err = info.value
    assert (err.position, err.token) == (position, token)
    message = str(err)
    assert phrase in message
    assert f"position {position}" in message
    if token:
        assert f"'{token}'" in message


def test_error_survives_pickling():
    with pytest.raises(ExpressionError) as info:
        parse("x + $")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.position, copy.token) == (str(info.value), 4, "$")


# --- caps -----------------------------------------------------------------------------


def test_length_cap():
    assert parse("x" + "+x" * 149 + " ")  # exactly MAX_LENGTH characters
    too_long = "x" + "+x" * 150
    assert len(too_long) == MAX_LENGTH + 1
    with pytest.raises(ExpressionError, match=f"{MAX_LENGTH + 1} characters"):
        parse(too_long)


@pytest.mark.parametrize(("prefix", "suffix", "levels"), NESTINGS)
def test_depth_cap(prefix, suffix, levels):
    def nest(n):
        return prefix * n + "x" + suffix * n

    at_cap = MAX_DEPTH // levels
    parse(nest(at_cap))
    longest = (MAX_LENGTH - 1) // (len(prefix) + len(suffix))
    for n in (at_cap + 1, longest):
        with pytest.raises(ExpressionError, match="nested too deeply"):
            parse(nest(n))
    with pytest.raises(ExpressionError, match="too long"):  # not RecursionError
        parse(nest(1000))


# --- gradients and torch.func ---------------------------------------------------------


def _as_vector_fn(text):
    f = compile_expression(text)
    return lambda p: f(p[..., 0], p[..., 1])


def test_grad_and_hessian_vector_product():
    loss = _as_vector_fn("x^2 + 3*x*y")
    p = torch.tensor([1.5, -0.5], dtype=F64)
    v = torch.tensor([0.3, -1.2], dtype=F64)
    expected_grad = torch.stack([2 * p[0] + 3 * p[1], 3 * p[0]])
    hessian = torch.tensor([[2.0, 3.0], [3.0, 0.0]], dtype=F64)

    torch.testing.assert_close(torch.func.grad(loss)(p), expected_grad)
    grad, hvp = torch.func.jvp(torch.func.grad(loss), (p,), (v,))
    torch.testing.assert_close(grad, expected_grad)
    torch.testing.assert_close(hvp, hessian @ v)


def test_vmap_of_grad_over_points():
    loss = _as_vector_fn("sin(x) * y^3 + softplus(x - y)")
    points = torch.tensor([[0.1, 0.2], [-1.0, 2.0], [3.0, -0.5]], dtype=F64)
    got = torch.func.vmap(torch.func.grad(loss))(points)
    x, y = points.unbind(-1)
    s = torch.sigmoid(x - y)
    expected = torch.stack([torch.cos(x) * y**3 + s, 3 * torch.sin(x) * y**2 - s], -1)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("text", ["2*pi", "x^2", "y - 1"])
def test_output_broadcasts_and_reaches_both_inputs(text):
    x = torch.tensor([1.0, 2.0, 3.0], dtype=F64, requires_grad=True)
    y = torch.tensor([[0.5], [-0.5]], dtype=F64, requires_grad=True)
    out = compile_expression(text)(x, y)
    assert out.shape == (2, 3)
    # autograd.grad raises if an input is not in the graph.
    gx, gy = torch.autograd.grad(out.sum(), (x, y))
    assert gx.shape == x.shape and gy.shape == y.shape


def test_constants_follow_input_dtype():
    x = torch.ones(3, dtype=torch.float32)
    assert compile_expression("x + pi + 0.1")(x, x).dtype == torch.float32
