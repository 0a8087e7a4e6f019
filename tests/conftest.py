import pytest
import torch

torch.set_default_dtype(torch.float64)


# --- the browser tests' fixtures (tests/browser.py; imported only where they are used) ---
# One Streamlit server and one Chromium serve every browser test of a run; each test
# module gets a fresh context (its own profile and viewport), each test a new tab.  Under
# pytest-xdist (`-n 2`, the README's command) one worker runs all of them, so a run starts
# one server and one Chromium, not one per worker: the scheduler below makes the browser
# modules one unit of work.  (xdist's own `--dist loadgroup` marks a group by renaming the
# tests' node ids, which pytest 9 no longer allows: the xdist_group mark has no effect.)

BROWSER_FIXTURES = {"served", "browser"}
WAIT_MS = 60_000  # a browser wait on a loaded 2-core machine (actions and expect alike)


def _browser_module(nodeid: str) -> bool:
    return nodeid.split("::")[0].rsplit("/", 1)[-1].startswith("test_browser")


def pytest_collection_modifyitems(items):
    for item in items:
        uses = BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses and not _browser_module(item.nodeid):
            raise pytest.UsageError(
                f"{item.nodeid} uses {sorted(uses)}: browser tests live in "
                "tests/test_browser*.py, which one xdist worker runs together"
            )


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_xdist_make_scheduler(config, log):
    """xdist's load scheduling (-n N), with the browser modules one unit of work."""
    if config.getoption("dist") not in ("load", "loadgroup"):
        return None  # a mode asked for explicitly (loadfile, worksteal, ...)
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if _browser_module(nodeid):
                return "browser"
            # the Ray modules on one worker: one local Ray for the run (`local_ray`), not
            # one per worker that draws a test (each start ~5 s and 2 CPUs of workers
            # that import torch again)
            return "ray" if nodeid.split("::")[0].endswith("_ray.py") else nodeid

    return BrowserTogether(config, log)


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray (2 CPUs) for every Ray test of the run (tests/*_ray.py)."""
    from ray_local import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """The app on a free local port for the run: its base URL and its log file."""
    from browser import serve

    log = tmp_path_factory.mktemp("server") / "server.log"
    with serve(log=log) as base:
        yield base, log


@pytest.fixture(scope="session")
def server(served):
    """The base URL of the app."""
    return served[0]


@pytest.fixture
def server_log(served):
    """The server's log (its stderr) from the start of the test on (browser.ServerLog)."""
    from browser import ServerLog

    return ServerLog(served[1])


@pytest.fixture(scope="session")
def browser():
    """Chromium, launched once for the run.  Playwright's `expect` waits 5 s by default:
    on a loaded 2-core machine a fresh session drew its sidebar later than that (a
    failed CI run), so its assertions wait as long as the contexts' actions."""
    from browser import chromium
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)

    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def context(browser, request):
    """A fresh context (profile) for one test module, with the module's VIEWPORT (width,
    height); each of its tabs follows its script runs (browser.settle)."""
    from browser import track

    width, height = getattr(request.module, "VIEWPORT", (1440, 900))
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(WAIT_MS)
    context.on("page", track)
    yield context
    context.close()


@pytest.fixture
def page(context):
    """A new tab, closed after the test (unless the test closed it)."""
    from browser import track

    page = context.new_page()
    track(page)
    yield page
    if not page.is_closed():
        page.close()
