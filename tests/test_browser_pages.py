"""Pages that behave, in a real browser (Debian's Chromium through Playwright): the
scenario and the app's flags survive navigation in every direction, the step scrubber
and play keep the map, the 3D view and non-finite losses are labelled."""

from __future__ import annotations

import re
from urllib.parse import quote

import numpy as np
import pytest
from browser import path, query, settle, skip_or_fail

skip_or_fail(pytest)

from playwright.sync_api import expect  # noqa: E402

from core.analyses import compute  # noqa: E402
from core.scenarios.scenario import Scenario  # noqa: E402

SCENARIO = {"opt": "adam", "lr": "0.05", "x0": "1.5"}
START = "playground?v=1&opt=adam&lr=0.05&x0=1.5&steps=30&grid=20"
PLANE_PAGES = ("playground", "theory", "compare")  # the pages showing the 2D scenario
# every page but the first, reached through the navigation, back to the first
TOUR = (
    "Order of accuracy",
    "Compare optimizers",
    "Small networks",
    "Phase diagram",
    "Gallery",
    "About & formulas",
    "Home",
    "Playground",
)


def _no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()[:500]


def _keeps_scenario(page, teach: bool = False) -> None:
    """The URL (and, where the page shows them, the widgets) still say SCENARIO."""
    _no_exception(page)
    q = query(page.url)
    assert (q.get("teach") == "1") == teach, page.url
    if path(page.url) not in PLANE_PAGES:
        return
    assert {k: q.get(k) for k in SCENARIO} == SCENARIO, page.url
    if teach:
        return
    # the widgets take the URL's values with the script run that draws them: waited for
    # (a fresh session's first run can still be drawing its sidebar when the run ends)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.locator('input[aria-label="start x₀"]')).to_have_value("1.5")
    if path(page.url) == "compare":
        return
    expect(sidebar.locator('input[aria-label="Optimizer"]')).to_have_value("Adam")
    if path(page.url) == "playground":
        expect(sidebar.locator('input[aria-label="learning rate h"]')).to_have_value("0.05")


def test_navigation_keeps_the_scenario(server, page):
    """Finding 1: the sidebar, the browser's back button and st.page_link."""
    page.goto(f"{server}/{START}")
    settle(page)
    _keeps_scenario(page)
    for title in TOUR:  # through the sidebar
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        settle(page)
        _keeps_scenario(page)
    assert path(page.url) == "playground"
    for _ in TOUR:  # and back through the history
        page.go_back()
        settle(page)
        _keeps_scenario(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Home").first.click()
    settle(page)  # then a page link of Home
    page.locator('[data-testid="stPageLink"] a', has_text="Playground").first.click()
    settle(page)
    assert path(page.url) == "playground"
    _keeps_scenario(page)


def test_a_shared_link_wins_over_the_session(server, page):
    page.goto(f"{server}/{START}")
    settle(page)
    page.goto(f"{server}/theory?v=1&opt=lion&lr=0.01")
    settle(page)
    q = query(page.url)
    assert (q["opt"], q["lr"], q.get("x0")) == ("lion", "0.01", None)


def test_teaching_mode_survives_navigation(server, page):
    """Finding 3: the top bar of teaching mode, page links and back keep teach=1."""
    page.goto(f"{server}/{START}&teach=1")
    settle(page)
    for title in ("Order of accuracy", "Home"):
        page.locator('[data-testid="stTopNavLink"]', has_text=title).first.click()
        settle(page)
        _keeps_scenario(page, teach=True)
        assert page.locator('[data-testid="stSidebar"]').count() == 0
    page.locator('[data-testid="stPageLink"] a', has_text="Compare").first.click()
    settle(page)
    assert path(page.url) == "compare"
    _keeps_scenario(page, teach=True)
    page.go_back()
    settle(page)
    _keeps_scenario(page, teach=True)


def _font_sizes(page, selector: str) -> list[float]:
    return page.eval_on_selector_all(
        selector, "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))"
    )


def test_teaching_mode_reads_at_projector_size(server, page):
    """Finding 3: tick labels and legends grow with teaching mode."""
    sizes = {}
    for teach in ("", "&teach=1"):
        page.goto(f"{server}/{START}{teach}")
        settle(page)
        page.wait_for_selector(".js-plotly-plot .legendtext")
        sizes[teach] = (
            min(_font_sizes(page, ".js-plotly-plot .xtick text")),
            min(_font_sizes(page, ".js-plotly-plot .legendtext")),
        )
    assert sizes["&teach=1"][0] >= 16 and sizes["&teach=1"][1] >= 16, sizes
    assert sizes[""][0] < sizes["&teach=1"][0], sizes


# how much of each of the first two charts' map is drawn: contour paths or map pictures
MAP_DRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).slice(0, 2).map(
    g => g.querySelectorAll('.contourlayer path, .layer-subplot .imagelayer image').length)"""
STEP_LABEL = ".slider-container text"
# plotly says when an animation is over (plotly_animated), on the chart played
ANIMATED = """() => { window.__animated = false;
    document.querySelector('.js-plotly-plot').on('plotly_animated',
        () => { window.__animated = true; }); }"""


def test_play_and_the_step_slider_keep_the_map(server, page):
    """Finding 2: the animation moves the runs' markers over an unchanged background,
    in the browser alone (no message to the server)."""
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(f"{server}/playground?v=1&steps=80&grid=30")
    settle(page)
    page.wait_for_function(  # both maps on the page and drawn
        f"() => (m => m.length === 2 && m.every(n => n > 0))(({MAP_DRAWN})())", timeout=60_000
    )
    before, quiet = page.evaluate(MAP_DRAWN), len(sent)
    charts = page.locator(".js-plotly-plot")
    page.evaluate(ANIMATED)
    charts.nth(0).locator(".updatemenu-button").first.click()  # play
    page.wait_for_function("() => window.__animated", timeout=60_000)  # to its last frame
    assert page.evaluate(MAP_DRAWN) == before
    label = charts.nth(1).locator(STEP_LABEL, has_text="step n =")
    assert label.text_content().endswith("80")
    grip = charts.nth(1).locator(".slider-grip-rect").bounding_box()
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    page.mouse.move(grip["x"] - 150, grip["y"] + grip["height"] / 2, steps=8)
    page.mouse.up()
    expect(label).not_to_have_text(re.compile("80$"), timeout=30_000)  # the slider moved
    assert page.evaluate(MAP_DRAWN) == before
    assert len(sent) == quiet  # neither play nor the slider asked the server for anything


def test_a_non_finite_loss_is_explained(server, page):
    """Finding 6: log(x) leaves its domain; the page says which run and from which step."""
    page.goto(f"{server}/playground?v=1&loss=custom&f={quote('log(x)+y^2', safe='')}")
    settle(page)
    _no_exception(page)
    alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
    text = " ".join(alerts)
    assert "memory run" in text and "at step 5" in text and "nan" in text, alerts
    assert "memoryless run" in text  # each run with a non-finite loss has its warning
    assert "corrected run" not in text  # and only those
    metrics = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert "nan" not in metrics  # a metric says what the value means


HAS_SURFACE = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .some(g => (g.data || []).some(t => t.type === 'surface'))"""


def test_the_3d_view(server, page):
    """Finding 5: clipped to a robust range, with the runs and their start and end
    markers, a caption of its own, and kept in the URL."""
    page.goto(f"{server}/playground?v=1&steps=40&grid=30")
    settle(page)
    page.locator('[data-testid="stCheckbox"]', has_text="3D surface").locator("label").click()
    page.wait_for_function("() => location.search.includes('3d=1')", timeout=30_000)
    settle(page)
    page.wait_for_function(HAS_SURFACE, timeout=30_000)
    caption = page.locator('[data-testid="stMarkdown"]', has_text="in 3D").inner_text()
    assert "clipped" in caption and "dotted" not in caption
    traces = page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .map(g => g._fullData || []).find(d => d.some(t => t.type === 'surface'))
            .map(t => ({type: t.type, mode: t.mode || '', name: t.name || '',
                        top: t.type === 'surface'
                            ? Math.max(...Array.from(t.z, r => Math.max(...Array.from(r))))
                            : null}))"""
    )
    kinds = [(t["type"], t["mode"]) for t in traces]
    assert kinds.count(("scatter3d", "lines")) == 3  # the runs
    assert kinds.count(("scatter3d", "markers")) == 4  # three ends and the start
    assert any(t["name"] == "start" for t in traces)
    # clipped: the corner spike of L + hR is cut, the bulk of its values is not
    perturbed = compute.surfaces(Scenario.parse("v=1&steps=40&grid=30")).perturbed
    (top,) = [t["top"] for t in traces if t["type"] == "surface"]
    assert np.quantile(perturbed, 0.9) <= top < 0.5 * perturbed.max()
    page.reload()  # the shared URL keeps the 3D view
    settle(page)
    page.wait_for_function(HAS_SURFACE, timeout=30_000)
