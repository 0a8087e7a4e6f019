"""/compare: several optimizers, their usual defaults, on the same loss and start."""

import streamlit as st

from core import compute, limits
from core.regularizer import implicit_regularizer
from ui import cache, controls, layout, plots, state

st.title("Compare optimizers")
s = state.PLANE.scenario()

if not state.teaching():
    with st.sidebar:
        st.subheader("Optimizers")
        controls.compare(s)
        st.subheader("Loss and start")
        controls.loss(s)
        controls.start(s)
        controls.steps(s)

st.caption(
    "Each optimizer runs with its usual hyperparameters (PyTorch's; Lion's paper) and the "
    f"same learning rate h = {s.lr:g}, from the same start."
)
runs = [s.with_optimizer(name) for name in s.cmp]
refusal = limits.over_budget(
    compute.compare_seconds(s),
    f"{len(s.cmp)} optimizers x {s.steps} steps",
    "steps, grid or the number of optimizers",
)
if refusal:
    st.error(f"This comparison is refused: {refusal}.", icon=":material/block:")
    st.stop()
with st.spinner(f"Running {len(runs)} optimizers…"):
    results = [(r, cache.summary(r), cache.surfaces(r)) for r in runs]

# one colour scale for every map side by side (L and each optimizer's L + hR)
scale = plots.MapScale.of(*(z for _, _, surf in results for z in (surf.loss, surf.perturbed)))
columns = st.columns(len(runs))
for col, (r, summary, surf) in zip(columns, results, strict=True):
    with col:
        st.subheader(controls.OPTIMIZER_NAMES[r.opt])
        layout.divergence_warnings(r, summary)
        layout.loss_warnings(summary.losses, summary.diverged)
        st.markdown("**Loss L and the three runs**")
        layout.chart(
            plots.trajectory_figure(
                surf, summary, height=layout.height(380), animated=False, scale=scale
            )
        )
        st.markdown("**Perturbed loss L + hR** (dotted lines: L)")
        layout.chart(
            plots.trajectory_figure(
                surf,
                summary,
                z=surf.perturbed,
                height=layout.height(380),
                animated=False,
                scale=scale,
            )
        )
        st.caption(f"R: {surf.source}")
        layout.regularizer_card(r)

st.subheader("What each optimizer's memory does to the loss")
table = [
    "| optimizer | hyperparameters | coefficient | effect | holds where |",
    "|---|---|---|---|---|",
]
for r, _, _ in results:
    reg = implicit_regularizer(r.opt, r.hyper)
    hyper = ", ".join(f"{k} = {v:g}" for k, v in r.hyper.items()) or "–"
    table.append(
        f"| {controls.OPTIMIZER_NAMES[r.opt]} | {hyper} | {reg.coefficient:.4g} | "
        f"{layout.EFFECT_BADGE[reg.effect]} | {reg.regime.replace('|', '&#124;')} |"
    )
st.markdown("\n".join(table))
st.markdown(
    "With its usual betas (0.9, 0.999) **AdamW's memory anti-regularizes**: "
    "c₁ − c₂ = 9 − 999 < 0, so the memoryless algorithm descends L − 990·h·‖∇L‖₁ and is "
    "drawn to sharp regions.  **Lion's does not**: its exact sign has zero derivative, so "
    "memory adds no correction (and a smoothed sign adds a positive one)."
)
layout.share_box("compare", s)
