"""/paper: the paper's three experiments (Cattaneo & Shigida 2025, Appendix J) at this
machine's scale, scikit-learn's digits and an MLP instead of MNIST or CIFAR-10 and a
ResNet.  One section at a time, chosen at the top; each experiment has its own URL state
(ui.state.PAPER[name], tagged exp=name), figure, caption (every claim read from the
numbers by core.analyses.paper), warnings, downloads and progress bar.  Computation:
core.analyses.paper, stored by ui.cache.paper_result."""

import streamlit as st

from core.analyses import paper
from core.scenarios.network_scenario import train_size
from core.scenarios.report import PAPER_JSON, paper_csv, to_json
from ui import cache, layout, text
from ui import paper_controls as controls
from ui import paper_plots as plots
from ui.state import PAPER

PAGE = "paper"
_CHOICE = "wp_exp"  # the widget choosing the experiment
_LAST = "_paper_exp"  # the experiment this session showed last (for navigation)
TITLES = {
    "distance": "1 · Distance to the memoryless runs",
    "beta2": "2 · β₂ at matched training loss",
    "sharpness": "3 · Preconditioned sharpness",
}
FIGURES = {
    "distance": plots.distance_figure,
    "beta2": plots.beta2_figure,
    "sharpness": plots.sharpness_figure,
}
CAPTIONS = {
    "distance": paper.distance_caption,
    "beta2": paper.beta2_caption,
    "sharpness": paper.sharpness_caption,
}


def scale(s, experiment: str) -> str:
    """What the experiment reproduces and at what scale (the settings shown)."""
    n_train = train_size(s.n, s.split)
    net = (
        f"scikit-learn's handwritten digits ({s.n} of the 1,797 8×8 images, {n_train} for "
        f"training, full batch) and an MLP 64 → {s.width} → 10 ({s.act.upper()}, "
        "cross-entropy)"
    )
    if experiment == "distance":
        return (
            "**Reproduces** the paper's first experiment (MNIST, an MLP with GELU, Adam and "
            "ε-smoothed Lion, ε = 1e-6, h ∈ {1e-4, 3e-4}): how far the memoryless run and the "
            "corrected run stay from the optimizer's own run, at several step sizes over one "
            f"horizon t = n·h, and the order in h of each distance. **Here:** {net}."
        )
    if experiment == "beta2":
        return (
            "**Reproduces** the paper's second experiment (CIFAR-10, a ResNet, full-batch "
            "AdamW with β₂ swept, test accuracy where the training loss first reaches 0.05, "
            "Lion beside it): memory anti-regularizes more as β₂ → 1 (THEORY §5). "
            f"**Here:** {net}."
        )
    return (
        "**Reproduces** the paper's third experiment: Adam's preconditioned sharpness "
        "λ₁(P⁻¹H) along training against the stability threshold (2 + 2β₁)/((1 − β₁)h), for "
        "β₁ = 0.9 and 0.99 (P: Adam's diagonal √v̂ + ε, or √(v̂ + ε), at that step; λ₁ of "
        f"P^-1/2 H P^-1/2 by Lanczos on Hessian-vector products). **Here:** {net}."
    )


def _experiment() -> str:
    """The experiment in the URL (exp=...), else the one this session showed last."""
    asked = st.query_params.get("exp")
    if asked in paper.EXPERIMENTS:
        return asked
    if asked is not None:
        text.url_warnings([f"exp: {asked!r} is not one of {', '.join(paper.EXPERIMENTS)}"])
    return st.session_state.get(_LAST, paper.EXPERIMENTS[0])


def _switch() -> None:
    """The experiment widget: show that experiment's scenario (its last, or defaults)."""
    chosen = st.session_state[_CHOICE]
    if chosen in paper.EXPERIMENTS:
        PAPER[chosen].publish(PAPER[chosen].current())


def _result(experiment: str, s):
    """The stored result, or the computation here under a progress bar; a refused or
    failed computation stops the page with its message."""
    hit = cache.paper_cached(experiment, s)
    if hit is not None:
        return hit
    label = f"Running {TITLES[experiment].split(' · ')[1].lower()}…"
    bar = st.progress(0.0, text=label)
    try:
        result = cache.paper_result(
            experiment, s, lambda f: bar.progress(f, text=f"{label} {f:.0%}")
        )
    except (ValueError, RuntimeError) as err:
        bar.empty()
        st.error(f"The computation failed: {err}", icon=":material/error:")
        st.stop()
    bar.empty()
    return result


st.title("The paper's experiments")
experiment = _experiment()
st.session_state[_LAST] = experiment
st.session_state[_CHOICE] = experiment
st.segmented_control(
    "experiment",
    list(paper.EXPERIMENTS),
    format_func=TITLES.get,
    key=_CHOICE,
    on_change=_switch,
    label_visibility="collapsed",
)
state = PAPER[experiment]
s = state.scenario()
layout.sidebar(controls.sidebar, experiment, s)

st.markdown(scale(s, experiment))
res = _result(experiment, s)
layout.chart(FIGURES[experiment](res, height=layout.height(440)), f"paper-{experiment}")
st.markdown(CAPTIONS[experiment](res))
for warning in res.warnings:
    st.warning(warning, icon=":material/warning:")
for label, query in paper.PRESETS[experiment].items():
    layout.page_link(PAGE, label, f"v=1&exp={experiment}&{query}", icon=":material/link:")

layout.downloads(
    f"paper-{experiment}",
    lambda: paper_csv(experiment, res),
    lambda: to_json(PAPER_JSON[experiment](res), indent=1),  # strict: NaN as null
)
with st.expander("Share"):
    layout.share_box(PAGE, s, state)
