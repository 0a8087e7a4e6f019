"""/gallery: curated scenarios, each a thumbnail and a link with its full query."""

import streamlit as st

from ui import layout
from ui.gallery import GALLERY, thumbnail

st.title("Gallery")
st.caption(
    "Curated scenarios: each link opens its page with the full scenario in the URL. Each "
    "caption's claims are listed under it; the test suite computes every one of them."
)


columns = st.columns(3)
with st.spinner("Computing the thumbnails…"):
    for i, example in enumerate(GALLERY):
        with columns[i % 3].container(border=True):
            st.markdown(f"**{example.title}**")
            layout.chart(thumbnail(example), f"thumb-{i}", static=True)
            st.caption(example.blurb)
            if example.counterexample:
                st.caption(f"Counter-example: {example.counterexample}")
            st.caption("Claims, checked: " + "; ".join(c.text for c in example.claims) + ".")
            layout.page_link(example.page, f"Open in /{example.page} →", example.query)
