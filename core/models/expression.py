"""Safe parser for loss expressions in x and y, such as ``(1 - x)^2 + 100*(y - x^2)^2``.

User text is never given to eval, exec, compile or an importer: a hand-written
tokenizer and recursive-descent parser turn it into an immutable AST over a fixed
whitelist, and `to_torch` turns that AST into a function built only from elementwise
torch ops, so it works under autograd and torch.func (grad, jvp, vmap).

Grammar, loosest binding first (``**`` is another spelling of ``^``)::

    sum     := product (('+' | '-') product)*
    product := signed (('*' | '/') signed)*
    signed  := ('+' | '-') signed | power
    power   := atom ('^' signed)?
    atom    := number | 'x' | 'y' | 'pi' | 'e' | function '(' sum (',' sum)* ')'
             | '(' sum ')'

So ``-x^2`` is ``-(x^2)``, ``2^-1`` is allowed and ``x^y^2`` is ``x^(y^2)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

MAX_LENGTH = 300  # characters
MAX_DEPTH = 40  # nesting depth of the AST / parentheses


class ExpressionError(ValueError):
    """Invalid expression text; `token` ('' at the end) starts at `position`."""

    def __init__(self, message: str, position: int = 0, token: str = "") -> None:
        super().__init__(message)
        self.position = position
        self.token = token

    def __reduce__(self):
        # Keep position and token when the error is pickled to another process.
        return type(self), (str(self), self.position, self.token)


@dataclass(frozen=True)
class Num:
    value: float  # finite and non-negative when made by `parse`


@dataclass(frozen=True)
class Var:
    name: str  # 'x' or 'y'


@dataclass(frozen=True)
class Const:
    name: str  # 'pi' or 'e'


@dataclass(frozen=True)
class Unary:
    op: str  # '+' or '-'
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str  # one of '+-*/^'
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Num | Var | Const | Unary | Binary | Call

_VARIABLES = ("x", "y")
_CONSTANTS = {"pi": math.pi, "e": math.e}
# name -> (number of arguments, elementwise torch implementation)
_FUNCTIONS: dict[str, tuple[int, Callable[..., Tensor]]] = {
    "sin": (1, torch.sin),
    "cos": (1, torch.cos),
    "tan": (1, torch.tan),
    "exp": (1, torch.exp),
    "log": (1, torch.log),
    "sqrt": (1, torch.sqrt),
    "abs": (1, torch.abs),
    "tanh": (1, torch.tanh),
    "sigmoid": (1, torch.sigmoid),
    # The default threshold 20 returns t where softplus(t) - t = log1p(exp(-t)) is
    # still 2e-9, visible in float64; beyond 40 it is below float64 resolution.
    "softplus": (1, lambda t: F.softplus(t, threshold=40.0)),
    "min": (2, torch.minimum),
    "max": (2, torch.maximum),
}
_BINARY = {"+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div}

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^(),])",
    re.ASCII,  # no Unicode digits, letters or spaces
)


class _Token(NamedTuple):
    kind: str  # 'number', 'name', 'end', 'bad', or the operator ('**' becomes '^')
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if found is None:
            # No rule accepts a 'bad' token, so the parser reports it when it gets
            # there; an earlier mistake in the text is thus reported first.
            tokens.append(_Token("bad", text[pos], pos))
            return tokens
        kind = found.lastgroup
        if kind == "op":
            kind = "^" if found[0] == "**" else found[0]
        if kind != "space":
            tokens.append(_Token(kind, found[0], pos))
        pos = found.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _unexpected(token: _Token, hint: str = "") -> ExpressionError:
    if token.kind == "end":
        message = f"unexpected end of expression at position {token.pos}"
    else:
        message = f"unexpected token {token.text!r} at position {token.pos}"
    if hint:
        message += f" ({hint})"
    return ExpressionError(message, token.pos, token.text)


class _Parser:
    def __init__(self, text: str, variables: tuple[str, ...]) -> None:
        self.variables = variables
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str, hint: str) -> None:
        if self.peek().kind != kind:
            raise _unexpected(self.peek(), hint)
        self.advance()

    def nested(self, token: _Token, parse_inner: Callable[[], Node]) -> Node:
        # Every recursive step of the parser passes through here, so this cap also
        # bounds the Python stack (a few frames per level) whatever the input.
        if self.depth == MAX_DEPTH:
            raise ExpressionError(
                f"expression nested too deeply (max {MAX_DEPTH}) at position {token.pos}",
                token.pos,
                token.text,
            )
        self.depth += 1
        node = parse_inner()
        self.depth -= 1
        return node

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExpressionError("empty expression at position 0")
        node = self.sum()
        if self.peek().kind != "end":
            raise _unexpected(self.peek())
        return node

    # Left-associative chains are built in loops, not by recursion.
    def sum(self) -> Node:
        node = self.product()
        while self.peek().kind in ("+", "-"):
            node = Binary(self.advance().kind, node, self.product())
        return node

    def product(self) -> Node:
        node = self.signed()
        while self.peek().kind in ("*", "/"):
            node = Binary(self.advance().kind, node, self.signed())
        return node

    def signed(self) -> Node:
        if self.peek().kind in ("+", "-"):
            sign = self.advance()
            return Unary(sign.kind, self.nested(sign, self.signed))
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek().kind != "^":
            return base
        # Parsing the exponent as `signed` allows 2^-1, and makes '^'
        # right-associative (x^y^2 is x^(y^2)) while -x^2 stays -(x^2).
        caret = self.advance()
        return Binary("^", base, self.nested(caret, self.signed))

    def atom(self) -> Node:
        token = self.advance()
        if token.kind == "number":
            value = float(token.text)
            if math.isinf(value):
                raise ExpressionError(
                    f"number too large {token.text!r} at position {token.pos}",
                    token.pos,
                    token.text,
                )
            return Num(value)
        if token.kind == "(":
            node = self.nested(token, self.sum)
            self.expect(")", "expected ')'")
            return node
        if token.kind != "name":
            raise _unexpected(token)
        if token.text in self.variables:
            return Var(token.text)
        if token.text in _CONSTANTS:
            return Const(token.text)
        if token.text in _FUNCTIONS:
            return self.call(token)
        raise ExpressionError(
            f"unknown name {token.text!r} at position {token.pos}",
            token.pos,
            token.text,
        )

    def call(self, name: _Token) -> Call:
        self.expect("(", f"expected '(' after {name.text!r}")
        args = [self.nested(name, self.sum)]
        while self.peek().kind == ",":
            self.advance()
            args.append(self.nested(name, self.sum))
        self.expect(")", "expected ',' or ')'")
        arity = _FUNCTIONS[name.text][0]
        if len(args) != arity:
            plural = "s" if arity > 1 else ""
            raise ExpressionError(
                f"{name.text!r} takes {arity} argument{plural} at position {name.pos}",
                name.pos,
                name.text,
            )
        return Call(name.text, tuple(args))


def parse(text: str, variables: tuple[str, ...] = _VARIABLES) -> Node:
    """Parse `text` into an AST whose only names are `variables` (a loss's x and y; a
    declared optimizer's g and m1, m2, m3: core.engine.declared), the constants and the
    functions; any problem raises ExpressionError."""
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, not {type(text).__name__}")
    # Checked before tokenizing, so hostile input costs at most MAX_LENGTH work.
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression too long: {len(text)} characters (max {MAX_LENGTH})",
            MAX_LENGTH,
        )
    return _Parser(text, variables).parse()


class Expression(str):
    """A loss's text that keeps what is built from it, each on first use: its tree (one
    parse) and the code of its derivatives (core.models.derivatives, one compile), so that the
    checks, runs and surfaces of one scenario parse and compile its loss once.  It
    compares, hashes and pickles as its text (an unpickled copy builds its own)."""

    @cached_property
    def tree(self) -> Node:
        return parse(str(self))

    @cached_property
    def derivatives(self):
        from core.models.derivatives import Derivatives  # built on this module's trees

        return Derivatives(self.tree)

    def __reduce__(self):
        return (Expression, (str(self),))


def tree(text: str) -> Node:
    """The tree of `text`: an Expression's own (parsed once), any other text parsed."""
    return text.tree if isinstance(text, Expression) else parse(text)


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case Unary(_, operand):
            return (operand,)
        case Binary(_, left, right):
            return (left, right)
        case Call(_, args):
            return args
    return ()


def size(node: Node) -> int:
    """The number of nodes of the tree: torch evaluates one operation per node and point
    (core.scenarios.limits prices a loss by it)."""
    return 1 + sum(map(size, _children(node)))


def variables(node: Node) -> set[str]:
    """The variables the tree names."""
    if isinstance(node, Var):
        return {node.name}
    return set().union(*map(variables, _children(node)))


def functions(node: Node) -> set[str]:
    """The functions the tree calls."""
    own = {node.name} if isinstance(node, Call) else set()
    return own.union(*map(functions, _children(node)))


def _constant(value: float) -> Callable[[Tensor, Tensor], Tensor]:
    value = float(value)
    # Made from x at call time, so it follows x's dtype and device.
    return lambda x, y: torch.as_tensor(value, dtype=x.dtype, device=x.device)


def _compile(node: Node) -> Callable[[Tensor, Tensor], Tensor]:
    match node:
        case Var("x"):
            return lambda x, y: x
        case Var("y"):
            return lambda x, y: y
        case Num(value):
            return _constant(value)
        case Const(name) if name in _CONSTANTS:
            return _constant(_CONSTANTS[name])
        case Unary("+", operand):
            return _compile(operand)
        case Unary("-", operand):
            inner = _compile(operand)
            return lambda x, y: -inner(x, y)
        case Binary("^", base, Num(value)):
            # A literal exponent is passed as a Python number, an int when integral,
            # so torch uses its scalar-exponent path: exact integer powers such as
            # (-2)^2 and no gradient through the exponent.  Past 2**53 every float
            # is integral and int() could overflow torch's int64 scalar.
            exponent = float(value)
            if exponent.is_integer() and abs(exponent) < 2**53:
                exponent = int(exponent)
            inner = _compile(base)
            return lambda x, y: torch.pow(inner(x, y), exponent)
        case Binary("^", base, power):
            inner, outer = _compile(base), _compile(power)
            return lambda x, y: torch.pow(inner(x, y), outer(x, y))
        case Binary(op, left, right) if op in _BINARY:
            op_fn, left_fn, right_fn = _BINARY[op], _compile(left), _compile(right)
            return lambda x, y: op_fn(left_fn(x, y), right_fn(x, y))
        case Call(name, args) if name in _FUNCTIONS and len(args) == _FUNCTIONS[name][0]:
            fn, arg_fns = _FUNCTIONS[name][1], [_compile(arg) for arg in args]
            return lambda x, y: fn(*(arg_fn(x, y) for arg_fn in arg_fns))
    raise ValueError(f"not a valid expression node: {node!r}")


def to_torch(node: Node) -> Callable[[Tensor, Tensor], Tensor]:
    """Compile an AST into f(x, y), elementwise with broadcasting.

    Domain errors (log or sqrt of a negative, 0/0) give nan or inf, never an exception.
    """
    evaluate = _compile(node)
    missing = set(_VARIABLES) - variables(node)

    def f(x: Tensor, y: Tensor) -> Tensor:
        out = evaluate(x, y)
        # Adding 0*v for an absent variable gives the result the broadcast shape of
        # x and y, and keeps it in the autograd graph of both (zero gradient).
        if "x" in missing:
            out = out + 0 * x
        if "y" in missing:
            out = out + 0 * y
        return out

    return f


def compile_expression(text: str) -> Callable[[Tensor, Tensor], Tensor]:
    """tree + to_torch: the loss function f(x, y) described by `text`."""
    return to_torch(tree(text))


def unparse(node: Node) -> str:
    """Canonical, fully parenthesised text of `node`.

    It parses back to an equal AST, provided the added parentheses keep it within
    MAX_LENGTH and MAX_DEPTH (a long flat sum such as x+x+...+x may not).
    """
    match node:
        case Num(value):
            # A negative or non-finite number has no literal; parse never makes one.
            if not math.isfinite(value) or math.copysign(1.0, value) < 0:
                raise ValueError(f"{node!r} has no literal spelling")
            return repr(float(value)).removesuffix(".0")
        case Var(name) | Const(name):
            return name
        case Unary(op, operand):
            return f"({op}{unparse(operand)})"
        case Binary(op, left, right):
            return f"({unparse(left)} {op} {unparse(right)})"
        case Call(name, args):
            return f"{name}({', '.join(map(unparse, args))})"
    raise TypeError(f"not an expression node: {node!r}")


_LATEX_CALLS = {
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "exp": r"\exp",
    "log": r"\log",
    "tanh": r"\tanh",
    "sigmoid": r"\sigma",
    "softplus": r"\operatorname{softplus}",
    "min": r"\min",
    "max": r"\max",
}


def _latex_number(value: float) -> str:
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = f"10^{{{int(exponent)}}}"
        return power if mantissa == "1" else rf"{mantissa}\cdot {power}"
    return text


def to_latex(node: Node, symbols: dict[str, str] | None = None) -> str:
    """The tree as a LaTeX formula (for st.latex), each variable written as `symbols`
    says.  Built from the tree's nodes only: a name or number of the input reaches the
    formula only as a whitelisted variable, constant, function or re-printed float."""
    symbols = symbols or {}

    def wrapped(n: Node, loose: tuple[str, ...]) -> str:
        text = to_latex(n, symbols)
        tight = isinstance(n, Binary) and n.op in loose or isinstance(n, Unary)
        return rf"\left({text}\right)" if tight else text

    match node:
        case Num(value):
            return _latex_number(value)
        case Var(name):
            return symbols.get(name, name)
        case Const(name):
            return r"\pi" if name == "pi" else "e"
        case Unary(op, operand):
            return f"{op}{wrapped(operand, ('+', '-'))}"
        case Binary("+", left, right):
            return f"{to_latex(left, symbols)} + {wrapped(right, ())}"
        case Binary("-", left, right):
            return f"{to_latex(left, symbols)} - {wrapped(right, ('+', '-'))}"
        case Binary("*", left, right):
            loose = ("+", "-")
            return rf"{wrapped(left, loose)}\,{wrapped(right, loose)}"
        case Binary("/", left, right):
            return rf"\frac{{{to_latex(left, symbols)}}}{{{to_latex(right, symbols)}}}"
        case Binary("^", base, power):
            atom = isinstance(base, Num | Var | Const)
            text = to_latex(base, symbols) if atom else rf"\left({to_latex(base, symbols)}\right)"
            return f"{{{text}}}^{{{to_latex(power, symbols)}}}"
        case Call("sqrt", (arg,)):
            return rf"\sqrt{{{to_latex(arg, symbols)}}}"
        case Call("abs", (arg,)):
            return rf"\left\lvert {to_latex(arg, symbols)}\right\rvert"
        case Call(name, args) if name in _LATEX_CALLS:
            inner = ", ".join(to_latex(a, symbols) for a in args)
            return rf"{_LATEX_CALLS[name]}\left({inner}\right)"
    raise TypeError(f"not an expression node: {node!r}")
