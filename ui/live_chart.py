"""Charts that redraw in place: a plotly figure in a Streamlit component (components v2)
that stays mounted under its key and hands each new figure to Plotly.react.

Why: st.plotly_chart hashes the figure into the element's identity, with a key too
(Streamlit 1.67, checked in Chromium), so a changed figure is a new chart: Chromium
mounts it and draws it twice (a theme pass after mounting).  On /playground's four
charts that was ~1 s of the browser's main thread per changed setting; drawn in place,
each changed chart is drawn once and an unchanged one not at all
(benchmarks/bench_browser.py prints both).

plotly.js comes from the server, never the network, and from the installed plotly
package, so figure and library match: its package folder is declared a components v1
asset folder (`_plotly_js_url`, public API: Streamlit serves the files of a declared
component's `path` under the component's own route).  Nothing is copied into the app's
folder and no file of Streamlit's own build is used.  That component is never mounted;
components v2 (this chart) serve an asset folder only from an installed package's
manifest, and its inline js travels with every mount (4.6 MB per chart per rerun).  The
sidebar starts loading plotly.js before a page's computation is over (`preload`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from string import Template

import plotly
import plotly.graph_objects as go
import streamlit as st
from streamlit.components.v1 import declare_component

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SCRIPT_ID = "plotly-js"  # the preloading script element: each chart is told its id

_MOUNT = st.components.v2.component(
    "live_chart",
    html='<div class="live-chart"></div>',
    js=Path(__file__).with_name("live_chart.js").read_text(),
    isolate_styles=False,  # plotly.js styles its charts from the page's stylesheet
)


def _plotly_js_url() -> str:
    """The URL of the installed package's plotly.js: the folder holding it, declared (in
    this script run's runtime, again on each run: an unchanged declaration is a no-op) as
    the files of a component that is never mounted, served under /component/<name>/."""
    asset = declare_component("plotly_js", path=PLOTLY_JS.parent)
    base = st.get_option("server.baseUrlPath").strip("/")
    root = f"/{base}" if base else ""
    return f"{root}/component/{asset.name}/{PLOTLY_JS.name}"


# once per page load (a rerun or another page draws this element again: no second copy)
_PRELOAD = Template("""<script>
if (!window.Plotly && !document.getElementById($id)) {
  const script = document.createElement("script");
  script.id = $id;
  script.src = new URL($url, window.location.href).href;
  script.onload = () => { script.dataset.loaded = "1"; };
  script.onerror = () => { script.dataset.failed = "1"; };
  document.head.appendChild(script);
}
</script>""")


def preload() -> None:
    """Start loading plotly.js in the browser before the page's charts arrive (they
    come after its computation), into the page's head: the charts take its Plotly
    (live_chart.js: `importPlotly`).  st.html, not a mount of the chart component: a
    mount waits for the component's own code first."""
    # our own code and the server's URL as JSON strings (no user text): the one script
    # st.html runs
    script = _PRELOAD.substitute(id=json.dumps(SCRIPT_ID), url=json.dumps(_plotly_js_url()))
    st.html(script, unsafe_allow_javascript=True, width=1)


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
            "plotly": _plotly_js_url(),
            "preload_id": SCRIPT_ID,
        },
        # a chart without on_click has no click event for the page to handle
        **({"on_click_change": clicked} if on_click is not None else {}),
    )
