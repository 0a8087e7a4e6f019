"""Sidebar widgets mirroring scenario fields.  Right after a widget is drawn, a value
other than the scenario's is a user change: the next scenario is derived from it,
published (ui.state) and the page reruns, so the widgets drawn after it are seeded from
the new scenario (an optimizer brings its hyperparameters, a loss its start).  A value
the scenario rejects leaves it as it was, with the reason under the widget."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.losses import ZOO
from core.optimizers import OPTIMIZERS
from core.scenario import HYPER_DEFAULTS, MAX_STEPS, Scenario, ScenarioError, numbers
from ui import state

OPTIMIZER_NAMES = {
    "gd": "Gradient descent",
    "hb": "Heavy ball (SGD momentum)",
    "nesterov": "Nesterov",
    "rmsprop": "RMSProp",
    "adam": "Adam",
    "adamw": "AdamW",
    "lion": "Lion",
}
HYPER_LABELS = {
    "b1": "β₁ (momentum)",
    "b2": "β₂ (second moment)",
    "eps": "ε",
    "wd": "weight decay λ",
}


def _change(key: str) -> Scenario:
    """The next scenario after widget `key` changed."""
    s, value = state.current(), st.session_state[state.WIDGET + key]
    if key == "opt":
        return s.with_optimizer(value)
    if key == "loss":
        # a new landscape brings its own start and window
        changes = {"loss": value, "x0": None, "y0": None, "win": None}
        if value == "custom":
            changes["f"] = st.session_state.get(state.WIDGET + "f") or None
        return s.updated(**changes)
    if key == "hs":
        try:
            value = numbers(value)
        except ValueError as err:
            raise ScenarioError("hs", str(err)) from None
    if key == "cmp":
        value = tuple(value)
    return s.updated(**{key: value})


def _sync(key: str) -> None:
    s = state.current()
    if st.session_state[state.WIDGET + key] == state.widget_values(s).get(key):
        return
    try:
        new = _change(key)
    except ScenarioError as err:
        st.error(str(err).split(": ", 1)[-1], icon=":material/error:")
        return
    if new != s:
        state.publish(new)
        st.rerun()


def apply(**changes) -> None:
    """Publish the current scenario with some fields changed (from a callback)."""
    state.publish(state.current().updated(**changes))


def start_from_click(chart_key: str) -> None:
    """on_select of a map: the clicked point becomes the start."""
    points = st.session_state[chart_key].selection.points
    if points:
        apply(x0=round(float(points[0]["x"]), 4), y0=round(float(points[0]["y"]), 4))


def _widget(key: str, draw: Callable, *args, **kwargs) -> None:
    draw(*args, key=state.WIDGET + key, **kwargs)
    _sync(key)


def _number(key: str, label: str, step: float, help: str | None = None):
    # no min/max: the scenario is the validator, and a bound tighter than its own would
    # make Streamlit raise on a valid URL value
    _widget(key, st.number_input, label, step=step, format="%g", help=help)


def optimizer(s: Scenario, lr: bool = True) -> None:
    """The optimizer, its hyperparameters and (lr) the learning rate."""
    _widget(
        "opt",
        st.selectbox,
        "Optimizer",
        list(OPTIMIZERS),
        format_func=lambda k: OPTIMIZER_NAMES.get(k, k),
    )
    if lr:
        _number("lr", "learning rate h", 0.001, "the step size h of every run")
    for k in HYPER_DEFAULTS[s.opt]:
        step = 0.01 if k in ("b1", "b2") else 0.001
        _number(k, HYPER_LABELS[k], step, f"usual default {HYPER_DEFAULTS[s.opt][k]:g}")


def loss(s: Scenario) -> None:
    _widget(
        "loss",
        st.selectbox,
        "Loss",
        [*ZOO, "custom"],
        format_func=lambda k: ZOO[k].title if k in ZOO else "Custom expression",
    )
    if s.loss == "custom":
        _widget(
            "f",
            st.text_input,
            "L(x, y) =",
            help="x, y, numbers, + - * / ^, ( ), pi, e and functions like sin, exp, log",
        )
    else:
        st.caption(ZOO[s.loss].description)


def start(s: Scenario) -> None:
    left, right = st.columns(2)
    with left:
        _number("x0", "start x₀", 0.1)
    with right:
        _number("y0", "start y₀", 0.1)
    st.button(
        "Reset to the loss's start",
        disabled=s.loss == "custom",
        on_click=apply,
        kwargs={"x0": None, "y0": None},
    )


def steps(s: Scenario) -> None:
    _widget(
        "steps",
        st.number_input,
        "steps",
        min_value=1,
        max_value=MAX_STEPS,
        step=50,
        help="iterations of each run (a few ms each)",
    )


def order_study(s: Scenario) -> None:
    _widget("hs", st.text_input, "step sizes h", help="2 to 8 values in (0, 1], comma separated")
    _number("T", "horizon T", 0.5, "each run takes round(T/h) steps")


def compare(s: Scenario) -> None:
    _widget(
        "cmp",
        st.multiselect,
        "Optimizers to compare",
        list(OPTIMIZERS),
        format_func=lambda k: OPTIMIZER_NAMES.get(k, k),
        max_selections=4,
    )
    _number("lr", "learning rate h", 0.001)
