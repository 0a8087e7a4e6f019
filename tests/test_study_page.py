"""/study under streamlit.testing.v1.AppTest: renders, its sentence about the paired
difference matches the per-seed numbers (a BCa bootstrap interval, computed here by
scipy from the seeds), its caption states the settings and what is matched, URL ->
widgets -> URL, bad values warned."""

from __future__ import annotations

import re

import numpy as np
from app_harness import assert_clean, open_page
from scipy import stats
from streamlit.testing.v1 import AppTest

from core.analyses.study import StudyScenario, chunk, compute_study, matched, study_warnings
from core.scenarios.pair import settings

# every run of both optimizers reaches training loss 0.5 within the 30 steps
SMALL = {"v": "1", "seeds": "5", "steps": "30", "n": "60", "width": "6", "until": "0.5"}


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
    assert np.isfinite(d).all()
    ci = stats.bootstrap(
        (d,), np.mean, n_resamples=9999, method="BCa", rng=np.random.default_rng(0)
    ).confidence_interval
    assert np.isclose(mean, d.mean(), rtol=1e-3) and np.isclose(lo, ci.low, rtol=1e-3)
    assert np.isclose(hi, ci.high, rtol=1e-3)
    if ci.high < 0:
        assert "lion is lower" in text
    elif ci.low > 0:
        assert "lion is higher" in text
    else:
        assert "contains 0" in text


def test_the_caption_states_the_settings_and_what_is_matched():
    """Issue 20: the usual ratio of the default pair and the matched training loss and
    step budget, as core.analyses.study words them from the numbers (tested in test_study.py)."""
    at = open_study()
    s = StudyScenario.parse("&".join(f"{k}={v}" for k, v in SMALL.items()))
    caption = " ".join(c.value for c in at.caption)
    for sentence in settings(s) + [matched(compute_study(s))]:
        assert sentence in caption
    assert "3x smaller than AdamW's" in caption and "≤ 0.5" in caption
    assert "reached by 5 of 5 AdamW and 5 of 5 Lion runs" in caption


def test_url_sets_the_widgets_and_widgets_the_url():
    at = open_study(SMALL | {"opts": "hb,adam", "lrs": "0.02,0.005"})
    assert not at.exception
    assert at.text_input(key="wst_opts").value == "hb,adam"
    assert at.text_input(key="wst_lrs").value == "0.02,0.005"
    assert at.number_input(key="wst_until").value == 0.5
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
    core.analyses.study.study_warnings); the paired h R of exact-sign Lion is not a measured 0."""
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


def test_each_optimizers_learning_rate_and_weight_decay_from_the_sidebar():
    """Issue 20: `lrs` and `wd` take each optimizer's own value from the sidebar into the
    URL; a new pair drops the values named for the old one; a bad list is refused with
    its reason under the widget."""
    at = open_study()
    at.text_input(key="wst_lrs").set_value("adamw:0.05,lion:0.01").run()
    assert at.query_params["lrs"] == "adamw:0.05,lion:0.01"
    at.text_input(key="wst_wd").set_value("adamw:0.02,lion:0.1").run()
    assert at.query_params["wd"] == "adamw:0.02,lion:0.1"
    caption = " ".join(c.value for c in at.caption)
    assert "Lion's learning rate is 5x smaller than AdamW's" in caption
    assert "weight decay 5x larger than AdamW's: the usual ratio" in caption
    at.text_input(key="wst_lrs").set_value("0.01,lion:0.001").run()
    assert at.query_params["lrs"] == "adamw:0.05,lion:0.01"
    assert "give each the same number" in " ".join(e.value for e in at.error)
    at.text_input(key="wst_opts").set_value("hb,adam").run()
    assert "lrs" not in at.query_params and "wd" not in at.query_params
    assert not at.exception
