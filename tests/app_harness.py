"""The harness of the AppTest tests: app.py run as a visitor's first request with a query,
then the page asked for, as a link to it would open it."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(page: str, params: dict[str, str]) -> AppTest:
    """The page at url path `page` ("home" for the root) opened with the query params."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()  # the entry point registers the pages; then open the one asked for
    if page != "home":
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def assert_clean(at: AppTest, title: str) -> None:
    """The page rendered under `title` with no exception, warning or error."""
    assert not at.exception, at.exception
    assert not at.warning and not at.error, [m.value for m in (*at.warning, *at.error)]
    assert at.title[0].value == title


def figures(at: AppTest) -> list[dict]:
    """The plotly figures on the page: those drawn in place (ui.live_chart, a components
    v2 element carrying the figure's JSON) and st.plotly_chart's (the selectable ones)."""
    return [json.loads(c["spec"]) for c in live_charts(at)] + [
        json.loads(c.proto.spec) for c in at.get("plotly_chart")
    ]


def live_charts(at: AppTest) -> list[dict]:
    """The data of every chart drawn in place (not the element that preloads plotly.js)."""
    elements = [e for e in at.get("bidi_component") if e.proto.component_name == "live_chart"]
    return [d for d in (json.loads(e.proto.json) for e in elements) if "spec" in d]
