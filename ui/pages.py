"""The app's pages, each written once (script, title, icon, URL path): app.py navigates
them, and links and switches between pages point at them, never at file names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:  # st.Page's return type, named in Streamlit's API reference
    from streamlit.navigation.page import StreamlitPage

# url path -> (script, title, icon); "" is the home page.  Shared links depend on the paths.
_PAGES = {
    "": ("app_pages/home.py", "Home", ":material/home:"),
    "lessons": ("app_pages/lessons.py", "Lessons", ":material/school:"),
    "playground": ("app_pages/playground.py", "Playground", ":material/tune:"),
    "theory": ("app_pages/theory.py", "Order of accuracy", ":material/show_chart:"),
    "compare": ("app_pages/compare.py", "Compare optimizers", ":material/compare:"),
    "network": ("app_pages/network.py", "Small networks", ":material/hub:"),
    "study": ("app_pages/study.py", "Seed study", ":material/stacked_line_chart:"),
    "sweep": ("app_pages/sweep.py", "Phase diagram", ":material/grid_on:"),
    "paper": ("app_pages/paper.py", "The paper's experiments", ":material/science:"),
    "gallery": ("app_pages/gallery.py", "Gallery", ":material/photo_library:"),
    "about": ("app_pages/about.py", "About & formulas", ":material/menu_book:"),
}


def page(url_path: str) -> StreamlitPage:
    """The page at `url_path` as a new st.Page: st.navigation marks the page object it
    returns as the one to run, so objects are made per script run, never shared between
    sessions."""
    script, title, icon = _PAGES[url_path]
    if not url_path:
        return st.Page(script, title=title, icon=icon, default=True)
    return st.Page(script, title=title, icon=icon, url_path=url_path)


def all_pages() -> list[StreamlitPage]:
    """Every page, in the order of the navigation."""
    return [page(url_path) for url_path in _PAGES]
