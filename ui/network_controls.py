"""The sidebar of /network: widgets mirroring core.scenarios.network_scenario.NetworkScenario
through ui.state.NETWORK (widget keys `wn_`), with ui.controls' widget helpers: the
presets, the optimizer, the data, the network, the training, the landscape's plane, and
the toggle of the page's compare mode (URL flag compare=1: its own scenario,
ui.state.NETWORK_COMPARE) and that mode's sidebar."""

from __future__ import annotations

from urllib.parse import parse_qsl

import streamlit as st

from core.models.datasets import DATASETS
from core.models.mlp import ACTIVATIONS
from core.scenarios.network_scenario import COUNTEREXAMPLES, PRESETS, SHARED, NetworkScenario
from core.scenarios.query import ScenarioError
from core.scenarios.scenario import HYPER_KEYS
from ui.controls import number, optimizer, pair, widget
from ui.state import APP_FLAGS, NETWORK, NETWORK_COMPARE, PageState

(COMPARE,) = NETWORK.page_flags  # compare=1: the compare mode (ui.state.NETWORK_COMPARE)
DATA_NAMES = {
    "moons": "Two moons",
    "circles": "Circles",
    "spirals": "Spirals",
    "xor": "XOR",
    "sine": "Sine (regression)",
    "digits": "Handwritten digits (8x8, 10 classes)",
}
PLANE_NAMES = {"random": "random (filter-normalized)", "pca": "PCA of the trajectory"}


def _preset_changes(query: str) -> dict:
    return {k: None for k in HYPER_KEYS} | dict(parse_qsl(query))


def _apply_preset(query: str) -> None:
    try:
        NETWORK.publish(NETWORK.current().updated(**_preset_changes(query)))
    except ScenarioError as err:  # a preset is valid; keep the scenario if not
        st.toast(f"Preset not applied. {err}")


def presets(s: NetworkScenario) -> None:
    """One button per preset; the preset s already shows is highlighted."""
    for name, query in PRESETS.items():
        try:
            active = s.updated(**_preset_changes(query)) == s
        except ScenarioError:
            active = False
        st.button(
            name,
            key=NETWORK.key(f"preset-{name}"),
            on_click=_apply_preset,
            args=(query,),
            type="primary" if active else "secondary",
            width="stretch",
            help=COUNTEREXAMPLES.get(name),
        )


def data(s, page: PageState = NETWORK) -> None:
    widget(page, "data", st.selectbox, "data set", list(DATASETS), format_func=DATA_NAMES.get)
    number(page, "n", "points n", 20, "training + test points (20 to 2000; digits: 1797)")
    if s.noise is not None:  # the digits are images: no noise
        number(page, "noise", "noise", 0.05)
    number(page, "split", "test share", 0.05, "share of the points held out for testing (0 to 0.9)")


def network(page: PageState = NETWORK) -> None:
    left, right = st.columns(2)
    with left:
        number(page, "width", "width", 1, "hidden units per layer (max 64)")
    with right:
        number(page, "depth", "depth", 1, "hidden layers (max 4)")
    widget(page, "act", st.selectbox, "activation", list(ACTIVATIONS))


def training(page: PageState = NETWORK) -> None:
    number(page, "seed", "seed", 1, "data, initialization and mini-batches")
    left, right = st.columns(2)
    with left:
        number(page, "batch", "batch", 8, "mini-batch size; 0: full batch")
    with right:
        number(page, "steps", "steps", 50, "iterations of each run")


def plane() -> None:
    widget(
        NETWORK,
        "plane",
        st.radio,
        "plane of the slice",
        ["random", "pca"],
        format_func=PLANE_NAMES.get,
    )


_MODE = "_network_comparing"  # the mode this session showed last (for navigation)


def comparing() -> bool:
    """Whether the page shows its compare mode: compare=1 in a URL with a query; after
    navigation (no query), the mode this session showed last."""
    if any(k not in APP_FLAGS for k in st.query_params):
        st.session_state[_MODE] = st.query_params.get(COMPARE) == "1"
    return st.session_state.get(_MODE, False)


def _switch_mode() -> None:
    """The toggle: the other mode, with the data, network and training shown now (the
    optimizers of each mode as it was last)."""
    on = st.session_state[NETWORK.key(COMPARE)]
    now, then = (NETWORK, NETWORK_COMPARE) if on else (NETWORK_COMPARE, NETWORK)
    shown = now.current()
    shared = {k: getattr(shown, k) for k in (*SHARED, "steps")}
    if not on and COMPARE in st.query_params:
        del st.query_params[COMPARE]
    try:
        nxt = then.current().updated(**shared)
    except ScenarioError:  # e.g. more steps than the other mode admits: its own
        nxt = then.current()
    st.session_state[_MODE] = on
    then.publish(nxt)


def compare_toggle(on: bool) -> None:
    """The toggle of the compare mode."""
    st.session_state[NETWORK.key(COMPARE)] = on
    st.toggle(
        "Compare two optimizers",
        key=NETWORK.key(COMPARE),
        on_change=_switch_mode,
        help="two optimizers (AdamW and Lion by default), each at its own learning rate and "
        "weight decay (by default the Lion paper's ratio), on the same data, seed and net",
    )


def sidebar(s, comparing: bool) -> None:
    """The page's sidebar (compare mode: the two optimizers and what each runs with, no
    landscape)."""
    page = NETWORK_COMPARE if comparing else NETWORK
    if comparing:
        st.subheader("Optimizers")
        pair(NETWORK_COMPARE, s, 1)
    else:
        st.subheader("Presets")
        presets(s)
        st.subheader("Optimizer")
        optimizer(s, page=NETWORK)
    st.subheader("Data")
    data(s, page)
    st.subheader("Network")
    network(page)
    st.subheader("Training")
    training(page)
    if not comparing:  # compare mode draws no landscape
        st.subheader("Landscape")
        plane()
