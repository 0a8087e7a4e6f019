"""The figures of /paper, one per experiment of core.analyses.paper, drawn from its result only:
the distances along the iterations (log scale, one panel per optimizer), test accuracy,
steps and h R against beta2 with Lion's band, and the preconditioned sharpness against
its threshold."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analyses.paper import Beta2Result, DistanceResult, SharpnessResult
from core.engine.registry import record
from ui.style import NEUTRAL, STYLE, frame

# one colour per step size or beta: the dynamics keep their dashes (memoryless dashed,
# corrected solid here: the memory run is the reference, not drawn)
SERIES = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
LION = "#1b9e77"


def _positive(a) -> np.ndarray:
    """NaN where a value cannot be drawn on a log axis."""
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def distance_figure(r: DistanceResult, height: int = 420) -> go.Figure:
    s = r.scenario
    titles = [record(o).label for o in s.opt]
    fig = make_subplots(1, len(s.opt), subplot_titles=titles, shared_yaxes=True)
    for col, opt in enumerate(s.opt, start=1):
        for i, h in enumerate(s.h):
            for k, dash in (("memoryless", STYLE["memoryless"]["dash"]), ("corrected", "solid")):
                values = (r.memoryless if k == "memoryless" else r.corrected)[opt][i]
                fig.add_trace(
                    go.Scatter(
                        x=r.t,
                        y=_positive(values),
                        mode="lines",
                        line={"color": SERIES[i % len(SERIES)], "dash": dash, "width": 2},
                        name=f"{k}, h = {h:g}",
                        legendgroup=f"{k}{i}",
                        showlegend=col == 1,
                        hovertemplate=f"{k}, h = {h:g}, t = %{{x:.3g}}: %{{y:.3g}}<extra></extra>",
                    ),
                    1,
                    col,
                )
        fig.update_xaxes(title="time t = n·h", row=1, col=col)
    fig.update_yaxes(type="log")  # every panel: a shared axis takes no type of its own
    fig.update_yaxes(title="‖θ − θ_memory‖∞", row=1, col=1)
    return frame(fig, height)


def _error(stats: list[dict]) -> tuple[np.ndarray, dict]:
    mean = np.array([np.nan if v["mean"] is None else v["mean"] for v in stats])
    low = np.array([np.nan if v["lo"] is None else v["lo"] for v in stats])
    high = np.array([np.nan if v["hi"] is None else v["hi"] for v in stats])
    return mean, {"type": "data", "array": high - mean, "arrayminus": mean - low}


def beta2_figure(r: Beta2Result, height: int = 420) -> go.Figure:
    s, st = r.scenario, r.stats()
    x = [f"{b:g}" for b in s.b2]
    titles = ("test accuracy at the threshold", "steps to the threshold", "h·R at the threshold")
    fig = make_subplots(1, 3, subplot_titles=titles, horizontal_spacing=0.08)
    lion = st["lion"]
    if lion["mean"] is not None:
        fig.add_hrect(
            y0=lion["lo"],
            y1=lion["hi"],
            fillcolor=LION,
            opacity=0.18,
            line_width=0,
            row=1,
            col=1,
        )
        fig.add_hline(
            y=lion["mean"],
            line={"color": LION, "dash": "dash"},
            row=1,
            col=1,
            annotation_text=f"Lion (h = {s.lion_lr:g}, λ = {s.lion_wd:g})",
        )
    for col, key in enumerate(("test_accuracy", "steps_to_threshold", "hR"), start=1):
        mean, err = _error(st[key])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=mean,
                error_y=err,
                mode="markers+lines",
                marker={"size": 10, "color": SERIES[0]},
                line={"color": SERIES[0], "width": 1},
                name=record(s.opt).label,
                showlegend=col == 1,
                hovertemplate="β₂ = %{x}: %{y:.4g}<extra></extra>",
            ),
            1,
            col,
        )
        fig.update_xaxes(title="β₂", type="category", row=1, col=col)
    fig.add_hline(y=0, line={"color": NEUTRAL, "width": 1, "dash": "dot"}, row=1, col=3)
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    return frame(fig, height)


def sharpness_figure(r: SharpnessResult, height: int = 420) -> go.Figure:
    s = r.scenario
    fig = go.Figure()
    for i, b in enumerate(s.b1):
        color = SERIES[i % len(SERIES)]
        fig.add_trace(
            go.Scatter(
                x=r.step,
                y=_positive(r.sharpness[i]),
                mode="lines+markers",
                line={"color": color},
                name=f"λ₁(P⁻¹H), β₁ = {b:g}",
                hovertemplate=f"β₁ = {b:g}, step %{{x}}: %{{y:.4g}}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[r.step[0], r.step[-1]],
                y=[r.threshold[i]] * 2,
                mode="lines",
                line={"color": color, "dash": "dash"},
                name=f"(2 + 2β₁)/((1 − β₁)h), β₁ = {b:g}",
                hovertemplate=f"threshold {r.threshold[i]:.4g}<extra></extra>",
            )
        )
    fig.update_xaxes(title="step n")
    fig.update_yaxes(type="log", title="preconditioned sharpness")
    return frame(fig, height)
