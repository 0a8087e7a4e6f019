"""Two optimizers compared fairly, as /study and /network's compare mode set them: each
its own learning rates (`lrs=adamw:0.03,lion:0.01`; a value without a name applies to
both) and weight decay (`wd=adamw:0.01,lion:0.03`, likewise), by default, for a pair
whose record states its usual ratio (core.engine.registry's `usual`: Lion against AdamW,
learning rate 3-10x smaller, weight decay as much larger), at that ratio; and the
sentences that say what each optimizer runs with against it.  One parser, one set of
defaults and one sentence for every page and CLI command that compares two optimizers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from core.engine.declared import CUSTOM, DEFAULT
from core.engine.registry import COMPARED, RECORDS, Usual, record
from core.scenarios.declared_fields import Declared, declaration_fields, resolved
from core.scenarios.query import (
    Field,
    QueryMixin,
    ScenarioError,
    Tagged,
    constant,
    fmt,
    in_range,
    names,
    tagged_numbers,
)

PAIR = COMPARED  # the default pair (core.engine.registry)
PAIR_LR = 0.01  # the learning rate of a default pair (the smaller one of a usual pair)


def _check_opts(opts: tuple, s) -> None:
    if len(opts) != 2 or opts[0] == opts[1]:
        raise ValueError(f"needs two different optimizers, e.g. {','.join(COMPARED)}")
    for o in opts:
        if o not in (*RECORDS, CUSTOM):
            raise ValueError(f"{o!r} is not one of {', '.join((*RECORDS, CUSTOM))}")


def _opts(s) -> tuple[str, ...]:
    """The pair of the values parsed so far, custom as its Declaration."""
    return tuple(resolved(o, s) for o in s["opts"])


def usual_pair(opts: tuple[str, ...]) -> tuple[str, Usual] | None:
    """(the optimizer, its record's usual ratio) where one of the two states it against
    the other (Lion against AdamW); None otherwise."""
    for opt in opts:
        usual = record(opt).usual
        if usual is not None and usual.reference in opts:
            return opt, usual
    return None


def _default_lrs(s) -> tuple[Tagged, ...]:
    """PAIR_LR for both, or, for a usual pair, PAIR_LR for the optimizer whose ratio it
    is and its smallest ratio (3x for Lion) times that for the reference."""
    pair = usual_pair(_opts(s))
    if pair is None:
        return (Tagged(None, PAIR_LR),)
    opt, usual = pair
    return tuple(Tagged(o, PAIR_LR if o == opt else PAIR_LR * usual.lo) for o in s["opts"])


def _decays(opts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(o for o in opts if "wd" in record(o).defaults)


def _default_wd(s) -> tuple[Tagged, ...]:
    """Each optimizer's usual weight decay; in a usual pair the reference's times its
    smallest ratio for the other (AdamW's 0.01, Lion's 0.03)."""
    pair = usual_pair(_opts(s))
    wd = {o: record(o).defaults["wd"] for o in _decays(_opts(s))}
    if pair is not None and pair[0] in wd and pair[1].reference in wd:
        wd[pair[0]] = wd[pair[1].reference] * pair[1].lo
    return tuple(Tagged(o, v) for o, v in wd.items())


def _for(values: tuple[Tagged, ...], opt: str) -> tuple[float, ...]:
    """The values that apply to `opt`: its own and the untagged ones, in order."""
    return tuple(v.value for v in values if v.tag in (None, opt))


def _check_tags(values: tuple[Tagged, ...], opts: tuple[str, ...]) -> None:
    for v in values:
        if v.tag is not None and v.tag not in opts:
            raise ValueError(f"{v.tag!r} is not one of the compared optimizers ({', '.join(opts)})")


def _lrs_check(most: int) -> Callable:
    """The check of `lrs`: at most `most` different learning rates per optimizer, the
    same number for both (the k-th of each are compared)."""

    def check(lrs: tuple, s) -> None:
        _check_tags(lrs, s["opts"])
        per_opt = {o: _for(lrs, o) for o in s["opts"]}
        for o, values in per_opt.items():
            if not 1 <= len(values) <= most or len(set(values)) != len(values):
                wanted = (
                    "one learning rate" if most == 1 else f"1 to {most} different learning rates"
                )
                raise ValueError(f"needs {wanted} for {o}")
            for lr in values:
                in_range(0.0, 10.0, lo_open=True)(lr, s)
        (a, ka), (b, kb) = ((o, len(v)) for o, v in per_opt.items())
        if ka != kb:
            raise ValueError(
                f"{ka} learning rates for {a} and {kb} for {b}: give each the same number "
                "(the k-th of each are compared)"
            )

    return check


def _check_wd(wd: tuple, s) -> None:
    _check_tags(wd, s["opts"])
    for v in wd:
        if v.tag is not None and "wd" not in record(resolved(v.tag, s)).defaults:
            raise ValueError(f"{v.tag} has no weight decay")
    for o in _decays(_opts(s)):
        given = _for(wd, o)
        if len(given) > 1:
            raise ValueError(f"{len(given)} weight decays for {o}: one per optimizer")
        for v in given:
            record(o).spec("wd").check(v)


def columns(s) -> int:
    """K: the learning rates each optimizer runs at (the k-th of each are compared)."""
    return len(_for(s["lrs"], s["opts"][0]))


def pair_fields(most_lrs: int) -> tuple[Field, ...]:
    """The keys `opts`, a declared optimizer's (where one of them is custom), `lrs` (at
    most `most_lrs` per optimizer) and `wd` of a query class with PairQuery."""
    return (
        Field("opts", names, constant(PAIR), _check_opts),
        *declaration_fields(lambda s: CUSTOM in s["opts"], "custom in opts"),
        Field("lrs", tagged_numbers, _default_lrs, _lrs_check(most_lrs)),
        Field("wd", tagged_numbers, _default_wd, _check_wd, lambda s: bool(_decays(_opts(s)))),
    )


class PairQuery(Declared, QueryMixin):
    """A query class with pair_fields: what each of the two optimizers runs with (custom
    in `opts` becomes its Declaration, core.engine.declared)."""

    def __post_init__(self):
        object.__setattr__(self, "opts", _opts(self.__dict__))
        super().__post_init__()

    opts: tuple[str, ...]
    lrs: tuple[Tagged, ...]
    wd: tuple[Tagged, ...] | None

    def rates(self, opt: str) -> tuple[float, ...]:
        """The learning rates `opt` runs at, one per column."""
        return _for(self.lrs, opt)

    def hyper(self, opt: str) -> dict[str, float]:
        """`opt`'s hyperparameters: its usual ones, with the pair's weight decay."""
        hyper = dict(record(opt).defaults)
        if "wd" in hyper:
            given = _for(self.wd, opt) or _for(_default_wd(self.__dict__), opt)
            hyper["wd"] = given[0]
        return hyper

    def column(self, k: int) -> str:
        """The k-th pair of learning rates as the URL writes them: `0.01` when both
        optimizers run at it, else `adamw:0.03,lion:0.01`."""
        a, b = (self.rates(o)[k] for o in self.opts)
        if a == b:
            return fmt(a)
        return fmt(tuple(Tagged(o, self.rates(o)[k]) for o in self.opts))

    @property
    def columns(self) -> int:
        return len(self.rates(self.opts[0]))

    def with_opts(self, opts: tuple[str, ...]):
        """Another pair of optimizers, keeping the learning rates and weight decay where
        they still apply to it (otherwise their defaults)."""
        changes: dict = {"opts": opts}
        if CUSTOM in (names(opts) if isinstance(opts, str) else opts) and CUSTOM not in self.opts:
            changes |= DEFAULT  # a new declaration opens as heavy ball written out
        while True:
            try:
                return self.updated(**changes)
            except ScenarioError as err:
                if err.key not in ("lrs", "wd") or err.key in changes:
                    raise
                changes[err.key] = None


# --- what the pages and the JSON say ------------------------------------------------


def _times(ratio: float, word: str, opposite: str, other: str) -> str:
    """`ratio` in words: a larger ratio is `word` (the other optimizer's value over this
    one's for a learning rate, this one's over the other's for a weight decay)."""
    if ratio == 0 or not math.isfinite(ratio):  # a weight decay of 0 on one side only
        return f"not a multiple of {other}'s (one of them is 0)"
    if math.isclose(ratio, 1.0):
        return f"the same as {other}'s"
    shown = f"{ratio:.3g}x {word}" if ratio > 1 else f"{1 / ratio:.3g}x {opposite}"
    return f"{shown} than {other}'s"


def _inside(ratio: float, usual: Usual) -> bool:
    return usual.lo * (1 - 1e-9) <= ratio <= usual.hi * (1 + 1e-9)


def settings(s: PairQuery) -> list[str]:
    """What each optimizer runs with and, for a pair whose record states a usual ratio
    (Lion against AdamW), how its learning rate and weight decay compare with it."""
    label = {o: record(o).label for o in s.opts}
    parts = []
    for o in s.opts:
        wd = s.hyper(o).get("wd")
        parts.append(
            f"{label[o]} at h = {', '.join(f'{v:g}' for v in s.rates(o))}"
            + ("" if wd is None else f", weight decay λ = {wd:g}")
        )
    out = ["; ".join(parts)]
    pair = usual_pair(s.opts)
    if pair is None:
        return out
    opt, usual = pair
    ref = usual.reference
    wd_ref, wd_opt = s.hyper(ref)["wd"], s.hyper(opt)["wd"]
    # both 0: the same; one 0: no ratio (inf or 0)
    r_wd = 1.0 if wd_ref == wd_opt else (wd_opt / wd_ref if wd_ref > 0 else math.inf)
    for k in range(s.columns):
        r_lr = s.rates(ref)[k] / s.rates(opt)[k]
        where = f"at h = {s.column(k)}: " if s.columns > 1 else ""
        said = (
            f"{where}{label[opt]}'s learning rate is "
            f"{_times(r_lr, 'smaller', 'larger', label[ref])} and its weight decay "
            f"{_times(r_wd, 'larger', 'smaller', label[ref])}"
        )
        span = f"learning rate {usual.lo:g}-{usual.hi:g}x smaller, weight decay as much larger"
        if _inside(r_lr, usual) and _inside(r_wd, usual):
            out.append(f"{said}: the usual ratio ({usual.source}: {span})")
        else:
            out.append(
                f"{said}: outside the usual ratio ({usual.source}: {span}), so the "
                "comparison also measures the step size, not memory alone"
            )
    return out
