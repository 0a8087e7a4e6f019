"""The URL is the single source of truth for the scenario a page shows.

A page calls `scenario()` of its PageState: it parses st.query_params (lenient: each bad
value falls back to its default with a visible warning naming the key), writes the
normalized query back, and sets the sidebar widgets to it on every run (controlled
widgets: a widget state Streamlit forgot can never pass for a user change), except a
widget the user has just changed to the value the scenario took: writing it would undo
a click made while the run started.  A user's
change reaches ui.controls through the widget's on_change callback, which derives the
next scenario and publishes it with `publish()` before the page reruns, so the URL, the
widgets and the figures never disagree, and a copied URL reproduces the page in a fresh
browser.

Navigation (the sidebar, the top bar of teaching mode) opens a page without a query: the
page then shows the scenario this session last published for it, and `arrive()` puts the
app's flags (teach) back.  A URL with a query (a shared link, a page link) wins over that
memory.  The browser's back and forward buttons are trusted only with queries this
session published for the page's scenario class: Streamlit's history also holds entries
with another page's query under this page's path, which would otherwise reset it.

The 2D pages share PLANE (core.scenarios.scenario.Scenario); the network page has NETWORK
(core.scenarios.network_scenario.NetworkScenario) and, in its compare mode (compare=1),
NETWORK_COMPARE (CompareScenario), the phase diagram SWEEP (core.analyses.sweep.SweepScenario)
the seed study STUDY (core.analyses.study.StudyScenario) and the paper's experiments PAPER (one
state per experiment of core.analyses.paper, tagged exp=NAME in the URL), each with its own widget
keys and session scenario, so the pages never disturb each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.analyses.paper import SCENARIOS
from core.analyses.study import StudyScenario
from core.analyses.sweep import SweepScenario
from core.engine.declared import DECLARATION, READOUT
from core.scenarios.network_scenario import SHARED, CompareScenario, NetworkScenario
from core.scenarios.query import fmt
from core.scenarios.scenario import HYPER_KEYS, Scenario
from ui import text

# URL flags of the app itself, not scenario fields: kept out of the scenario's parse (no
# 'unknown key' warnings) and carried along whenever a scenario is published.
APP_FLAGS = ("teach",)
_FLAGS = "_flags"  # session key of the app flags last seen in a URL with a query
MAX_REMEMBERED = 500  # published queries a session trusts on its back/forward moves


def arrive() -> None:
    """Before any page runs: a URL with a query sets the app flags (and the session
    remembers them); navigation, which drops the query, gets them back."""
    if st.query_params.to_dict():
        st.session_state[_FLAGS] = flags()
    elif remembered := st.session_state.get(_FLAGS):
        st.query_params.update(remembered)


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
    # fixed URL parameters naming this state's section of a page with several (/paper's
    # exp=...): not scenario fields, always published with it
    tag: Mapping[str, str] = field(default_factory=dict)

    @property
    def _page_flags(self) -> str:  # session key of the page flags last published
        return f"{self.session}_flags"

    @property
    def _published(self) -> str:  # session key of the queries published, oldest first
        return f"{self.session}_published"

    @property
    def _changed(self) -> str:  # session key of the fields the user changed since the last run
        return f"{self.session}_changed"

    def changed_by_user(self, name: str) -> None:
        """From a widget's on_change: the browser shows field `name`'s new value."""
        st.session_state.setdefault(self._changed, set()).add(name)

    @property
    def refusals(self) -> str:
        """Session key of {field: message} for widget values the scenario refused: those
        widgets keep the user's value, with the message under them, for one run."""
        return f"{self.session}_refused"

    def key(self, name: str) -> str:
        """The widget key mirroring field `name`."""
        return self.prefix + name

    def flags(self) -> dict[str, str]:
        """The app flags and this page's flags in the URL now (published along)."""
        on = {k: "1" for k in self.page_flags if st.query_params.get(k) == "1"}
        return flags() | on | dict(self.tag)

    def current(self):
        """The published scenario (for callbacks, which run before the page script)."""
        return self.cls.from_query(st.session_state.get(self.session, ""))[0]

    def scenario(self):
        skip = (*APP_FLAGS, *self.page_flags, *self.tag)
        # every value of a key given twice: the parse takes the last and says so
        raw = {k: v for k, v in _all_values().items() if k not in skip}
        if self.session in st.session_state and not self._trusted(raw):
            # navigation dropped the query (or history brought a foreign one): keep
            # showing this session's scenario, with this page's flags
            raw = st.session_state[self.session]
            st.query_params.update(st.session_state.get(self._page_flags, {}))
        s, warnings = self.cls.from_query(raw)
        text.url_warnings(warnings)
        self.publish(s)
        refused = st.session_state.get(self.refusals, {})
        # a widget the user just changed already shows s's value: writing it would make
        # the browser show this run's value and undo a click made while the run started
        changed = st.session_state.pop(self._changed, set())
        for name, value in self.widget_values(s).items():
            key = self.key(name)
            if name in refused or (name in changed and st.session_state.get(key) == value):
                continue
            st.session_state[key] = value
        return s

    def _trusted(self, raw: dict[str, list[str]]) -> bool:
        """Whether the URL's query `raw` sets the scenario: any query (a shared link
        always has v=1) but, on a back/forward move, only one this session published."""
        if not raw:
            return False
        # the run context's flag is not in Streamlit's API reference: where a version lacks
        # it, every query is trusted (a shared link's behaviour), nothing breaks
        if not getattr(get_script_run_ctx(), "is_history_navigation", False):
            return True
        s, warnings = self.cls.from_query(raw)
        return not warnings and s.to_query() in st.session_state.get(self._published, {})

    def set_flag(self, flag: str, on: bool) -> None:
        """Turn this page's URL flag on or off (from a callback), remembered with the
        scenario so navigation keeps it."""
        if on:
            st.query_params[flag] = "1"
        elif flag in st.query_params:
            del st.query_params[flag]
        remembered = st.session_state.setdefault(self._page_flags, {})
        remembered.pop(flag, None)
        remembered.update({flag: "1"} if on else {})

    def publish(self, s) -> None:
        """Put s in the URL (with the flags) and the session; the next page run (or this
        one, from a callback) sets the widgets to it."""
        params = s.to_params() | self.flags()
        if _all_values() != {k: [v] for k, v in params.items()}:  # a key given twice too
            st.query_params.from_dict(params)
        st.session_state[self.session] = s.to_query()
        published = st.session_state.setdefault(self._published, {})
        published[s.to_query()] = None  # an ordered set, bounded below
        while len(published) > MAX_REMEMBERED:
            del published[next(iter(published))]
        st.session_state[self._page_flags] = {k: params[k] for k in self.page_flags if k in params}

    def widget_values(self, s) -> dict[str, object]:
        """What each mirrored widget shows for s."""
        values = {k: self.shown.get(k, _same)(getattr(s, k)) for k in self.fields}
        return {k: v for k, v in values.items() if v is not None}

    def share_url(self, page: str, s) -> str:
        """The full URL of `page` showing s with the flags (a relative one where the
        browser URL is unknown)."""
        base = (st.context.url or "").rstrip("/")
        base = base.removesuffix(f"/{page}")  # the browser URL may still carry the page path
        return f"{base}/{page}?{urlencode(s.to_params() | self.flags())}"


def _all_values() -> dict[str, list[str]]:
    """The URL's query, every value of each key (to_dict keeps only the last)."""
    return {k: st.query_params.get_all(k) for k in st.query_params}


def _same(value):
    return value


def _text(value: str | None) -> str:
    """An optional text field's widget: empty where the field is not set."""
    return value or ""


# a declared optimizer's keys (core.engine.declared): m2 and m3 (and their weights)
# show empty where the declaration has none
TEXTS = {k: _text for k in DECLARATION if k not in ("m1", "w1", READOUT)}


PLANE = PageState(
    Scenario,
    prefix="w_",
    session="_scenario",
    fields=("opt", *DECLARATION, "lr", *HYPER_KEYS, "loss", "f", "x0", "y0", "steps", "rn")
    + ("hs", "T", "cmp"),
    shown={"hs": lambda hs: ", ".join(f"{h:g}" for h in hs), "cmp": list} | TEXTS,
    page_flags=("3d",),  # 3d=1: /playground shows L + hR as a 3D surface
)
NETWORK = PageState(
    NetworkScenario,
    prefix="wn_",
    session="_network",
    fields=("opt", *DECLARATION, "lr", *HYPER_KEYS, "data", "n", "noise", "split", "width")
    + ("depth", "act", "seed", "batch", "steps", "plane"),
    shown=TEXTS,
    page_flags=("compare",),  # compare=1: NETWORK_COMPARE's section of the page
    refused="Not applied. {key}: {message}",
)
# /network's compare mode: its own scenario (core.scenarios.network_scenario.CompareScenario: two
# optimizers, each with its own lrs and wd, as STUDY's), tagged compare=1 in the URL
NETWORK_COMPARE = PageState(
    CompareScenario,
    prefix="wnc_",
    session="_network_compare",
    fields=("opts", *DECLARATION, "lrs", "wd", *SHARED, "steps"),
    shown={"opts": ",".join, "lrs": fmt, "wd": fmt} | TEXTS,
    refused="Not applied. {key}: {message}",
    tag={"compare": "1"},
)
SWEEP = PageState(
    SweepScenario,
    prefix="ws_",
    session="_sweep",
    fields=("opt", *DECLARATION, "lr", *HYPER_KEYS, "x", "y", "loss", "f", "x0", "y0", "steps"),
    shown={"x": str, "y": str} | TEXTS,
    refused="Not applied. {key}: {message}",
)
STUDY = PageState(
    StudyScenario,
    prefix="wst_",
    session="_study",
    fields=("opts", *DECLARATION, "lrs", "wd", "until", "data", "n", "noise", "split", "width")
    + ("depth", "act", "seed", "seeds", "steps"),
    shown={"opts": ",".join, "lrs": fmt, "wd": fmt} | TEXTS,
    refused="Not applied. {key}: {message}",
)
# /paper: one state per experiment, its section named by exp=NAME in the URL
PAPER = {
    name: PageState(
        cls,
        prefix=f"wp{name}_",
        session=f"_paper_{name}",
        fields=tuple(f.key for f in cls.SPECS),
        shown={
            k: (lambda v: ",".join(f"{x!r}" if isinstance(x, float) else x for x in v))
            for k in ("opt", "h", "b2", "b1")
            if isinstance(getattr(cls(), k, None), tuple)
        },
        refused="Not applied. {key}: {message}",
        tag={"exp": name},
    )
    for name, cls in SCENARIOS.items()
}
