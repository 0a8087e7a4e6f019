"""The harness of the browser tests and benchmarks: `streamlit run app.py` on a free port
(and its process and log), Debian's Chromium through Playwright, and waits on the app's
own events: its health endpoint, its log lines, the end of a script run as the server
reports it on the page's websocket.  The pytest fixtures built on it (one server and one
Chromium per run, a context per module) are in tests/conftest.py."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JS: how many charts are drawn (a plotly chart holds several .main-svg layers, so a
# count of those layers reached n with half the charts drawn or fewer)
CHARTS_DRAWN = (
    "[...document.querySelectorAll('.js-plotly-plot')]"
    ".filter(d => d.querySelector('.main-svg')).length"
)
POLL_S = 0.05  # how often a condition outside the browser (a log, a port) is asked again


def missing() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright python package is not installed"
    return (
        None if Path(CHROMIUM).exists() else f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    )


def skip_or_fail(pytest) -> None:
    """Skip the calling test module without a browser; CI sets REQUIRE_BROWSER=1, where a
    missing browser is a failure instead."""
    if (reason := missing()) is not None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"browser test required but {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, what: str) -> None:
    """Ask condition() until it holds; TimeoutError naming `what` past timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (waited {timeout:g} s)")
        time.sleep(POLL_S)


@contextlib.contextmanager
def serve(timeout: float = 60, log: Path | None = None, script: str = "app.py") -> Iterator[str]:
    """The app (or another Streamlit script, relative to the repository) on a free local
    port; yields its base URL once its health endpoint answers.  The server's log (its
    stderr) goes to the file `log` when given."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--browser.gatherUsageStats", "false"]
    with contextlib.ExitStack() as files:
        err = files.enter_context(open(log, "w")) if log is not None else subprocess.DEVNULL
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with status {proc.returncode}")
            try:
                urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)
                return True
            except OSError:
                return False

        try:
            wait_until(healthy, timeout, "streamlit did not answer on its health endpoint")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


class ServerLog:
    """The server's log from a point on: what a test's own actions made it write, not
    what earlier tests on the same server did."""

    def __init__(self, path: Path):
        self.path = path
        self.start = path.stat().st_size

    def text(self) -> str:
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read().decode(errors="replace")

    def wait_for(self, line: str, timeout: float = 60) -> None:
        """Wait until `line` is logged; TimeoutError (with the log) if it never is."""
        try:
            wait_until(lambda: line in self.text(), timeout, f"the server never logged {line!r}")
        except TimeoutError as error:
            raise TimeoutError(f"{error}; its log since:\n{self.text()[-3000:]}") from None


def server_pid(base: str) -> int:
    """The process id of the streamlit server at base URL (its port on the command line)."""
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in b" ".join(cmd) and port.encode() in cmd:
                return int(proc.name)
    raise LookupError(f"no streamlit process on port {port}")


@contextlib.contextmanager
def chromium() -> Iterator:
    """Debian's Chromium through Playwright, closed on exit.  Open a context of it
    (browser.new_context: a fresh profile, its own viewport) per test module."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


class _Runs:
    """A tab's script runs as the server reports them on its websocket (one ForwardMsg a
    frame): a run starts at `new_session`; a chain of runs ends at a `script_finished`
    that is not for a rerun (st.rerun, st.switch_page or a widget changed mid-run)."""

    def __init__(self):
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg, self.started, self.ended, self.running, self.seen = ForwardMsg, 0, 0, False, 0

    def socket(self, ws) -> None:
        if urlsplit(ws.url).path.endswith("/_stcore/stream"):
            self.seen, self.running = self.ended, False  # a new page: its own runs count
            ws.on("framereceived", self.frame)

    def frame(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = self._msg.FromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.started, self.running = self.started + 1, True
        elif kind == "script_finished" and msg.script_finished != msg.FINISHED_EARLY_FOR_RERUN:
            self.ended, self.running = self.ended + 1, False


def track(page):
    """Follow the script runs of `page` (before its first goto; the fixtures' pages are
    tracked).  Returns its run record."""
    if not hasattr(page, "_script_runs"):
        page._script_runs = _Runs()
        page.on("websocket", page._script_runs.socket)
    return page._script_runs


def pump_until(page, condition, timeout: float, what: str) -> None:
    """wait_until for a condition on what Playwright reports of `page` (its websocket's
    frames), which it delivers while the page is waited on."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (waited {timeout:g} s)")
        page.wait_for_timeout(POLL_S * 1000)


def wait_for_run_start(page, after: int, timeout: float = 60) -> None:
    """Wait until the server has started more than `after` script runs for this tab
    (`track(page).started` before the action that asks for one)."""
    runs = track(page)
    pump_until(page, lambda: runs.started > after, timeout, "no script run started")


def settle(page, timeout: float = 120) -> None:
    """Wait until a chain of script runs has ended since the last settle (a page load, a
    widget changed, a link followed) and the page shows it: the server said so on the
    websocket and the app is connected and not running."""
    runs = track(page)

    def ended() -> bool:
        return runs.ended > runs.seen and not runs.running

    pump_until(page, ended, timeout, "no script run ended")
    runs.seen = runs.ended
    page.wait_for_selector(
        "[data-testid=stApp][data-test-connection-state=CONNECTED]"
        "[data-test-script-state=notRunning]",
        state="attached",
        timeout=timeout * 1000,
    )


def open_charts(page, url: str, charts: int) -> None:
    """Load url; return once its script run is over and `charts` charts are drawn (or an
    exception is shown: check_page reports it)."""
    page.goto(url)
    settled_with_charts(page, charts)


def settled_with_charts(page, charts: int) -> None:
    """Wait for the end of the script run (settle) and `charts` charts drawn (or an
    exception shown: check_page reports it)."""
    settle(page)
    page.wait_for_function(
        f"n => {CHARTS_DRAWN} >= n"
        " || document.querySelector('[data-testid=\"stException\"]') !== null",
        arg=charts,
        timeout=120_000,
    )


def check_page(page, name: str, charts: int) -> None:
    """A screenshot in artifacts/ (gitignored), no exception on the page, and at least
    `charts` charts."""
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()[:500]
    if charts:
        assert page.locator(".js-plotly-plot").count() >= charts


def query(url: str) -> dict[str, str]:
    """The query parameters of url."""
    return dict(parse_qsl(urlsplit(url).query))


def path(url: str) -> str:
    """The page path of url, without slashes ('' for home)."""
    return urlsplit(url).path.strip("/")
