"""In a real browser (Debian's Chromium through Playwright, as tests/test_browser.py): the
time from a changed learning rate to every figure drawn, on /playground and /network,
and what the step scrubber and the 3D toggle cost.

    python benchmarks/bench_browser.py [--repeats 7] [--width 1440]

For each page: the learning rate is typed into the sidebar and committed (Enter); the
clock starts in the page right before the key press and stops at the last
`plotly_afterplot` of any chart once the script run is over and no chart has drawn for
a quiet second.  A new value each time (nothing cached) is the measure; the baseline in
the same run is a value the page showed before (ui.cache hit: the server only renders,
the browser only draws).  Target (issue 8): <= 1 s median on /playground.  The number
of chart draws a new value caused is printed too (ui.live_chart: one per changed chart,
where st.plotly_chart remounted every chart and drew it twice).  The step
scrubber is dragged with the websocket watched: the number of messages it sent to the
server is printed (target: 0, no round trip).  The first visit (measured first): a fresh
browser profile opening /playground, to its four charts drawn and the script run over, against
the same for a bare Streamlit app that draws four st.plotly_chart contour charts
(benchmarks/bare_app.py, its own server in this run; the two alternate, so a change of
the machine's load falls on both).  Target (issue 19): <= 1.25x.  A second baseline,
the bare app with /playground's sidebar controls (benchmarks/bare_app_controls.py, in
the same turns), separates what the controls cost from what /playground adds.  `--first-visit` runs
only that part.  The servers inherit the pinned thread counts; both are printed.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# isort: off
from _timing import pin_threads  # noqa: E402  (pins BLAS threads before torch, for the server)

from browser import ARGS, CHARTS_DRAWN, CHROMIUM, missing, serve, settle, track  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
# isort: on

BARE_APP = "benchmarks/bare_app.py"
BARE_CONTROLS = "benchmarks/bare_app_controls.py"  # the same with /playground's controls

# the page records when each chart last drew and when the script run ended
PROBE = """
window.__bench = {last: 0, draws: 0, done: 0};
const hook = g => {
  if (g.__benchHooked || !g.on) return;
  g.__benchHooked = true;
  if (g._fullLayout) { window.__bench.last = performance.now(); }
  g.on('plotly_afterplot', () => {
    window.__bench.last = performance.now();
    window.__bench.draws++;
  });
};
let running = false;
const tick = () => {
  document.querySelectorAll('.js-plotly-plot').forEach(hook);
  const app = document.querySelector('[data-testid=stApp]');
  const state = app && app.getAttribute('data-test-script-state');
  if (state === 'running') running = true;
  if (running && state !== 'running') { running = false; window.__bench.done = performance.now(); }
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""


def _commit(page, label: str, value: str) -> float:
    """Type value into the number input `label` and press Enter; the page's clock."""
    field = page.locator(f'[data-testid="stSidebar"] input[aria-label="{label}"]')
    field.fill(value)
    t0 = page.evaluate(
        "() => { window.__bench.last = 0; window.__bench.done = 0; window.__bench.draws = 0;"
        " return performance.now(); }"
    )
    field.press("Enter")
    return t0


def _drawn(page, t0: float, quiet_ms: float = 1000, timeout_s: float = 120) -> tuple[float, float]:
    """(seconds to the script's end, seconds to the last chart drawn) after t0."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        b = page.evaluate(
            "() => ({last: window.__bench.last, done: window.__bench.done, now: performance.now()})"
        )
        if b["done"] and b["last"] and b["now"] - max(b["last"], b["done"]) > quiet_ms:
            return (b["done"] - t0) / 1000, (b["last"] - t0) / 1000
        time.sleep(0.1)
    raise TimeoutError("the page did not finish drawing")


def _lr_changes(page, label: str, values: list[str], repeats: int) -> dict[str, list[float]]:
    """Round-robin: a new learning rate, then one the page showed before (cached); the
    times and the number of chart draws each change caused."""
    times = {k: [] for k in ("new", "cached", "script new", "script cached", "draws new")}
    for i in range(repeats):
        for kind, value in (("new", values[i + 1]), ("cached", values[0])):
            t0 = _commit(page, label, value)
            script, drawn = _drawn(page, t0)
            times[kind].append(drawn)
            times[f"script {kind}"].append(script)
            if kind == "new":
                times["draws new"].append(page.evaluate("() => window.__bench.draws"))
    return times


def _first_visit(browser, url: str, width: int) -> float:
    """Seconds from navigating a fresh context (no cache, no cookies) to url until four
    charts are drawn and the script run is over."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(
        f"() => {CHARTS_DRAWN} >= 4 && "
        "document.querySelector('[data-testid=stApp]')"
        ".getAttribute('data-test-script-state') === 'notRunning'",
        timeout=120_000,
        polling=50,
    )
    seconds = time.perf_counter() - t0
    context.close()
    return seconds


def _charts(page) -> int:
    return page.locator(".js-plotly-plot").count()


def _scrub(page) -> tuple[int, float]:
    """Drag the L + hR map's step slider: (messages sent to the server, seconds the drag
    took)."""
    chart = page.locator(".js-plotly-plot").nth(1)
    grip = chart.locator(".slider-grip-rect").bounding_box()
    before = len(page.evaluate("() => window.__sent"))
    y = grip["y"] + grip["height"] / 2
    t0 = time.perf_counter()
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(grip["x"] - 200, y, steps=10)
    page.mouse.up()
    elapsed = time.perf_counter() - t0
    page.wait_for_timeout(1000)
    sent = page.evaluate("() => window.__sent")[before:]
    return len(sent), elapsed


def _report(name: str, times: dict[str, list[float]], page_charts: int) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        f"{name}: changed lr -> every figure drawn: median {med['new']:.2f} s "
        f"(script {med['script new']:.2f} s) over {len(times['new'])}; "
        f"baseline (cached scenario): {med['cached']:.2f} s (script {med['script cached']:.2f} s); "
        f"ratio {med['new'] / med['cached']:.2f}x; all new: "
        + ", ".join(f"{t:.2f}" for t in times["new"])
        + f"; chart draws per change (median) {med['draws new']:g} of "
        f"{page_charts} charts"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--width", type=int, default=1440)
    ap.add_argument("--first-visit", action="store_true", help="only the first visit")
    a = ap.parse_args()
    if (reason := missing()) is not None:
        print(f"cannot run: {reason}")
        return 1
    print(pin_threads(1))
    print(f"Chromium {CHROMIUM}, viewport {a.width}x900, repeats {a.repeats}")
    print("load average (1, 5, 15 min) before: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    with (
        serve() as base,
        serve(script=BARE_APP) as bare,
        serve(script=BARE_CONTROLS) as controls,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        print(f"Chromium version {browser.version}")
        # the bare app, the bare app with controls and /playground (a scenario not
        # computed before) in turn
        first = {"bare": [], "controls": [], "app": []}
        _first_visit(browser, bare, a.width)  # each server's first script run imports
        _first_visit(browser, controls, a.width)  # (untimed)
        _first_visit(browser, f"{base}/playground?v=1&lr=0.029", a.width)
        for i in range(a.repeats):
            first["bare"].append(_first_visit(browser, bare, a.width))
            first["controls"].append(_first_visit(browser, controls, a.width))
            url = f"{base}/playground?v=1&lr={0.03 + 0.0005 * i:g}"
            first["app"].append(_first_visit(browser, url, a.width))
        med = {k: statistics.median(v) for k, v in first.items()}
        print(
            "first visit (a new browser profile, nothing cached) to four charts drawn and "
            f"the script over: /playground median {med['app']:.2f} s; baseline (a bare app "
            f"of four st.plotly_chart contours) {med['bare']:.2f} s; ratio "
            f"{med['app'] / med['bare']:.2f}x (target <= 1.25x); the bare app with "
            f"/playground's sidebar controls {med['controls']:.2f} s "
            f"({med['controls'] / med['bare']:.2f}x the bare app; /playground "
            f"{med['app'] / med['controls']:.2f}x it); all /playground: "
            + ", ".join(f"{t:.2f}" for t in first["app"])
            + "; all bare: "
            + ", ".join(f"{t:.2f}" for t in first["bare"])
            + "; all with controls: "
            + ", ".join(f"{t:.2f}" for t in first["controls"])
        )
        if a.first_visit:
            browser.close()
            return 0
        page = browser.new_page(viewport={"width": a.width, "height": 900})
        track(page)  # settle follows its script runs
        page.add_init_script(PROBE)
        page.add_init_script(
            """window.__sent = [];
            const send = WebSocket.prototype.send;
            WebSocket.prototype.send = function (d) { window.__sent.push(performance.now());
                                                      return send.call(this, d); };"""
        )

        page.goto(f"{base}/playground?v=1")
        settle(page)
        page.wait_for_timeout(1500)
        lrs = [f"{0.02 + 0.0005 * i:g}" for i in range(a.repeats + 1)]
        _report("/playground", _lr_changes(page, "learning rate h", lrs, a.repeats), _charts(page))

        sent, seconds = _scrub(page)
        print(
            f"/playground step scrubber: dragged over 10 positions in {seconds:.2f} s, "
            f"{sent} message(s) sent to the server"
        )
        t0 = page.evaluate(
            "() => { window.__bench.last = 0; window.__bench.done = 0; return performance.now(); }"
        )
        page.locator('[data-testid="stCheckbox"]', has_text="3D surface").locator("label").click()
        script, drawn = _drawn(page, t0)
        print(
            f"/playground 3D toggle (a fragment rerun): drawn in {drawn:.2f} s "
            f"(script {script:.2f} s)"
        )

        page.goto(f"{base}/network?v=1")
        settle(page)
        page.wait_for_timeout(1500)
        lrs = [f"{0.01 + 0.0005 * i:g}" for i in range(a.repeats + 1)]
        _report("/network", _lr_changes(page, "learning rate h", lrs, a.repeats), _charts(page))

        browser.close()
    print("load average (1, 5, 15 min) after: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
