"""In a real browser: one click on a cell of /sweep opens
that cell's scenario on /playground."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from browser import check_page, open_charts, settled_with_charts, skip_or_fail

skip_or_fail(pytest)

from core.analyses.sweep import SweepScenario  # noqa: E402
from core.scenarios.scenario import Scenario  # noqa: E402

QUERY = "v=1&x=b1:0.5:0.9:4&y=b2:0.6:0.99:4&steps=20"
VIEWPORT = (1500, 2000)


def test_a_click_on_a_cell_opens_it_on_the_playground(server, page):
    open_charts(page, f"{server}/sweep?{QUERY}", charts=4)
    check_page(page, "sweep", charts=4)
    box = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first.bounding_box()
    # 4 x 4 cells fill the axes: the centre of cell (ix, iy) = (3, 2) is at 7/8 of the
    # width and, counted from the top, 3/8 of the height
    page.mouse.click(box["x"] + 7 / 8 * box["width"], box["y"] + 3 / 8 * box["height"])
    page.wait_for_function("() => window.location.pathname.endsWith('/playground')", timeout=60_000)
    settled_with_charts(page, charts=4)
    shown = Scenario.parse(urlsplit(page.url).query)
    assert shown == SweepScenario.parse(QUERY).cell(3, 2)  # b1 = 0.9, b2 = 0.86
    check_page(page, "sweep-cell-on-playground", charts=4)
