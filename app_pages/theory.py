"""/theory: the order study of the current scenario (THEORY §1)."""

import streamlit as st

from core.analyses.order import SETTLED, asymptotic_h, asymptotic_steps, steps_to
from core.engine.registry import ASYMPTOTIC_MEMORIES, longest_memory, record
from core.scenarios.query import ScenarioError
from ui import cache, controls, layout, plots, state, tables, text

st.title("Order of accuracy")
s = state.PLANE.scenario()


def sidebar() -> None:
    st.subheader("Order study")
    controls.order_study(s)
    st.subheader("Optimizer")
    controls.optimizer(s, lr=False)
    controls.loss_and_start(s)


layout.sidebar(sidebar)

st.markdown(
    "Over a fixed horizon T (n ≤ T/h steps), for a smooth update and once h is small "
    "against the memory length (THEORY §1, §11), the corrected memoryless run stays within "
    "**O(h²)** of the real optimizer, the plain memoryless run only within **O(h)**. "
    "Each step size h runs all three dynamics to T; the plot shows the largest distance "
    "to the memory run."
)

with st.spinner(f"Running {sum(steps_to(s.T, s.hs))} steps over {len(s.hs)} step sizes…"):
    study = cache.order(s)

plot, numbers = st.columns([3, 2])
with plot:
    layout.chart(plots.order_figure(study, height=layout.height(440)), "theory-order")
with numbers:
    c, m = st.columns(2)
    used = f"fitted on the {study.fit_rows} asymptotic rows" if study.reached else "no row fits"
    c.metric(
        "fitted slope · corrected",
        f"{study.fit_corrected:.2f}" if study.reached else "–",
        help=f"expected → 2; {used}",
    )
    m.metric(
        "fitted slope · memoryless",
        f"{study.fit_memoryless:.2f}" if study.reached else "–",
        help=f"expected → 1; {used}",
    )
    if study.reached:
        st.caption(
            f"Slopes {used}, h ≤ {study.h[-study.fit_rows]:g} (THEORY §12): the run of rows "
            "at the smallest h where no run diverged, the errors are below a tenth of the "
            "run's extent, the corrected error is below the memoryless one and consecutive "
            f"local slopes agree within {SETTLED:g}."
        )
    else:
        st.caption(
            "No slope is fitted: this study has not reached its asymptotic regime "
            "(THEORY §12; the warning below says why)."
        )
    st.dataframe(tables.order(study, s.T), hide_index=True)  # scrolls sideways on a phone

for w in study.warnings:
    st.warning(w, icon=":material/warning:")
if study.next_h:
    smaller = (study.h[-1], *study.next_h)
    try:
        layout.page_link(
            "theory",
            f"Run the study at h = {', '.join(f'{h:g}' for h in smaller)}",
            s.updated(hs=smaller).to_query(),
            icon=":material/arrow_downward:",
        )
    except ScenarioError as err:
        st.caption(f"This app cannot run the study at the smaller h: {text.plain(err)}")

st.subheader("Reading the slopes")
rec = record(s.opt)
beta, memory = longest_memory(s.opt, s.hyper)
st.markdown(
    f"The memory of this optimizer fades over about 1/(1−β) = **{memory:.3g} steps** "
    f"(β = {beta:g}, the largest of its betas).  The expansion behind the correction "
    "replaces past iterates by the current one, so the slopes 2 and 1 only show once the "
    "horizon holds many memory lengths: roughly "
    f"**T/h ≥ {ASYMPTOTIC_MEMORIES}/(1−β) = {asymptotic_steps(memory):.0f} steps**, "
    f"i.e. h ≤ {asymptotic_h(s.T, memory):.3g} for T = {s.T:g}.  At larger h the local slopes are "
    "*pre-asymptotic*: they climb towards 2 as h shrinks, and this page fits only the run "
    "of settled rows at the smallest h, and none while, for a smooth update, that run is "
    "still below 2 and 1 (THEORY §12)."
)
if not rec.smooth(s.hyper):
    st.info(rec.not_smooth, icon=":material/info:")
layout.share_box("theory", s)
