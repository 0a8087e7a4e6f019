"""/study under streamlit.testing.v1.AppTest: renders, its sentence about the paired
difference matches the per-seed numbers, URL -> widgets -> URL, bad values warned."""

from __future__ import annotations

import re

import numpy as np
from app_harness import assert_clean, open_page
from streamlit.testing.v1 import AppTest

from core.study import StudyScenario, chunk, compute_study, study_warnings

SMALL = {"v": "1", "seeds": "5", "steps": "30", "n": "60", "width": "6"}


def open_study(params: dict[str, str] | None = None) -> AppTest:
    return open_page("study", SMALL if params is None else params)


def test_renders_and_the_paired_sentence_matches_the_seeds():
    at = open_study()
    assert_clean(at, "Seed study")
    text = next(m.value for m in at.markdown if "per seed: mean" in m.value)
    found = re.search(r"mean (\S+), 95% interval \[(\S+), (\S+)\]", text)
    mean, lo, hi = (float(v) for v in found.groups())
    s = StudyScenario.parse("&".join(f"{k}={v}" for k, v in SMALL.items()))
    gaps = {o: chunk(s.to_query(), o, tuple(s.seed_list))["gap"][:, 0] for o in s.opts}
    d = gaps["lion"] - gaps["adamw"]
    half = 2.776445 * d.std(ddof=1) / np.sqrt(5)  # t(4), 95%
    assert np.isclose(mean, d.mean(), rtol=1e-3) and np.isclose(lo, d.mean() - half, rtol=1e-3)
    assert np.isclose(hi, d.mean() + half, rtol=1e-3)
    if d.mean() + half < 0:
        assert "lion is lower" in text
    elif d.mean() - half > 0:
        assert "lion is higher" in text
    else:
        assert "contains 0" in text


def test_url_sets_the_widgets_and_widgets_the_url():
    at = open_study(SMALL | {"opts": "hb,adam", "lrs": "0.02,0.005"})
    assert not at.exception
    assert at.text_input(key="wst_opts").value == "hb,adam"
    assert at.text_input(key="wst_lrs").value == "0.02,0.005"
    assert at.number_input(key="wst_seeds").value == 5
    at.number_input(key="wst_seeds").set_value(3).run()
    assert at.query_params["seeds"] == "3"
    at.number_input(key="wst_seeds").set_value(999).run()  # over the cap: refused
    assert at.query_params["seeds"] == "3"
    assert "seeds" in " ".join(e.value for e in at.error)


def test_invalid_url_values_warn_with_their_key():
    at = open_study(SMALL | {"opts": "adamw,adamw", "seeds": "1000"})
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "opts:" in text and "seeds:" in text


def test_the_page_shows_the_studys_warnings_and_lions_h_R_as_not_defined():
    """Issue 17, finding 3: the warnings are the list the JSON carries (computed once,
    core.study.study_warnings); the paired h R of exact-sign Lion is not a measured 0."""
    at = open_study()
    s = StudyScenario.parse("&".join(f"{k}={v}" for k, v in SMALL.items()))
    shown = [e.value for e in at.info]
    expected = study_warnings(compute_study(s))
    assert expected and all(w in shown for w in expected)
    paired = next(b for b in at.selectbox if b.label == "paired per seed")
    paired.set_value("hR_final").run()
    text = next(m.value for m in at.markdown if "per seed:" in m.value)
    assert "not defined: h·R of Lion is outside the theorem" in text
    assert "interval [" not in text
