"""The harness of the browser tests and benchmarks: `streamlit run app.py` on a free port
(and its process), Debian's Chromium through Playwright, and waits for a finished script
run.  The pytest fixtures built on it are in tests/conftest.py."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
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


@contextlib.contextmanager
def serve(timeout: float = 60, log: Path | None = None, script: str = "app.py") -> Iterator[str]:
    """The app (or another Streamlit script, relative to the repository) on a free local
    port; yields its base URL.  The server's log (its stderr) goes to the file `log` when
    given."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--browser.gatherUsageStats", "false"]
    with contextlib.ExitStack() as files:
        err = files.enter_context(open(log, "w")) if log is not None else subprocess.DEVNULL
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)
                    break
                except OSError as error:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"streamlit did not start within {timeout} s") from error
                    time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


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
def chromium(width: int = 1440, height: int = 900) -> Iterator:
    """A Playwright browser context of Debian's Chromium in a fresh profile, with a
    width x height viewport; closed on exit."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=ARGS,
            viewport={"width": width, "height": height},
        )
        yield context
        context.close()


def settle(page, timeout: float = 120) -> None:
    """Wait until the app is connected and its script run is over (three polls in a row)."""
    page.wait_for_selector(
        "[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=60_000
    )
    deadline, stable = time.monotonic() + timeout, 0
    while stable < 3:
        state = page.get_attribute("[data-testid=stApp]", "data-test-script-state")
        stable = stable + 1 if state == "notRunning" else 0
        if time.monotonic() > deadline:
            raise TimeoutError("the script run did not finish")
        time.sleep(0.25)
    page.wait_for_timeout(300)


def query(url: str) -> dict[str, str]:
    """The query parameters of url."""
    return dict(parse_qsl(urlsplit(url).query))


def path(url: str) -> str:
    """The page path of url, without slashes ('' for home)."""
    return urlsplit(url).path.strip("/")
