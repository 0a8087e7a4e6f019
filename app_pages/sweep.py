"""/sweep: a phase diagram.  Two hyperparameters of one optimizer on a grid; every cell
runs the three dynamics (all cells in one batched computation, core.analyses.sweep) and the
heatmaps show where memory changes the run, where the corrected run describes it, and
the theory's verdict.  A click on a cell opens it on /playground."""

import streamlit as st

from core.analyses.sweep import METRICS
from core.engine.registry import label
from core.scenarios.report import sweep_csv, sweep_json, to_json
from ui import cache, layout, pages, state
from ui import sweep_controls as controls
from ui import sweep_plots as plots
from ui.state import SWEEP

PAGE = "sweep"

st.title("Phase diagram")
s = SWEEP.scenario()
layout.sidebar(controls.sidebar, s)

cells = s.x.n * s.y.n
with st.spinner(f"Running {cells} cells x {s.steps} steps x three dynamics…"):
    res = cache.sweep(s)

counts = plots.tally(res)
st.caption(
    f"{s.x.n} × {s.y.n} cells of {label(s.opt)}, {s.steps} steps from ({s.x0:g}, {s.y0:g}). "
    f"The theory's verdict (each cell's regularizer card: R from M^(n) at step n = "
    f"{s.steps - 1} on the window): memory regularizes in {counts[1]} cells, anti-regularizes in "
    f"{counts[-1]}, mixed or none in {counts[0]}. Runs diverged in {counts['diverged']} cells "
    "(marked ×). Click any cell to open it on /playground."
)

# a click switches page; after coming back the charts get new keys (no stale selection)
generation = st.session_state.setdefault("sweep_generation", 0)
prefix = f"sweep-{generation}-{s.to_query()}"
charts = [f"{prefix}-{name}" for name in ("gap", "error", "changes", "effect")]


def chart(fig, key: str) -> None:
    layout.selectable_chart(fig, key)


left, right = st.columns(2, vertical_alignment="bottom")  # the maps level, whatever the captions
with left:
    st.markdown("**Memory's effect**: |memory − memoryless| at the last step")
    chart(
        plots.heatmap_figure(
            res, res.metrics["gap_memoryless"], "distance", log=True, runs=("memory", "memoryless")
        ),
        charts[0],
    )
with right:
    st.markdown(
        "**Where the theory works**: max |memory − corrected| / max |memory − memoryless| "
        "(below 1: the correction helps)"
    )
    chart(
        plots.heatmap_figure(res, res.metrics["theory_error"], "ratio", log=True),
        charts[1],
    )

st.markdown("**What memory changes at the end**: memory run − memoryless run")
chart(plots.changes_figure(res, height=layout.height(340)), charts[2])

st.markdown(
    "**The theory's verdict**: the sign of R (THEORY §5) from the correction of THEORY §4 "
    "(n → ∞) at the start point, κⱼ = Mⱼ / (H F̄)ⱼ per coordinate: all κⱼ > 0 regularizes, "
    "all < 0 anti-regularizes. Lines: where it changes (fine grid)."
)
chart(plots.effect_figure(res, height=layout.height(420)), charts[3])

cell = controls.clicked_cell(charts)
if cell is not None:
    st.session_state["sweep_generation"] = generation + 1
    st.switch_page(
        pages.page("playground"),
        query_params=s.cell(*cell).to_params() | state.flags(),
    )

with st.expander("Metrics, export and share"):
    st.markdown("\n".join(f"- `{k}`: {v}" for k, v in METRICS.items()))
    stem = f"sweep-{s.opt}-{s.x.key}-{s.y.key}"
    layout.downloads(stem, lambda: sweep_csv(res), lambda: to_json(sweep_json(res)))
    layout.share_box(PAGE, s, SWEEP)
