"""/compare: several optimizers, their usual defaults, on the same loss and start."""

import streamlit as st

from core.analyses import compute
from core.engine.registry import label
from ui import cache, controls, layout, plots, state, style, tables

st.title("Compare optimizers")
s = state.PLANE.scenario()


def sidebar() -> None:
    st.subheader("Optimizers")
    controls.compare(s)
    controls.loss_and_start(s)
    controls.steps(s)


layout.sidebar(sidebar)

declared = " (the declared one: as declared)" if "custom" in s.cmp else ""
st.caption(
    f"Each optimizer runs with its usual hyperparameters (PyTorch's; Lion's paper){declared} "
    f"and the same learning rate h = {s.lr:g}, from the same start."
)
refusal = compute.compare_refusal(s)
if refusal:
    st.error(f"This comparison is refused: {refusal}.", icon=":material/block:")
    st.stop()
runs = s.compared()
with st.spinner(f"Running {len(runs)} optimizers…"):
    results = [(r, cache.summary(r), cache.surfaces(r), cache.regularizer(r)) for r in runs]

# one colour scale for every map side by side (L and each optimizer's L + hR)
scale = style.MapScale.of(*(z for _, _, surf, _ in results for z in (surf.loss, surf.perturbed)))
columns = st.columns(len(runs))
for i, (col, (r, summary, surf, report)) in enumerate(zip(columns, results, strict=True)):
    with col:
        st.subheader(label(r.opt))
        layout.divergence_warnings(summary)
        layout.readout_notes(summary)
        layout.loss_warnings(summary.losses, summary.diverged)
        layout.farther_note(r, summary.gap_corrected, summary.gap_memoryless)
        st.markdown("**Loss L and the three runs**")
        layout.chart(
            plots.trajectory_figure(
                surf, summary, height=layout.height(380), animated=False, scale=scale
            ),
            f"compare-{i}-map",
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
            ),
            f"compare-{i}-perturbed",
        )
        layout.surface_caption(surf)
        layout.regularizer_card(r, report)

st.subheader("What the numbers show")
tables.show(tables.compare_2d([(r, summary, report) for r, summary, _, report in results]))
st.caption(
    "Every entry is measured on this loss, start and h: the verdict is the sign of h·R "
    "over the window (THEORY §9), the distances are the largest over the run. One "
    "landscape is an illustration, not a benchmark."
)
layout.share_box("compare", s)
