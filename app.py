"""Entry point: `streamlit run app.py`.  The pages and their URL paths (shared links
depend on them) are written once, in ui/pages.py.

The page scripts live in app_pages/, not pages/: with a pages/ folder next to this file,
Streamlit runs its legacy multipage mode (pages from pages/ file names) in each server
process until this file's st.navigation first runs, i.e. until a session opens the root
URL; a deep link opened first after a restart would run pages/<page>.py and skip this
file."""

import gc
import logging

import streamlit as st

from core import threads
from ui import dropped_query, live_chart, pages, state


@st.cache_resource(show_spinner=False)
def _threads() -> int:
    """MEMORY_THREADS, read once per server process (a bad value is logged once)."""
    try:
        return threads.requested()
    except ValueError as err:
        logging.getLogger("app").warning("%s; using %d", err, threads.DEFAULT)
        return threads.DEFAULT


@st.cache_resource(show_spinner=False)
def _log_to_stderr() -> bool:
    """Once per server process: the app's own lines (loggers "app" and "ui": errors, the
    long computations started and stopped) on the server's stderr, from INFO up."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name("memory-app")  # a cleared resource cache runs this again: one handler
    for name in ("app", "ui"):
        logger = logging.getLogger(name)
        if not any(h.get_name() == handler.get_name() for h in logger.handlers):
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return True


@st.cache_resource(show_spinner=False)
def _freeze_heap() -> bool:
    """Once per server process, after the first page ran (its imports done): the objects
    alive then (torch, plotly, Streamlit and the app's modules, ~260,000) are moved out of
    the garbage collector's scans.  Streamlit collects every generation after each script
    run (runner.postScriptGC), and scanning them took 0.15-0.3 s of every run; garbage
    made later is collected as before."""
    gc.collect()
    gc.freeze()
    return True


_log_to_stderr()
# every script run has its own thread, and torch's OpenMP pool takes the count per thread
threads.pin(_threads())
state.arrive()
st.set_page_config(
    page_title="Memory modifies the loss",
    page_icon=":material/timeline:",
    layout="wide",
    initial_sidebar_state="collapsed" if state.teaching() else "auto",
)


# teaching mode projects in class: no sidebar, navigation on top
page = st.navigation(pages.all_pages(), position="top" if state.teaching() else "sidebar")
if not state.teaching():  # teaching mode has no sidebar: its charts load plotly.js
    with st.sidebar:
        live_chart.preload()
dropped_query.check()
try:
    page.run()
except Exception:  # st.stop and st.rerun are BaseExceptions: they pass through
    # the details stay on the server (config: client.showErrorDetails = "none")
    logging.getLogger("app").exception("unexpected error on page %r", page.url_path)
    st.error(
        "Something went wrong while drawing this page. The error was logged; try other "
        "settings, or open the page again.",
        icon=":material/error:",
    )
_freeze_heap()
