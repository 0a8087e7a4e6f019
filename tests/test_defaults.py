"""Issue 20: the view a page opens with lies inside the theorem: its corrected run ends
closer to the memory run than the memoryless one, measured with the gallery's own metrics
(ui.gallery.METRICS: "gap ratio" on the 2D pages, "order error ratio" on /theory,
"network distance ratio" on /network, the smallest cell's ratio on a phase diagram).  So
does every gallery entry and /network preset that does not say it is a counter-example;
one that says so is one.

/study trains the memory run alone (no corrected run: nothing to compare); a /sweep
opens on a map whose cells span the regimes by design (its panel "where the theory
works" is the per-cell ratio), so it has no single default run."""

from __future__ import annotations

import pytest

from core.engine.registry import record
from core.scenarios.network_scenario import (
    COUNTEREXAMPLES,
    PRESETS,
    CompareScenario,
    NetworkScenario,
)
from core.scenarios.scenario import Scenario
from ui import cache
from ui.gallery import GALLERY, METRICS, scenario

RATIO = {  # per page: the gallery metric that says how close the corrected run ends
    "playground": "gap ratio",
    "compare": "gap ratio",
    "theory": "order error ratio",
    "network": "network distance ratio",
    "sweep": "sweep error ratio at small h and beta",
}


def ratios(page: str, s, opts: tuple[str | None, ...] = (None,)) -> dict:
    """{optimizer: corrected / memoryless distance} of scenario s on `page` (per compared
    optimizer on /compare and in /network's compare mode); an optimizer without memory
    has its three runs equal (both distances 0) and no ratio."""
    out = {}
    for opt in opts:
        if opt is None:
            run = s
        elif isinstance(s, CompareScenario):  # each optimizer at its own lr and wd
            run = s.run(opt)
        else:
            run = s.with_optimizer(opt)
        if not record(run.opt).betas:  # gradient descent: memoryless = corrected = memory
            summary = cache.summary(run)
            assert summary.gap_memoryless == summary.gap_corrected == 0.0
            continue
        out[opt or run.opt] = METRICS[RATIO[page]](run)
    return out


DEFAULTS = {
    "playground": lambda: ratios("playground", Scenario()),
    "compare": lambda: ratios("compare", Scenario(), Scenario().cmp),
    "theory": lambda: ratios("theory", Scenario()),
    "network": lambda: ratios("network", NetworkScenario()),
}


@pytest.mark.parametrize("page", DEFAULTS)
def test_every_page_opens_with_the_corrected_run_closer_than_the_memoryless_one(page):
    measured = DEFAULTS[page]()
    assert measured and all(r < 1 for r in measured.values()), (page, measured)


def _opts(example) -> tuple[str | None, ...]:
    """The optimizers an entry shows: /compare's list, both in /network's compare mode."""
    if example.page == "compare":
        return scenario(example).cmp
    if example.page == "network" and "compare=1" in example.query:
        return scenario(example).opts
    return (None,)


@pytest.mark.parametrize("example", GALLERY, ids=[e.title[:40] for e in GALLERY])
def test_every_gallery_entry_is_inside_the_theorem_or_says_it_is_a_counterexample(example):
    measured = ratios(example.page, scenario(example), _opts(example))
    assert measured
    if example.counterexample:  # it says so, and it is: some run is not closer
        assert any(not r < 1 for r in measured.values()), (example.title, measured)
    else:
        assert all(r < 1 for r in measured.values()), (example.title, measured)


@pytest.mark.parametrize("name", PRESETS)
def test_network_presets_are_inside_the_theorem_or_labelled_counterexamples(name):
    s = NetworkScenario().updated(**dict(p.split("=") for p in PRESETS[name].split("&")))
    (ratio,) = ratios("network", s).values()
    assert (ratio < 1) == (name not in COUNTEREXAMPLES), (name, ratio)
