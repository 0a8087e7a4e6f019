"""The plotly figures of the /network page: losses, distances and the implicit
regularizer along training, the learned function, the loss-landscape slice and the
AdamW/Lion comparison.  Every dynamics looks as it does on the other pages (ui.plots'
STYLE and run_style: memory a wide translucent band, memoryless dashed, corrected
dotted, nested end markers); the figures only draw what core.analyses.network computed.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analyses.network import Fit, NetworkResult
from core.engine.dynamics import DYNAMICS
from core.engine.registry import record
from core.models.datasets import Dataset
from core.models.landscape import Slice
from ui.plots import contour_map, end_at, loss_lines, marker_at, path_line
from ui.style import (
    NEUTRAL,
    START_MARKER,
    STYLE,
    MapScale,
    colorbar,
    frame,
    run_style,
)

# the two optimizers of compare mode: apart from the dynamics' red, blue and orange
CLASS_COLORS = ("#2b59c3", "#d62728")  # label 0, label 1 (the P(label 1) map's ends)
PROBABILITY_SCALE = [[0.0, "#c9d6f2"], [0.5, "#f7f7f7"], [1.0, "#f4c7c3"]]


def _finite(a: np.ndarray, positive: bool = False) -> np.ndarray:
    """NaN where a value cannot be drawn (non-finite, or not > 0 on a log axis)."""
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a) & (a > 0 if positive else True)
    return np.where(ok, a, np.nan)


def _line(k: str, y: np.ndarray, name: str | None = None, **kwargs) -> go.Scatter:
    style = run_style(k) | ({"name": name} if name else {}) | kwargs
    return go.Scatter(x=np.arange(len(y)), y=y, mode="lines", hovertemplate="%{y:.4g}", **style)


# --- along training -----------------------------------------------------------------


def loss_figure(r: NetworkResult, height: int = 360) -> go.Figure:
    """Training and test loss of each dynamics over the steps (log y)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=("training loss", "test loss"),
    )
    for col, losses in ((1, r.train_loss), (2, r.test_loss)):
        for k in DYNAMICS:
            fig.add_trace(
                _line(k, _finite(losses[k], positive=True), legendgroup=k, showlegend=col == 1),
                row=1,
                col=col,
            )
    if not np.isfinite(r.test_loss["memory"]).any():
        fig.add_annotation(
            text="no test set (split = 0)",
            xref="x2 domain",
            yref="y2 domain",
            x=0.5,
            y=0.5,
            showarrow=False,
            font={"color": NEUTRAL},
        )
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title="loss", row=1, col=1)
    fig.update_xaxes(title="step n")
    return frame(fig, height, top=30, hovermode="x unified")


def distance_figure(r: NetworkResult, height: int = 360) -> go.Figure:
    """||theta_n - theta_n(memory)||_2 of the memoryless and corrected runs (log y)."""
    fig = go.Figure(
        [
            _line(k, _finite(r.distance[k], positive=True), f"‖θ − θ_memory‖ · {k}")
            for k in ("memoryless", "corrected")
        ]
    )
    fig.update_yaxes(type="log", title="distance to the memory run", exponentformat="power")
    fig.update_xaxes(title="step n")
    return frame(fig, height, hovermode="x unified")


def regularizer_figure(r: NetworkResult, height: int = 420) -> go.Figure:
    """||g||_2^2, ||g||_1 and h R along the memory run, stacked on one step axis: h R at
    the run's step n (solid) and in the limit n -> infinity (dotted)."""
    reg = r.regularizer
    if reg.effect == "undefined":
        last = "h·R: not defined (outside the theorem)"
    else:
        last = f"h·R at n = {reg.n} (memory {reg.effect}) · dotted: n → ∞"
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        subplot_titles=("‖∇L‖₂²", "‖∇L‖₁", last),
    )
    color = STYLE["memory"]["color"]
    lines = (
        (1, r.grad_sq, "‖∇L‖₂²", {"color": color, "width": 2}),
        (2, r.grad_l1, "‖∇L‖₁", {"color": color, "width": 2}),
        (3, r.hR, f"h·R, n = {reg.n}", {"color": "#444444", "width": 2}),
        (3, r.hR_limit, "h·R, n → ∞", {"color": "#444444", "width": 1.5, "dash": "dot"}),
    )
    for row, y, name, line in lines:
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(y)),
                y=_finite(y),
                mode="lines",
                line=line,
                name=name,
                showlegend=False,
                hovertemplate="%{y:.4g}",
            ),
            row=row,
            col=1,
        )
    fig.add_hline(y=0, line={"color": NEUTRAL, "width": 1, "dash": "dot"}, row=3, col=1)
    fig.update_xaxes(title="step n", row=3, col=1)
    fig.update_annotations(font={"size": 13})
    return frame(fig, height, hovermode="x unified")


# --- what the networks learned ------------------------------------------------------


def _points(data: Dataset, showlegend: bool) -> list[go.Scatter]:
    """Training points (filled) and test points (hollow), coloured by label."""
    traces = []
    for part, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        for label, color in enumerate(CLASS_COLORS):
            pts = x[y == label]
            if not len(pts):
                continue
            traces.append(
                go.Scatter(
                    x=pts[:, 0],
                    y=pts[:, 1],
                    mode="markers",
                    marker={
                        "color": color if part == "train" else "rgba(0,0,0,0)",
                        "size": 6,
                        "line": {"color": color if part == "test" else "white", "width": 1},
                        "symbol": "circle",
                    },
                    name=f"{part} · label {label}",
                    legendgroup=f"{part}{label}",
                    showlegend=showlegend,
                    hoverinfo="skip",
                )
            )
    return traces


def fit_figure(fit: Fit, data: Dataset, height: int = 380) -> go.Figure:
    """classification: P(label 1) of each final network with its 0.5 boundary and the
    data; regression: the three fitted curves over the data."""
    if fit.task != "classification":
        fig = go.Figure(
            [
                go.Scatter(
                    x=data.x_train[:, 0],
                    y=data.y_train,
                    mode="markers",
                    marker={"color": NEUTRAL, "size": 6},
                    name="train",
                    hoverinfo="skip",
                ),
                go.Scatter(
                    x=data.x_test[:, 0],
                    y=data.y_test,
                    mode="markers",
                    marker={
                        "color": "rgba(0,0,0,0)",
                        "size": 6,
                        "line": {"color": NEUTRAL, "width": 1},
                    },
                    name="test",
                    hoverinfo="skip",
                ),
            ]
            + [_fit_line(fit, k) for k in DYNAMICS]
        )
        fig.update_xaxes(title="x")
        fig.update_yaxes(title="y")
        return frame(fig, height)

    fig = make_subplots(
        rows=1,
        cols=len(DYNAMICS),
        shared_yaxes=True,
        horizontal_spacing=0.03,
        subplot_titles=[STYLE[k]["label"] for k in DYNAMICS],
    )
    for col, k in enumerate(DYNAMICS, start=1):
        p = _finite(fit.values[k])
        fig.add_trace(
            go.Contour(
                x=fit.x,
                y=fit.y,
                z=p,
                zmin=0.0,
                zmax=1.0,
                colorscale=PROBABILITY_SCALE,
                contours={"start": 0.0, "end": 1.0, "size": 0.1},
                line={"width": 0},
                showscale=col == len(DYNAMICS),
                colorbar=colorbar("P(label 1)"),
                hovertemplate="(%{x:.2f}, %{y:.2f})<br>P(label 1) = %{z:.3f}<extra></extra>",
                name="P(label 1)",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Contour(
                x=fit.x,
                y=fit.y,
                z=p,
                contours={"start": 0.5, "end": 0.5, "size": 1.0, "coloring": "none"},
                line={"color": STYLE[k]["color"], "dash": STYLE[k]["dash"], "width": 3},
                showscale=False,
                hoverinfo="skip",
                name="boundary P = 0.5",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        for trace in _points(data, showlegend=col == 1):
            fig.add_trace(trace, row=1, col=col)
    fig.update_xaxes(range=[fit.x[0], fit.x[-1]], showgrid=False, zeroline=False)
    fig.update_yaxes(range=[fit.y[0], fit.y[-1]], showgrid=False, zeroline=False)
    fig.update_annotations(font={"size": 13})
    return frame(fig, height, top=30)


def _fit_line(fit: Fit, k: str) -> go.Scatter:
    return go.Scatter(
        x=fit.x,
        y=_finite(fit.values[k]),
        mode="lines",
        hovertemplate="x = %{x:.2f}<br>f = %{y:.4g}<extra></extra>",
        **run_style(k),
    )


# --- the loss landscape -------------------------------------------------------------


def _axis_titles(sl: Slice) -> tuple[str, str]:
    if sl.plane == "pca" and sl.explained is not None:
        return (
            f"PC 1 ({sl.explained[0]:.0%} of the path's variance)",
            f"PC 2 ({sl.explained[1]:.0%})",
        )
    if sl.plane == "pca":
        return "PC 1", "PC 2"
    return "random direction 1 (filter-normalized)", "random direction 2"


def landscape_figure(sl: Slice, perturbed: bool = False, height: int = 440) -> go.Figure:
    """Contours of L (or L + hR, with L's contours as faint lines) on the slice through
    the memory run's final parameters, in the colour scale the two maps share, with the
    three runs projected."""
    z = sl.perturbed if perturbed else sl.loss
    traces = [
        contour_map(
            sl.a,
            sl.b,
            z,
            "L + hR" if perturbed else "L",
            scale=MapScale.of(sl.loss, sl.perturbed),
            customdata=z,
            hovertemplate=(
                "(%{x:.3f}, %{y:.3f})<br>"
                + ("L + hR" if perturbed else "L")
                + " = %{customdata:.5g}<extra></extra>"
            ),
        )
    ]
    if perturbed:
        traces.append(loss_lines(sl.a, sl.b, sl.loss))
    for k in DYNAMICS:
        p = sl.paths[k]
        ok = np.isfinite(p).all(axis=1)
        p = p[ok]
        if not len(p):
            continue
        traces.append(path_line(k, p, f"<b>{k}</b> (%{{x:.3f}}, %{{y:.3f}})<extra></extra>"))
        traces.append(end_at(k, p[-1], legendgroup=k))
    start = START_MARKER | {"size": 14, "line": {"color": "white"}}
    traces.append(marker_at(sl.paths["memory"][0], start, name="initialization", hoverinfo="skip"))
    fig = go.Figure(traces)
    xt, yt = _axis_titles(sl)
    fig.update_xaxes(title=xt, range=[sl.a[0], sl.a[-1]], showgrid=False, zeroline=False)
    fig.update_yaxes(title=yt, range=[sl.b[0], sl.b[-1]], showgrid=False, zeroline=False)
    return frame(fig, height)


# --- AdamW against Lion -------------------------------------------------------------


def _opt_line(opt: str, label: str, y: np.ndarray, showlegend: bool) -> go.Scatter:
    return go.Scatter(
        x=np.arange(len(y)),
        y=_finite(y),
        mode="lines",
        line={"color": record(opt).color or NEUTRAL, "width": 2.5},
        name=label,
        legendgroup=opt,
        showlegend=showlegend,
        hovertemplate="%{y:.4g}",
    )


def compare_figure(results: dict[str, NetworkResult], height: int = 400) -> go.Figure:
    """Per optimizer (memory runs): the generalization gap test - train over the steps,
    next to its implicit-regularizer term h R."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.08,
        subplot_titles=(
            "generalization gap: test − train loss",
            "implicit regularizer h·R at the run's step n",
        ),
    )
    for opt, r in results.items():
        gap = r.test_loss["memory"] - r.train_loss["memory"]
        fig.add_trace(_opt_line(opt, record(opt).label, gap, True), row=1, col=1)
        fig.add_trace(_opt_line(opt, record(opt).label, r.hR, False), row=1, col=2)
    for col in (1, 2):
        fig.add_hline(y=0, line={"color": NEUTRAL, "width": 1, "dash": "dot"}, row=1, col=col)
    fig.update_xaxes(title="step n")
    fig.update_annotations(font={"size": 13})
    return frame(fig, height, top=30, hovermode="x unified")


def thumbnail_figure(r: NetworkResult, height: int = 210) -> go.Figure:
    """A small static picture of a network run: the distances to the memory run."""
    fig = distance_figure(r, height)
    fig.update_layout(showlegend=False, margin={"l": 0, "r": 0, "t": 0, "b": 0})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
