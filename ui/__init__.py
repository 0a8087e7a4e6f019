"""The Streamlit app's helpers: figures (plots), the URL <-> scenario sync (state),
the sidebar controls (controls) and the downloads (export).  Pages only lay them out."""
