"""The sidebar of /network: widgets mirroring core.network_scenario.NetworkScenario
through ui.state.NETWORK (widget keys `wn_`), with ui.controls' widget helpers: the
presets, the optimizer, the data, the network, the training, the landscape's plane, and
the toggle of the page's compare mode (URL flag compare=1)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import streamlit as st

from core.datasets import DATASETS
from core.mlp import ACTIVATIONS
from core.network_scenario import COUNTEREXAMPLES, PRESETS, NetworkScenario
from core.query import ScenarioError
from core.scenario import HYPER_KEYS
from ui.controls import flag_toggle, number, optimizer, widget
from ui.state import NETWORK

(COMPARE,) = NETWORK.page_flags  # compare=1 shows AdamW against Lion
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


def data(s: NetworkScenario) -> None:
    widget(NETWORK, "data", st.selectbox, "data set", list(DATASETS), format_func=DATA_NAMES.get)
    number(NETWORK, "n", "points n", 20, "training + test points (20 to 2000; digits: 1797)")
    if s.noise is not None:  # the digits are images: no noise
        number(NETWORK, "noise", "noise", 0.05)
    number(
        NETWORK, "split", "test share", 0.05, "share of the points held out for testing (0 to 0.9)"
    )


def network() -> None:
    left, right = st.columns(2)
    with left:
        number(NETWORK, "width", "width", 1, "hidden units per layer (max 64)")
    with right:
        number(NETWORK, "depth", "depth", 1, "hidden layers (max 4)")
    widget(NETWORK, "act", st.selectbox, "activation", list(ACTIVATIONS))


def training() -> None:
    number(NETWORK, "seed", "seed", 1, "data, initialization and mini-batches")
    left, right = st.columns(2)
    with left:
        number(NETWORK, "batch", "batch", 8, "mini-batch size; 0: full batch")
    with right:
        number(NETWORK, "steps", "steps", 50, "iterations of each run")


def plane() -> None:
    widget(
        NETWORK,
        "plane",
        st.radio,
        "plane of the slice",
        ["random", "pca"],
        format_func=PLANE_NAMES.get,
    )


def compare_mode() -> bool:
    """The toggle of the compare mode, following the URL flag; whether it is on."""
    return flag_toggle(
        NETWORK,
        COMPARE,
        "Compare AdamW and Lion",
        help="both optimizers with their usual hyperparameters, on the same data, seed and net",
    )


def sidebar(s: NetworkScenario, comparing: bool) -> None:
    """The page's sidebar (compare mode: only h is shared, no landscape)."""
    if comparing:  # AdamW and Lion bring their usual hyperparameters: only h is shared
        st.subheader("Optimizers")
        st.caption("AdamW and Lion, each with its usual hyperparameters.")
        number(NETWORK, "lr", "learning rate h", 0.001, "the step size of both")
    else:
        st.subheader("Presets")
        presets(s)
        st.subheader("Optimizer")
        optimizer(s, page=NETWORK)
    st.subheader("Data")
    data(s)
    st.subheader("Network")
    network()
    st.subheader("Training")
    training()
    if not comparing:  # compare mode draws no landscape
        st.subheader("Landscape")
        plane()
