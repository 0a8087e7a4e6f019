"""Pages that behave, in a real browser (Debian's Chromium through Playwright): the
scenario and the app's flags survive navigation in every direction, the step scrubber
and play keep the map, the 3D view and non-finite losses are labelled."""

from __future__ import annotations

import tempfile

import pytest
from browser import ARGS, CHROMIUM, path, query, serve, settle, skip_or_fail

skip_or_fail(pytest)

from playwright import sync_api  # noqa: E402

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


@pytest.fixture(scope="module")
def server():
    with serve() as base:
        yield base


@pytest.fixture(scope="module")
def browser_context():
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, viewport={"width": 1440, "height": 900}
        )
        yield context
        context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    yield page
    page.close()


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
    sidebar = page.locator('[data-testid="stSidebar"]')
    x0 = sidebar.locator('input[aria-label="start x₀"]')
    assert x0.input_value() == "1.5"
    if path(page.url) == "compare":
        return
    assert sidebar.locator('input[aria-label="Optimizer"]').input_value() == "Adam"
    if path(page.url) == "playground":
        assert sidebar.locator('input[aria-label="learning rate h"]').input_value() == "0.05"


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
