"""/gallery: curated scenarios, each a thumbnail and a link with its full query."""

from dataclasses import replace

import streamlit as st

from core.network_scenario import NetworkScenario
from core.scenario import Scenario
from core.sweep import SweepScenario
from ui import cache, layout, network_plots, plots, sweep_plots
from ui.gallery import GALLERY

st.title("Gallery")
st.caption(
    "Curated scenarios: each link opens its page with the full scenario in the URL. Each "
    "caption's claims are listed under it; the test suite computes every one of them."
)


def thumbnail(page: str, query: str):
    if page == "sweep":  # the theory's verdict on a coarser grid, few steps
        s = SweepScenario.parse(query)
        small = {a: replace(getattr(s, a), n=min(getattr(s, a).n, 12)) for a in ("x", "y")}
        s = replace(s, steps=min(s.steps, 60), **small)
        return sweep_plots.thumbnail_figure(cache.sweep(s))
    if page == "network":  # the distances of the two memoryless runs to the memory run
        s = NetworkScenario.parse(query.replace("&compare=1", "")).updated(steps=50)
        return network_plots.thumbnail_figure(cache.network_result(s))
    s = Scenario.parse(query)
    s = s.updated(grid=40, steps=min(s.steps, 120))  # a sketch: coarse map, few steps
    return plots.thumbnail_figure(cache.surfaces(s), cache.summary(s))


columns = st.columns(3)
with st.spinner("Computing the thumbnails…"):
    for i, example in enumerate(GALLERY):
        with columns[i % 3].container(border=True):
            st.markdown(f"**{example.title}**")
            layout.chart(thumbnail(example.page, example.query), f"thumb-{i}", static=True)
            st.caption(example.blurb)
            if example.counterexample:
                st.caption(f"Counter-example: {example.counterexample}")
            st.caption("Claims, checked: " + "; ".join(c.text for c in example.claims) + ".")
            layout.page_link(example.page, f"Open in /{example.page} →", example.query)
