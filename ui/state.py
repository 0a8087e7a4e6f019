"""The URL is the single source of truth for the scenario a page shows.

A page calls `scenario()`: it parses st.query_params (lenient: each bad value falls back
to its default with a visible warning naming the key), writes the normalized query back,
and seeds the sidebar widgets from it.  When a widget shows a value other than the
scenario's, ui.controls derives the next scenario, publishes it with `publish()` and
reruns, so the URL, the widgets and the figures never disagree, and a copied URL
reproduces the page in a fresh browser.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from core.scenario import HYPER_KEYS, Scenario

# URL flags of the app itself, not scenario fields: kept out of Scenario.from_query (no
# 'unknown key' warnings) and carried along whenever the scenario is published.
APP_FLAGS = ("teach",)
_CURRENT = "_scenario"  # the published query string: pages carry it across navigation
_SEEDED = "_seeded"  # the query string the widgets were last seeded from
WIDGET = "w_"  # prefix of the widget keys that mirror scenario fields


def flags() -> dict[str, str]:
    return {k: st.query_params[k] for k in APP_FLAGS if k in st.query_params}


def teaching() -> bool:
    return st.query_params.get("teach") == "1"


def current() -> Scenario:
    """The published scenario (for callbacks, which run before the page script)."""
    return Scenario.from_query(st.session_state.get(_CURRENT, ""))[0]


def scenario() -> Scenario:
    raw = {k: v for k, v in st.query_params.to_dict().items() if k not in APP_FLAGS}
    if not raw and _CURRENT in st.session_state:
        # moving between pages drops the query: keep showing this session's scenario.
        # A shared link always has v=1, so it never lands here.
        raw = st.session_state[_CURRENT]
    s, warnings = Scenario.from_query(raw)
    for w in warnings:
        st.warning(f"URL setting ignored. {w}", icon=":material/warning:")
    publish(s)
    query = s.to_query()
    seed(s, force=st.session_state.get(_SEEDED) != query)
    st.session_state[_SEEDED] = query
    return s


def publish(s: Scenario) -> None:
    """Put s in the URL (with the app flags) and the session; the next page run (or
    this one, from a callback) seeds the widgets from it."""
    params = s.to_params() | flags()
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    st.session_state[_CURRENT] = s.to_query()


def widget_values(s: Scenario) -> dict[str, object]:
    """What each mirrored widget shows for s."""
    values: dict[str, object] = {
        "opt": s.opt,
        "lr": s.lr,
        "loss": s.loss,
        "x0": s.x0,
        "y0": s.y0,
        "steps": s.steps,
        "hs": ", ".join(f"{h:g}" for h in s.hs),
        "T": s.T,
        "cmp": list(s.cmp),
    }
    values |= {k: getattr(s, k) for k in HYPER_KEYS if getattr(s, k) is not None}
    if s.f is not None:
        values["f"] = s.f
    return values


def seed(s: Scenario, force: bool) -> None:
    """Set the widget states from s: all of them when s changed, else only the missing
    ones (Streamlit forgets the state of widgets a page did not draw)."""
    for key, value in widget_values(s).items():
        if force or WIDGET + key not in st.session_state:
            st.session_state[WIDGET + key] = value


def share_url(page: str, s: Scenario) -> str:
    """The full URL of `page` showing s (a relative one where the browser URL is unknown)."""
    base = (st.context.url or "").rstrip("/")
    base = base.removesuffix(f"/{page}")  # the browser URL may still carry the page path
    return f"{base}/{page}?{urlencode(s.to_params() | flags())}"
