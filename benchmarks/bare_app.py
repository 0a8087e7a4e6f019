"""The baseline of the first visit in benchmarks/bench_browser.py: a bare Streamlit app
that draws four st.plotly_chart contour charts, as many as /playground draws, each a
60 x 60 grid (/playground's default), with nothing else on the page.

    streamlit run benchmarks/bare_app.py
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

GRID = 60


def draw_charts() -> None:
    x = np.linspace(-2, 2, GRID)
    X, Y = np.meshgrid(x, x)
    for i in range(4):
        z = (1 - X) ** 2 + (i + 1) * (Y - X**2) ** 2  # a Rosenbrock valley, four widths
        fig = go.Figure(go.Contour(x=x, y=x, z=np.log1p(z)))
        fig.update_layout(height=450, margin={"l": 40, "r": 10, "t": 30, "b": 30})
        st.plotly_chart(fig, key=f"contour-{i}")


if __name__ == "__main__":  # as `streamlit run` runs it
    draw_charts()
