"""The sidebar of /sweep (widgets mirroring core.analyses.sweep.SweepScenario through
ui.state.SWEEP) and the click on a cell that opens that cell on /playground."""

from __future__ import annotations

import streamlit as st

from core.analyses.sweep import MAX_SWEEP_STEPS, SweepScenario
from core.engine.declared import CUSTOM
from core.engine.registry import swept
from ui.controls import loss_select, optimizer, start_point, widget
from ui.state import SWEEP

AXIS_HELP = (
    "key:lo:hi:cells, or key:lo:hi:cells:log for log spacing; key is lr or one of the "
    "optimizer's hyperparameters (a declared optimizer's: w1, w2, w3, the B of its "
    "weights), 2 to 64 cells"
)


def sidebar(s: SweepScenario) -> None:
    st.subheader("Optimizer")
    optimizer(s, page=SWEEP, choices=(*swept(), CUSTOM))
    st.caption("The swept hyperparameters take the axes' values; the others these.")
    st.subheader("Axes")
    widget(SWEEP, "x", st.text_input, "x axis", help=AXIS_HELP)
    widget(SWEEP, "y", st.text_input, "y axis", help=AXIS_HELP)
    st.subheader("Loss, start and steps")
    loss_select(SWEEP)
    if s.loss == "custom":
        widget(SWEEP, "f", st.text_input, "L(x, y) =")
    start_point(SWEEP)
    widget(
        SWEEP,
        "steps",
        st.number_input,
        "steps",
        min_value=1,
        max_value=MAX_SWEEP_STEPS,
        step=50,
        help="iterations of every cell's three runs (cells x steps is capped)",
    )


def clicked_cell(chart_keys: list[str]) -> tuple[int, int] | None:
    """The (ix, iy) of the cell clicked on any of the charts, if any."""
    for key in chart_keys:
        event = st.session_state.get(key)
        points = event.selection.points if event else []
        for p in points:
            data = p.get("customdata")  # the click layer's (ix, iy, value)
            if isinstance(data, dict):  # the browser sends an array as {"0": .., "1": ..}
                data = [data.get(str(i)) for i in range(len(data))]
            if data and len(data) >= 2 and data[0] is not None and data[1] is not None:
                return int(data[0]), int(data[1])
    return None
