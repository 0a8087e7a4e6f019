"""How every figure looks: the dynamics' colours, lines and end markers, the map colour
scales and the figure frame (size, background, legend band).

One visual language on every page (STYLE): the memory run is a wide translucent red band
drawn first, the memoryless run a blue dashed line and the corrected run an orange
dotted line on top of it, so all three stay visible where they coincide; their end
markers are nested (a large red ring, a medium blue square, a small orange diamond), so
overlapping ends stay visible too.  Legends sit under the plot area, out of the data
and away from the modebar.  Maps shown side by side share one colour scale (MapScale).

Figures keep transparent backgrounds and leave fonts and axes to the app's theme (the
charts drawn in place take its text colour and font, ui/live_chart.js; st.plotly_chart's
theme="streamlit" does the same), so they read on light and dark themes;
the map colours are explicit and light, so the trajectory colours contrast with them on
either theme.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

STYLE = {
    "memory": {
        "color": "#d62728",
        "dash": "solid",
        "width": 7,
        "opacity": 0.45,
        "symbol": "circle-open",
        "size": 19,
        "label": "memory",
    },
    "memoryless": {
        "color": "#2b59c3",
        "dash": "dash",
        "width": 2.5,
        "opacity": 1.0,
        "symbol": "square-open",
        "size": 12,
        "label": "memoryless",
    },
    "corrected": {
        "color": "#f28e00",
        "dash": "dot",
        "width": 3,
        "opacity": 1.0,
        "symbol": "diamond",
        "size": 9,
        "label": "corrected",
    },
}
MAP_SCALE = [[0.0, "#fbfaf5"], [0.35, "#e3ebe3"], [0.7, "#bccadb"], [1.0, "#8696b0"]]
SIGN_COLORS = {"raises": "#e07b39", "lowers": "#3a9e9a"}
NEUTRAL = "#8c8c8c"
LEGEND_BAND = 46  # px under the plot area for a legend of up to two rows
SLIDER_BAND = 95  # px for the play button and the step slider


def run_style(k: str, width: float | None = None) -> dict:
    """The Scatter arguments that draw dynamics k's line as on every page."""
    st = STYLE[k]
    return {
        "line": {"color": st["color"], "dash": st["dash"], "width": width or st["width"]},
        "opacity": st["opacity"],
        "name": st["label"],
        "legendgroup": k,
    }


def colorbar(title: str | None = None, ticks=None, labels=None) -> dict:
    """Every map's colour bar: thin, its title along its right side, and (given) ticks
    with their labels."""
    bar: dict = {"thickness": 10}
    if title is not None:
        bar["title"] = {"text": title, "side": "right"}
    if ticks is not None:
        bar |= {"tickvals": ticks, "ticktext": labels}
    return bar


# where the runs start: a star, white-rimmed to stand out on any map
START_MARKER = {
    "symbol": "star",
    "size": 15,
    "color": "black",
    "line": {"color": "white", "width": 1},
}


def end_marker(k: str, diverged: bool = False, scale: float = 1.0) -> dict:
    """The marker of dynamics k's last point: nested shapes, so coinciding ends all show;
    a cross where the run diverged."""
    st = STYLE[k]
    hollow = st["symbol"].endswith("-open")
    return {
        "symbol": "x" if diverged else st["symbol"],
        "size": st["size"] * scale,
        "color": st["color"],
        "line": {"color": st["color"] if hollow else "white", "width": 3 if hollow else 1},
    }


@dataclass(frozen=True)
class MapScale:
    """A colour scale by quantiles: the levels of z are its ranks among the values of
    every map sharing the scale (L and L + hR side by side), so each level holds as much
    of the window as the others: the valley floor and the walls both resolve, a corner
    spike takes one level, and two maps compare colour for colour even where hR
    dwarfs L."""

    knots: tuple[float, ...]  # increasing values; knot i sits at level i / (len - 1)

    @classmethod
    def of(cls, *zs: np.ndarray, resolution: int = 257) -> MapScale:
        finite = np.concatenate([np.ravel(z)[np.isfinite(np.ravel(z))] for z in zs])
        if finite.size == 0:
            return cls((0.0, 1.0))
        knots = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, resolution)))
        if knots.size == 1:  # a flat map
            knots = np.array([knots[0] - 0.5, knots[0] + 0.5])
        return cls(tuple(float(k) for k in knots))

    def levels(self, z: np.ndarray) -> np.ndarray:
        """z's level in [0, 1] (nan stays nan)."""
        knots = np.asarray(self.knots)
        return np.interp(z, knots, np.linspace(0.0, 1.0, knots.size))

    def value(self, level: np.ndarray) -> np.ndarray:
        """The value of z at a level (the inverse of `levels`)."""
        knots = np.asarray(self.knots)
        return np.interp(level, np.linspace(0.0, 1.0, knots.size), knots)

    def colorbar(self, title: str) -> dict:
        """A colour bar labelled with values of z (not of their levels)."""
        ticks = np.linspace(0.0, 1.0, 5)
        return colorbar(title, ticks, [f"{v:.3g}" for v in self.value(ticks)])


def _has_colorbar(trace) -> bool:
    """Whether plotly draws a colour bar beside this trace (heatmaps and contours show
    one unless told not to; markers only when asked)."""
    if trace.type in ("heatmap", "contour", "histogram2d"):
        return trace.showscale is not False
    marker = getattr(trace, "marker", None)
    return bool(marker is not None and getattr(marker, "showscale", None))


def frame(
    fig: go.Figure,
    height: int,
    title: str | None = None,
    bottom: int = LEGEND_BAND,
    top: int | None = None,
    hovermode: str = "closest",
) -> go.Figure:
    """Size, transparent background, and the legend in a band under the plot area:
    `bottom` px of margin, the legend at the figure's bottom edge; `top` px above (by
    default room for the title, if any)."""
    fig.update_layout(
        height=height,
        # margins that already hold the y ticks, a colour bar and the x axis title:
        # plotly widens a margin that is too narrow by drawing the whole chart again
        margin={
            "l": 62,
            "r": 95 if any(_has_colorbar(t) for t in fig.data) else 18,
            "t": (40 if title else 20) if top is None else top,
            "b": bottom + 54,
        },
        title={"text": title, "x": 0.02, "font": {"size": 15}} if title else None,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 0.0,
            "yanchor": "bottom",
            "x": 0.0,
            "xanchor": "left",
        },
        hovermode=hovermode,
    )
    return fig


# where a map's colour bar sits: just right of the plot area, as tall as it
COLORBAR_AT = {"x": 1.02, "xanchor": "left", "y": 0.5, "yanchor": "middle", "len": 1.0}


def fixed_plot_area(fig: go.Figure) -> go.Figure:
    """The plot area set by the figure's size and margins alone, each colour bar at
    COLORBAR_AT: plotly.js otherwise widens a margin to hold a colour bar's tick labels
    and title, so maps side by side with other labels got plot areas of other sizes.
    Maps of one size so framed match cell for cell (frame's margins hold the bar)."""
    fig.update_layout(margin_autoexpand=False)
    fig.update_xaxes(domain=(0.0, 1.0)).update_yaxes(domain=(0.0, 1.0))
    for trace in fig.data:
        if _has_colorbar(trace):
            trace.update(colorbar=COLORBAR_AT)
    return fig
