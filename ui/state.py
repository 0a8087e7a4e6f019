"""The URL is the single source of truth for the scenario a page shows.

A page calls `scenario()` of its PageState: it parses st.query_params (lenient: each bad
value falls back to its default with a visible warning naming the key), writes the
normalized query back, and seeds the sidebar widgets from it.  When a widget shows a
value other than the scenario's, ui.controls derives the next scenario, publishes it
with `publish()` and reruns, so the URL, the widgets and the figures never disagree, and
a copied URL reproduces the page in a fresh browser.

The 2D pages share PLANE (core.scenario.Scenario); the network page has NETWORK
(core.network.NetworkScenario) and the phase diagram SWEEP (core.sweep.SweepScenario),
each with its own widget keys and session scenario, so the pages never disturb each
other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import streamlit as st

from core.network import NetworkScenario
from core.scenario import HYPER_KEYS, Scenario
from core.sweep import SweepScenario

# URL flags of the app itself, not scenario fields: kept out of the scenario's parse (no
# 'unknown key' warnings) and carried along whenever a scenario is published.
APP_FLAGS = ("teach",)


def flags() -> dict[str, str]:
    return {k: st.query_params[k] for k in APP_FLAGS if k in st.query_params}


def teaching() -> bool:
    return st.query_params.get("teach") == "1"


@dataclass(frozen=True)
class PageState:
    """URL <-> scenario <-> widgets for the pages showing one scenario class."""

    cls: type  # Scenario or NetworkScenario
    prefix: str  # of the widget keys that mirror scenario fields
    session: str  # session key of the published query string (kept across navigation)
    fields: tuple[str, ...]  # the scenario fields that widgets mirror (None: no widget)
    shown: Mapping[str, Callable] = field(default_factory=dict)  # field -> widget value
    page_flags: tuple[str, ...] = ()  # this page's own URL flags: on while "1"
    refused: str = "{message}"  # the error under a widget whose value s refuses

    @property
    def _seeded(self) -> str:  # the query string the widgets were last seeded from
        return f"{self.session}_seeded"

    def key(self, name: str) -> str:
        """The widget key mirroring field `name`."""
        return self.prefix + name

    def flags(self) -> dict[str, str]:
        """The app flags and this page's flags in the URL now (published along)."""
        on = {k: "1" for k in self.page_flags if st.query_params.get(k) == "1"}
        return flags() | on

    def current(self):
        """The published scenario (for callbacks, which run before the page script)."""
        return self.cls.from_query(st.session_state.get(self.session, ""))[0]

    def scenario(self):
        skip = (*APP_FLAGS, *self.page_flags)
        raw = {k: v for k, v in st.query_params.to_dict().items() if k not in skip}
        if not raw and self.session in st.session_state:
            # moving between pages drops the query: keep showing this session's scenario.
            # A shared link always has v=1, so it never lands here.
            raw = st.session_state[self.session]
        s, warnings = self.cls.from_query(raw)
        for w in warnings:
            st.warning(f"URL setting ignored. {w}", icon=":material/warning:")
        self.publish(s)
        query = s.to_query()
        self.seed(s, force=st.session_state.get(self._seeded) != query)
        st.session_state[self._seeded] = query
        return s

    def publish(self, s) -> None:
        """Put s in the URL (with the flags) and the session; the next page run (or this
        one, from a callback) seeds the widgets from it."""
        params = s.to_params() | self.flags()
        if st.query_params.to_dict() != params:
            st.query_params.from_dict(params)
        st.session_state[self.session] = s.to_query()

    def widget_values(self, s) -> dict[str, object]:
        """What each mirrored widget shows for s."""
        values = {k: getattr(s, k) for k in self.fields}
        return {k: self.shown.get(k, _same)(v) for k, v in values.items() if v is not None}

    def seed(self, s, force: bool) -> None:
        """Set the widget states from s: all of them when s changed, else only the
        missing ones (Streamlit forgets the state of widgets a page did not draw)."""
        for name, value in self.widget_values(s).items():
            if force or self.key(name) not in st.session_state:
                st.session_state[self.key(name)] = value

    def share_url(self, page: str, s) -> str:
        """The full URL of `page` showing s with the flags (a relative one where the
        browser URL is unknown)."""
        base = (st.context.url or "").rstrip("/")
        base = base.removesuffix(f"/{page}")  # the browser URL may still carry the page path
        return f"{base}/{page}?{urlencode(s.to_params() | self.flags())}"


def _same(value):
    return value


PLANE = PageState(
    Scenario,
    prefix="w_",
    session="_scenario",
    fields=("opt", "lr", *HYPER_KEYS, "loss", "f", "x0", "y0", "steps", "hs", "T", "cmp"),
    shown={"hs": lambda hs: ", ".join(f"{h:g}" for h in hs), "cmp": list},
)
NETWORK = PageState(
    NetworkScenario,
    prefix="wn_",
    session="_network",
    fields=("opt", "lr", *HYPER_KEYS, "data", "n", "noise", "split", "width", "depth", "act")
    + ("seed", "batch", "steps", "plane"),
    page_flags=("compare",),  # compare=1: AdamW against Lion
    refused="Not applied. {key}: {message}",
)
SWEEP = PageState(
    SweepScenario,
    prefix="ws_",
    session="_sweep",
    fields=("opt", "lr", *HYPER_KEYS, "x", "y", "loss", "f", "x0", "y0", "steps"),
    shown={"x": str, "y": str},
    refused="Not applied. {key}: {message}",
)
