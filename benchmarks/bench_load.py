"""Load: 20 concurrent browser sessions on different scenarios against one local server.

Starts `streamlit run app.py` on 127.0.0.1 (a free port; nothing else is contacted),
opens SESSIONS Chromium tabs at once (each its own browser context, so its own Streamlit
session) on distinct scenarios of /playground, /theory, /compare and /network, and
prints the errors (must be 0), the p50/p95 time from navigation to every figure drawn,
and the server's RSS before and after, and its peak.  Bounded: SESSIONS tabs, TIMEOUT_S
per tab.  --heavy opens maximal scenarios of /network, /sweep and /study instead (the
corners of bench_caps.py and bench_memory.py, each session's its own seed or start).

    python benchmarks/bench_load.py [--sessions 20] [--heavy]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import async_playwright  # noqa: E402

from tests.browser import ARGS, CHARTS_DRAWN, CHROMIUM, serve, server_pid  # noqa: E402

TIMEOUT_S = 420  # per tab: 20 tabs share two CPU cores with the server

# (path, figures drawn when done); {i} makes each session's scenario distinct
SCENARIOS = [
    ("playground?v=1&opt=adam&steps=400&x0={x}", 4),
    ("theory?v=1&opt=hb&b1=0.5&hs=0.04,0.02,0.01&x0={x}", 1),
    ("compare?v=1&steps=300&grid=60&x0={x}", 8),
    ("network?v=1&steps=60&n=200&width=8&seed={i}", 6),
]


HEAVY = [
    ("network?v=1&width=64&depth=4&steps=111&seed={i}", 6),
    ("sweep?v=1&opt=hb&x=lr:0.005:0.1:64&y=b1:0:0.95:64&steps=2000&x0={x}", 1),
    ("study?v=1&steps=1236&seed={i}", 1),
    ("network?v=1&n=2000&width=64&depth=1&steps=72&seed={i}", 6),
    ("sweep?v=1&x=b1:0.5:0.999:64&y=b2:0.5:0.999:64&steps=2000&x0={x}", 1),
]


def server_rss(base: str) -> int:
    pages = int(Path(f"/proc/{server_pid(base)}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def server_peak(base: str) -> int:
    """The server's highest RSS so far (the kernel's VmHWM)."""
    for line in Path(f"/proc/{server_pid(base)}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmHWM")


async def session(browser, base: str, i: int, scenarios) -> tuple[float | None, str | None]:
    path, figures = scenarios[i % len(scenarios)]
    url = f"{base}/{path.format(i=i, x=repr(-1.5 + 0.01 * i))}"
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    page = await context.new_page()
    t0 = time.perf_counter()
    try:
        await page.goto(url, timeout=TIMEOUT_S * 1000)
        await page.wait_for_function(
            f"n => ({CHARTS_DRAWN} >= n &&"
            " document.querySelector('[data-testid=stApp]')?.dataset.testScriptState"
            " === 'notRunning') || document.querySelector('[data-testid=stException]')"
            " || document.querySelector('[data-testid=stAlert] [data-testid=stAlertContentError]')",
            arg=figures,
            timeout=TIMEOUT_S * 1000,
            polling=100,
        )
        seconds = time.perf_counter() - t0
        failed = await page.locator(
            "[data-testid=stException], [data-testid=stAlertContentError]"
        ).count()
        return (None, f"{url}: an error on the page") if failed else (seconds, None)
    except Exception as err:  # a timeout or a crashed tab is an error of the run
        return None, f"{url}: {type(err).__name__}"
    finally:
        await context.close()


async def main(sessions: int, heavy: bool) -> None:
    scenarios = HEAVY if heavy else SCENARIOS
    with serve() as base:
        before = server_rss(base)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            t0 = time.perf_counter()
            runs = (session(browser, base, i, scenarios) for i in range(sessions))
            results = await asyncio.gather(*runs)
            wall = time.perf_counter() - t0
            await browser.close()
        after, peak = server_rss(base), server_peak(base)
    times = sorted(t for t, _ in results if t is not None)
    errors = [e for _, e in results if e is not None]
    print(f"sessions: {sessions} concurrent, {len(scenarios)} scenarios; wall {wall:.1f} s")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"errors: {len(errors)}")
    for e in errors:
        print(f"  {e}")
    if times:
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"time to drawn figures: p50 {statistics.median(times):.1f} s, p95 {p95:.1f} s")
    print(
        f"server RSS: before {before / 2**20:.0f} MiB, after {after / 2**20:.0f} MiB, "
        f"peak {peak / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--heavy", action="store_true", help="maximal /network, /sweep, /study")
    args = parser.parse_args()
    asyncio.run(main(min(args.sessions, 40), args.heavy))
