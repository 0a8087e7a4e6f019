"""End to end in a real browser: `streamlit run app.py` in a subprocess, Chromium through
Playwright (the conftest fixtures).  Screenshots go to artifacts/ (gitignored)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from browser import check_page, open_charts, settle, settled_with_charts, skip_or_fail

skip_or_fail(pytest)

LION_CUSTOM = (
    "playground?v=1&opt=lion&eps=0.1&loss=custom&f="
    + quote("x^2 + 3*y^2 + 0.5*sin(2*x)", safe="")
    + "&steps=60&grid=40"
)
VIEWPORT = (1500, 2000)  # the conftest fixtures' context: every chart of a page on screen


def test_shared_playground_link(server, page):
    open_charts(page, f"{server}/{LION_CUSTOM}", charts=4)
    check_page(page, "playground-lion-custom", charts=4)
    # the scenario stays in the URL after the app normalizes it
    assert "opt=lion" in page.url and "loss=custom" in page.url and "eps=0.1" in page.url
    assert "steps=60" in page.url
    assert page.get_by_text("Lion").count() > 0
    assert page.locator('[data-testid="stAlert"]').filter(has_text="diverged").count() == 0


@pytest.mark.parametrize(
    ("path", "charts"),
    [
        ("", 1),
        ("theory?v=1&opt=hb&b1=0.5&lr=0.04&hs=0.04,0.02,0.01", 1),
        ("compare?v=1&steps=60&grid=40", 4),
        ("gallery", 10),
        ("network?v=1&steps=40&n=120&width=8", 6),
        ("about", 0),
    ],
)
def test_pages_render(server, page, path, charts):
    if charts:
        open_charts(page, f"{server}/{path}", charts=charts)
    else:
        page.goto(f"{server}/{path}")
        settle(page)
        # a page without charts: its title and typeset formulas, and no chart
        assert page.get_by_role("heading", name="About & formulas").count() == 1
        assert page.locator(".katex").count() > 0
        assert page.locator(".js-plotly-plot").count() == 0
    check_page(page, path.split("?")[0] or "home", charts=charts)


def test_click_on_the_map_moves_the_start(server, page):
    open_charts(page, f"{server}/playground?v=1&steps=20&grid=30", charts=4)
    before = dict(p.split("=") for p in page.url.split("?")[1].split("&"))
    assert "x0" not in before  # the loss's own start
    box = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first.bounding_box()
    # a point of the invisible click grid, away from the default start (-1.2, 0.8)
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + 0.75 * box["height"])
    page.wait_for_function("() => window.location.search.includes('x0=')", timeout=60_000)
    settled_with_charts(page, charts=4)
    params = dict(p.split("=") for p in page.url.split("?")[1].split("&"))
    x0, y0 = float(params["x0"]), float(params["y0"])
    assert x0 > 0.5 and y0 < 0.5  # right and below the middle of the window
    check_page(page, "playground-clicked", charts=4)
