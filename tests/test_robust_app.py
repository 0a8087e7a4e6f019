"""Hostile URLs and unexpected errors on the pages (issue 10, items 4, 5, 7): URL text is
never rendered as markdown, many problems make one warning, duplicate optimizers are
refused with a message, and a visitor never sees a traceback."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from unittest import mock
from urllib.parse import parse_qsl

import app_harness
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.scenarios.query import escaped
from tests.test_app import SMALL, open_page
from ui.text import MAX_MESSAGE, plain

ROOT = Path(__file__).resolve().parents[1]
LINK = "v=1&%5BSession%20expired%3A%20click%20here%5D(https%3A%2F%2Fevil.example%2Flogin)=1"
IMAGE = "v=1&!%5Bx%5D(https%3A%2F%2Fevil.example%2Fpixel.png)=1"


def _alerts(at) -> list[str]:
    return [w.value for w in at.warning]


CODE_SPAN = re.compile(r"^(`+)( ?)(.*)\2\1$", re.S)


@given(st.text(max_size=400))
def test_plain_is_one_code_span_of_the_text(text):
    out = plain(text)
    fence, _, inner = CODE_SPAN.match(out).groups()
    assert not re.search(f"(?<!`){fence}(?!`)", inner)  # the span does not close early
    assert inner == escaped(" ".join(text.split()))[: len(inner)] or inner.endswith("…")
    assert len(inner) <= MAX_MESSAGE and out.isprintable()  # no line break, no ESC


def _messages(warning: str) -> list[str]:
    return [line[2:] for line in warning.splitlines() if line.startswith("- ")]


@pytest.mark.parametrize("query", [LINK, IMAGE])
def test_a_hostile_key_is_shown_as_text(query):
    at = open_page("playground", SMALL | dict(parse_qsl(query)))
    assert not at.exception
    (warning,) = _alerts(at)
    key = next(iter(dict(parse_qsl(query)).keys() - {"v"}))
    (message,) = _messages(warning)
    assert CODE_SPAN.match(message)  # code: no link, no image, no bare URL
    assert message == plain(f"{key}: unknown key, ignored")


def test_many_unknown_keys_make_one_short_warning():
    junk = {f"[k{i}](https://evil.example/{i})": "1" for i in range(220)}
    at = open_page("playground", SMALL | junk)
    assert not at.exception
    (warning,) = _alerts(at)
    (message,) = _messages(warning)
    assert CODE_SPAN.match(message)
    assert "220 unknown keys" in warning and "and 215 more" in warning
    assert len(warning) < 800


def test_long_bad_values_are_cut():
    at = open_page("playground", SMALL | {"lr": "9" * 400, "b1": "[x](https://evil.example)"})
    (warning,) = _alerts(at)
    assert "9" * 300 not in warning and "lr: " in warning and "b1: " in warning
    assert all(CODE_SPAN.match(m) for m in _messages(warning))


def test_duplicate_optimizers_on_compare():
    at = open_page("compare", SMALL | {"cmp": "adam,adam"})
    assert not at.exception, at.exception
    (warning,) = _alerts(at)
    assert "cmp: " in warning and "listed 2 times" in warning
    assert len(app_harness.figures(at)) == 4  # the default pair, two charts each


def test_error_details_are_off():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def test_an_unexpected_error_is_one_friendly_message_and_logged(caplog):
    def boom(*args):
        raise RuntimeError("boom in /srv/secret/path.py")

    with caplog.at_level(logging.ERROR), mock.patch("ui.cache.summary", boom):
        at = open_page("playground")
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "Something went wrong" in error and "boom" not in error and "/srv" not in error
    logged = [r for r in caplog.records if r.name == "app"]
    assert logged and "boom in /srv/secret/path.py" in str(logged[0].exc_info[1])


def test_a_key_with_control_characters_is_shown_escaped():
    at = open_page("playground", SMALL | {"\x1b[31mRED\r\n": "1"})
    (warning,) = _alerts(at)
    assert _messages(warning) == [plain("\\x1b[31mRED\\r\\n: unknown key, ignored")]


def test_a_repeated_key_warns_and_the_last_value_is_taken():
    at = open_page("playground", SMALL | {"lr": ["0.5", "0.03"]})
    assert not at.exception
    (warning,) = _alerts(at)
    assert _messages(warning) == [plain("lr: given more than once, the last value taken")]
    assert at.number_input(key="w_lr").value == 0.03 and at.query_params["lr"] == "0.03"
    assert not _alerts(at.run())  # the URL was written back with one lr: said once


def test_a_refused_typed_value_is_quoted_as_text_under_its_widget():
    """Text typed into a field and refused comes back under the widget as a code span,
    never as markdown (a link, an image)."""
    at = open_page("theory", SMALL)
    typed = "0.01,[click](https://evil.example/login)"
    at.text_input(key="w_hs").set_value(typed).run()
    (error,) = at.error
    assert CODE_SPAN.match(error.value), error.value
    assert "(https://evil.example/login)" in error.value


def test_a_streamlit_without_the_history_flag_trusts_every_query():
    """The run context's is_history_navigation is not in Streamlit's API reference: a
    version without it reads every query as a shared link instead of failing."""
    from ui import state

    raw = {"v": ["1"], "lr": ["0.01"]}
    with mock.patch.object(state, "get_script_run_ctx", return_value=object()):
        assert state.PLANE._trusted(raw)
    with mock.patch.object(state, "get_script_run_ctx", return_value=None):
        assert state.PLANE._trusted(raw) and not state.PLANE._trusted({})


def test_the_app_logs_each_line_once_after_its_caches_are_cleared():
    """The app's log handler is a cached resource: clearing Streamlit's resource cache
    runs its set-up again, which must not add a second handler (each line twice)."""
    import streamlit

    for _ in range(2):
        at = app_harness.open_page("about", {})
        assert not at.exception, at.exception
        streamlit.cache_resource.clear()
    for name in ("app", "ui"):
        assert len(logging.getLogger(name).handlers) == 1, name
