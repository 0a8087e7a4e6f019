"""/network under streamlit.testing.v1.AppTest: renders, URL -> widgets, widgets -> URL,
invalid URL values -> a warning naming the key, caps refused without a traceback, and
compare mode.  A tiny net and few steps keep it fast."""

from __future__ import annotations

from app_harness import assert_clean, open_page
from streamlit.testing.v1 import AppTest

SMALL = {"v": "1", "steps": "20", "n": "60", "width": "8"}


def open_network(params: dict[str, str] | None = None) -> AppTest:
    return open_page("network", SMALL if params is None else params)


def warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def test_renders_with_small_defaults():
    at = open_network()
    assert_clean(at, "Small networks")
    assert len(at.metric) == 6
    assert at.latex  # the regularizer's formula


def test_digits_render_with_their_test_accuracy_and_no_plane_fit():
    """data=digits: an MLP from the pixels to 10 logits, cross-entropy, the test accuracy
    beside the losses (the memory run's, as core.analyses.network computes it), no 2D fit."""
    from core.analyses import network
    from core.scenarios.network_scenario import NetworkScenario, model

    params = {"v": "1", "data": "digits", "n": "100", "width": "4", "depth": "1", "steps": "5"}
    at = open_network(params)
    assert not at.exception and not at.error
    s = NetworkScenario.parse("&".join(f"{k}={v}" for k, v in params.items()))
    r = network.result(s)
    shown = next(m for m in at.metric if m.label == "final test accuracy · memory")
    assert shown.value == f"{r.test_accuracy['memory']:.1%}"
    mlp = model(s)
    assert any(
        f"An MLP {mlp.in_dim}–4–10" in c.value and "cross-entropy" in c.value for c in at.caption
    )
    headers = [h.value for h in at.subheader]
    assert "Learned decision boundary" not in headers and "Learned fit" not in headers
    assert at.number_input(key="wn_n") and not [w for w in at.number_input if w.key == "wn_noise"]


def test_url_sets_the_widgets():
    at = open_network(SMALL | {"opt": "lion", "lr": "0.003", "data": "sine", "plane": "pca"})
    assert not at.exception
    assert at.selectbox(key="wn_opt").value == "lion"
    assert at.number_input(key="wn_lr").value == 0.003
    assert at.number_input(key="wn_b2").value == 0.99  # Lion's usual default
    assert at.selectbox(key="wn_data").value == "sine"
    assert at.radio(key="wn_plane").value == "pca"
    assert at.number_input(key="wn_width").value == 8
    assert at.number_input(key="wn_steps").value == 20
    assert "Learned fit" in [h.value for h in at.subheader]


def test_widget_changes_update_the_url():
    at = open_network()
    at.number_input(key="wn_width").set_value(6).run()
    assert at.query_params["width"] == "6"
    at.selectbox(key="wn_opt").set_value("nesterov").run()
    assert at.query_params["opt"] == "nesterov"
    assert at.number_input(key="wn_b1").value == 0.9  # Nesterov's defaults come with it
    assert at.query_params["steps"] == "20" and at.query_params["width"] == "6"
    at.number_input(key="wn_width").set_value(999).run()  # over the cap: refused
    assert at.query_params["width"] == "6"
    assert "width" in " ".join(e.value for e in at.error)
    assert not at.exception


def test_preset_button():
    at = open_network()
    at.button(key="wn_preset-AdamW, smooth regime (THEORY §6)").click().run()
    assert not at.exception
    assert (at.query_params["b1"], at.query_params["b2"], at.query_params["eps"]) == (
        "0.5",
        "0.7",
        "1.0",
    )
    assert at.query_params["width"] == "8"  # the data and the net stay


def test_invalid_url_values_warn_with_their_key():
    at = open_network(SMALL | {"width": "999", "data": "mnist"})
    assert not at.exception
    text = warnings(at)
    assert "width:" in text and "data:" in text
    assert "width" not in at.query_params and "data" not in at.query_params
    assert at.number_input(key="wn_width").value == 16


def test_sizes_over_the_work_cap_fall_back():
    # steps falls back to 100, which with these sizes still breaks the work cap
    at = open_network({"steps": "5000", "width": "64", "depth": "4", "n": "2000"})
    assert not at.exception
    assert "steps:" in warnings(at)
    assert "width" not in at.query_params


def test_teaching_mode_hides_the_controls():
    at = open_network(SMALL | {"teach": "1"})
    assert not at.exception
    assert not at.sidebar.number_input and not at.sidebar.button
    assert at.query_params["teach"] == "1"


def test_compare_mode():
    at = open_network()
    at.toggle(key="wn_compare").set_value(True).run()
    assert not at.exception
    assert at.query_params["compare"] == "1"
    text = " ".join(m.value for m in at.markdown)
    assert "AdamW" in text and "Lion" in text and "anti-regularizes" in text
    at.toggle(key="wn_compare").set_value(False).run()
    assert "compare" not in at.query_params


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info") for e in at.get(kind)]
    return " ".join(str(p) for p in parts)


def test_finite_n_is_warned_by_the_cards_rule():
    """Issue 17, finding 2: heavy ball 0.9 after 22 steps has R^(21) = 58% of its limit;
    the card says which n h R is built from and warns."""
    at = open_network(SMALL | {"opt": "hb", "b1": "0.9", "steps": "22"})
    assert not at.exception
    info = " ".join(e.value for e in at.info)
    assert "finite n: at step n = 21 the correction is 58% of its n → ∞ limit" in info
    assert "at the run's step n = 21" in _texts(at)


def test_exact_sign_lion_is_outside_the_theorem():
    """Issue 17, finding 3 on /network: no measured 0, no perturbed landscape."""
    at = open_network(SMALL | {"opt": "lion"})
    assert not at.exception
    text = _texts(at)
    assert "not defined: outside the theorem" in text  # the card's badge
    assert "h·R is not defined here" in text
    assert "Perturbed loss" not in text and "no effect on the loss" not in text
    assert "h·R > 0 on" not in text and "the verdict is read from R itself" not in text


def test_compare_mode_says_lion_is_outside_the_theorem():
    at = open_network(SMALL | {"compare": "1"})
    assert not at.exception
    table = at.table[0].value
    lion = " | ".join(table[table["optimizer"].str.startswith("Lion")].iloc[0])
    assert "outside the theorem" in lion and "nan" not in lion


def lion_row(at) -> str:
    """Lion's row of the comparison table, its cells joined."""
    table = at.table[0].value
    return " | ".join(table[table["optimizer"].str.startswith("Lion")].iloc[0])


def test_compare_mode_runs_each_optimizer_at_its_own_lr_and_says_so():
    """Issue 20: each optimizer at its own h and weight decay (by default the Lion paper's
    ratio), the caption says which and what is matched; the keys are /study's; the toggle
    keeps the data and network."""
    from core.scenarios.network_scenario import CompareScenario
    from core.scenarios.pair import settings

    at = open_network(SMALL | {"data": "circles"})
    at.toggle(key="wn_compare").set_value(True).run()
    assert not at.exception and at.query_params["compare"] == "1"
    assert at.query_params["data"] == "circles" and at.query_params["steps"] == "20"
    c = CompareScenario.parse({k: v for k, v in at.query_params.items() if k != "compare"})
    caption = " ".join(e.value for e in at.caption)
    for line in settings(c):
        assert line in caption
    assert "Lion's learning rate is 3x smaller than AdamW's" in caption
    assert "Matched: the data, the initialization (seed 0), the network and the step count" in (
        caption
    )
    lion = lion_row(at)
    assert f"h = {c.rates('lion')[0]:g}" in lion and f"wd = {c.hyper('lion')['wd']:g}" in lion
    # a typed per-optimizer learning rate reaches the URL and the runs
    at.text_input(key="wnc_lrs").set_value("adamw:0.02,lion:0.005").run()
    assert not at.exception
    assert at.query_params["lrs"] == "adamw:0.02,lion:0.005"
    assert "h = 0.005" in lion_row(at)
    at.toggle(key="wn_compare").set_value(False).run()
    assert not at.exception and "compare" not in at.query_params
    assert at.query_params["data"] == "circles" and "lrs" not in at.query_params
