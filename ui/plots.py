"""The figures of the 2D pages (maps, runs, 3D view, fields, sign maps, order plots) and
the traces the other figure modules share; how they look comes from ui.style, the
numbers read off grids from ui.grid."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.analyses.compute import PathSummary
from core.analyses.order import OrderStudy
from core.analyses.regularizer import SIGNED, verdict
from core.analyses.surfaces import Surfaces
from core.engine.dynamics import DYNAMICS
from ui import raster
from ui.grid import clip_range, log_levels, on_grid, perturbation, signed
from ui.style import (
    LEGEND_BAND,
    MAP_SCALE,
    NEUTRAL,
    SIGN_COLORS,
    SLIDER_BAND,
    START_MARKER,
    STYLE,
    MapScale,
    colorbar,
    end_marker,
    frame,
    run_style,
)

MAX_FRAMES = 60  # animation frames: enough for a smooth scrub, few for the browser
LEVELS = 22  # filled contour levels of a map


def projector(fig: go.Figure) -> go.Figure:
    """Teaching mode: fonts and lines that read from the back of a lecture hall."""
    fig.update_layout(font={"size": 18}, legend={"font": {"size": 18}})
    fig.update_xaxes(tickfont={"size": 17}, title_font={"size": 19})
    fig.update_yaxes(tickfont={"size": 17}, title_font={"size": 19})
    fig.update_annotations(font_size=17)
    if isinstance(fig, AnimatedFigure) and fig._animation:  # the step slider's type too
        for slider in fig._animation["layout"]["sliders"]:
            slider["currentvalue"]["font"]["size"] = 17
            slider["font"] = {"size": 15}
    if fig.layout.margin.b:  # the legend and slider bands grow with the type
        fig.update_layout(margin={"b": int(1.35 * fig.layout.margin.b)})
    for trace in fig.data:
        line = getattr(trace, "line", None)
        if trace.type in ("scatter", "scatter3d") and line is not None and line.width:
            line.width = 1.6 * line.width
    return fig


def _window_axes(fig: go.Figure, surf: Surfaces) -> None:
    fig.update_xaxes(range=[surf.x[0], surf.x[-1]], title="x", showgrid=False, zeroline=False)
    fig.update_yaxes(range=[surf.y[0], surf.y[-1]], title="y", showgrid=False, zeroline=False)


def contour_map(
    x, y, z: np.ndarray, name: str, showscale: bool = True, scale: MapScale | None = None, **kw
) -> go.Contour:
    """Filled contours of z on the grid (x, y), LEVELS levels by quantile (MapScale);
    `scale` shared with other maps gives them the same levels and colours."""
    scale = scale or MapScale.of(z)
    return go.Contour(
        x=x,
        y=y,
        z=scale.levels(z),
        zmin=0.0,
        zmax=1.0,
        colorscale=MAP_SCALE,
        autocontour=False,
        contours={"start": 1.0 / LEVELS, "end": 1.0 - 0.5 / LEVELS, "size": 1.0 / LEVELS},
        line={"width": 0.5, "color": "rgba(60,70,90,0.35)"},
        showscale=showscale,
        colorbar=scale.colorbar(name),
        name=name,
        showlegend=False,
        **({} if "hovertemplate" in kw else {"hoverinfo": "skip"}),
        **kw,
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
        showlegend=False,
    )


def invisible_points(
    x: np.ndarray, y: np.ndarray, customdata: np.ndarray, size: int, hovertemplate: str, name: str
) -> go.Scatter:
    """Invisible markers carrying values: hovering one reads them, clicking one reports
    it to st.plotly_chart's on_select."""
    return go.Scatter(
        x=x,
        y=y,
        customdata=customdata,
        mode="markers",
        marker={"size": size, "opacity": 0},
        hovertemplate=hovertemplate,
        showlegend=False,
        name=name,
    )


def marker_at(point, marker: dict, **kwargs) -> go.Scatter:
    """One marker at `point` (x, y): where a run starts or ends."""
    return go.Scatter(x=[point[0]], y=[point[1]], mode="markers", marker=marker, **kwargs)


def end_at(k: str, point, **kwargs) -> go.Scatter:
    """Dynamics k's end marker at `point`, out of the legend and the hover."""
    return marker_at(point, end_marker(k), showlegend=False, hoverinfo="skip", **kwargs)


def _hover_map(surf: Surfaces, z: np.ndarray, name: str, click: str | None) -> go.Heatmap:
    """A transparent heatmap over a picture map: hovering reads the map's value at every
    grid point, drawn as one image (invisible points cost the browser an SVG node each);
    on a map that takes clicks (`click`: what a click does) a click on it reports the
    grid point (ui.live_chart)."""
    where = f"click: {click} (%{{x:.2f}}, %{{y:.2f}})" if click else "(%{x:.2f}, %{y:.2f})"
    return go.Heatmap(
        x=surf.x,
        y=surf.y,
        z=z,
        opacity=0,
        showscale=False,
        hovertemplate=f"{where}<br>{name} = %{{z:.4g}}<extra></extra>",
        name=name,
    )


def _picture(fig: go.Figure, surf: Surfaces, levels: np.ndarray, lines: bool = False) -> None:
    """Map levels (in [0, 1] on the grid) as a picture under the traces (ui.raster: one
    image for the browser, and it survives the animation); `lines`: L's iso-lines
    dotted on top."""
    overlay = MapScale.of(surf.loss).levels(surf.loss) if lines else None
    rgba = raster.contour_picture(surf.x, surf.y, levels, MAP_SCALE, LEVELS, overlay=overlay)
    fig.add_layout_image(
        source=raster.data_uri(rgba),
        xref="x",
        yref="y",
        x=surf.x[0],
        y=surf.y[-1],
        sizex=surf.x[-1] - surf.x[0],
        sizey=surf.y[-1] - surf.y[0],
        sizing="stretch",
        layer="below",
    )


def _picture_map(
    fig: go.Figure, surf: Surfaces, z: np.ndarray, name: str, scale: MapScale, lines: bool
) -> None:
    """z as a picture in `scale`, with its colour bar on an invisible point."""
    _picture(fig, surf, scale.levels(z), lines)
    fig.add_trace(
        go.Scatter(
            x=[surf.x[0]],
            y=[surf.y[0]],
            mode="markers",
            marker={
                "color": [0.0],
                "cmin": 0.0,
                "cmax": 1.0,
                "colorscale": MAP_SCALE,
                "showscale": True,
                "colorbar": scale.colorbar(name),
                "opacity": 0,
            },
            showlegend=False,
            hoverinfo="skip",
            name=name,
        )
    )


def path_line(k: str, p: np.ndarray, hovertemplate: str, **kwargs) -> go.Scatter:
    """Dynamics k's path p (n, 2) as a line, drawn as on every page."""
    return go.Scatter(
        x=p[:, 0], y=p[:, 1], mode="lines", hovertemplate=hovertemplate, **run_style(k), **kwargs
    )


def _paths(summary: PathSummary) -> list[go.Scatter]:
    """The three runs, memory first so the approximations are drawn on top of it."""
    traces = []
    for k in DYNAMICS:
        p = summary.paths[k]
        steps = np.arange(len(p))
        hover = (
            f"<b>{k}</b><br>n = %{{customdata[0]}}<br>(%{{x:.4f}}, %{{y:.4f}})"
            "<br>L = %{customdata[1]:.6g}<extra></extra>"
        )
        data = np.stack([steps, summary.losses[k]], axis=-1)
        traces.append(path_line(k, p, hover, customdata=data))
    return traces


def _markers(summary: PathSummary, at: int | None = None) -> list[dict]:
    """One marker trace (a plain dict) per dynamics at step `at` (default: its last
    finite point)."""
    traces = []
    for k in DYNAMICS:
        p = summary.paths[k]
        i = len(p) - 1 if at is None else min(at, len(p) - 1)
        diverged = summary.diverged[k] is not None and i == len(p) - 1
        traces.append(
            {
                "type": "scatter",
                "x": [float(p[i, 0])],
                "y": [float(p[i, 1])],
                "mode": "markers",
                "marker": end_marker(k, diverged),
                "showlegend": False,
                "hoverinfo": "skip",
            }
        )
    return traces


def _start(summary: PathSummary) -> go.Scatter:
    return marker_at(
        summary.paths["memory"][0],
        START_MARKER,
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


class AnimatedFigure(go.Figure):
    """A figure with client-side animation frames and their slider kept as plain dicts,
    merged in on export (to_dict, which to_json and st.plotly_chart call): plotly validating 60
    frames and 60 slider steps as go objects took ~0.7-1.8 s per chart."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._animation: dict = {}

    def to_dict(self) -> dict:
        d = super().to_dict()
        if self._animation:
            d["frames"] = self._animation["frames"]
            d["layout"] = d.get("layout", {}) | self._animation["layout"]
        return d


def _animate(fig: AnimatedFigure, summary: PathSummary, first_marker: int) -> None:
    """Client-side frames that move one marker per dynamics along the paths: a plotly
    slider scrubs the steps and a play button animates them, with no Streamlit rerun.

    Plotly's animation without redraw re-plots the subplot from the animated traces
    only and erases any contour or heatmap trace there: the map is a picture instead
    (_picture_map), and the frames hold nothing but the markers."""
    total = max(len(p) for p in summary.paths.values())
    steps = np.unique(np.linspace(0, total - 1, min(total, MAX_FRAMES)).round().astype(int))
    indices = list(range(first_marker, first_marker + len(DYNAMICS)))
    frames = [{"name": str(n), "data": _markers(summary, int(n)), "traces": indices} for n in steps]
    still = {"mode": "immediate", "frame": {"duration": 0, "redraw": False}}
    play = {"frame": {"duration": 60, "redraw": False}, "fromcurrent": True}
    below = {"y": -0.13, "yanchor": "top"}  # under the x axis, above the legend
    buttons = {
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
    slider = {
        "active": len(steps) - 1,
        "x": 0.2,
        "len": 0.8,
        "pad": {"b": 0, "t": 0},
        "currentvalue": {"prefix": "step n = ", "xanchor": "right", "font": {"size": 12}},
        "steps": [{"label": str(n), "method": "animate", "args": [[str(n)], still]} for n in steps],
        **below,
    }
    fig._animation = {"frames": frames, "layout": {"updatemenus": [buttons], "sliders": [slider]}}


def trajectory_figure(
    surf: Surfaces,
    summary: PathSummary,
    z: np.ndarray | None = None,
    title: str | None = None,
    height: int = 480,
    click: str | None = None,
    animated: bool = True,
    scale: MapScale | None = None,
    runs: bool = True,
) -> go.Figure:
    """The map of z (default: the loss; L + hR gets L's iso-lines dotted on top) with the
    three runs, start and end markers, divergence labels, and (animated) a step slider
    with a play button.  The colour scale is `scale`, by default the one L and L + hR
    share.  `click`: what a click on the map does (its hover says so); without `runs`
    the map shows the start alone (a lesson's question, before its reveal)."""
    scale = scale or MapScale.of(surf.loss, surf.perturbed)
    name, z = ("L", surf.loss) if z is None else ("L + hR", z)
    fig = AnimatedFigure()
    _picture_map(fig, surf, z, name, scale, lines=name != "L")
    fig.add_trace(_hover_map(surf, z, name, click))
    if not runs:
        fig.add_trace(_start(summary))
        _window_axes(fig, surf)
        return frame(fig, height, title, bottom=LEGEND_BAND)
    fig.add_traces(_paths(summary) + [_start(summary)])
    first_marker = len(fig.data)
    fig.add_traces(_markers(summary))
    _window_axes(fig, surf)
    _divergence_labels(fig, summary)
    if animated:
        _animate(fig, summary, first_marker)
    extra = SLIDER_BAND if animated else 0
    return frame(fig, height + extra, title, bottom=LEGEND_BAND + extra)


def surface3d_figure(surf: Surfaces, summary: PathSummary, height: int = 480) -> go.Figure:
    """L + hR as a 3D surface clipped to a robust range (clip_range), with the runs drawn
    on it (interpolated from the grid, lifted a little so the surface does not hide
    them), the start and the nested end markers."""
    raw = {k: on_grid(surf.x, surf.y, surf.perturbed, summary.paths[k]) for k in DYNAMICS}
    lo, hi = clip_range(surf.perturbed, np.concatenate(list(raw.values())))
    z = np.clip(surf.perturbed, lo, hi)
    lift = 0.01 * (hi - lo)
    traces = [
        go.Surface(
            x=surf.x,
            y=surf.y,
            z=z,
            cmin=lo,
            cmax=hi,
            colorscale=MAP_SCALE,
            showscale=False,
            opacity=0.9,
            hovertemplate="(%{x:.2f}, %{y:.2f})<br>L + hR = %{z:.4g}<extra></extra>",
            name="L + hR",
        )
    ]
    on_surface = {k: np.clip(raw[k], lo, hi) + lift for k in DYNAMICS}
    for k in DYNAMICS:
        p = summary.paths[k]
        style = run_style(k, width=STYLE[k]["width"] * (0.8 if k == "memory" else 1.6))
        traces.append(go.Scatter3d(x=p[:, 0], y=p[:, 1], z=on_surface[k], mode="lines", **style))
    for k in DYNAMICS:  # 3D markers: scatter3d knows no star, and sizes read smaller
        p, zk = summary.paths[k], on_surface[k]
        marker = end_marker(k, summary.diverged[k] is not None, scale=0.6)
        marker.pop("line")
        traces.append(
            go.Scatter3d(
                x=p[-1:, 0],
                y=p[-1:, 1],
                z=zk[-1:],
                mode="markers",
                marker=marker,
                showlegend=False,
                hoverinfo="skip",
            )
        )
    start = summary.paths["memory"][0]
    traces.append(
        go.Scatter3d(
            x=[start[0]],
            y=[start[1]],
            z=on_surface["memory"][:1],
            mode="markers",
            marker={"symbol": "diamond", "size": 7, "color": "black"},
            name="start",
        )
    )
    fig = go.Figure(traces)
    fig.update_scenes(
        xaxis_title="x",
        yaxis_title="y",
        zaxis={"title": "L + hR", "range": [lo, hi + 2 * lift]},
        aspectmode="manual",
        aspectratio={"x": 1, "y": 1, "z": 0.6},
        camera={"eye": {"x": 1.55, "y": -1.55, "z": 1.0}},
        domain={"x": [0.0, 1.0], "y": [0.0, 1.0]},
    )
    return frame(fig, height)


def quiver(x, y, u, v, arrow_scale: float = 0.35, angle: float = np.pi / 7):
    """The lines of plotly's create_quiver(x, y, u, v, scale=1, arrow_scale, angle), as
    one vectorized pass: the shafts, then each arrowhead's two strokes back from the tip
    (NaN between pieces).  plotly 7.1's own loop is quadratic in the arrows (289 arrows:
    0.3 s of every rerun); tests check these lines equal its output."""
    x, y, u, v = (np.asarray(a, dtype=np.float64) for a in (x, y, u, v))
    ex, ey = x + u, y + v
    length = arrow_scale * np.hypot(u, v)
    heading = np.arctan2(v, u)
    gap = np.full_like(x, np.nan)
    shafts = np.stack([x, ex, gap], axis=1), np.stack([y, ey, gap], axis=1)
    one, two = heading + angle, heading - angle
    heads = (
        np.stack([ex - length * np.cos(one), ex, ex - length * np.cos(two), gap], axis=1),
        np.stack([ey - length * np.sin(one), ey, ey - length * np.sin(two), gap], axis=1),
    )

    # arrays with NaN between pieces (None in plotly's lists): plotly validates an array
    # at once and a list item by item (0.1 s of every /playground run at 289 arrows)
    return tuple(np.concatenate([a.ravel(), b.ravel()]) for a, b in zip(shafts, heads, strict=True))


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
    ax, ay = quiver(X.ravel(), Y.ravel(), dx.ravel(), dy.ravel())
    fig = go.Figure(
        go.Scatter(
            x=ax,
            y=ay,
            mode="lines",
            line={"color": "#3a3a3a", "width": 1.3},
            hoverinfo="skip",
            name="−M",
            showlegend=False,
        )
    )
    _picture(fig, surf, MapScale.of(surf.loss).levels(surf.loss))
    _window_axes(fig, surf)
    return frame(fig, height, bottom=0)


def _share(fraction: float) -> str:
    """A share of the window in whole percent, never rounded to 0% or 100%."""
    if 0 < fraction < 0.005:
        return "under 1%"
    if 0.995 <= fraction < 1:
        return "over 99%"
    return f"{fraction:.0%}"


def sign_caption(surf: Surfaces) -> str:
    """What the sign panel shows, read from hR's values on the grid with the verdict's
    thresholds (the regularizer card's words come from the same numbers)."""
    hR = perturbation(surf)
    finite = hR[np.isfinite(hR)]
    if finite.size == 0 or not (finite != 0).any():
        return "hR = 0 on the whole window: this memory does not perturb the loss."
    v = verdict(finite)
    raises, lowers = v.positive_fraction, v.negative_fraction
    size = f"|hR| up to {np.abs(finite).max():.3g}"
    unsigned = 1.0 - raises - lowers
    rest = (
        f" On {_share(unsigned)} of it |hR| is below {SIGNED:g} of its largest value: "
        "no resolved sign (white)."
        if unsigned >= 0.005
        else ""
    )
    if lowers == 0:
        head = "hR ≥ 0 wherever its sign is resolved (uniform sign: raises the loss)"
    elif raises == 0:
        head = "hR ≤ 0 wherever its sign is resolved (uniform sign: lowers the loss)"
    else:
        head = (
            f"hR raises the loss on {_share(raises)} of the window "
            f"and lowers it on {_share(lowers)}"
        )
    return f"{head}; shading: {size}.{rest}"


def sign_figure(surf: Surfaces, height: int = 420) -> go.Figure:
    """hR with its sign and its magnitude: orange where it raises the loss, teal where it
    lowers it, deeper where it is larger (a log-compressed size, so one hue still shows
    structure when the sign is uniform)."""
    raw = perturbation(surf)
    hR = signed(raw)  # unresolved signs drawn white
    size = np.abs(hR)
    positive = size[np.isfinite(size) & (size > 0)]
    unit = float(np.median(positive)) if positive.size else 1.0
    top = float(np.log1p(positive.max() / unit)) if positive.size else 1.0
    shade = np.sign(hR) * np.log1p(size / unit) / top  # in [-1, 1]
    ticks = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    values = np.sign(ticks) * unit * np.expm1(np.abs(ticks) * top)
    scale = [[0.0, SIGN_COLORS["lowers"]], [0.5, "#f7f7f7"], [1.0, SIGN_COLORS["raises"]]]
    fig = go.Figure(
        [
            go.Heatmap(
                x=surf.x,
                y=surf.y,
                z=shade,
                zmin=-1,
                zmax=1,
                zsmooth="best",
                colorscale=scale,
                customdata=raw,
                hovertemplate="(%{x:.2f}, %{y:.2f})<br>hR = %{customdata:.4g}<extra></extra>",
                colorbar=colorbar("hR", ticks, [f"{v:.2g}" for v in values]),
                name="hR",
            ),
            loss_lines(surf.x, surf.y, surf.loss, dash="solid", ncontours=18),
        ]
    )
    _window_axes(fig, surf)
    return frame(fig, height, bottom=0)


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
    return frame(fig, height)


def thumbnail_figure(surf: Surfaces, summary: PathSummary, height: int = 210) -> go.Figure:
    """A small static picture of a scenario: the map and the three runs."""
    fig = go.Figure([contour_map(surf.x, surf.y, surf.loss, "L", showscale=False)])
    fig.add_traces(_paths(summary))
    _window_axes(fig, surf)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig = frame(fig, height)
    fig.update_layout(showlegend=False, margin={"l": 0, "r": 0, "t": 0, "b": 0})
    return fig
