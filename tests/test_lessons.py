"""The lessons of /lessons (issue 22): every answer a step states is the one its numbers
give, and so is every claim of its words; a lesson whose answer the numbers contradict
fails here; the lessons file refuses what it cannot teach; the URL holds lesson and step."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from core.analyses import compute
from core.engine.dynamics import simulate
from core.scenarios.query import ScenarioError
from core.scenarios.scenario import Scenario
from ui import cache, gallery, lessons
from ui.lessons import LESSONS, LessonQuery, check, load, matches

ROOT = Path(__file__).resolve().parents[1]
TEXT = (ROOT / "ui" / "lessons.toml").read_text(encoding="utf-8")
STEPS = [(lesson, k, step) for lesson in LESSONS for k, step in enumerate(lesson.steps, 1)]
IDS = [f"{lesson.id}/{k}" for lesson, k, _ in STEPS]


@pytest.mark.parametrize(("lesson", "k", "step"), STEPS, ids=IDS)
def test_the_stated_answer_is_the_computed_one(lesson, k, step):
    holds, measured = check(step)
    assert holds, f"{lesson.id} step {k}: states {step.answer!r}, the numbers give {measured!r}"


CLAIMS = [(lesson, k, step, c) for lesson, k, step in STEPS for c in step.claims]


@pytest.mark.parametrize(
    ("lesson", "k", "step", "claim"), CLAIMS, ids=[f"{s.id}/{k}: {c.text}" for s, k, _, c in CLAIMS]
)
def test_every_claim_of_a_step_holds(lesson, k, step, claim):
    holds, measured = gallery.check(step, claim)
    assert holds, f"{lesson.id} step {k}: {claim.text} (measured {measured!r})"


# one stated answer of each kind of question, changed in a copy of the file to what the
# numbers do not give: the check must fire
MUTATIONS = [
    ('answer = "memory"\n', 'answer = "memoryless"\n'),  # a choice
    ("answer = 2.0\n", "answer = 1.0\n"),  # a number (the corrected slope)
    ("answer = [-1.28, 0.0]\n", "answer = [0.99, 0.0]\n"),  # a click (the sharp well)
]


@pytest.mark.parametrize(("before", "after"), MUTATIONS)
def test_a_stated_answer_the_numbers_contradict_fails_the_check(before, after):
    assert TEXT.count(before) == 1
    changed = [s for lesson in load(TEXT.replace(before, after)) for s in lesson.steps]
    wrong = [s for s, s0 in zip(changed, (s for _, _, s in STEPS), strict=True) if s != s0]
    assert len(wrong) == 1
    holds, measured = check(wrong[0])
    assert not holds, measured
    original = STEPS[changed.index(wrong[0])][2]
    assert check(original) == (True, measured)  # the same numbers, the original words


def test_six_lessons_in_the_paper_s_order_with_every_kind_of_question():
    assert [lesson.id for lesson in LESSONS] == [
        "memory",
        "correction",
        "heavy-ball",
        "adam",
        "lion",
        "network",
    ]
    assert {step.ask for _, _, step in STEPS} == set(lessons.ASKS)
    assert all(2 <= len(lesson.steps) <= 4 for lesson in LESSONS)


def test_every_step_is_a_page_s_scenario_and_cites_a_section_of_the_theory():
    sections = set(re.findall(r"^## (\d+)\.", (ROOT / "docs" / "theory.md").read_text(), re.M))
    for lesson, k, step in STEPS:
        gallery.scenario(step)  # strict: a bad query raises
        cited = re.findall(r"§(\d+)(?:, §(\d+))?", step.why)
        numbers = {n for pair in cited for n in pair if n}
        assert numbers and numbers <= sections, (lesson.id, k, step.why)
        # two or three sentences (a decimal point or an ellipsis is not a full stop)
        sentences = re.findall(r"[.?!](?:\s|$)", step.text.replace("e.g.", "eg"))
        assert 1 <= len(sentences) <= 3, (lesson.id, k, step.text)


ONE = """[[lesson]]
id = "x"
title = "X"
blurb = "b"
[[lesson.step]]
page = "playground"
query = "v=1"
text = "t."
question = "q?"
ask = "choice"
choices = [["memory", "memory"], ["memoryless", "memoryless"]]
metric = "run ending lower: memory or memoryless"
answer = "memory"
figure = "map"
why = "w (THEORY §1)."
"""


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ("run ending lower", "run ending lowest", "unknown metric"),
        ('figure = "map"', 'figure = "mop"', "unknown metric or figure"),
        ('answer = "memory"', 'answer = "corrected"', "not one of its choices"),
        ('ask = "choice"', 'ask = "essay"', "ask is one of"),
        ("(THEORY §1)", "(the paper)", "cites no section"),
        ('answer = "memory"', 'ask2 = "x"\nanswer = "memory"', "x, step 1: unknown keys ask2"),
    ],
)
def test_a_step_the_page_cannot_show_is_refused_with_its_lesson_and_step(before, after, message):
    assert load(ONE)[0].steps[0].answer == "memory"
    with pytest.raises(ValueError, match=message):
        load(ONE.replace(before, after))


def test_a_click_answer_is_a_point_and_lesson_ids_are_distinct():
    click = ONE.replace('ask = "choice"', 'ask = "click"').replace(
        'answer = "memory"', "answer = [1.0]"
    )
    with pytest.raises(ValueError, match="x, step 1: a click's answer is a point"):
        load(click)
    with pytest.raises(ValueError, match="distinct"):
        load(ONE + ONE.replace("[[lesson]]", "[[lesson]]"))


def test_matches_compares_choices_numbers_and_points():
    assert matches("memory", "memory") and not matches("memory", "memoryless")
    assert matches(1.9, 2.0, 0.3) and not matches(1.6, 2.0, 0.3)
    assert matches((0.3, 0.4), (0.0, 0.0), 0.5) and not matches((0.3, 0.41), (0.0, 0.0), 0.5)
    assert not matches(math.nan, 2.0, 0.3)
    assert not matches(None, "memory")


def test_the_url_holds_lesson_and_step():
    q = LessonQuery.parse("lesson=adam&step=2")
    assert (q.lesson, q.step) == ("adam", 2)
    assert q.to_query() == "v=1&lesson=adam&step=2"
    first = LessonQuery.parse("lesson=adam")
    assert first.step == 1 and first.to_query() == "v=1&lesson=adam&step=1"  # always written
    assert LessonQuery.parse(first.to_query()) == first
    assert LessonQuery.parse("").to_query() == "v=1"  # the list of lessons
    n = len(lessons.BY_ID["adam"].steps)
    assert LessonQuery.parse(f"lesson=adam&step={n + 1}").step == n + 1  # the summary


def test_a_bad_lesson_or_step_falls_back_with_a_warning_naming_its_key():
    q, warnings = LessonQuery.from_query("lesson=nope&step=2")
    assert q.lesson == "" and q.step is None
    assert warnings[0].startswith("lesson: 'nope' is not one of memory, correction")
    q, warnings = LessonQuery.from_query("lesson=lion&step=99")
    assert (q.lesson, q.step) == ("lion", 1)
    assert warnings == ["step: 99 is out of range [1, 4]; using the default 1"]
    with pytest.raises(ScenarioError, match="step"):
        LessonQuery.parse("lesson=lion&step=0")


# --- the quantities the lessons measure, against independent computations -------------


def test_the_largest_hR_is_where_the_gradient_is_largest_for_heavy_ball():
    """Heavy ball's R is beta/(2(1-beta)^2) |g|^2 in the limit (THEORY §5): its largest
    value on the grid is where the analytic gradient's norm is."""
    s = Scenario.parse("opt=hb&loss=custom&f=0.5*x^2%2B2*y^2%2Bx*y&win=-1,2,-1,1.5&rn=inf")
    x, y = np.meshgrid(np.linspace(-1, 2, s.grid), np.linspace(-1, 1.5, s.grid))
    g2 = (x + y) ** 2 + (4 * y + x) ** 2
    iy, ix = np.unravel_index(np.argmax(g2), g2.shape)
    assert gallery.METRICS["where hR is largest"](s) == pytest.approx((x[iy, ix], y[iy, ix]))


def test_the_largest_gradient_coordinate_of_a_bowl_is_at_its_window_s_edge():
    s = gallery.scenario(lessons.BY_ID["adam"].steps[1])  # 0.005 (x^2 + y^2) on [-3, 3]^2
    measured = gallery.METRICS["largest gradient coordinate on the window"](s)
    assert measured == pytest.approx(0.01 * 3)


def test_the_distances_and_gradients_along_the_runs_match_the_torch_engine():
    """The runs of the batched torch engine (core.engine.dynamics.simulate), and the gradient by
    autograd: the largest distance between the corrected and memoryless runs, and which
    one passes through smaller gradients on average."""
    s = Scenario.parse("v=1&opt=hb")  # lesson 3, step 3
    run = simulate(compute.loss(s), compute.optimizer(s), compute.start(s), s.lr, s.steps)
    gap = (run.corrected[:, 0] - run.memoryless[:, 0]).norm(dim=-1).max()
    measured = gallery.METRICS["largest distance between the corrected and memoryless runs"](s)
    assert measured == pytest.approx(float(gap), rel=1e-9)

    def mean_squared_gradient(path):
        theta = path.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(compute.loss(s)(theta).sum(), theta)
        return float((g**2).sum(-1).mean())

    squares = {k: mean_squared_gradient(run[k][:, 0]) for k in ("memoryless", "corrected")}
    assert gallery.SMALLEST["run through smaller gradients: memoryless or corrected"](
        s
    ) == pytest.approx(squares, rel=1e-9)


def _interval(v: np.ndarray) -> tuple[float, float]:
    """scipy's 95% BCa bootstrap interval of the mean of the finite values, called here on
    the per-seed numbers (what /study states: core.analyses.study.intervals)."""
    v = v[np.isfinite(v)]
    if np.ptp(v) == 0:
        return float(v[0]), float(v[0])
    ci = stats.bootstrap(
        (v,), np.mean, n_resamples=9999, method="BCa", rng=np.random.default_rng(0)
    ).confidence_interval
    return ci.low, ci.high


def test_the_study_s_verdicts_follow_scipy_s_paired_intervals():
    s = gallery.scenario(lessons.BY_ID["network"].steps[0])
    res = cache.study(s)
    seeds = {o: res.per_seed[o] for o in s.opts}
    for metric, name in (
        ("steps", "fewer steps to the threshold"),
        ("gap", "smaller generalization gap"),
    ):
        lo, hi = _interval(seeds["lion"][metric][:, 0] - seeds["adamw"][metric][:, 0])
        expected = "lion" if hi < 0 else "adamw" if lo > 0 else gallery.NO_DIFFERENCE
        assert gallery.METRICS[f"study: {name}"](s) == expected
    below = [
        o
        for o in s.opts
        if np.isfinite(seeds[o]["hR_mean"][:, 0]).any()
        and _interval(seeds[o]["hR_mean"][:, 0])[1] < 0
    ]
    assert gallery.METRICS["study: optimizers whose h·R is below 0"](s) == (
        " and ".join(below) or "neither"
    )


def test_a_study_step_s_evidence_says_an_undefined_h_R_in_words():
    """Exact-sign Lion's h R is not defined (THEORY §11): the reveal's numbers say so
    instead of failing on the missing mean."""
    step = lessons.BY_ID["network"].steps[0]
    said = lessons.EVIDENCE[step.metric](step)
    assert "lion not defined (outside the theorem" in said
    assert "adamw -" in said  # AdamW's mean is a negative number
