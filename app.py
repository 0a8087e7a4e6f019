"""Entry point: `streamlit run app.py`.  The pages and their URL paths (shared links
depend on them); add a page by adding an st.Page to PAGES.

The page scripts live in app_pages/, not pages/: with a pages/ folder next to this file,
Streamlit runs its legacy multipage mode (pages from pages/ file names) in each server
process until this file's st.navigation first runs, i.e. until a session opens the root
URL; a deep link opened first after a restart would run pages/<page>.py and skip this
file."""

import logging

import streamlit as st

from ui import state

state.arrive()
st.set_page_config(
    page_title="Memory modifies the loss",
    page_icon=":material/timeline:",
    layout="wide",
    initial_sidebar_state="collapsed" if state.teaching() else "auto",
)

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page(
        "app_pages/playground.py", title="Playground", icon=":material/tune:", url_path="playground"
    ),
    st.Page(
        "app_pages/theory.py",
        title="Order of accuracy",
        icon=":material/show_chart:",
        url_path="theory",
    ),
    st.Page(
        "app_pages/compare.py",
        title="Compare optimizers",
        icon=":material/compare:",
        url_path="compare",
    ),
    st.Page(
        "app_pages/network.py",
        title="Small networks",
        icon=":material/hub:",
        url_path="network",
    ),
    st.Page(
        "app_pages/study.py",
        title="Seed study",
        icon=":material/stacked_line_chart:",
        url_path="study",
    ),
    st.Page(
        "app_pages/sweep.py",
        title="Phase diagram",
        icon=":material/grid_on:",
        url_path="sweep",
    ),
    st.Page(
        "app_pages/gallery.py", title="Gallery", icon=":material/photo_library:", url_path="gallery"
    ),
    st.Page(
        "app_pages/about.py",
        title="About & formulas",
        icon=":material/menu_book:",
        url_path="about",
    ),
]

# teaching mode projects in class: no sidebar, navigation on top
page = st.navigation(PAGES, position="top" if state.teaching() else "sidebar")
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
