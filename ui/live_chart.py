"""Charts that redraw in place: a plotly figure in a Streamlit component (components v2)
that stays mounted under its key and hands each new figure to Plotly.react.

Why: st.plotly_chart hashes the figure into the element's identity, so a changed
figure is a new chart: Chromium mounts it and draws it twice (a theme pass after
mounting).  On /playground's four charts that was ~1 s of the browser's main thread
per changed setting; drawn in place, each changed chart is drawn once and an unchanged
one not at all (benchmarks/bench_browser.py prints both).

plotly.js itself comes from the installed plotly package, served by Streamlit's static
file serving (.streamlit/config.toml: server.enableStaticServing) from static/, where
`_serve_plotly_js` copies it: the page needs no network."""

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


def _plotly_url() -> str:
    base = st.get_option("server.baseUrlPath").strip("/")
    return f"/{base}/app/static/plotly.min.js" if base else "/app/static/plotly.min.js"


def preload() -> None:
    """Start loading plotly.js in the browser before the page's charts arrive (they
    come after its computation): an element with no chart and no height."""
    _MOUNT(key="plotly-preload", data={"preload": True, "plotly": _plotly_url()}, height=1)


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
        point = st.session_state[key].get("click")
        if on_click is not None and point:
            on_click(float(point["x"]), float(point["y"]))

    _MOUNT(
        key=key,
        data={
            "spec": spec,
            "config": config,
            "revision": revision,
            "height": int(fig.layout.height or 450),
            "clickable": on_click is not None,
            "plotly": _plotly_url(),
        },
        on_click_change=clicked,
    )
