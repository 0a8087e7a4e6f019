"""The charts drawn in place (ui.live_chart): plotly.js served from the installed package,
the page's figures carried whole, one key per chart."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import app_harness
import plotly
import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def test_plotly_js_is_served_from_the_installed_package():
    from ui import live_chart

    live_chart._serve_plotly_js()
    assert (ROOT / "static" / "plotly.min.js").read_bytes() == BUNDLE.read_bytes()
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True


def test_streamlit_s_plotly_module_is_found():
    """The charts' first source of plotly.js: the module Streamlit's own charts load."""
    from ui import live_chart

    name = live_chart._streamlit_chunk()
    assert name is not None and name.startswith("PlotlyChart.") and name.endswith(".js")
    assert "window.Plotly=" in (Path(st.__file__).parent / "static/static/js" / name).read_text()


def test_the_playground_charts_carry_their_whole_figures():
    at = app_harness.open_page("playground", {"v": "1", "steps": "30", "grid": "20"})
    assert not at.exception, at.exception
    charts = app_harness.live_charts(at)
    assert len(charts) == 4 and len({c["revision"] for c in charts}) == 4
    for data in charts:
        figure = json.loads(data["spec"])
        assert figure["data"] and data["height"] == figure["layout"]["height"]
        assert data["plotly"]["app"] == "/app/static/plotly.min.js"
        assert data["plotly"]["streamlit"].startswith("/static/js/PlotlyChart.")
    assert [c["clickable"] for c in charts] == [True, False, False, False]  # the map of L
    first = json.loads(charts[0]["spec"])
    assert len(first["frames"]) > 1  # the step scrubber's frames travel with the figure


def test_every_page_preloads_plotly_js():
    """The sidebar starts loading plotly.js before a page's computation is over."""
    for page in ("home", "about", "playground"):
        at = app_harness.open_page(page, {})
        assert not at.exception, at.exception
        loaders = [
            json.loads(e.proto.json)
            for e in at.sidebar.get("bidi_component")
            if e.proto.component_name == "live_chart"
        ]
        assert len(loaders) == 1 and loaders[0]["preload"], page
        assert loaders[0]["plotly"]["app"] == "/app/static/plotly.min.js", page
