"""The Streamlit app's helpers: the URL <-> scenario sync (state), the sidebars
(*controls), the caches (cache), the figures (*plots, style, raster) and the page pieces
several pages share (layout).  Pages only lay them out."""
