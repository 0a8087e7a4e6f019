"""The URL keys of a declared optimizer (core.engine.declared), shared by every query class
that takes one: the 2D scenario, the sweep and the network take it as opt=custom, /study
and /network's comparison as `custom` in their pair (opts=custom,adamw).  Each key is
checked as it is parsed, and the first problem names its key."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from core.engine.declared import (
    CUSTOM,
    DEFAULT,
    FEATURES,
    READOUT,
    WEIGHTS,
    Declaration,
    parse_feature,
    parse_readout,
    parse_weight,
)
from core.models.expression import ExpressionError
from core.scenarios.query import Field, constant


def _check_feature(text: str | None, s: Mapping) -> None:
    if text is not None:  # m2 and m3 may be left out
        _expression_error(parse_feature, text)


def _check_readout(text: str, s: Mapping) -> None:
    declared = tuple(k for k in FEATURES if s.get(k) is not None)
    _expression_error(lambda t: parse_readout(t, declared), text)


def _expression_error(parse, text: str) -> None:
    try:
        parse(text)
    except ExpressionError as err:
        raise ValueError(str(err)) from None


def _check_weight(text: str, s: Mapping) -> None:
    parse_weight(text)


def declaration_fields(declares: Callable[[Mapping], bool], how: str) -> tuple[Field, ...]:
    """m1, w1 (required), m2, w2, m3, w3 (each average optional, its weights required with
    it) and the readout r (required), where the values parsed so far `declares` an
    optimizer (`how`: the key that does, for the message of a missing one)."""
    required = f"{how} declares its memory with m1, w1 and r"
    out = []
    for i, (m, w) in enumerate(zip(FEATURES, WEIGHTS, strict=True)):
        if i == 0:
            shown, given = declares, declares
        else:
            shown = lambda s, before=FEATURES[i - 1]: declares(s) and s[before] is not None  # noqa: E731
            given = lambda s, m=m: declares(s) and s[m] is not None  # noqa: E731
        default = constant(DEFAULT["m1"] if i == 0 else None)
        out += [
            Field(m, str, default, _check_feature, shown, required if i == 0 else ""),
            Field(
                w, str, constant(DEFAULT["w1"]), _check_weight, given, f"{m} needs its weights {w}"
            ),
        ]
    readout = Field(READOUT, str, constant(DEFAULT["r"]), _check_readout, declares, required)
    return (*out, readout)


def resolved(name: str, s: Mapping) -> str:
    """`name` with custom as the Declaration of the values `s` (others as they are)."""
    if name == CUSTOM and not isinstance(name, Declaration):
        return Declaration.of(s)
    return name


class Declared:
    """The fields of declaration_fields, for a query class's annotations."""

    m1: str | None
    w1: str | None
    m2: str | None
    w2: str | None
    m3: str | None
    w3: str | None
    r: str | None

    @property
    def declaration(self) -> Declaration | None:
        """The declared optimizer of these keys (None where none is declared)."""
        return None if self.r is None else Declaration.of(vars(self))
