"""The figures of /sweep: one heatmap per metric of a core.analyses.sweep.SweepResult, indexed
[iy][ix] like the result, with diverged cells marked and an invisible point on every
cell centre, so a click reports the cell (ix, iy) to st.plotly_chart's on_select."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analyses.sweep import SweepResult
from core.engine.dynamics import DYNAMICS
from core.engine.registry import record
from ui.plots import invisible_points
from ui.style import colorbar, fixed_plot_area, frame

DIVERGING = "RdBu_r"  # negative blue, positive red, white at 0
SEQUENTIAL = "Viridis"
EFFECT_COLORS = {-1: "#d1495b", 0: "#bdbdbd", 1: "#3a9e6a"}
EFFECT_WORDS = {-1: "anti-regularizes", 0: "mixed / none", 1: "regularizes"}


def _axes(fig: go.Figure, res: SweepResult, **where) -> None:
    s = res.scenario
    for a, update in ((s.x, fig.update_xaxes), (s.y, fig.update_yaxes)):
        update(
            title=axis_label(s.opt, a.key),
            type="log" if a.log else "linear",
            showgrid=False,
            zeroline=False,
            **where,
        )


def axis_label(opt: str, key: str) -> str:
    """The swept key's name: the record's label of its hyperparameter (Lion's β₁ is an
    interpolation, Adam's a momentum), or the learning rate."""
    return "learning rate h" if key == "lr" else record(opt).spec(key).label


def diverged_mask(res: SweepResult, runs=DYNAMICS) -> np.ndarray:
    """(ny, nx): True where any of `runs` (default: the three) diverged."""
    return np.logical_or.reduce([res.diverged[k] >= 0 for k in runs])


def tally(res: SweepResult) -> dict[str, int]:
    """How many cells get each verdict (EFFECT_WORDS' keys: +1, -1, 0), and how many
    have a diverged run ("diverged")."""
    effect = res.metrics["effect"]
    return {v: int((effect == v).sum()) for v in EFFECT_WORDS} | {
        "diverged": int(diverged_mask(res).sum())
    }


def _diverged_marks(res: SweepResult, runs=DYNAMICS) -> go.Scatter:
    """x on the cells where any of `runs` (those the metric needs) diverged."""
    iy, ix = np.nonzero(diverged_mask(res, runs))
    return go.Scatter(
        x=res.x[ix],
        y=res.y[iy],
        mode="markers",
        marker={"symbol": "x-thin", "size": 9, "line": {"width": 1.5, "color": "#222"}},
        name="diverged",
        hoverinfo="skip",
        showlegend=bool(ix.size),
    )


def _cells(res: SweepResult, z: np.ndarray, bar: dict, **kwargs) -> go.Heatmap:
    """The cells' values z (ny, nx) as a heatmap (hovering reads the click layer)."""
    return go.Heatmap(x=res.x, y=res.y, z=z, colorbar=bar, hoverinfo="skip", **kwargs)


def click_layer(res: SweepResult, z: np.ndarray, label: str, fmt: str = ".3g") -> go.Scatter:
    """Invisible markers on the cell centres; customdata carries (ix, iy, value)."""
    xx, yy = np.meshgrid(res.x, res.y)
    iyy, ixx = np.indices(z.shape)
    data = np.stack([ixx.ravel(), iyy.ravel(), z.ravel().astype(float)], -1)
    s = res.scenario
    return invisible_points(
        xx.ravel(),
        yy.ravel(),
        data,
        10,
        f"{s.x.key} = %{{x:.4g}}, {s.y.key} = %{{y:.4g}}<br>{label}: "
        f"%{{customdata[2]:{fmt}}}<br>click: open this cell on /playground<extra></extra>",
        "cells",
    )


def heatmap_figure(
    res: SweepResult,
    z: np.ndarray,
    label: str,
    log: bool = False,
    diverging: bool = False,
    height: int = 380,
    runs=DYNAMICS,
) -> go.Figure:
    """z (ny, nx) as a heatmap; log: colour by log10 (z > 0); diverging: white at 0;
    cells where one of `runs` diverged are marked."""
    shown = z.astype(float)
    bar = colorbar(label)
    kwargs: dict = {"colorscale": SEQUENTIAL}
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            shown = np.where(z > 0, np.log10(z), np.nan)
        bar["title"]["text"] = f"log₁₀ {label}"
    elif diverging:
        finite = np.abs(shown[np.isfinite(shown)])
        top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        kwargs = {"colorscale": DIVERGING, "zmid": 0.0, "zmin": -top, "zmax": top}
    fig = go.Figure(
        [
            _cells(res, shown, bar, **kwargs),
            _diverged_marks(res, runs),
            click_layer(res, z, label),
        ]
    )
    _axes(fig, res)
    return fixed_plot_area(frame(fig, height))  # the two maps of a row: one frame


def changes_figure(res: SweepResult, height: int = 360) -> go.Figure:
    """Memory minus memoryless at the end: final loss, gradient norm, sharpness."""
    names = {
        "delta_loss": "final loss",
        "delta_grad_norm": "final |∇L|",
        "delta_sharpness": "sharpness λ_max(H)",
    }
    fig = make_subplots(1, 3, subplot_titles=list(names.values()), horizontal_spacing=0.11)
    for j, (key, label) in enumerate(names.items()):
        z = res.metrics[key].astype(float)
        finite = np.abs(z[np.isfinite(z)])
        top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        fig.add_trace(
            go.Heatmap(
                x=res.x,
                y=res.y,
                z=z,
                colorscale=DIVERGING,
                zmid=0.0,
                zmin=-top,
                zmax=top,
                colorbar={"x": _domain(fig, j)[1] + 0.005, "thickness": 8, "len": 0.9},
                hoverinfo="skip",
            ),
            1,
            j + 1,
        )
        marks = _diverged_marks(res, ("memory", "memoryless"))
        fig.add_trace(marks.update(showlegend=False), 1, j + 1)
        fig.add_trace(click_layer(res, z, f"memory − memoryless, {label}"), 1, j + 1)
    _axes(fig, res)
    fig.update_yaxes(title=None, col=2).update_yaxes(title=None, col=3)  # clear of colorbars
    fig.update_annotations(font_size=13)
    return frame(fig, height).update_layout(margin={"t": 34})


def _domain(fig: go.Figure, j: int) -> tuple[float, float]:
    """The horizontal extent of subplot j (0-based) in paper coordinates."""
    return fig.layout[f"xaxis{j + 1 if j else ''}"].domain


def effect_figure(res: SweepResult, height: int = 420) -> go.Figure:
    """The verdict per cell (three colours: each cell's regularizer card, R from M^(n) at
    the run's step on the window), and the sign of R's coefficient at the start as
    n -> infinity traced on a fine grid (the zero lines of the smallest and the largest
    kappa_j)."""
    effect = res.metrics["effect"].astype(float)
    scale = []
    for v in (-1, 0, 1):
        t0, t1 = (v + 1) / 3, (v + 2) / 3
        scale += [[t0, EFFECT_COLORS[v]], [t1, EFFECT_COLORS[v]]]
    bar = colorbar(None, [-1, 0, 1], [EFFECT_WORDS[v] for v in (-1, 0, 1)])
    traces = [_cells(res, effect, bar, zmin=-1.5, zmax=1.5, colorscale=scale)]
    b = res.boundary
    for key, dash in (("kappa_min", "solid"), ("kappa_max", "dash")):
        k = b[key]
        if np.isfinite(k).any() and np.nanmin(k) < 0 < np.nanmax(k):
            traces.append(
                go.Contour(
                    x=b["x"],
                    y=b["y"],
                    z=np.sign(k) * np.log1p(np.abs(k)),  # the sign's zero line, evened out
                    contours={"start": 0, "end": 0, "size": 1, "coloring": "none"},
                    line={"width": 2.5, "color": "#111", "dash": dash},
                    showscale=False,
                    hoverinfo="skip",
                    name="edge of min κⱼ > 0 (at the start, n → ∞)"
                    if key == "kappa_min"
                    else "edge of max κⱼ < 0 (at the start, n → ∞)",
                    showlegend=True,
                )
            )
    s = res.scenario
    lo, hi = max(s.x.lo, s.y.lo), min(s.x.hi, s.y.hi)
    for line in record(s.opt).sweep.lines:  # the record's boundaries on these axes
        if line.keys == {s.x.key, s.y.key} and lo < hi:
            traces.append(
                go.Scatter(
                    x=[lo, hi],
                    y=[lo, hi],
                    mode="lines",
                    line={"color": "#fff", "width": 1.5, "dash": "dot"},
                    name=line.label,
                    hoverinfo="skip",
                )
            )
    traces.append(click_layer(res, effect, "verdict (+1 reg., −1 anti-)", fmt="+.0f"))
    fig = go.Figure(traces)
    _axes(fig, res)
    return frame(fig, height)


def thumbnail_figure(res: SweepResult, height: int = 210) -> go.Figure:
    """A small static picture of a sweep: the theory's verdict and where it changes, or
    where the verdict is the same in every cell, where the theory works."""
    effect = res.metrics["effect"]
    if (effect == effect.flat[0]).all():
        fig = heatmap_figure(res, res.metrics["theory_error"], "ratio", log=True, height=height)
    else:
        fig = effect_figure(res, height)
    fig.update_traces(showscale=False, selector={"type": "heatmap"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(showlegend=False, margin={"l": 0, "r": 0, "t": 0, "b": 0})
    return fig
