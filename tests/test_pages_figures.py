"""Issue 9's smaller findings under AppTest and on the figures themselves: one visual
language and one colour scale, legends under the plots, projector-size type in teaching
mode, the sign panel's words against hR's values, metric labels and values, Home's
links, the network compare sidebar and the /theory table."""

from __future__ import annotations

import app_harness
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.analyses import compute
from core.scenarios.scenario import Scenario
from ui import pages, plots, style

SMALL = {"v": "1", "steps": "20", "grid": "16"}


def open_page(page: str, params: dict[str, str]) -> AppTest:
    at = app_harness.open_page(page, params)
    assert not at.exception, at.exception
    return at


figures = app_harness.figures


def _bar(trace: dict) -> bool:
    return "colorbar" in trace.get("marker", {})


def test_the_paired_maps_share_one_colour_scale_and_keep_legends_under_the_plot():
    at = open_page("playground", SMALL)
    maps = figures(at)[:2]  # L and L + hR
    bars = [[t["marker"]["colorbar"]["ticktext"] for t in f["data"] if _bar(t)] for f in maps]
    assert len(bars[0]) == len(bars[1]) == 1 and bars[0] == bars[1]
    for f in maps:
        legend = f["layout"]["legend"]
        assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 0, "bottom")
        assert f["layout"]["margin"]["b"] >= style.LEGEND_BAND  # the legend has its band
        ends = [t["marker"].get("symbol") for t in f["data"] if t.get("mode") == "markers"][-3:]
        assert len(set(ends)) == 3  # three nested shapes: coinciding ends stay visible


def test_map_scale_levels_are_quantiles_shared_by_both_maps():
    rng = np.random.default_rng(0)
    loss, perturbed = rng.exponential(size=(20, 20)), -50 * rng.random((20, 20))
    scale = style.MapScale.of(loss, perturbed)
    both = np.concatenate([loss.ravel(), perturbed.ravel()])
    levels = scale.levels(both)
    # a level is the share of all values below: the empirical CDF (to the knots' spacing)
    ranks = np.argsort(np.argsort(both)) / (both.size - 1)
    np.testing.assert_allclose(levels, ranks, atol=1 / 256 + 1e-9)
    assert np.isnan(scale.levels(np.array([np.nan])))[0]


def test_teaching_mode_sets_projector_type():
    at = open_page("playground", SMALL | {"teach": "1"})
    for f in figures(at):
        assert f["layout"]["font"]["size"] >= 18
        assert f["layout"]["legend"]["font"]["size"] >= 18


def share(f):
    return "under 1%" if 0 < f < 0.005 else "over 99%" if 0.995 <= f < 1 else f"{f:.0%}"


@pytest.mark.parametrize(
    "query",
    [
        "v=1&opt=hb&grid=16",
        "v=1&opt=hb",  # the default grid, where the fit leaves -1e-3 against 67 near the minimum
        "v=1&opt=lion&grid=16",  # exact sign: R = 0
        "v=1&opt=adam&grid=16",
        "v=1&opt=rmsprop&grid=16&loss=rosenbrock",
    ],
)
def test_the_sign_panel_says_what_hr_does(query):
    surf = compute.surfaces(Scenario.parse(query))
    hR = surf.perturbed - surf.loss
    caption = plots.sign_caption(surf)
    # resolved signs: |hR| above a thousandth of its largest value (the card's threshold)
    tiny = 1e-3 * np.abs(hR).max()
    up, down = (hR > tiny).mean(), (hR < -tiny).mean()
    if not (hR != 0).any():
        assert caption.startswith("hR = 0 on the whole window"), caption
    elif down == 0:
        assert caption.startswith("hR ≥ 0 wherever its sign is resolved (uniform sign: raises")
    elif up == 0:
        assert caption.startswith("hR ≤ 0 wherever its sign is resolved (uniform sign: lowers")
    else:
        assert f"raises the loss on {share(up)}" in caption, caption
        assert f"lowers it on {share(down)}" in caption, caption
    if (hR != 0).any() and 1 - up - down >= 0.005:
        assert f"On {share(1 - up - down)} of it |hR| is below" in caption, caption
    if "opt=lion" in query:
        assert caption.startswith("hR = 0")
    if query == "v=1&opt=hb":  # THEORY §5: R = beta/(2(1-beta)^2) ||g||^2 never lowers the loss
        assert caption.startswith("hR ≥ 0 wherever"), caption
    # the panel shows hR's magnitude with its sign where the sign is resolved, white elsewhere
    shade = next(t for t in plots.sign_figure(surf).data if t.type == "heatmap").z
    resolved = np.abs(hR) > tiny
    assert (np.sign(shade[resolved]) == np.sign(hR[resolved])).all()
    assert (shade[~resolved] == 0).all()
    if resolved.any():  # larger |hR|, deeper colour
        order = np.argsort(np.abs(hR[resolved]))
        assert (np.diff(np.abs(shade[resolved])[order]) >= -1e-12).all()


def test_metric_labels_are_short_and_a_diverged_run_says_where():
    at = open_page("playground", SMALL)
    assert all(len(m.label) <= 22 for m in at.metric), [m.label for m in at.metric]
    at = open_page("playground", SMALL | {"opt": "hb", "lr": "3", "steps": "60"})
    diverged = [m for m in at.metric if m.value == "diverged"]
    assert diverged and all(m.delta.startswith("at step ") for m in diverged)


def test_home_links_every_page_lessons_first():
    at = open_page("home", {})
    links = [link.proto.page for link in at.get("page_link")]
    every = [path for path in pages._PAGES if path]  # every url path but home's
    assert links[0] == "lessons" and sorted(links) == sorted(every), links


def test_network_compare_sidebar_shows_only_what_the_comparison_uses():
    at = open_page("network", {"v": "1", "steps": "10", "n": "40", "width": "4"})
    assert at.number_input(key="wn_b1")  # single mode: the optimizer's betas
    at = open_page("network", {"v": "1", "steps": "10", "n": "40", "width": "4", "compare": "1"})
    keys = {w.key for w in at.sidebar.number_input}
    assert not keys & {"wn_lr", "wn_b1", "wn_b2", "wn_eps", "wn_wd"}
    # each optimizer's own learning rate and weight decay instead (core.scenarios.pair)
    assert {"wnc_lrs", "wnc_wd"} <= {w.key for w in at.sidebar.text_input}
    assert not at.sidebar.radio  # no landscape in compare mode


def test_theory_table_scrolls_instead_of_overflowing():
    at = open_page("theory", SMALL | {"hs": "0.04,0.02", "T": "0.4"})
    assert not at.table  # a static table is cut off at 390 px
    (frame,) = at.dataframe
    assert "asymptotic" in frame.value.columns
