"""/study: two optimizers trained from the same S initializations on the same data
(AdamW against Lion by default, THEORY §5's application), each at its own learning rate
and weight decay and read at a matched training loss: means with 95% bootstrap
intervals, the paired per-seed differences and h R along training.  Computation and
every sentence's numbers: core.analyses.study."""

import streamlit as st

from core.analyses.study import matched, paired_sentence, study_warnings
from core.scenarios.pair import settings
from ui import cache, layout
from ui import study_controls as controls
from ui import study_plots as plots
from ui.state import STUDY

PAGE = "study"

st.title("Seed study")
s = STUDY.scenario()
layout.sidebar(controls.sidebar, s)

a, b = s.opts
with st.spinner(f"Training {2 * s.seeds * s.columns} networks for up to {s.steps} steps…"):
    res = cache.study(s)

read = "at the threshold" if s.until else "at the end of the budget"
st.caption(
    f"{'. '.join(settings(s))}. {matched(res)}. The same {s.seeds} initializations (seeds "
    f"{s.seed}…{s.seed + s.seeds - 1}) on one {s.data} data set, full-batch steps. Every "
    f"metric is read where each run stops ({read}). Means with 95% bootstrap intervals "
    "(BCa) over the seeds; sharpness: the Hessian's largest eigenvalue (Lanczos on "
    "Hessian-vector products, the full Hessian for small networks); h·R from the "
    "correction M⁽ⁿ⁾ at each run's last update n (THEORY §1), hollow markers and dotted "
    "lines: its limit n → ∞."
)
for w in study_warnings(res):  # conditions of the reading, as on the regularizer card
    st.info(w, icon=":material/warning:")
layout.chart(plots.means_figure(res, height=layout.height(460)), "study-means")

lr_index = 0
if s.columns > 1:
    lr_index = st.radio(
        "learning rates",
        list(range(s.columns)),
        format_func=lambda k: plots.column_label(s, k),
        horizontal=True,
    )
left, right = st.columns(2)
with left:
    metric = st.selectbox(
        "paired per seed",
        [m for m in plots.LABELS if m != "steps" or s.until],
        format_func=plots.LABELS.get,
        index=2,
    )
    st.markdown(f"**{plots.LABELS[metric]}**, {paired_sentence(res, metric, lr_index)}.")
    layout.chart(
        plots.paired_figure(res, metric, lr_index, height=layout.height(380)), "study-paired"
    )
with right:
    st.markdown(
        "**Implicit regularizer h·R along training** (THEORY §5, memory run; M⁽ⁿ⁾ at each "
        "run's last update, dotted: n → ∞; the runs still going at each step)"
    )
    layout.chart(
        plots.regularizer_figure(res, lr_index, height=layout.height(420)), "study-regularizer"
    )

with st.expander("Share"):
    layout.share_box(PAGE, s, STUDY)
