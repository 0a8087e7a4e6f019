"""Every plotly figure of the app, and the one place that fixes how each dynamics looks.

Figures keep transparent backgrounds and leave fonts and axes to Streamlit's theme
(st.plotly_chart's default theme="streamlit"), so they read on light and dark themes;
the map colours are explicit and light, so the trajectory colours contrast with them on
either theme.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.compute import PathSummary
from core.dynamics import DYNAMICS
from core.order import OrderStudy
from core.surfaces import Surfaces

STYLE = {
    "memory": {"color": "#d62728", "dash": "solid", "label": "memory (the optimizer)"},
    "memoryless": {"color": "#2b59c3", "dash": "dash", "label": "memoryless"},
    "corrected": {"color": "#f28e00", "dash": "dot", "label": "memoryless + correction"},
}
MAP_SCALE = [[0.0, "#fbfaf5"], [0.35, "#e3ebe3"], [0.7, "#bccadb"], [1.0, "#8696b0"]]
SIGN_COLORS = {"raises": "#e07b39", "lowers": "#3a9e9a"}
NEUTRAL = "#8c8c8c"
MAX_FRAMES = 80


def log_levels(z: np.ndarray) -> np.ndarray:
    """log10(z - min + delta): contours that resolve both the walls and the valley floor
    (also for L + hR, which can be negative)."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return np.zeros_like(z)
    lo, hi = finite.min(), finite.max()
    delta = 1e-3 * (hi - lo) + 1e-12
    return np.log10(np.clip(z - lo, 0.0, None) + delta)


def _base(fig: go.Figure, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        title={"text": title, "x": 0.02, "font": {"size": 15}} if title else None,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0.0},
        hovermode="closest",
    )
    return fig


def projector(fig: go.Figure) -> go.Figure:
    """Teaching mode: fonts and lines that read from the back of a lecture hall."""
    fig.update_layout(font={"size": 18}, legend={"font": {"size": 18}})
    fig.update_xaxes(tickfont={"size": 17}, title_font={"size": 19})
    fig.update_yaxes(tickfont={"size": 17}, title_font={"size": 19})
    fig.update_annotations(font_size=17)
    for trace in fig.data:
        line = getattr(trace, "line", None)
        if trace.type in ("scatter", "scatter3d") and line is not None and line.width:
            line.width = 1.6 * line.width
    return fig


def _window_axes(fig: go.Figure, surf: Surfaces) -> None:
    fig.update_xaxes(range=[surf.x[0], surf.x[-1]], title="x", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[surf.y[0], surf.y[-1]], title="y", showgrid=False, zeroline=False)


def contour_map(x, y, z: np.ndarray, name: str, showscale: bool = True, **kwargs) -> go.Contour:
    """Filled log-scaled contours of z on the grid (x, y)."""
    return go.Contour(
        x=x,
        y=y,
        z=log_levels(z),
        colorscale=MAP_SCALE,
        ncontours=22,
        line={"width": 0.5, "color": "rgba(60,70,90,0.35)"},
        showscale=showscale,
        colorbar={"title": {"text": "log scale", "side": "right"}, "thickness": 10},
        name=name,
        **({} if "hovertemplate" in kwargs else {"hoverinfo": "skip"}),
        **kwargs,
    )


def loss_lines(x, y, z: np.ndarray, dash: str = "dot", ncontours: int = 22) -> go.Contour:
    """The plain loss as faint contour lines under another map (L + hR, the sign)."""
    return go.Contour(
        x=x,
        y=y,
        z=log_levels(z),
        contours={"coloring": "none"},
        ncontours=ncontours,
        line={"width": 0.8, "dash": dash, "color": "rgba(40,40,40,0.4)"},
        showscale=False,
        hoverinfo="skip",
        name="L (lines)",
    )


def _map(surf: Surfaces, z: np.ndarray, name: str, showscale: bool = True) -> go.Contour:
    return contour_map(surf.x, surf.y, z, name, showscale)


def _click_grid(surf: Surfaces, n: int = 28) -> go.Scatter:
    """Invisible points over the map: clicking one reports its (x, y) to on_select."""
    gx, gy = np.meshgrid(
        np.linspace(surf.x[0], surf.x[-1], n), np.linspace(surf.y[0], surf.y[-1], n)
    )
    return go.Scatter(
        x=gx.ravel(),
        y=gy.ravel(),
        mode="markers",
        marker={"size": 14, "opacity": 0},
        hovertemplate="click: start here (%{x:.2f}, %{y:.2f})<extra></extra>",
        showlegend=False,
        name="start here",
    )


def _paths(summary: PathSummary) -> list[go.Scatter]:
    traces = []
    for k in DYNAMICS:
        p, st = summary.paths[k], STYLE[k]
        steps = np.arange(len(p))
        traces.append(
            go.Scatter(
                x=p[:, 0],
                y=p[:, 1],
                mode="lines",
                line={
                    "color": st["color"],
                    "dash": st["dash"],
                    "width": 3 if k != "memory" else 2.5,
                },
                name=st["label"],
                customdata=np.stack([steps, summary.losses[k]], axis=-1),
                hovertemplate=(
                    f"<b>{k}</b><br>n = %{{customdata[0]}}<br>(%{{x:.4f}}, %{{y:.4f}})"
                    "<br>L = %{customdata[1]:.6g}<extra></extra>"
                ),
            )
        )
    return traces


def _markers(summary: PathSummary, at: dict[str, int] | None, size: int = 10) -> list[go.Scatter]:
    """One marker per dynamics at step at[k] (default: its last finite point)."""
    traces = []
    for k in DYNAMICS:
        p = summary.paths[k]
        i = len(p) - 1 if at is None else min(at[k], len(p) - 1)
        traces.append(
            go.Scatter(
                x=[p[i, 0]],
                y=[p[i, 1]],
                mode="markers",
                marker={
                    "color": STYLE[k]["color"],
                    "size": size,
                    "symbol": "x" if summary.diverged[k] is not None else "circle",
                    "line": {"color": "white", "width": 1},
                },
                showlegend=False,
                hoverinfo="skip",
            )
        )
    return traces


def _start(summary: PathSummary) -> go.Scatter:
    p = summary.paths["memory"][0]
    return go.Scatter(
        x=[p[0]],
        y=[p[1]],
        mode="markers",
        marker={
            "symbol": "star",
            "size": 15,
            "color": "black",
            "line": {"color": "white", "width": 1},
        },
        name="start",
        hovertemplate="start (%{x:.4f}, %{y:.4f})<extra></extra>",
    )


def _divergence_labels(fig: go.Figure, summary: PathSummary) -> None:
    for k in DYNAMICS:
        at = summary.diverged[k]
        if at is None:
            continue
        x, y = summary.paths[k][-1]
        fig.add_annotation(
            x=x,
            y=y,
            text=f"{k} diverged at n = {at}",
            font={"color": STYLE[k]["color"], "size": 12},
            bgcolor="rgba(255,255,255,0.8)",
            showarrow=True,
            arrowcolor=STYLE[k]["color"],
        )


def _animate(fig: go.Figure, summary: PathSummary, first_marker: int) -> None:
    """Client-side frames that move one marker per dynamics along the paths: a plotly
    slider scrubs the steps and a play button animates them, with no Streamlit rerun."""
    total = max(len(p) for p in summary.paths.values())
    steps = np.unique(np.linspace(0, total - 1, min(total, MAX_FRAMES)).round().astype(int))
    indices = list(range(first_marker, first_marker + len(DYNAMICS)))
    fig.frames = [
        go.Frame(name=str(n), data=_markers(summary, dict.fromkeys(DYNAMICS, n)), traces=indices)
        for n in steps
    ]
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}
    play = {"frame": {"duration": 60, "redraw": False}, "fromcurrent": True}
    below = {"y": -0.13, "yanchor": "top"}  # under the x axis, in the bottom margin
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "xanchor": "left",
                "pad": {"b": 12},
                # light buttons with dark glyphs read on both the light and dark themes
                "bgcolor": "#e6e6e6",
                "font": {"color": "#333333"},
                "buttons": [
                    {"label": "▶", "method": "animate", "args": [None, play]},
                    {"label": "❚❚", "method": "animate", "args": [[None], still]},
                ],
                **below,
            }
        ],
        sliders=[
            {
                "active": len(steps) - 1,
                "x": 0.2,
                "len": 0.8,
                "pad": {"b": 0, "t": 0},
                "currentvalue": {"prefix": "step n = ", "xanchor": "right", "font": {"size": 12}},
                "steps": [
                    {"label": str(n), "method": "animate", "args": [[str(n)], still]} for n in steps
                ],
                **below,
            }
        ],
    )


def trajectory_figure(
    surf: Surfaces,
    summary: PathSummary,
    z: np.ndarray | None = None,
    title: str | None = None,
    height: int = 480,
    clickable: bool = False,
    animated: bool = True,
) -> go.Figure:
    """Contours of z (default: the loss) with the three runs, start and end markers,
    divergence labels, and (animated) a step slider with a play button."""
    traces = [_map(surf, surf.loss if z is None else z, "loss")]
    if z is not None:  # the perturbed map keeps the plain loss as faint contour lines
        traces.append(loss_lines(surf.x, surf.y, surf.loss))
    if clickable:
        traces.append(_click_grid(surf))
    traces += _paths(summary) + [_start(summary)]
    first_marker = len(traces)
    traces += _markers(summary, None)
    fig = go.Figure(traces)
    _window_axes(fig, surf)
    _divergence_labels(fig, summary)
    if animated:
        _animate(fig, summary, first_marker)
    fig = _base(fig, height + (80 if animated else 0), title)
    if animated:  # room for the slider and the play button under the map
        fig.update_layout(margin={"b": 95})
    return fig


def _on_grid(x: np.ndarray, y: np.ndarray, z: np.ndarray, points: np.ndarray) -> np.ndarray:
    """z (indexed [iy, ix]) at the points (n, 2) by bilinear interpolation; nan outside."""
    px, py = points[:, 0], points[:, 1]
    ix = np.clip(np.searchsorted(x, px) - 1, 0, len(x) - 2)
    iy = np.clip(np.searchsorted(y, py) - 1, 0, len(y) - 2)
    tx = (px - x[ix]) / (x[ix + 1] - x[ix])
    ty = (py - y[iy]) / (y[iy + 1] - y[iy])
    v = (1 - ty) * ((1 - tx) * z[iy, ix] + tx * z[iy, ix + 1]) + ty * (
        (1 - tx) * z[iy + 1, ix] + tx * z[iy + 1, ix + 1]
    )
    outside = (px < x[0]) | (px > x[-1]) | (py < y[0]) | (py > y[-1])
    return np.where(outside, np.nan, v)


def surface3d_figure(surf: Surfaces, summary: PathSummary, height: int = 480) -> go.Figure:
    """L + hR as a 3D surface with the runs drawn on it (interpolated from the grid,
    lifted a little so the surface does not hide them)."""
    z = surf.perturbed
    lift = 0.01 * float(np.nanmax(z) - np.nanmin(z))
    traces = [
        go.Surface(x=surf.x, y=surf.y, z=z, colorscale=MAP_SCALE, showscale=False, opacity=0.9)
    ]
    for k in DYNAMICS:
        p = summary.paths[k]
        traces.append(
            go.Scatter3d(
                x=p[:, 0],
                y=p[:, 1],
                z=_on_grid(surf.x, surf.y, z, p) + lift,
                mode="lines",
                line={"color": STYLE[k]["color"], "width": 5, "dash": STYLE[k]["dash"]},
                name=STYLE[k]["label"],
            )
        )
    fig = go.Figure(traces)
    fig.update_scenes(xaxis_title="x", yaxis_title="y", zaxis_title="L + hR")
    return _base(fig, height)


def field_figure(surf: Surfaces, height: int = 420, arrows: int = 17) -> go.Figure:
    """The asymptotic correction as arrows: -M, the way it pushes the iterate."""
    iy = np.linspace(0, len(surf.y) - 1, arrows).round().astype(int)
    ix = np.linspace(0, len(surf.x) - 1, arrows).round().astype(int)
    X, Y = np.meshgrid(surf.x[ix], surf.y[iy])
    U = -surf.correction[np.ix_(iy, ix)][..., 0]
    V = -surf.correction[np.ix_(iy, ix)][..., 1]
    ok = np.isfinite(U) & np.isfinite(V)
    U, V = np.where(ok, U, 0.0), np.where(ok, V, 0.0)
    # arrows on a log-compressed length, so weak regions stay visible next to strong ones
    norm = np.hypot(U, V)
    cell = min(surf.x[-1] - surf.x[0], surf.y[-1] - surf.y[0]) / arrows
    length = np.log1p(norm / (np.median(norm[norm > 0]) if (norm > 0).any() else 1.0))
    scale = 0.9 * cell * length / (length.max() if length.max() > 0 else 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx, dy = np.where(norm > 0, U / norm, 0) * scale, np.where(norm > 0, V / norm, 0) * scale
    tips_x, tips_y = X + dx, Y + dy
    # arrowheads: two short strokes back from the tip at ±25 degrees
    head = 0.35
    c, s = np.cos(np.pi / 7), np.sin(np.pi / 7)
    lx, ly = tips_x - head * (c * dx - s * dy), tips_y - head * (s * dx + c * dy)
    rx, ry = tips_x - head * (c * dx + s * dy), tips_y - head * (-s * dx + c * dy)
    nan = np.full(X.size, np.nan)
    seg_x = np.stack(
        [X.ravel(), tips_x.ravel(), nan, lx.ravel(), tips_x.ravel(), rx.ravel(), nan], 1
    )
    seg_y = np.stack(
        [Y.ravel(), tips_y.ravel(), nan, ly.ravel(), tips_y.ravel(), ry.ravel(), nan], 1
    )
    fig = go.Figure(
        [
            _map(surf, surf.loss, "loss", showscale=False),
            go.Scatter(
                x=seg_x.ravel(),
                y=seg_y.ravel(),
                mode="lines",
                line={"color": "#3a3a3a", "width": 1.3},
                hoverinfo="skip",
                name="−M",
                showlegend=False,
            ),
        ]
    )
    _window_axes(fig, surf)
    return _base(fig, height)


def sign_figure(surf: Surfaces, height: int = 420) -> go.Figure:
    """Where the perturbation hR raises the loss and where it lowers it."""
    sign = surf.sign
    scale = [
        [0.0, SIGN_COLORS["lowers"]],
        [0.5, "#f2f2f2"],
        [1.0, SIGN_COLORS["raises"]],
    ]
    fig = go.Figure(
        [
            go.Heatmap(
                x=surf.x,
                y=surf.y,
                z=sign,
                zmin=-1,
                zmax=1,
                colorscale=scale,
                customdata=surf.R,
                hovertemplate="(%{x:.2f}, %{y:.2f})<br>R = %{customdata:.4g}<extra></extra>",
                colorbar={
                    "tickvals": [-1, 0, 1],
                    "ticktext": ["lowers", "0", "raises"],
                    "thickness": 10,
                },
            ),
            loss_lines(surf.x, surf.y, surf.loss, dash="solid", ncontours=18),
        ]
    )
    _window_axes(fig, surf)
    return _base(fig, height)


def order_figure(study: OrderStudy, height: int = 460) -> go.Figure:
    """Errors against h on log-log axes, with reference lines of slope 1 and 2."""
    h = np.asarray(study.h)
    fig = go.Figure()
    for k, err in (("memoryless", study.memoryless), ("corrected", study.corrected)):
        e = np.asarray(err, dtype=float)
        fig.add_trace(
            go.Scatter(
                x=h,
                y=np.where(np.isfinite(e), e, np.nan),
                mode="lines+markers",
                line={"color": STYLE[k]["color"], "dash": STYLE[k]["dash"], "width": 2.5},
                marker={"size": 9},
                name=f"max |memory − {k}|",
                hovertemplate="h = %{x:g}<br>error = %{y:.3e}<extra></extra>",
            )
        )
    hs = np.array([h.min(), h.max()])
    # each reference line passes through the error at the smallest finite h
    for slope, err, dash in ((1, study.memoryless, "dash"), (2, study.corrected, "dot")):
        e = np.asarray(err, dtype=float)
        ok = np.isfinite(e) & (e > 0)
        if not ok.any():
            continue
        i = int(np.argmin(np.where(ok, h, np.inf)))
        ref = e[i] * (hs / h[i]) ** slope
        fig.add_trace(
            go.Scatter(
                x=hs,
                y=ref,
                mode="lines",
                line={"color": NEUTRAL, "dash": dash, "width": 1.5},
                name=f"slope {slope}",
                hoverinfo="skip",
            )
        )
    fig.update_xaxes(type="log", title="step size h")
    fig.update_yaxes(type="log", title="max error over the horizon", exponentformat="power")
    return _base(fig, height)


def thumbnail_figure(surf: Surfaces, summary: PathSummary, height: int = 210) -> go.Figure:
    """A small static picture of a scenario: the map and the three runs."""
    fig = go.Figure([_map(surf, surf.loss, "loss", showscale=False), *_paths(summary)])
    _window_axes(fig, surf)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig = _base(fig, height)
    fig.update_layout(showlegend=False, margin={"l": 0, "r": 0, "t": 0, "b": 0})
    return fig
