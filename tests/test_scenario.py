"""Scenarios: exact URL round trips, and hostile query strings refused or defaulted."""

import dataclasses
import math
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scenarios import admitted, refusal

from core.engine.registry import RECORDS
from core.models.losses import ZOO
from core.scenarios.query import ScenarioError, fmt
from core.scenarios.scenario import MAX_STEPS, Scenario

finite = dict(allow_nan=False, allow_infinity=False)
EXPRESSIONS = ["x^2 + y^2", "sin(3*x) * cos(y) + 0.1*(x^2+y^2)", "min(x^2, (y-1)^2) ** 1.5"]


def _eps_open(opt: str) -> bool:
    return "eps" in RECORDS[opt].defaults and RECORDS[opt].spec("eps").lo_open


@st.composite
def scenarios(draw):
    opt = draw(st.sampled_from(sorted(RECORDS)))
    loss = draw(st.sampled_from([*ZOO, "custom"]))
    unit = st.floats(0.0, 1.0, exclude_max=True, **finite)
    hyper = {
        "b1": unit,
        "b2": unit,
        # eps inside the root (adamw_epsin) must be > 0
        "eps": st.floats(0.0, 10.0, exclude_min=_eps_open(opt), **finite),
        "wd": st.floats(0.0, 10.0, **finite),
    }
    values = {k: (draw(hyper[k]) if k in RECORDS[opt].defaults else None) for k in hyper}
    xmin, ymin = draw(st.floats(-100, 99, **finite)), draw(st.floats(-100, 99, **finite))
    hs = tuple(draw(st.lists(st.floats(0.002, 0.2, **finite), min_size=2, max_size=5, unique=True)))
    fields = dict(
        opt=opt,
        lr=draw(st.floats(1e-6, 10.0, **finite)),
        steps=draw(st.integers(1, 1000)),
        loss=loss,
        f=draw(st.sampled_from(EXPRESSIONS)) if loss == "custom" else None,
        x0=draw(st.floats(-1e6, 1e6, **finite)),
        y0=draw(st.floats(-1e6, 1e6, **finite)),
        win=(xmin, xmin + draw(st.floats(0.01, 50, **finite)), ymin, ymin + 1.0),
        grid=draw(st.integers(10, 200)),
        hs=hs,
        T=draw(st.floats(0.5, 2.0, **finite)),
        cmp=tuple(
            draw(st.lists(st.sampled_from(sorted(RECORDS)), min_size=2, max_size=4, unique=True))
        ),
        **values,
    )
    # an optimizer that sums its past on a fine grid can exceed the time budget
    return admitted(Scenario, fields)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_url_round_trip_is_exact(s):
    query = s.to_query()
    assert Scenario.parse(query) == s
    assert Scenario.from_query(query) == (s, [])
    assert Scenario.parse("?" + query) == s  # a pasted '?query' works too


def test_defaults_are_omitted():
    assert Scenario().to_query() == "v=1"
    s = Scenario.parse("opt=adamw&lr=0.05")
    assert s.to_params() == {"v": "1", "opt": "adamw", "lr": "0.05"}
    assert s.b2 == 0.999 and s.wd == 0.01  # AdamW's usual defaults


def test_hyperparameters_follow_the_optimizer():
    s = Scenario.parse("opt=lion&eps=0.25")
    hb = s.with_optimizer("hb")
    assert (hb.b1, hb.b2, hb.eps, hb.wd) == (0.7, None, None, None)
    assert s.updated(loss="rosenbrock").x0 == ZOO["rosenbrock"].start[0]


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("opt=sgd", "opt"),
        ("lr=-1", "lr"),
        ("lr=nan", "lr"),
        ("lr=1e999", "lr"),
        ("b1=1", "b1"),
        ("steps=10.5", "steps"),
        (f"steps={MAX_STEPS + 1}", "steps"),
        ("grid=100000", "grid"),
        ("loss=custom&f=x%2B%2B", "f"),
        ("loss=custom&f=__import__('os')", "f"),
        ("win=1,0,0,1", "win"),
        ("hs=0.1", "hs"),
        ("T=5&hs=1e-3,1e-4", "hs"),
        ("T=100", "T"),
        ("cmp=adamw,nope", "cmp"),
        ("zzz=1", "zzz"),
        ("opt=hb&b2=0.5", "b2"),
    ],
)
def test_bad_values_name_the_key(query, key):
    refusal(Scenario, query, key)
    s, warnings = Scenario.from_query(query)
    assert len(warnings) == 1 and warnings[0].startswith(key + ":")
    assert s == Scenario.parse(query.split("&")[0] if key not in query.split("&")[0] else "")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "opt",
                "lr",
                "b1",
                "eps",
                "steps",
                "loss",
                "f",
                "x0",
                "win",
                "hs",
                "T",
                "cmp",
                "grid",
                "junk",
            ]
        ),
        st.text(max_size=40),
        max_size=6,
    )
)
def test_hostile_queries_fall_back_safely(params):
    query = urlencode(params)
    s, warnings = Scenario.from_query(query)
    assert isinstance(s, Scenario)
    assert s.steps <= MAX_STEPS and s.grid <= 200 and math.isfinite(s.lr)
    assert Scenario.parse(s.to_query()) == s
    try:
        assert Scenario.parse(query) == s and not warnings
    except ScenarioError as err:
        assert any(w.startswith(err.key + ":") for w in warnings)


def test_overlong_values_are_refused():
    with pytest.raises(ScenarioError, match="too long"):
        Scenario.parse("loss=custom&f=" + "x+" * 400 + "x")


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "steps": st.integers(1, 5000).map(str),
            "width": st.integers(1, 64).map(str),
            "depth": st.integers(1, 4).map(str),
            "n": st.integers(20, 2000).map(str),
            "batch": st.integers(0, 3000).map(str),
            "split": st.sampled_from(["0", "0.5", "0.9", "2"]),
        },
    )
)
def test_network_caps_on_several_keys_fall_back_leniently(params):
    from core.scenarios.network_scenario import NetworkScenario

    s, warnings = NetworkScenario.from_query(params)  # never raises
    assert NetworkScenario.parse(s.to_query()) == s
    try:
        NetworkScenario.parse(params)
    except ScenarioError as err:
        assert warnings and any(err.key in w for w in warnings)


def test_query_classes_take_their_defaults_from_their_specs():
    from core.analyses.study import StudyScenario
    from core.analyses.sweep import SweepScenario
    from core.scenarios.network_scenario import NetworkScenario
    from core.scenarios.query import QueryMixin, defaults

    for cls in (Scenario, NetworkScenario, SweepScenario, StudyScenario):
        assert [f.name for f in dataclasses.fields(cls)] == [s.key for s in cls.SPECS]
        assert dataclasses.asdict(cls()) == dataclasses.asdict(cls(**defaults(cls.SPECS)))
        assert cls().to_params() == {"v": "1"}  # nothing differs from a default
    assert not hasattr(QueryMixin, "with_optimizer")  # optimizer code on its own mixin


# --- issue 18, item 8: digits are ASCII, a repeated key warns, range messages name the limit

NON_ASCII_DIGITS = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


@settings(max_examples=200, deadline=None)
@given(NON_ASCII_DIGITS, st.sampled_from(["steps", "lr", "x0", "hs", "win", "grid", "T"]))
def test_digits_other_than_ascii_are_refused_by_key(digit, key):
    # float("٣") == 3.0 and int("１") == 1: the parser must not read them
    default = getattr(Scenario(), key)
    text = ",".join([digit] * len(default)) if isinstance(default, tuple) else digit
    message = refusal(Scenario, f"{key}={text}", key)
    assert "digits other than 0-9" in message
    s, warnings = Scenario.from_query({key: text})
    assert s == Scenario() and len(warnings) == 1 and warnings[0].startswith(f"{key}: ")


@pytest.mark.parametrize(
    ("cls", "query", "key", "limit"),
    [
        ("core.scenarios.scenario.Scenario", "steps=99999999999", "steps", f"{MAX_STEPS}]"),
        ("core.analyses.sweep.SweepScenario", "x=b1:0:0.9:100000", "x", "(2 to 64)"),
        ("core.analyses.sweep.SweepScenario", "y=b2:0:0.9:65", "y", "(2 to 64)"),
        (
            "core.scenarios.network_scenario.NetworkScenario",
            "seed=99999999999",
            "seed",
            "999999999]",
        ),
    ],
)
def test_range_messages_name_the_limit(cls, query, key, limit):
    import importlib

    module, name = cls.rsplit(".", 1)
    message = refusal(getattr(importlib.import_module(module), name), query, key)
    assert limit in message and "whole number" not in message, message


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.data())
def test_a_repeated_key_warns_and_takes_the_last_value(s, data):
    params = list(s.to_params().items())
    key, value = data.draw(st.sampled_from(params))
    first = data.draw(st.text(max_size=10))
    # the query as a string and as a page's mapping to every value (st.query_params)
    query = urlencode([(key, first), *params])
    mapping = {k: [first, v] if k == key else [v] for k, v in params}
    said = [f"{key}: given more than once, the last value taken"]
    for given_ in (query, mapping):
        assert Scenario.from_query(given_) == (s, said)
        assert Scenario.from_query(given_, strict=True) == (s, said)
    two = urlencode([("steps", "3"), ("lr", "0.1"), ("steps", "4"), ("lr", "0.2")])
    assert Scenario.from_query(two)[1] == [
        "2 keys given more than once, the last value of each taken: 'steps', 'lr'"
    ]


def test_keys_in_messages_have_their_control_characters_escaped():
    cases = [("zz\nzz", "zz\\nzz"), ("a\r\nb", "a\\r\\nb"), ("\x1b[31mRED", "\\x1b[31mRED")]
    for key, shown in cases:
        with pytest.raises(ScenarioError) as err:
            Scenario.parse(urlencode({key: "1"}))
        assert str(err.value) == f"{shown}: unknown key" and err.value.key == key
        assert Scenario.from_query({key: "1"})[1] == [f"{shown}: unknown key, ignored"]
        many = Scenario.from_query({key: "1", key + "2": "1"})[1][0]
        assert many.isprintable() and repr(key) in many


# --- issue 20: the study's per-optimizer learning rates and weight decays --------------


@st.composite
def studies(draw):
    """A StudyScenario with learning rates and weight decays written every way the URL
    takes them: one bare list for both, each optimizer's own (`adamw:0.01`), or a mix."""
    from hypothesis import assume

    from core.analyses.study import StudyScenario
    from core.scenarios.query import Tagged

    pair = st.lists(st.sampled_from(sorted(RECORDS)), min_size=2, max_size=2, unique=True)
    opts = tuple(draw(pair))
    rates = st.lists(st.floats(1e-6, 10.0, **finite), min_size=1, max_size=4, unique=True)
    first = draw(rates)
    second = draw(rates.filter(lambda v: len(v) == len(first)))
    lrs = []
    for a, b in zip(first, second, strict=True):  # a column: shared, or each its own
        if draw(st.booleans()):
            lrs.append(Tagged(None, a))
        else:
            lrs += [Tagged(opts[0], a), Tagged(opts[1], b)]
    decays = [o for o in opts if "wd" in RECORDS[o].defaults]
    decay = st.floats(0.0, 10.0, **finite)
    style = draw(st.sampled_from(["default", "bare", "own"])) if decays else "default"
    wd = {
        "default": None,
        "bare": (Tagged(None, draw(decay)),),
        "own": tuple(Tagged(o, draw(decay)) for o in draw(st.permutations(decays))),
    }[style]
    params = {
        "opts": ",".join(opts),
        "lrs": fmt(tuple(draw(st.permutations(lrs)))),
        "until": fmt(draw(st.floats(0.0, 1000.0, **finite))),
        "seeds": fmt(draw(st.integers(2, 16))),
        "steps": fmt(draw(st.integers(1, 100))),
    } | ({} if wd is None else {"wd": fmt(wd)})
    try:
        return StudyScenario.parse(params)
    except ScenarioError as err:  # a shared value equal to another of an optimizer's own
        assume(err.key != "lrs" or "different learning rates" not in str(err))
        assume(err.key != "steps" or "would take about" not in str(err))  # over the budget
        raise


@settings(max_examples=200, deadline=None)
@given(studies())
def test_study_url_round_trip_is_exact(s):
    from core.analyses.study import StudyScenario
    from core.scenarios.pair import settings as settings_of

    query = s.to_query()
    assert StudyScenario.parse(query) == s
    assert StudyScenario.from_query(query) == (s, [])
    # every optimizer runs at as many learning rates as the other, its own and the shared
    a, b = s.opts
    assert len(s.rates(a)) == len(s.rates(b)) == s.columns
    for o in s.opts:
        expected = tuple(t.value for t in s.lrs if t.tag in (None, o))
        assert s.rates(o) == expected
    assert all(isinstance(line, str) for line in settings_of(s))  # never a crash
