"""The second baseline of the first visit in benchmarks/bench_browser.py: the bare app's
four st.plotly_chart contour charts (benchmarks/bare_app.py) with /playground's sidebar
controls beside them (the same widget types and number: two selectboxes, five number
inputs with help, a button, a radio, two subheadings and a line of text), and nothing
computed.  It separates what a page of controls costs a first visit from what
/playground adds to one.

    streamlit run benchmarks/bare_app_controls.py
"""

import streamlit as st
from bare_app import draw_charts

with st.sidebar:
    st.subheader("Optimizer")
    st.selectbox("Optimizer", ["Heavy ball (SGD momentum)", "Adam", "Lion"])
    st.number_input("learning rate h", value=0.02, help="the step size")
    st.number_input("β (momentum)", value=0.7, help="how long the memory lasts")
    st.subheader("Loss and start")
    st.selectbox("Loss", ["Rosenbrock", "quadratic"])
    st.markdown("Start")
    st.number_input("x₀", value=-1.2, help="the start's x")
    st.number_input("y₀", value=1.0, help="the start's y")
    st.button("Random start")
    st.number_input("steps", value=100, help="how many steps")
    st.radio("perturbation step", ["the run's h", "another"], help="h of hR")
draw_charts()
