"""Query strings <-> validated, immutable objects, with an exact round trip.

A query class is a frozen dataclass that lists its fields as `Field` specs (key, parser,
default, check, when it applies); `query_dataclass` gives it the specs' defaults, so
each default is written once.  `from_query` parses a page URL's query string (or the
CLI's) into the object, strictly (the CLI: the first problem is an error) or leniently
(the app: each bad value falls back to its default with a warning naming the key);
`to_query` writes it back with defaults omitted, so from_query(to_query(s)) == s.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode

from core.models.expression import MAX_LENGTH
from core.scenarios.limits import MAX_LIST

VERSION = "1"
# ASCII digits only (re.ASCII): float() and int() would read any script's digits
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
MAX_KEY = 40  # characters of a key quoted in a message
_WHOLE = re.compile(r"\s*\+?\d+\s*", re.ASCII)


def escaped(text: str) -> str:
    """`text` with its unprintable characters (line breaks, terminal escapes, bidi
    controls) written as Python escapes: a key or value quoted in a message stays on one
    line and shows what was sent, on a terminal and on a page."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ScenarioError(ValueError):
    """A bad query value; str() names the key and the problem."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{escaped(key)}: {message}")
        self.key = key


# --- value parsers: text -> value, ValueError with a short reason ---------------------


def _ascii_digits(text: str) -> None:
    if any(c.isdigit() and not c.isascii() for c in text):
        raise ValueError(f"{text!r} has digits other than 0-9")


def number(text: str) -> float:
    _ascii_digits(text)
    if not _NUMBER.match(text.strip()):
        raise ValueError(f"{text!r} is not a number")
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"{text!r} is not finite")
    return v


def integer(text: str) -> int:
    """Any count of digits (the value's length is capped): the field's range check
    names its limit."""
    _ascii_digits(text)
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def numbers(text: str) -> tuple[float, ...]:
    parts = text.split(",")
    if len(parts) > MAX_LIST:
        raise ValueError(f"too many values (max {MAX_LIST})")
    return tuple(number(p) for p in parts)


def names(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(","))


@dataclass(frozen=True)
class Tagged:
    """A number for one named thing (`adamw:0.01`) or, untagged, for every one (`0.01`)."""

    tag: str | None
    value: float

    def __str__(self) -> str:  # what fmt writes: the text it was parsed from
        return f"{self.tag}:{fmt(self.value)}" if self.tag else fmt(self.value)


def tagged_numbers(text: str) -> tuple[Tagged, ...]:
    """`adamw:0.01,lion:0.001`, `0.01,0.003` or a mix: each value with its tag, if any
    (the field's check says which tags it knows)."""
    parts = text.split(",")
    if len(parts) > MAX_LIST:
        raise ValueError(f"too many values (max {MAX_LIST})")
    out = []
    for part in parts:
        tag, _, value = part.rpartition(":")
        if _ and not tag.strip():
            raise ValueError(f"{part!r} has an empty name before ':'")
        out.append(Tagged(tag.strip() or None, number(value)))
    return tuple(out)


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
    # why the key must be given where it applies ("" where it may be left out): its
    # absence is an error (strict) or a warning naming the default (leniently)
    required: str = ""


def constant(v):
    return lambda _: v


def _as_mapping(query: str | Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Each key's value, the last where a key is given several times (a query string,
    or a mapping to lists of values), and the warning that says so."""
    if isinstance(query, str):
        q = query.split("?", 1)[1] if "?" in query else query
        pairs = parse_qsl(q.lstrip("?"), keep_blank_values=True)
    else:
        pairs = [
            (k, w) for k, v in query.items() for w in (v if isinstance(v, list | tuple) else [v])
        ]
    raw = dict(pairs)
    repeated = [k for k, n in Counter(k for k, _ in pairs).items() if n > 1]
    if len(repeated) == 1:
        return raw, [f"{escaped(repeated[0])}: given more than once, the last value taken"]
    if repeated:
        return raw, [
            f"{len(repeated)} keys given more than once, the last value of each taken: "
            + _listed(repeated)
        ]
    return raw, []


def _listed(keys: list[str]) -> str:
    """Many keys in one message: the first few, quoted and cut short, and how many more."""
    listed = ", ".join(repr(k[:MAX_KEY]) for k in keys[:5])  # repr escapes
    return listed + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def parse_fields(
    specs: tuple[Field, ...],
    query: str | Mapping[str, Any],
    strict: bool,
    drop_inapplicable: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Values for every spec (None where it does not apply), and the warnings."""
    raw, warnings = _as_mapping(query)
    known = {f.key for f in specs} | {"v"}
    unknown = [key for key in raw if key not in known]
    if unknown and strict:
        raise ScenarioError(unknown[0], "unknown key")
    if len(unknown) == 1:
        warnings.append(f"{escaped(unknown[0])}: unknown key, ignored")
    elif unknown:  # one warning for all of them, however many
        warnings.append(f"{len(unknown)} unknown keys ignored: {_listed(unknown)}")
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
            if spec.required:
                if strict:
                    raise ScenarioError(spec.key, f"missing: {spec.required}")
                warnings.append(
                    f"{spec.key}: missing ({spec.required}); using the default {fmt(default)}"
                )
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
        raw, notes = _as_mapping(query)
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

    def values(self) -> dict[str, Any]:
        """Every field's value, by key (what is built from them and kept on the object,
        such as a scenario's optimizer, is not among them)."""
        return {spec.key: getattr(self, spec.key) for spec in self.SPECS}

    def to_params(self) -> dict[str, str]:
        """The non-default, applicable fields as query parameters (short, stable)."""
        values: dict[str, Any] = {}
        params = {"v": VERSION}
        for spec in self.SPECS:
            value = getattr(self, spec.key)
            applies = spec.applies(values)
            values[spec.key] = value
            # compared as text: -0.0 == 0.0, but they are different scenarios
            if applies and (spec.required or fmt(value) != fmt(spec.default(values))):
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


def defaults(specs: tuple[Field, ...]) -> dict[str, Any]:
    """Every spec's default, each from those before it (None where it does not apply)."""
    values: dict[str, Any] = {}
    for spec in specs:
        values[spec.key] = spec.default(values) if spec.applies(values) else None
    return values


def query_dataclass(cls):
    """cls (a QueryMixin) as a frozen dataclass with one field per spec, in SPECS' order:
    its type from the annotations of cls or of a mixin it inherits (fields that several
    query classes share are annotated once), its default the spec's default."""
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        hints |= klass.__dict__.get("__annotations__", {})
    cls.__annotations__ = {spec.key: hints[spec.key] for spec in cls.SPECS}
    for key, value in defaults(cls.SPECS).items():
        setattr(cls, key, value)
    return dataclass(frozen=True)(cls)
