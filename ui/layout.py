"""Pieces of page layout shared by several pages: figure sizes for teaching mode, charts
(alone or in a pair), the divergence and overflow warnings, the implicit regularizer
card and the share/export box."""

from __future__ import annotations

from urllib.parse import parse_qsl

import numpy as np
import streamlit as st

from core.compute import PathSummary
from core.dynamics import DYNAMICS
from core.regularizer import implicit_regularizer
from core.scenario import Scenario
from ui import export, plots, state
from ui.plots import STYLE

EFFECT_BADGE = {
    "regularizes": ":green-badge[regularizes]",
    "anti-regularizes": ":red-badge[anti-regularizes]",
    "none": ":gray-badge[no memory effect]",
}


def page_link(page: str, label: str, query: str = "", **kwargs) -> None:
    """A link to the page at url path `page` (query: a scenario's query string), keeping
    the app flags such as teaching mode."""
    params = dict(parse_qsl(query)) | state.flags()
    st.page_link(f"app_pages/{page or 'home'}.py", label=label, query_params=params, **kwargs)


def height(normal: int) -> int:
    """Plots are taller in teaching mode (projected in class)."""
    return int(normal * 1.45) if state.teaching() else normal


def chart(fig, static: bool = False, **kwargs):
    """A plotly figure at full width (larger type in teaching mode); the modebar keeps
    its PNG export."""
    if state.teaching():
        plots.projector(fig)
    config = {"displaylogo": False, "staticPlot": static}
    return st.plotly_chart(fig, width="stretch", config=config, **kwargs)


def chart_pair(left: tuple[str, object], right: tuple[str, object]) -> None:
    """Two (caption, figure) side by side, each caption above its chart."""
    for column, (caption, fig) in zip(st.columns(2), (left, right), strict=True):
        with column:
            st.markdown(caption)
            chart(fig)


def divergence_warnings(s: Scenario, summary: PathSummary) -> None:
    for k in DYNAMICS:
        at = summary.diverged[k]
        if at is None:
            continue
        why = (
            " The correction h·M is large next to the memoryless step here: the expansion "
            "needs h small against the memory length, so lower h or β."
            if k == "corrected"
            else " Lower the learning rate."
        )
        st.warning(
            f"The **{STYLE[k]['label']}** run diverged at step {at}; it is drawn up to its "
            f"last finite point.{why}",
            icon=":material/warning:",
        )


def loss_warnings(
    losses: dict[str, np.ndarray], diverged: dict[str, int | None], skip_diverged: bool = False
) -> None:
    """One warning per run whose loss is not finite somewhere, naming the run and the
    step: nan where L is undefined (a log or a root of a negative number), inf where it
    overflows.  skip_diverged: leave runs that diverged to divergence_warnings."""
    for k in DYNAMICS:
        values = np.asarray(losses[k], dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if not bad.size or (skip_diverged and diverged[k] is not None):
            continue
        later = f" and at {bad.size - 1} later steps" if bad.size > 1 else ""
        if np.isnan(values[bad[0]]):
            what = (
                "not a number (nan): the run reached points where L is undefined (a log or "
                "a root of a negative number, 0/0, inf − inf)"
            )
        else:
            what = "infinite: L overflows there; lower the learning rate"
        st.warning(
            f"The loss of the **{STYLE[k]['label']}** run is {what}, at step {bad[0]}{later}. "
            "Its path is drawn; its loss is not.",
            icon=":material/warning:",
        )


def value_text(v: float) -> str:
    """A loss for a metric: 4 significant digits, or what a non-finite value means."""
    if np.isfinite(v):
        return f"{v:.4g}"
    return "undefined (nan)" if np.isnan(v) else "overflow (inf)"


def regularizer_card(s: Scenario) -> None:
    reg = implicit_regularizer(s.opt, s.hyper)
    st.markdown(f"**Implicit regularizer of the memory** {EFFECT_BADGE[reg.effect]}")
    st.latex(reg.formula)
    st.caption(f"coefficient {reg.coefficient:.4g} · holds where: {reg.regime}")


def share_box(page: str, s: Scenario, page_state: state.PageState = state.PLANE) -> None:
    """The URL of `page` showing s, with the app flags and page_state's flags."""
    st.markdown("**Share this view**")
    st.code(page_state.share_url(page, s), language=None, wrap_lines=True)


def downloads(s: Scenario, summary: PathSummary) -> None:
    stem = f"trajectories-{s.opt}-{s.loss}"
    left, right = st.columns(2)
    left.download_button(
        "⬇ CSV",
        export.csv_text(summary),
        f"{stem}.csv",
        "text/csv",
        on_click="ignore",
        width="stretch",
    )
    right.download_button(
        "⬇ JSON",
        export.json_text(s),
        f"{stem}.json",
        "application/json",
        on_click="ignore",
        width="stretch",
    )
