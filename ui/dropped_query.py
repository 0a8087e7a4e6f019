"""A link whose query Streamlit dropped whole would show the defaults with no word: the
browser measures the URL it loaded and the page says what happened."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# Streamlit 1.67 ignores a query string past these (its query_params module's limits)
MAX_FIELDS = 1000
MAX_LENGTH = 512 * 1024
_KEY = "dropped-query"  # the element's key
_SEEN = "_dropped_query"  # session key: what the browser reported
_MOUNT = st.components.v2.component(
    "dropped_query",
    html="",
    js=Path(__file__).with_name("dropped_query.js").read_text(),
)


def _reported() -> None:
    if report := st.session_state[_KEY].get("dropped"):
        st.session_state[_SEEN] = report


def check() -> None:
    """Mount the browser's measure (it reports once per page load) and say on this run
    whether the page's query was dropped."""
    if report := st.session_state.pop(_SEEN, None):
        st.warning(
            f"This link's query had {int(report['fields']):,} parameters and "
            f"{int(report['length']):,} characters, more than Streamlit reads "
            f"({MAX_FIELDS:,} parameters, "
            f"{MAX_LENGTH:,} characters): all of it "
            "was ignored, and the page shows its defaults.",
            icon=":material/warning:",
        )
    _MOUNT(
        key=_KEY,
        data={
            "max_fields": MAX_FIELDS,
            "max_length": MAX_LENGTH,
        },
        on_dropped_change=_reported,
    )
