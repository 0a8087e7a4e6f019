"""The sidebar of /paper: the experiment's widgets, mirroring its core.analyses.paper query class
through ui.state.PAPER[experiment] (one set of widget keys per experiment)."""

from __future__ import annotations

import streamlit as st

from core.analyses.paper import ADAM_PLACEMENTS, DATA_KEYS
from core.engine import registry
from ui.controls import number, widget
from ui.state import PAPER

# field -> (label, help); the step of a number input is in STEPS
LABELS = {
    "opt": (
        "optimizers",
        "comma separated: adamw (ε outside the root, PyTorch), "
        "adamw_epsin (ε inside, the paper's), lion, …",
    ),
    "h": ("step sizes h", "2 to 6, comma separated; each run takes round(t/h) steps"),
    "t": ("horizon t", "the same time t = n·h for every step size"),
    "b1": ("β₁", "comma separated on the sharpness experiment"),
    "b2": ("β₂", "comma separated on the β₂ experiment"),
    "eps": ("ε", "where ε sits depends on the optimizer (THEORY §14)"),
    "wd": ("weight decay λ", "decoupled, λθ"),
    "lr": ("learning rate h", "AdamW's"),
    "lion_lr": ("Lion's learning rate", "the Lion paper advises 3-10x smaller than AdamW's"),
    "lion_wd": ("Lion's weight decay", "the Lion paper advises 3-10x larger than AdamW's"),
    "until": ("training-loss threshold", "each run is read at its first step with loss ≤ this"),
    "seeds": ("seeds", "initializations seed, seed + 1, …"),
    "steps": ("steps", "the most steps a run takes"),
    "points": ("checkpoints", "steps where λ₁(P⁻¹H) is measured"),
    "n": ("digit images n", "of scikit-learn's 1,797 (train + test)"),
    "split": ("test share", "held out for the test accuracy"),
    "width": ("width", "hidden units of the MLP 64 → width → 10"),
    "act": ("activation", "GELU or tanh"),
    "seed": ("seed", "the data subset, the split and the initialization"),
}
STEPS = {"t": 0.5, "eps": 1e-6, "wd": 0.001, "lr": 0.001, "lion_lr": 0.0005, "lion_wd": 0.01}
STEPS |= {"until": 0.01, "seeds": 1, "steps": 100, "points": 1, "n": 100, "split": 0.05}
STEPS |= {"width": 8, "seed": 1, "b1": 0.01, "b2": 0.01}


def sidebar(experiment: str, s) -> None:
    page = PAPER[experiment]
    data = list(DATA_KEYS)
    st.subheader("Experiment")
    for key in [k for k in page.fields if k not in data]:
        _draw(page, key, s)
    st.subheader("Data and network")
    for key in data:
        _draw(page, key, s)


def _draw(page, key: str, s) -> None:
    label, help = LABELS[key]
    value = getattr(s, key)
    if key == "opt" and isinstance(value, str):
        widget(
            page,
            key,
            st.selectbox,
            "ε placement",
            list(ADAM_PLACEMENTS),
            format_func=registry.label,
            help=help,
        )
    elif key == "act":
        widget(page, key, st.selectbox, label, ["gelu", "tanh"], help=help)
    elif isinstance(value, tuple):
        widget(page, key, st.text_input, label, help=help)
    else:
        number(page, key, label, STEPS.get(key, 0.001), help)
