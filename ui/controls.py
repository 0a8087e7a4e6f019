"""Sidebar widgets mirroring scenario fields.  A user's change reaches the widget's
on_change callback, which derives the next scenario from it and publishes it
(ui.state) before the page reruns, so every widget shows the new scenario (an optimizer
brings its hyperparameters, a loss its start).  A value the scenario rejects leaves it
as it was, with the reason under the widget.

`widget`, `number` and `optimizer` take the page's ui.state.PageState, so the 2D pages
(PLANE, the other functions here) and the network page (NETWORK, ui.network_controls)
share them."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.engine.declared import CUSTOM, FEATURES, READOUT, WEIGHT_FORMS, WEIGHTS
from core.engine.registry import COMPARED, RECORDS, label, record
from core.models.losses import ZOO
from core.scenarios.query import ScenarioError, numbers
from core.scenarios.scenario import HYPER_KEYS, MAX_STEPS, Scenario
from ui import state, text
from ui.state import PLANE


def _loss_change(s: Scenario, value: str, page: state.PageState) -> Scenario:
    # a new landscape brings its own start and window (the fields the scenario has)
    changes = {"loss": value, "x0": None, "y0": None}
    if hasattr(s, "win"):
        changes["win"] = None
    if value == "custom":
        changes["f"] = st.session_state.get(page.key("f")) or None
    return s.updated(**changes)


def _hs_change(s: Scenario, value: str, page: state.PageState) -> Scenario:
    try:
        hs = numbers(value)
    except ValueError as err:
        raise ScenarioError("hs", str(err)) from None
    return s.updated(hs=hs)


def _feature_change(key: str, weights: str):
    """m2 or m3 typed: empty declares none (and drops its weights); a new one comes with
    an EMA's weights until its own are typed."""

    def change(s, value: str, page: state.PageState):
        value = value.strip() or None
        given = getattr(s, weights) or DEFAULT_WEIGHTS
        return s.updated(**{key: value, weights: given if value else None})

    return change


def _cmp_change(s: Scenario, cmp: tuple[str, ...]) -> Scenario:
    """/compare's optimizers: custom in them is the scenario's declared optimizer (a new
    one opens as heavy ball written out, core.engine.declared.DEFAULT)."""
    if CUSTOM in cmp and s.opt != CUSTOM:
        s = s.with_optimizer(CUSTOM)
    return s.updated(cmp=cmp)


# fields whose widget value does not map to `s.updated(key=value)`: (s, value, page) ->
# the next scenario (any scenario class)
_CHANGES: dict[str, Callable] = {
    "opt": lambda s, value, page: s.with_optimizer(value),
    "loss": _loss_change,
    "hs": _hs_change,
    "cmp": lambda s, value, page: _cmp_change(s, tuple(value)),
    # a new pair (/study, /network's compare mode) keeps the learning rates and weight
    # decay that still apply to it
    "opts": lambda s, value, page: s.with_opts(value),
    **{m: _feature_change(m, w) for m, w in zip(FEATURES[1:], WEIGHTS[1:], strict=True)},
}


DEFAULT_WEIGHTS = "ema:0.9"  # a new average's, until its own are typed


def _changed(page: state.PageState, key: str) -> None:
    """on_change of the widget mirroring `key`: publish the scenario with its new value."""
    s, value = page.current(), st.session_state[page.key(key)]
    try:
        new = _CHANGES[key](s, value, page) if key in _CHANGES else s.updated(**{key: value})
    except ScenarioError as err:
        message = str(err).removeprefix(f"{err.key}: ")
        refused = st.session_state.setdefault(page.refusals, {})
        refused[key] = page.refused.format(key=err.key, message=message)
        return
    page.publish(new)
    page.changed_by_user(key)


def apply(**changes) -> None:
    """Publish the 2D pages' scenario with some fields changed (from a callback)."""
    PLANE.publish(PLANE.current().updated(**changes))


def start_at(x: float, y: float) -> None:
    """A click on the map: the clicked point becomes the start."""
    apply(x0=round(x, 4), y0=round(y, 4))


def widget(page: state.PageState, key: str, draw: Callable, *args, **kwargs) -> None:
    """draw(*args, **kwargs) as the widget mirroring field `key` of page's scenario."""
    draw(*args, key=page.key(key), on_change=_changed, args=(page, key), **kwargs)
    if message := st.session_state.get(page.refusals, {}).pop(key, None):
        st.error(text.plain(message), icon=":material/error:")  # quotes typed text


def flag_toggle(page: state.PageState, flag: str, label: str, help: str | None = None) -> bool:
    """A toggle mirroring the page's URL flag `flag`; whether it is on."""
    key = page.key(flag)
    st.session_state[key] = st.query_params.get(flag) == "1"
    return st.toggle(
        label,
        key=key,
        on_change=lambda: page.set_flag(flag, st.session_state[key]),
        help=help,
    )


def number(page: state.PageState, key: str, label: str, step: float, help: str | None = None):
    # no min/max: the scenario is the validator (its caps give the message), and a bound
    # tighter than its own would make Streamlit raise on a valid URL value
    if isinstance(getattr(page.cls(), key), int):  # an integer field
        widget(page, key, st.number_input, label, step=int(step), format="%d", help=help)
    else:
        widget(page, key, st.number_input, label, step=step, format="%g", help=help)


def optimizer(
    s, lr: bool = True, page: state.PageState = PLANE, choices: tuple[str, ...] | None = None
) -> None:
    """The optimizer (one of `choices`, default every record and a declared one), the
    hyperparameters it uses and (lr) the learning rate, mirroring the scenario s of
    `page`; a declared optimizer's fields and formulas (`declaration`)."""
    options = [*RECORDS, CUSTOM] if choices is None else list(choices)
    widget(page, "opt", st.selectbox, "Optimizer", options, format_func=_choice)
    if s.opt == CUSTOM:
        declaration(page, s)
    if lr:
        number(page, "lr", "learning rate h", 0.001, "the step size h of every run")
    for p in record(s.opt).hyper:
        if p.key in HYPER_KEYS:  # a declaration's ratios are written in its weights
            number(page, p.key, p.label, p.step, f"{p.help}; usual default {p.default:g}")


def _choice(name: str) -> str:
    return "Custom (declare its memory)" if name == CUSTOM else label(name)


_FEATURE_HELP = (
    "the averaged feature, an expression of the gradient coordinate g (numbers, + - * / ^, "
    "sqrt, exp, log, abs, tanh, ...)"
)


def declaration(page: state.PageState, s) -> None:
    """A declared optimizer (core.engine.declared): its averaged features m1..m3 (m2 and
    m3 optional: empty is none), their weights and the readout r, each validated as
    typed (a refused value keeps the last valid one, with the reason), then the
    declaration as formulas beside the update rule it implies."""
    for m, w in zip(FEATURES, WEIGHTS, strict=True):
        if m != FEATURES[0] and getattr(s, FEATURES[FEATURES.index(m) - 1]) is None:
            break  # m3 once m2 is declared
        optional = "" if m == FEATURES[0] else " (empty: none)"
        widget(page, m, st.text_input, f"{m} = φ(g){optional}", help=_FEATURE_HELP)
        if getattr(s, m) is not None:
            widget(page, w, st.text_input, f"{w}: its weights", help=f"one of {WEIGHT_FORMS}")
    widget(
        page,
        READOUT,
        st.text_input,
        "r = the update, of g, m1, m2, m3",
        help="elementwise, e.g. m1/(sqrt(m2)+1e-8); the step is θ ← θ − h(r + λθ)",
    )
    for line in s.declaration.latex():
        st.latex(r"\small " + line)  # the sidebar's width


def pair(page: state.PageState, s, most: int) -> None:
    """Two optimizers and what each runs with (core.scenarios.pair's keys opts, lrs and wd, as on
    /study and in /network's compare mode), mirroring the scenario s of `page`."""
    widget(
        page,
        "opts",
        st.text_input,
        "two optimizers",
        help=f"e.g. {','.join(COMPARED)}; custom is an optimizer you declare (its keys open)",
    )
    if CUSTOM in s.opts:
        declaration(page, s)
    count = f"1 to {most} per optimizer, comma separated" if most > 1 else "one per optimizer"
    widget(
        page,
        "lrs",
        st.text_input,
        "learning rates h",
        help=f"{count}; a name gives one optimizer its own (adamw:0.03,lion:0.01), a bare "
        "value applies to both" + ("; the k-th of each are compared" if most > 1 else ""),
    )
    if s.wd is not None:
        widget(
            page,
            "wd",
            st.text_input,
            "weight decay λ",
            help="one per optimizer that has one: adamw:0.01,lion:0.03, or one value for both",
        )


def loss_select(page: state.PageState) -> None:
    """The loss: one of the zoo or a custom expression."""
    widget(
        page,
        "loss",
        st.selectbox,
        "Loss",
        [*ZOO, "custom"],
        format_func=lambda k: ZOO[k].title if k in ZOO else "Custom expression",
    )


def start_point(page: state.PageState) -> None:
    """The start (x₀, y₀), side by side."""
    left, right = st.columns(2)
    with left:
        number(page, "x0", "start x₀", 0.1)
    with right:
        number(page, "y0", "start y₀", 0.1)


def loss(s: Scenario) -> None:
    loss_select(PLANE)
    if s.loss == "custom":
        widget(
            PLANE,
            "f",
            st.text_input,
            "L(x, y) =",
            help="x, y, numbers, + - * / ^, ( ), pi, e and functions like sin, exp, log",
        )
    else:
        st.caption(ZOO[s.loss].description)


def start(s: Scenario) -> None:
    start_point(PLANE)
    st.button(
        "Reset to the loss's start",
        disabled=s.loss == "custom",
        on_click=apply,
        kwargs={"x0": None, "y0": None},
    )


def loss_and_start(s: Scenario) -> None:
    """The sidebar section every 2D page has: the loss, then where the runs start."""
    st.subheader("Loss and start")
    loss(s)
    start(s)


def steps(s: Scenario) -> None:
    widget(
        PLANE,
        "steps",
        st.number_input,
        "steps",
        min_value=1,
        max_value=MAX_STEPS,
        step=50,
        help="iterations of each run (a few ms each)",
    )


def perturbation_step(s: Scenario) -> None:
    """Whether the perturbed loss comes from M^(n) at the run's last step or its limit."""
    widget(
        PLANE,
        "rn",
        st.radio,
        "perturbed loss from",
        ["run", "inf"],
        format_func=lambda k: (
            f"M⁽ⁿ⁾ at the run's last step (n = {s.steps - 1})" if k == "run" else "n → ∞"
        ),
        help="the correction grows with n towards its limit (THEORY §1)",
    )


def order_study(s: Scenario) -> None:
    widget(
        PLANE, "hs", st.text_input, "step sizes h", help="2 to 8 values in (0, 1], comma separated"
    )
    number(PLANE, "T", "horizon T", 0.5, "each run takes round(T/h) steps")


def compare(s: Scenario) -> None:
    widget(
        PLANE,
        "cmp",
        st.multiselect,
        "Optimizers to compare",
        [*RECORDS, CUSTOM],
        format_func=_choice,
        max_selections=4,
    )
    if CUSTOM in s.cmp:
        declaration(PLANE, s)
    number(PLANE, "lr", "learning rate h", 0.001)
