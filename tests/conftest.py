import pytest
import torch

torch.set_default_dtype(torch.float64)


# --- the browser tests' fixtures (tests/browser.py; imported only where they are used) ---


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on a free local port for one test module: its base URL and its log."""
    from browser import serve

    log = tmp_path_factory.mktemp("server") / "server.log"
    with serve(log=log) as base:
        yield base, log


@pytest.fixture(scope="module")
def server(served):
    """The base URL of the module's app."""
    return served[0]


@pytest.fixture(scope="module")
def server_log(served):
    """The file the module's app logs to (its stderr)."""
    return served[1]


@pytest.fixture(scope="module")
def context(request):
    """A fresh Chromium for one test module, with the module's VIEWPORT (width, height)."""
    from browser import chromium

    with chromium(*getattr(request.module, "VIEWPORT", (1440, 900))) as context:
        yield context


@pytest.fixture
def page(context):
    """A new tab, closed after the test (unless the test closed it)."""
    page = context.new_page()
    yield page
    if not page.is_closed():
        page.close()
