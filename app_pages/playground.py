"""/playground: one optimizer on one loss, the three dynamics and the perturbed loss."""

from functools import partial

import streamlit as st

from core.dynamics import DYNAMICS
from ui import cache, controls, layout, plots, state

st.title("Playground")
s = state.PLANE.scenario()

if not state.teaching():
    with st.sidebar:
        st.subheader("Optimizer")
        controls.optimizer(s)
        st.subheader("Loss and start")
        controls.loss(s)
        controls.start(s)
        controls.steps(s)

with st.spinner(f"Running {s.steps} steps of three dynamics…"):
    summary = cache.summary(s)
    surf = cache.surfaces(s)

layout.divergence_warnings(s, summary)

left, right = st.columns(2)
with left:
    st.markdown("**Loss L with the three runs** · click the map to start there")
    key = f"map-{s.to_query()}"  # a new scenario is a new chart: no stale selection
    layout.chart(
        plots.trajectory_figure(surf, summary, height=layout.height(460), clickable=True),
        key=key,
        on_select=partial(controls.start_from_click, key),
        selection_mode="points",
    )
with right:
    st.markdown("**Perturbed loss L + hR** (dotted lines: L)")
    if st.toggle("3D surface", key="surface3d"):
        layout.chart(plots.surface3d_figure(surf, summary, height=layout.height(530)))
    else:
        layout.chart(
            plots.trajectory_figure(surf, summary, z=surf.perturbed, height=layout.height(460))
        )
    residual = f" · non-gradient part of M/P: {surf.residual:.1%}" if surf.residual else ""
    st.caption(f"R: {surf.source}{residual}")


def _value(k: str, text: str) -> str:
    at = summary.diverged[k]
    return f"diverged at n = {at}" if at is not None else text


cols = st.columns(len(DYNAMICS) + 2)
for col, k in zip(cols, DYNAMICS, strict=False):
    col.metric(f"final loss · {k}", _value(k, f"{summary.losses[k][-1]:.4g}"))
cols[-2].metric(
    "max |memory − corrected|",
    _value("corrected", f"{summary.gap_corrected:.3g}"),
    help="O(h²): the correction tracks the memory run to second order",
)
cols[-1].metric(
    "max |memory − memoryless|",
    _value("memoryless", f"{summary.gap_memoryless:.3g}"),
    help="O(h): dropping the correction costs one order",
)

layout.chart_pair(
    (
        "**Memory correction field** (arrows: −M, how it pushes the iterate)",
        plots.field_figure(surf, height=layout.height(400)),
    ),
    (
        "**Regularization sign**: where hR raises or lowers the loss",
        plots.sign_figure(surf, height=layout.height(400)),
    ),
)

info, share = st.columns([3, 2])
with info:
    layout.regularizer_card(s)
with share:
    layout.share_box("playground", s)
    layout.downloads(s, summary)
