"""Every page under streamlit.testing.v1.AppTest: renders, URL -> widgets, widgets ->
URL, and invalid URL values -> a warning naming the key.  Small steps and grids keep it
fast."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import app_harness
import numpy as np
import pytest
from scipy.stats import linregress
from streamlit.testing.v1 import AppTest

from core.analyses import compute
from core.scenarios.scenario import Scenario

SMALL = {"v": "1", "steps": "20", "grid": "16", "hs": "0.04,0.02", "T": "0.4"}
PAGES = ("home", "playground", "theory", "compare", "gallery", "about")


def open_page(page: str, params: dict[str, str] | None = None) -> AppTest:
    return app_harness.open_page(page, SMALL if params is None else params)


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_defaults(page):
    at = open_page(page)
    assert not at.exception, at.exception
    # no warning, except on /theory exactly the order study's own diagnostics
    expected = compute.order(Scenario.from_query(SMALL)[0]).warnings if page == "theory" else ()
    assert tuple(warnings(at)) == expected


def test_url_sets_the_widgets():
    at = open_page("playground", SMALL | {"opt": "adamw", "lr": "0.05", "b2": "0.95"})
    assert not at.exception
    assert at.selectbox(key="w_opt").value == "adamw"
    assert at.number_input(key="w_lr").value == 0.05
    assert at.number_input(key="w_b2").value == 0.95
    assert at.number_input(key="w_wd").value == 0.01  # AdamW's usual default
    assert at.number_input(key="w_steps").value == 20


def test_widget_changes_update_the_url():
    at = open_page("playground")
    at.number_input(key="w_lr").set_value(0.03).run()
    assert at.query_params["lr"] == "0.03"
    at.selectbox(key="w_opt").set_value("lion").run()
    assert at.query_params["opt"] == "lion"
    assert at.number_input(key="w_b2").value == 0.99  # Lion's defaults come with it
    assert at.query_params["lr"] == "0.03" and at.query_params["steps"] == "20"
    assert not at.exception


def test_loss_change_brings_its_start():
    at = open_page("playground")
    at.selectbox(key="w_loss").set_value("rosenbrock").run()
    assert at.query_params["loss"] == "rosenbrock"
    assert (at.number_input(key="w_x0").value, at.number_input(key="w_y0").value) == (-1.5, 2.0)


def test_invalid_expression_keeps_the_last_valid_loss():
    at = open_page("playground", SMALL | {"loss": "custom", "f": "x^2 + 2*y^2"})
    at.text_input(key="w_f").input("sin(x + ").run()
    assert not at.exception
    assert at.query_params["f"] == "x^2 + 2*y^2"
    assert any("position" in e.value for e in at.error)
    at.text_input(key="w_f").input("x^2 + y^4").run()
    assert at.query_params["f"] == "x^2 + y^4"
    assert not at.error


@pytest.mark.parametrize("page", ["playground", "theory", "compare"])
def test_invalid_url_value_warns_with_its_key(page):
    at = open_page(page, SMALL | {"lr": "fast", "b1": "1.5"})
    assert not at.exception
    text = " ".join(warnings(at))
    assert "lr:" in text and "b1:" in text
    assert "lr" not in at.query_params  # the default took its place


def test_app_flags_are_kept_and_not_warned_about():
    at = open_page("playground", SMALL | {"teach": "1"})
    assert not at.exception
    assert not any("teach" in w for w in warnings(at))
    assert at.query_params["teach"] == "1"
    assert not at.sidebar.number_input  # teaching mode hides the controls


# every page with controls, at a size that renders fast
SIDEBAR_PAGES = {
    "playground": SMALL,
    "theory": SMALL,
    "compare": SMALL,
    "network": {"v": "1", "steps": "8", "n": "40", "width": "4"},
    "sweep": {"v": "1", "x": "b1:0.5:0.99:3", "y": "b2:0.5:0.999:3", "steps": "10"},
    "study": {"v": "1", "seeds": "2", "steps": "5", "n": "40", "width": "3"},
    "paper": {"v": "1", "exp": "sharpness", "n": "100", "width": "3", "steps": "6", "points": "2"},
}


def _sidebar_widgets(at: AppTest) -> int:
    side = at.sidebar
    return sum(
        len(w) for w in (side.number_input, side.selectbox, side.text_input, side.multiselect)
    )


@pytest.mark.parametrize("page", SIDEBAR_PAGES)
def test_teaching_mode_hides_the_sidebar_of_every_page(page):
    normal = open_page(page, SIDEBAR_PAGES[page])
    taught = open_page(page, SIDEBAR_PAGES[page] | {"teach": "1"})
    assert not normal.exception and not taught.exception
    assert _sidebar_widgets(normal) > 0 and len(normal.sidebar.subheader) > 0
    assert _sidebar_widgets(taught) == 0 and len(taught.sidebar.subheader) == 0


def test_page_scripts_leave_the_sidebar_to_one_helper():
    """The teaching-mode test and the sidebar block were written out on six pages;
    ui.layout.sidebar is the one place that decides."""
    for script in sorted(Path(app_harness.APP).parent.glob("app_pages/*.py")):
        text = script.read_text()
        assert "st.sidebar" not in text and "teaching()" not in text, script.name


def test_theory_study_settings():
    at = open_page("theory")
    assert at.text_input(key="w_hs").value == "0.04, 0.02"
    at.text_input(key="w_hs").input("0.04, 0.02, 0.01").run()
    assert at.query_params["hs"] == "0.04,0.02,0.01"
    at.text_input(key="w_hs").input("0.04, oops").run()
    assert at.query_params["hs"] == "0.04,0.02,0.01"
    assert at.error


def test_theory_fits_only_asymptotic_rows_and_says_when_there_are_none():
    """Issue 17 (6): Lion on Himmelblau has not reached its asymptotic regime: no slope
    shown, the caption and the warning say so, and a link runs the smaller h the warning
    names.  RMSProp's fit uses only its last three rows, and the page says which."""
    lion = (
        "v=1&opt=lion&b1=0.5&b2=0.6&eps=0.25&wd=0.1&loss=himmelblau&T=1"
        "&hs=0.08,0.04,0.02,0.01,0.005"
    )
    at = open_page("theory", dict(parse_qsl(lion)))
    study = compute.order(Scenario.parse(lion))
    assert not at.exception and not study.reached
    assert [m.value for m in at.metric] == ["–", "–"]
    assert any("not reached its asymptotic regime" in c.value for c in at.caption)
    (said,) = [w for w in warnings(at) if w.startswith("not asymptotic")]
    (link,) = [k for k in at.get("page_link") if k.proto.label.startswith("Run the study")]
    hs = [float(v) for v in dict(parse_qsl(link.proto.query_string))["hs"].split(",")]
    assert hs == [0.005, 0.0025, 0.00125] and "h = 0.0025, 0.00125" in said
    assert at.dataframe[0].value["asymptotic"].str.startswith("✗").all()

    rms = "v=1&opt=rmsprop&b2=0.7&eps=0.01&T=1&hs=0.08,0.04,0.02,0.01,0.005,0.0025"
    at = open_page("theory", dict(parse_qsl(rms)))
    study = compute.order(Scenario.parse(rms))
    h, c, m = (np.array(v) for v in (study.h, study.corrected, study.memoryless))
    fitted = h <= 0.01  # the rows after the last where corrected is no better
    assert (c[~fitted] >= m[~fitted]).any() and (c[fitted] < m[fitted]).all()
    slopes = [linregress(np.log(h[fitted]), np.log(e[fitted])).slope for e in (c, m)]
    assert [m.value for m in at.metric] == [f"{v:.2f}" for v in slopes]
    assert any("fitted on the 3 asymptotic rows, h ≤ 0.01" in c.value for c in at.caption)
    frame = at.dataframe[0].value
    assert list(frame["asymptotic"] == "✓") == list(fitted)
    assert not any(k.proto.label.startswith("Run the study") for k in at.get("page_link"))


def test_compare_selection():
    at = open_page("compare")
    assert at.multiselect(key="w_cmp").value == ["gd", "hb"]
    at.multiselect(key="w_cmp").select("adamw").run()
    assert at.query_params["cmp"] == "gd,hb,adamw"
    assert "anti-regularizes" in " ".join(m.value for m in at.markdown)


def test_the_3d_view_of_the_perturbed_loss_renders_and_stays_in_the_url():
    at = open_page("playground")
    at.toggle(key="w_3d").set_value(True).run()
    assert not at.exception, at.exception
    assert at.query_params["3d"] == "1"  # a shared link keeps the 3D view
    figures = app_harness.figures(at)
    assert any(t["type"] == "surface" for f in figures for t in f["data"])
    assert any("clipped" in m.value for m in at.markdown)  # the 3D caption, not "dotted"
    at.number_input(key="w_lr").set_value(0.03).run()  # a new scenario keeps the view
    assert at.query_params["3d"] == "1" and at.toggle(key="w_3d").value
    at.toggle(key="w_3d").set_value(False).run()
    assert "3d" not in at.query_params


def test_the_share_box_is_the_page_s_query_as_plain_text():
    """The share box: the page's URL with its query, as plain text, and no st.code on
    the page (it loads Streamlit's 1.5 MB syntax highlighter on a first visit)."""
    at = open_page("playground")
    assert not at.exception, at.exception
    shared = [t.value for t in at.text if "playground?" in t.value]
    assert len(shared) == 1 and not at.code
    query = dict(parse_qsl(shared[0].split("?", 1)[1]))
    assert query["steps"] == SMALL["steps"] and query["grid"] == SMALL["grid"]
