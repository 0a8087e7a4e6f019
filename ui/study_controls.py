"""The sidebar of /study: widgets mirroring core.analyses.study.StudyScenario through
ui.state.STUDY."""

from __future__ import annotations

import streamlit as st

from core.analyses.study import StudyScenario
from core.models.datasets import DATASETS
from core.models.mlp import ACTIVATIONS
from core.scenarios.limits import MAX_STUDY_LRS
from ui.controls import number, pair, widget
from ui.network_controls import DATA_NAMES
from ui.state import STUDY


def sidebar(s: StudyScenario) -> None:
    st.subheader("Optimizers")
    pair(STUDY, s, MAX_STUDY_LRS)
    st.subheader("Matched at")
    number(
        STUDY,
        "until",
        "training loss ≤",
        0.01,
        "each run is read at its first step with training loss at or below this (0: at the "
        "end of the step budget, the losses not matched)",
    )
    number(STUDY, "steps", "step budget", 50)
    st.subheader("Seeds")
    number(STUDY, "seeds", "seeds S", 1, "initializations seed, seed + 1, ... (2 to 256)")
    number(STUDY, "seed", "first seed", 1, "also draws the data set")
    st.subheader("Data and network")
    widget(STUDY, "data", st.selectbox, "data set", list(DATASETS), format_func=DATA_NAMES.get)
    number(STUDY, "n", "points n", 20)
    number(STUDY, "width", "width", 1)
    number(STUDY, "depth", "hidden layers", 1)
    widget(STUDY, "act", st.selectbox, "activation", list(ACTIVATIONS))
