"""Charts drawn in place (ui.live_chart), in a real browser: a changed setting redraws
each changed chart once, in the same element, and an unchanged one not at all; the
margins already hold every chart (plotly draws a chart again to widen a margin); the
charts take the app theme's text colour, light or dark."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import plotly
import pytest
from browser import CHARTS_DRAWN, open_charts, settle, skip_or_fail

skip_or_fail(pytest)

URL = "playground?v=1&steps=60&grid=30"
BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

# from the page's start: every figure handed to Plotly.react is counted on its chart, and
# window.__drawing is how many of them are still being drawn (react returns a promise)
COUNT_REACTS = """(() => {
    let plotly;
    const wrap = p => {
        if (!p || !p.react || p.react.__counted) return;
        const react = p.react;
        p.react = function (g, ...rest) {
            g.__reacts = (g.__reacts || 0) + 1;
            window.__drawing += 1;
            return Promise.resolve(react.call(this, g, ...rest))
                .finally(() => { window.__drawing -= 1; });
        };
        p.react.__counted = true;
    };
    window.__drawing = 0;
    Object.defineProperty(window, 'Plotly', {
        configurable: true, get: () => plotly, set: p => { plotly = p; wrap(p); } });
})()"""
DRAWN = "() => window.__drawing === 0"
# tag every chart's element and count its draws and the figures it is handed from now on
DATA = "JSON.stringify(g.data.map(t => [t.x, t.y, t.z, t.customdata]))"
WATCH = f"""() => document.querySelectorAll('.js-plotly-plot').forEach((g, i) => {{
    g.__tag = i; g.__draws = 0; g.__reacts = 0; g.__before = {DATA};
    g.on('plotly_afterplot', () => {{ g.__draws += 1; }});
}})"""
SEEN = f"""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => ({{
    tag: g.__tag, draws: g.__draws, reacts: g.__reacts, changed: g.__before !== {DATA}}}))"""
# the rerun's figures have reached both maps and every figure handed over is drawn
REDRAWN = f"() => ({DRAWN})() && ({SEEN})().slice(0, 2).every(c => c.changed)"


@pytest.fixture(autouse=True)
def _count_reacts(page):
    page.add_init_script(COUNT_REACTS)


def _open(page, url: str) -> None:
    """Load url; return once its four charts are drawn (every figure handed over)."""
    open_charts(page, url, charts=4)
    page.wait_for_function(DRAWN, timeout=30_000)


def test_a_changed_setting_redraws_each_changed_chart_once_in_place(server, page):
    _open(page, f"{server}/{URL}")
    # the harness waits on charts drawn, not on their layers: a plotly chart holds several
    # .main-svg layers, and a count of those reached 4 with two charts drawn
    assert page.evaluate(f"() => {CHARTS_DRAWN}") == page.locator(".js-plotly-plot").count() == 4
    layers = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".map(d => d.querySelectorAll('.main-svg').length)"
    )
    assert min(layers) >= 2, layers
    page.evaluate(WATCH)
    field = page.locator('[data-testid="stSidebar"] input[aria-label="learning rate h"]')
    field.fill("0.03")
    field.press("Enter")
    page.wait_for_function("() => location.search.includes('lr=0.03')", timeout=30_000)
    settle(page)  # every chart's figure of the rerun has reached the page
    page.wait_for_function(REDRAWN, timeout=30_000)
    seen = page.evaluate(SEEN)
    assert [c["tag"] for c in seen] == [0, 1, 2, 3], seen  # the same four elements
    for chart in seen:  # a changed figure is drawn once, an unchanged one not handed over
        assert chart["reacts"] == chart["draws"] == (1 if chart["changed"] else 0), seen


def test_the_margins_hold_every_chart(server, page):
    """Plotly widens a margin too narrow for a colour bar, the ticks or the legend by
    drawing the whole chart a second time: the margins given are the ones drawn."""
    _open(page, f"{server}/{URL}")
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => {
            const m = g.layout.margin, s = g._fullLayout._size;
            return [[m.l, m.r, m.t, m.b], [s.l, s.r, s.t, s.b]]; })"""
    )
    assert len(drawn) == 4
    for given, used in drawn:
        assert given == used, drawn


LUMINANCE = """() => {
    const fill = getComputedStyle(document.querySelector('.js-plotly-plot .xtick text')).fill;
    const [r, g, b] = fill.match(/[0-9.]+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; }"""


@pytest.mark.parametrize(("scheme", "light_text"), [("dark", True), ("light", False)])
def test_the_charts_take_the_theme_text_colour(server, page, scheme, light_text):
    page.emulate_media(color_scheme=scheme)
    _open(page, f"{server}/{URL}")
    luminance = page.evaluate(LUMINANCE)
    assert (luminance > 0.6) if light_text else (luminance < 0.4), (scheme, luminance)


WIDTHS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
    g => [g._fullLayout.width, g.clientWidth])"""
# every chart drawn narrower than before, at its column's width
NARROWED = f"""wide => ({WIDTHS})().every(
    ([after, column], i) => after < wide[i][0] && Math.abs(after - column) <= 1)"""


def test_the_charts_follow_their_column_width(server, page):
    _open(page, f"{server}/{URL}")
    wide = page.evaluate(WIDTHS)
    page.set_viewport_size({"width": 1000, "height": 900})
    page.wait_for_function(NARROWED, arg=wide, timeout=30_000)
    assert len(page.evaluate(WIDTHS)) == len(wide) == 4


def test_plotly_js_is_the_installed_package_s(server, page):
    """The charts' plotly.js is the one file the installed plotly package ships, served
    as a component's own asset, not Streamlit's chart module."""
    _open(page, f"{server}/{URL}")
    loaded = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    plotly_js = [url for url in loaded if url.endswith("/plotly.min.js")]
    assert len(plotly_js) == 1 and "/component/" in plotly_js[0], loaded
    assert not [url for url in loaded if "/PlotlyChart." in url], loaded
    with urllib.request.urlopen(plotly_js[0], timeout=30) as response:
        assert response.read() == BUNDLE.read_bytes()


SCRIPTS = "() => document.querySelectorAll('script[src$=\"/plotly.min.js\"]').length"


def test_plotly_js_is_loaded_once_across_reruns_and_pages(server, page):
    """The sidebar's preload runs again on every script run and page: plotly.js stays
    the one script the first run loaded (a second copy would be 4.8 MB parsed again and
    a new Plotly under the drawn charts)."""
    _open(page, f"{server}/{URL}")
    page.evaluate("() => { window.Plotly.__first = true; }")
    page.get_by_test_id("stSidebarNav").get_by_text("Order of accuracy").click()
    settle(page)
    page.get_by_test_id("stSidebarNav").get_by_text("Playground").click()
    settle(page)
    page.wait_for_function(DRAWN, timeout=30_000)
    assert page.evaluate("() => window.Plotly.__first === true")
    assert page.evaluate(SCRIPTS) == 1


def test_a_failed_plotly_js_load_is_tried_again_by_the_charts(browser, server):
    """The preload's request fails: the first chart removes its script and loads plotly.js
    itself, and every chart is drawn."""
    from browser import track

    context = browser.new_context(viewport={"width": 1440, "height": 900})  # nothing cached
    failed = []

    def fail_once(route):
        if failed:
            route.continue_()
        else:
            failed.append(route.request.url)
            route.abort()

    context.route("**/plotly.min.js", fail_once)
    try:
        page = context.new_page()
        track(page)
        page.add_init_script(COUNT_REACTS)
        _open(page, f"{server}/{URL}")
        assert len(failed) == 1
        assert page.evaluate(SCRIPTS) == 1 and page.evaluate("() => typeof window.Plotly.react")
    finally:
        context.close()
