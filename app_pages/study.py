"""/study: two optimizers trained from the same S initializations on the same data
(AdamW against Lion by default, THEORY §5's application): means with 95% intervals, the
paired per-seed differences and h R along training.  Computation: core.study."""

import streamlit as st

from core.study import paired_verdict, study_warnings, summary
from ui import cache, layout
from ui import study_controls as controls
from ui import study_plots as plots
from ui.state import STUDY

PAGE = "study"

st.title("Seed study")
s = STUDY.scenario()
layout.sidebar(controls.sidebar, s)

a, b = s.opts
with st.spinner(f"Training {2 * s.seeds * len(s.lrs)} networks for {s.steps} steps…"):
    res = cache.study(s)
stats = summary(res)

st.caption(
    f"{a} and {b} (each with its usual hyperparameters) from the same {s.seeds} "
    f"initializations (seeds {s.seed}…{s.seed + s.seeds - 1}) on one {s.data} data set, "
    f"{s.steps} full-batch steps. Means with 95% t-intervals over the seeds; sharpness: "
    "the Hessian's largest eigenvalue (Lanczos on Hessian-vector products, the full "
    f"Hessian for small networks); h·R from the correction M⁽ⁿ⁾ at the runs' step "
    f"n = {s.regularizer_step} (THEORY §1), hollow markers and dotted lines: its limit n → ∞."
)
for w in study_warnings(res):  # conditions of the reading, as on the regularizer card
    st.info(w, icon=":material/warning:")
layout.chart(plots.means_figure(res, height=layout.height(460)), "study-means")

lr_index = 0
if len(s.lrs) > 1:
    choices = list(range(len(s.lrs)))
    lr_index = st.radio(
        "learning rate", choices, format_func=lambda k: f"h = {s.lrs[k]:g}", horizontal=True
    )
lr_key = list(stats)[lr_index]
left, right = st.columns(2)
with left:
    metric = st.selectbox(
        "paired per seed", list(plots.LABELS), format_func=plots.LABELS.get, index=2
    )
    diff = stats[lr_key][f"{b} - {a}"][metric]
    verdict = paired_verdict(res, metric, lr_index)
    if diff["n"] == 0:
        st.markdown(f"**{plots.LABELS[metric]}**, {b} − {a} per seed: {verdict}.")
    else:
        st.markdown(
            f"**{plots.LABELS[metric]}**, {b} − {a} per seed: mean {diff['mean']:.4g}, 95% "
            f"interval [{diff['lo'] if diff['lo'] is None else format(diff['lo'], '.4g')}, "
            f"{diff['hi'] if diff['hi'] is None else format(diff['hi'], '.4g')}] over "
            f"{diff['n']} seeds: {verdict}."
        )
    layout.chart(
        plots.paired_figure(res, metric, lr_index, height=layout.height(380)), "study-paired"
    )
with right:
    st.markdown(
        f"**Implicit regularizer h·R along training** (THEORY §5, memory run; M⁽ⁿ⁾ at "
        f"n = {s.regularizer_step}, dotted: n → ∞)"
    )
    layout.chart(
        plots.regularizer_figure(res, lr_index, height=layout.height(420)), "study-regularizer"
    )

with st.expander("Share"):
    layout.share_box(PAGE, s, STUDY)
