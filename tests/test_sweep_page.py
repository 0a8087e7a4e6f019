"""/sweep under streamlit.testing.v1.AppTest: renders, its words match its numbers,
URL -> widgets, widgets -> URL, bad values warned about or refused with their key."""

from __future__ import annotations

import json
import re

from app_harness import assert_clean, open_page
from streamlit.testing.v1 import AppTest

from core.analyses import compute
from core.analyses.sweep import SweepScenario

SMALL = {"v": "1", "x": "b1:0.5:0.99:6", "y": "b2:0.5:0.999:5", "steps": "20"}


def open_sweep(params: dict[str, str] | None = None) -> AppTest:
    return open_page("sweep", SMALL if params is None else params)


def test_renders_and_the_verdict_counts_are_the_cells_cards():
    at = open_sweep()
    assert_clean(at, "Phase diagram")
    text = at.caption[0].value
    found = re.search(
        r"regularizes in (\d+) cells, anti-regularizes in (\d+), mixed or none in (\d+)", text
    )
    # each cell's regularizer card, computed as /playground computes it
    s = SweepScenario.parse("&".join(f"{k}={v}" for k, v in SMALL.items()))
    cards = [compute.regularizer(s.cell(ix, iy)).effect for iy in range(5) for ix in range(6)]
    expected = tuple(cards.count(e) for e in ("regularizes", "anti-regularizes"))
    assert found and tuple(map(int, found.groups())) == (*expected, 30 - sum(expected))
    assert expected[0] > 0 and expected[1] > 0
    assert "step n = 19" in text and "diverged in 0 cells" in text


def test_url_sets_the_widgets():
    at = open_sweep(SMALL | {"opt": "lion", "x": "eps:0.01:1:4:log", "y": "b1:0.5:0.9:3"})
    assert not at.exception
    assert at.selectbox(key="ws_opt").value == "lion"
    assert at.text_input(key="ws_x").value == "eps:0.01:1.0:4:log"
    assert at.text_input(key="ws_y").value == "b1:0.5:0.9:3"
    assert at.number_input(key="ws_steps").value == 20


def test_widget_changes_update_the_url():
    at = open_sweep()
    at.text_input(key="ws_x").set_value("b1:0.6:0.9:4").run()
    assert at.query_params["x"] == "b1:0.6:0.9:4"
    at.text_input(key="ws_y").set_value("b2:0.1:0.9:99").run()  # over the cap: refused
    assert at.query_params["y"] == "b2:0.5:0.999:5"
    assert "2 to 64" in " ".join(e.value for e in at.error)
    assert not at.exception


def test_invalid_url_values_warn_with_their_key():
    at = open_sweep(SMALL | {"x": "b1:0.5:0.99:500", "steps": "abc"})
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "x:" in text and "steps:" in text


def test_the_two_maps_of_a_row_share_one_frame():
    """The distance and ratio maps side by side: the same plot area, fixed by the figure's
    size and margins (plotly.js may not widen a margin for one bar's longer labels), and
    each colour bar at the same place beside it."""
    at = open_sweep()
    frames, titles = [], []
    for chart in at.get("plotly_chart")[:2]:
        fig = json.loads(chart.proto.spec)
        layout = fig["layout"]
        bars = [t["colorbar"] for t in fig["data"] if t["type"] == "heatmap"]
        assert len(bars) == 1
        titles.append(bars[0]["title"]["text"])
        place = {k: bars[0].get(k) for k in ("x", "xanchor", "y", "yanchor", "len")}
        assert None not in place.values(), place
        assert layout["margin"].get("autoexpand") is False
        frames.append(
            (
                layout["height"],
                {k: layout["margin"][k] for k in "lrtb"},
                layout["xaxis"]["domain"],
                layout["yaxis"]["domain"],
                place,
            )
        )
    assert titles == ["log₁₀ distance", "log₁₀ ratio"]  # two different bars
    assert frames[0] == frames[1]
