"""End to end in a real browser: `streamlit run app.py` in a subprocess, Chromium through
Playwright.  Screenshots go to artifacts/ (gitignored)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from browser import ROOT, chromium, skip_or_fail

skip_or_fail(pytest)

ARTIFACTS = ROOT / "artifacts"
LION_CUSTOM = (
    "playground?v=1&opt=lion&eps=0.1&loss=custom&f="
    + quote("x^2 + 3*y^2 + 0.5*sin(2*x)", safe="")
    + "&steps=60&grid=40"
)


@pytest.fixture(scope="module")
def page(server):
    """One tab for the whole module (its tests continue each other's state)."""
    with chromium(1500, 2000) as context:
        yield context.new_page()


def _open(page, url: str, charts: int = 1) -> None:
    """Load url and wait until the script run is over and the charts are drawn."""
    page.goto(url)
    page.wait_for_selector('[data-testid="stApp"]', timeout=60_000)
    page.wait_for_function(  # the charts, or an exception (reported by _check)
        "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n"
        " || document.querySelector('[data-testid=\"stException\"]') !== null",
        arg=charts,
        timeout=120_000,
    )
    # the status widget shows while the script runs
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)
    page.wait_for_timeout(800)


def _check(page, name: str, charts: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()[:500]
    if charts:
        assert page.locator(".js-plotly-plot").count() >= charts


def test_shared_playground_link(server, page):
    _open(page, f"{server}/{LION_CUSTOM}", charts=4)
    _check(page, "playground-lion-custom", charts=4)
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
        _open(page, f"{server}/{path}", charts=charts)
    else:
        page.goto(f"{server}/{path}")
        page.wait_for_selector('[data-testid="stMarkdown"]', timeout=60_000)
        page.wait_for_timeout(1500)
        # a page without charts: its title and typeset formulas, and no chart
        assert page.get_by_role("heading", name="About & formulas").count() == 1
        assert page.locator(".katex").count() > 0
        assert page.locator(".js-plotly-plot").count() == 0
    _check(page, path.split("?")[0] or "home", charts=charts)


def test_click_on_the_map_moves_the_start(server, page):
    _open(page, f"{server}/playground?v=1&steps=20&grid=30", charts=4)
    before = dict(p.split("=") for p in page.url.split("?")[1].split("&"))
    assert "x0" not in before  # the loss's own start
    box = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first.bounding_box()
    # a point of the invisible click grid, away from the default start (-1.2, 0.8)
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + 0.75 * box["height"])
    page.wait_for_function("() => window.location.search.includes('x0=')", timeout=60_000)
    _open(page, page.url, charts=4)
    params = dict(p.split("=") for p in page.url.split("?")[1].split("&"))
    x0, y0 = float(params["x0"]), float(params["y0"])
    assert x0 > 0.5 and y0 < 0.5  # right and below the middle of the window
    _check(page, "playground-clicked", charts=4)
