"""/: what the tool shows, a picture, and the way in."""

import streamlit as st

from core.scenarios.scenario import Scenario
from ui import cache, layout, plots
from ui.gallery import GALLERY

# every page, lessons first (a teacher's way in), each with its own icon (ui.pages)
LINKS = (
    ("lessons", "Lessons: predict, then reveal"),
    ("playground", "Playground: one optimizer, three dynamics"),
    ("theory", "Order of accuracy: O(h²) against O(h)"),
    ("compare", "Compare optimizers: gradient descent against heavy ball"),
    ("network", "Small networks: the same three dynamics on an MLP"),
    ("study", "Seed study: AdamW against Lion over many seeds"),
    ("sweep", "Phase diagram: two hyperparameters on a grid"),
    ("paper", "The paper's experiments, on handwritten digits"),
    ("gallery", "Gallery of curated scenarios"),
    ("about", "About: formulas, conventions, references"),
)

st.title("How memory in optimizers implicitly modifies the loss")

text, picture = st.columns([3, 2])
with text:
    st.markdown(
        "An optimizer with **memory** (momentum, Adam, Lion) follows, to second order in "
        "the step size h when its update is smooth, a **memoryless** algorithm plus a "
        "**correction** computed at the current point only (Cattaneo & Shigida, NeurIPS "
        "2025): this tool runs all three side by side on 2D losses and small networks.  "
        "The correction acts like gradient descent on a **perturbed loss L + hR**: heavy "
        "ball's memory penalizes the gradient norm (regularizes); Adam's and AdamW's "
        "rewards it where gradients dwarf ε (anti-regularizes, with the usual betas) and "
        "penalizes it where they are small against ε; exact-sign Lion's formula gives no "
        "correction, since its sign is outside the smooth theorem.  Every page reads its "
        "verdict from the numbers it shows."
    )
    st.markdown(
        ":red[**━ memory**] (the optimizer, a wide band) · :blue[**╌ memoryless**] · "
        ":orange[**┈ corrected**] (memoryless + correction)"
    )
    for page, label in LINKS:
        layout.page_link(page, label)
with picture:
    example = GALLERY[0]
    s = Scenario.parse(example.query)
    with st.spinner("Drawing…"):
        fig = plots.trajectory_figure(
            cache.surfaces(s), cache.summary(s), height=360, animated=False
        )
    layout.chart(fig, "home-map")
    st.caption(example.title + ": " + example.blurb)
