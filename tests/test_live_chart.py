"""The charts drawn in place (ui.live_chart): plotly.js served from the installed package,
the page's figures carried whole, one key per chart."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import app_harness
import plotly

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def test_plotly_js_is_served_from_the_installed_package():
    from ui import live_chart

    live_chart._serve_plotly_js()
    assert (ROOT / "static" / "plotly.min.js").read_bytes() == BUNDLE.read_bytes()
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True


def test_the_playground_charts_carry_their_whole_figures():
    at = app_harness.open_page("playground", {"v": "1", "steps": "30", "grid": "20"})
    assert not at.exception, at.exception
    charts = [e.proto for e in at.get("bidi_component") if e.proto.component_name == "live_chart"]
    keys = [c.id.rsplit("-", 2)[-2:] for c in charts]
    assert len(charts) == 4 and len({c.id for c in charts}) == 4, keys
    for chart in charts:
        data = json.loads(chart.json)
        figure = json.loads(data["spec"])
        assert figure["data"] and data["height"] == figure["layout"]["height"]
        assert data["plotly"] == "/app/static/plotly.min.js"
    clickable = [json.loads(c.json)["clickable"] for c in charts]
    assert clickable == [True, False, False, False]  # only the map of L starts a run
    first = json.loads(json.loads(charts[0].json)["spec"])
    assert len(first["frames"]) > 1  # the step scrubber's frames travel with the figure
