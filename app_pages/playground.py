"""/playground: one optimizer on one loss, the three dynamics and the perturbed loss."""

import streamlit as st

from core.engine.dynamics import DYNAMICS
from ui import cache, controls, grid, layout, plots, state

st.title("Playground")
s = state.PLANE.scenario()


def sidebar() -> None:
    st.subheader("Optimizer")
    controls.optimizer(s)
    controls.loss_and_start(s)
    controls.steps(s)
    controls.perturbation_step(s)


layout.sidebar(sidebar)

with st.spinner(f"Running {s.steps} steps of three dynamics…"):
    summary = cache.summary(s)
    surf = cache.surfaces(s)
    report = cache.regularizer(s)

layout.divergence_warnings(summary)
layout.readout_notes(summary)
layout.loss_warnings(summary.losses, summary.diverged)
layout.farther_note(s, summary.gap_corrected, summary.gap_memoryless)

left, right = st.columns(2)
with left:
    st.markdown("**Loss L with the three runs** · click the map to start there")
    layout.chart(
        plots.trajectory_figure(surf, summary, height=layout.height(460), click="start here"),
        "playground-map",
        on_click=controls.start_at,
    )


@st.fragment
def perturbed_panel() -> None:
    """L + hR, in 2D or 3D: the toggle reruns this panel only."""
    three_d = st.query_params.get("3d") == "1"
    lo, hi = (f"{q:.0%}" for q in grid.CLIP_3D)
    if three_d:
        st.markdown(
            f"**Perturbed loss L + hR** in 3D, clipped to its {lo}–{hi} quantiles (widened "
            "to hold the runs)"
        )
        layout.chart(
            plots.surface3d_figure(surf, summary, height=layout.height(555)),
            "playground-perturbed-3d",
        )
    else:
        st.markdown("**Perturbed loss L + hR** (dotted lines: L), same colours as L")
        layout.chart(
            plots.trajectory_figure(surf, summary, z=surf.perturbed, height=layout.height(460)),
            "playground-perturbed",
        )
    toggle, caption = st.columns([1, 3])
    with toggle:
        controls.flag_toggle(state.PLANE, "3d", "3D surface")
    with caption:
        layout.surface_caption(surf)


with right:
    perturbed_panel()


def _metric(col, label: str, k: str, text: str, help: str | None = None) -> None:
    """A metric of run k: its value, or where it diverged."""
    at = summary.diverged[k]
    if at is None:
        col.metric(label, text, help=help)
    else:
        col.metric(label, "diverged", f"at step {at}", "off", help=help, delta_arrow="off")


cols = st.columns(len(DYNAMICS) + 2)
for col, k in zip(cols, DYNAMICS, strict=False):
    _metric(col, f"final L · {k}", k, layout.value_text(summary.losses[k][-1]))
_metric(
    cols[-2],
    "max gap · corrected",
    "corrected",
    f"{summary.gap_corrected:.3g}",
    "max over n of |memory − corrected|: O(h²), the correction tracks the memory run to "
    "second order",
)
_metric(
    cols[-1],
    "max gap · memoryless",
    "memoryless",
    f"{summary.gap_memoryless:.3g}",
    "max over n of |memory − memoryless|: O(h), dropping the correction costs one order",
)

layout.chart_pair(
    "playground-correction",
    (
        "**Memory correction field** (arrows: −M, how it pushes the iterate)",
        plots.field_figure(surf, height=layout.height(400)),
    ),
    (
        "**What the memory adds to the loss: hR** (orange raises L, teal lowers it)",
        plots.sign_figure(surf, height=layout.height(400)),
    ),
)
st.caption(plots.sign_caption(surf))

info, share = st.columns([3, 2])
with info:
    layout.regularizer_card(s, report)
    layout.smooth_family(s)
with share:
    layout.share_box("playground", s)
    layout.playground_downloads(s, summary)
