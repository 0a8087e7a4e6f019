"""The charts drawn in place (ui.live_chart): plotly.js served from the installed package
on public APIs only (no file of Streamlit's build, nothing written into the app's
folder), the page's figures carried whole, one key per chart."""

from __future__ import annotations

import ast
import gc
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import app_harness
import plotly

ROOT = Path(__file__).resolve().parents[1]
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # the installed


# the route Streamlit serves a declared component's files under (components v1)
PLOTLY_URL = "/component/ui.live_chart.plotly_js/plotly.min.js"
# what naming Streamlit's own build or a copy in the app's folder looks like
BUILD_FILES = ("st.__file__", "streamlit.__file__", "static/static", "PlotlyChart", "/static/")


def test_the_ui_names_no_file_of_streamlit_s_build():
    """Charts on public APIs only: a Streamlit upgrade renames its build files."""
    sources = [*(ROOT / "ui").glob("*.py"), *(ROOT / "ui").glob("*.js"), ROOT / "app.py"]
    for source in sources:
        text = source.read_text()
        assert not [s for s in BUILD_FILES if s in text], source.name
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert "enableStaticServing" not in config.get("server", {})


# the modules below `streamlit` the app may import at run time, each documented by
# Streamlit: components v1 (declare_component) and the script run context
# (get_script_run_ctx, in its guide to threads); st.Page's type only for type checking
PUBLIC_MODULES = {"streamlit.components.v1", "streamlit.runtime.scriptrunner"}


def test_the_app_imports_only_documented_streamlit_modules():
    """Streamlit's logger (streamlit.logger) was imported for the app's own log lines:
    they are the standard library's logging now (app.py: `_log_to_stderr`)."""
    sources = [*(ROOT / "ui").glob("*.py"), *(ROOT / "app_pages").glob("*.py"), ROOT / "app.py"]
    for source in sources:
        tree = ast.parse(source.read_text())
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
            for n in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("streamlit."):
                    assert name in PUBLIC_MODULES, (source.name, name)


def test_the_repository_holds_no_copy_of_plotly_js():
    """plotly.js comes from the installed package only: a copy in the repository (a
    static/plotly.min.js was committed once, written there by an old fallback) could
    disagree with the installed plotly, and it hid such a fallback from the test below
    (the copy it imports in would already hold the file)."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    size = PLOTLY_JS.stat().st_size
    copies = [
        name
        for name in filter(None, (f.decode() for f in files))
        if Path(name).name.lower().startswith("plotly")
        or ((ROOT / name).is_file() and (ROOT / name).stat().st_size == size)
    ]
    assert copies == []


def test_importing_the_ui_writes_nothing_into_the_app_s_folder(tmp_path):
    """The app on a read-only deployment: a copy of the repository (its tracked files),
    every ui module imported there, and the copy's files the same as before."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp_path / name)

    def tree() -> dict[str, tuple[int, int]]:
        return {
            str(f.relative_to(tmp_path)): (f.stat().st_size, f.stat().st_mtime_ns)
            for f in tmp_path.rglob("*")
            if f.is_file()
        }

    before = tree()
    modules = sorted(f"ui.{f.stem}" for f in (tmp_path / "ui").glob("*.py"))
    imports = "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]"
    subprocess.run(
        [sys.executable, "-c", imports, *modules],
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"},
        check=True,
        capture_output=True,
    )
    assert tree() == before


def test_the_playground_charts_carry_their_whole_figures():
    at = app_harness.open_page("playground", {"v": "1", "steps": "30", "grid": "20"})
    assert not at.exception, at.exception
    charts = app_harness.live_charts(at)
    assert len(charts) == 4 and len({c["revision"] for c in charts}) == 4
    for data in charts:
        figure = json.loads(data["spec"])
        assert figure["data"] and data["height"] == figure["layout"]["height"]
        assert data["plotly"] == PLOTLY_URL
    assert [c["clickable"] for c in charts] == [True, False, False, False]  # the map of L
    first = json.loads(charts[0]["spec"])
    assert len(first["frames"]) > 1  # the step scrubber's frames travel with the figure


def test_every_page_preloads_plotly_js():
    """The sidebar's first element starts loading plotly.js into the page's head, once
    per page load (a script in st.html: a mount of the chart component would wait for
    the component's code first), before a page's computation is over."""
    for page in ("home", "about", "playground"):
        at = app_harness.open_page(page, {})
        assert not at.exception, at.exception
        assert not [
            e for e in at.sidebar.get("bidi_component") if e.proto.component_name == "live_chart"
        ], page
        first = at.sidebar[0]
        assert first.type == "html" and first.proto.unsafe_allow_javascript, page
        script = first.proto.body
        assert json.dumps(PLOTLY_URL) in script and "document.head.appendChild" in script
        assert script.index("!window.Plotly && !document.getElementById") < script.index(
            "createElement"
        )  # a rerun or another page draws it again: no second copy


def test_the_server_watches_no_files_and_freezes_its_heap():
    """A session's start registered a watch on every module of the app (0.8 s before its
    first script run, on every first visit), and Streamlit's collection after every
    script run scanned the ~260,000 objects of the libraries (0.15-0.3 s a run)."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    at = app_harness.open_page("about", {})
    assert not at.exception, at.exception
    assert gc.get_freeze_count() > 100_000
