"""Charts that redraw in place: a plotly figure in a Streamlit component (components v2)
that stays mounted under its key and hands each new figure to Plotly.react.

Why: st.plotly_chart hashes the figure into the element's identity, so a changed
figure is a new chart: Chromium mounts it and draws it twice (a theme pass after
mounting).  On /playground's four charts that was ~1 s of the browser's main thread
per changed setting; drawn in place, each changed chart is drawn once and an unchanged
one not at all (benchmarks/bench_browser.py prints both).

plotly.js comes from the server, never the network: first from the module Streamlit's
own charts load (it defines window.Plotly; served uncompressed and cached for good), or,
should this Streamlit not have it, from the installed plotly package's copy, which
`_serve_plotly_js` puts in static/ for Streamlit's static file serving
(.streamlit/config.toml: server.enableStaticServing).  The sidebar starts loading it
before a page's computation is over (`preload`)."""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import plotly
import plotly.graph_objects as go
import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
_BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
_SERVED = ROOT / "static" / "plotly.min.js"


def _serve_plotly_js() -> None:
    """Copy plotly.js (the installed package's, so figure and library match) where
    static serving finds it, unless the same file is there already.  Where the app's
    folder is read-only the charts say that plotly.js did not load; the log says why."""
    try:
        if _SERVED.exists() and _SERVED.read_bytes() == _BUNDLE.read_bytes():
            return
        _SERVED.parent.mkdir(exist_ok=True)
        partial = _SERVED.with_suffix(".tmp")
        shutil.copyfile(_BUNDLE, partial)
        partial.replace(_SERVED)  # atomic: a browser never fetches half a file
    except OSError:
        logging.getLogger("app").exception("cannot serve plotly.js from %s", _SERVED)


_serve_plotly_js()
_MOUNT = st.components.v2.component(
    "live_chart",
    html='<div class="live-chart"></div>',
    js=Path(__file__).with_name("live_chart.js").read_text(),
    isolate_styles=False,  # plotly.js styles its charts from the page's stylesheet
)


def _streamlit_chunk() -> str | None:
    """The file of Streamlit's own plotly chart module, which defines window.Plotly as it
    loads (None if this Streamlit has not exactly one)."""
    chunks = list((Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    return chunks[0].name if len(chunks) == 1 else None


_STREAMLIT_CHUNK = _streamlit_chunk()


def _plotly_urls() -> dict[str, str | None]:
    """Where the browser finds plotly.js: Streamlit's chart module first (uncompressed,
    cached for good, compiled once per browser), the app's copy otherwise."""
    base = st.get_option("server.baseUrlPath").strip("/")
    root = f"/{base}" if base else ""
    chunk = _STREAMLIT_CHUNK
    return {
        "streamlit": f"{root}/static/js/{chunk}" if chunk else None,
        "app": f"{root}/app/static/plotly.min.js",
    }


def preload() -> None:
    """Start loading plotly.js in the browser before the page's charts arrive (they
    come after its computation): an element with no chart and no height."""
    _MOUNT(key="plotly-preload", data={"preload": True, "plotly": _plotly_urls()}, height=1)


def live_chart(
    fig: go.Figure,
    key: str,
    config: dict,
    on_click: Callable[[float, float], None] | None = None,
) -> None:
    """Draw `fig` in the chart `key` (one key per chart on a page: the key is what keeps
    it mounted).  on_click(x, y): called with the data coordinates of a clicked point."""
    spec = fig.to_json()
    revision = hashlib.sha1(spec.encode() + repr(sorted(config.items())).encode()).hexdigest()

    def clicked() -> None:
        if point := st.session_state[key].get("click"):
            on_click(float(point["x"]), float(point["y"]))

    _MOUNT(
        key=key,
        data={
            "spec": spec,
            "config": config,
            "revision": revision,
            "height": int(fig.layout.height or 450),
            "clickable": on_click is not None,
            "plotly": _plotly_urls(),
        },
        # a chart without on_click has no click event for the page to handle
        **({"on_click_change": clicked} if on_click is not None else {}),
    )
