"""Entry point: `streamlit run app.py`.  The pages and their URL paths (shared links
depend on them); add a page by adding an st.Page to PAGES."""

import streamlit as st

from ui import state

st.set_page_config(
    page_title="Memory modifies the loss",
    page_icon="〰️",
    layout="wide",
    initial_sidebar_state="collapsed" if state.teaching() else "auto",
)

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/playground.py", title="Playground", icon="🎛️", url_path="playground"),
    st.Page("pages/theory.py", title="Order of accuracy", icon="📐", url_path="theory"),
    st.Page("pages/compare.py", title="Compare optimizers", icon="⚖️", url_path="compare"),
    st.Page("pages/gallery.py", title="Gallery", icon="🖼️", url_path="gallery"),
    st.Page("pages/about.py", title="About & formulas", icon="📖", url_path="about"),
]

# teaching mode projects in class: no sidebar, navigation on top
st.navigation(PAGES, position="top" if state.teaching() else "sidebar").run()
