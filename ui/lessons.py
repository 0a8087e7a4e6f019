"""The lessons of /lessons, written as data in ui/lessons.toml: each a sequence of steps,
each step a page's scenario (its full query), a question the student answers before the
reveal (a choice, a number or a click on the map), the quantity that answers it (a key
of ui.gallery.METRICS, measured on the scenario when the step is shown: `measure`), the
answer the lesson's words expect, one sentence of why and the figure the reveal draws.
tests/test_lessons.py measures every answer and claim, so a lesson whose words its own
numbers contradict cannot land; the page, which always shows the measured answer, also
says so should they ever disagree.

The URL holds the lesson and the step (`LessonQuery`: lesson=<id>&step=<k>, k = n + 1
the summary), kept by PAGE, a ui.state.PageState like every page's: a shared link opens
on its step, and the browser's back and forward move between the steps."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from core.scenarios.query import (
    Field,
    QueryMixin,
    constant,
    in_range,
    integer,
    one_of,
    query_dataclass,
)
from ui import cache, gallery, plots, state, study_plots
from ui.gallery import Claim

ASKS = ("choice", "number", "click")
# a prediction on the map: a shape and colour no run and no start uses (ui.style)
ON_MAP = " (the purple ✚ on the map)"
PREDICTION = {
    "symbol": "cross",
    "size": 17,
    "color": "#7b2cbf",
    "line": {"width": 1.5, "color": "white"},
}


@dataclass(frozen=True)
class Step:
    page: str  # the url path of the page whose scenario this is
    query: str
    text: str
    question: str
    ask: str  # one of ASKS
    metric: str  # a key of ui.gallery.METRICS
    answer: object  # a choice's value, a number, or a point (x, y)
    figure: str  # a key of FIGURES
    why: str
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    within: float = 0.0  # how far a number or a point may be from the answer
    claims: tuple[Claim, ...] = ()


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    blurb: str
    steps: tuple[Step, ...]


def matches(value, expected, within: float = 0.0) -> bool:
    """Whether a measured value (or a prediction) is the expected one: the same choice,
    or a number or a point no farther than `within` from it."""
    if isinstance(value, str) or isinstance(expected, str):
        return value == expected
    distance = float(np.linalg.norm(np.subtract(value, expected, dtype=float)))
    return distance <= within  # False for nan


def measure(step: Step):
    """The step's answer, measured on its scenario (the app's cached computations)."""
    return gallery.METRICS[step.metric](gallery.scenario(step))


def check(step: Step) -> tuple[bool, object]:
    """(does the measured answer match the lesson's, the measured answer)."""
    measured = measure(step)
    return matches(measured, step.answer, step.within), measured


def shown(step: Step, value) -> str:
    """A measured answer or a prediction as the page says it."""
    if value is None:
        return "no prediction"
    if step.ask == "choice":
        return dict(step.choices).get(value, value)
    if step.ask == "number":
        return f"{value:.3g}" if math.isfinite(value) else "not defined here (nan)"
    x, y = (round(v, 2) + 0.0 for v in value)  # + 0.0: no "-0.00"
    return f"({x:.2f}, {y:.2f})"


# --- what the reveal shows beside the answer: the numbers it was measured from --------


def _compared(step: Step) -> str:
    numbers = gallery.SMALLEST[step.metric](gallery.scenario(step))
    return " · ".join(f"{k} {v:.4g}" for k, v in numbers.items())


def _interval(v: dict) -> str:
    if v["mean"] is None:  # no run has the value: h R of a non-smooth update
        return "not defined (outside the theorem, THEORY §11)"
    if v["lo"] is None:
        return f"{v['mean']:.3g}"
    return f"{v['mean']:.3g} [{v['lo']:.3g}, {v['hi']:.3g}]"


def _study(metric: str) -> Callable[[Step], str]:
    def numbers(step: Step) -> str:
        s = gallery.scenario(step)
        a, b = s.opts
        each = " · ".join(f"{o} {_interval(gallery.study_interval(s, o, metric))}" for o in s.opts)
        diff = gallery.study_paired(s, metric)
        return f"means [95% intervals]: {each} · per seed, {b} − {a}: {_interval(diff)}"

    return numbers


def _regularizer(step: Step) -> str:
    report = cache.regularizer(gallery.scenario(step))
    v = report.window
    return (
        f"h·R > 0 on {v.positive_fraction:.0%} and < 0 on {v.negative_fraction:.0%} of the window"
    )


def _order(step: Step) -> str:
    study = cache.order(gallery.scenario(step))
    return f"fitted on {study.fit_rows} of {len(study.h)} step sizes (THEORY §12)"


EVIDENCE: dict[str, Callable[[Step], str]] = {
    **{name: _compared for name in gallery.SMALLEST},
    "effect": _regularizer,
    "fitted slope corrected": _order,
    "fitted slope memoryless": _order,
    "study: optimizers whose h·R is below 0": _study("hR_mean"),
    "study: lower final training loss": _study("train_loss"),
    "study: fewer steps to the threshold": _study("steps"),
    "study: smaller generalization gap": _study("gap"),
}


# --- the figures ----------------------------------------------------------------------


def _map(step: Step, height: int, z: str | None = None) -> go.Figure:
    s = gallery.scenario(step)
    surf = cache.surfaces(s)
    z = surf.perturbed if z == "perturbed" else None
    return plots.trajectory_figure(surf, cache.summary(s), z=z, height=height, animated=False)


def _study_figure(draw: Callable) -> Callable[[Step, int], go.Figure]:
    return lambda step, height: draw(cache.study(gallery.scenario(step)), height)


# what the reveal draws: the pages' own figures of the step's scenario
FIGURES: dict[str, Callable[[Step, int], go.Figure]] = {
    "map": _map,
    "perturbed": lambda step, height: _map(step, height, "perturbed"),
    "hR": lambda step, height: plots.sign_figure(
        cache.surfaces(gallery.scenario(step)), height=height
    ),
    "order": lambda step, height: plots.order_figure(
        cache.order(gallery.scenario(step)), height=height
    ),
    "study means": _study_figure(lambda res, h: study_plots.means_figure(res, height=h)),
    "study regularizer": _study_figure(
        lambda res, h: study_plots.regularizer_figure(res, height=h)
    ),
    "study gap": _study_figure(lambda res, h: study_plots.paired_figure(res, "gap", height=h)),
}


def question_figure(step: Step, height: int) -> go.Figure | None:
    """Before the reveal: a 2D step's loss and start, no run (the map a click answers
    on); a study step has no figure before its reveal."""
    if step.page == "study":
        return None
    s = gallery.scenario(step)
    click = "predict here" if step.ask == "click" else None
    return plots.trajectory_figure(
        cache.surfaces(s), cache.summary(s), height=height, animated=False, runs=False, click=click
    )


def mark(fig: go.Figure, step: Step, prediction, measured) -> go.Figure:
    """A click step's prediction on its figure, and (measured given) the answer with the
    circle of radius `within` that counts as right."""
    if step.ask != "click":
        return fig
    if measured is not None:
        x, y, r = *measured, step.within
        fig.add_shape(
            type="circle", x0=x - r, x1=x + r, y0=y - r, y1=y + r, line={"dash": "dot", "width": 2}
        )
    if prediction is not None:
        hover = "your prediction (%{x:.2f}, %{y:.2f})<extra></extra>"
        # out of the legend (a third row would run into a phone's x axis): the text says it
        fig.add_trace(
            plots.marker_at(prediction, PREDICTION, showlegend=False, hovertemplate=hover)
        )
    return fig


# --- reading the lessons ---------------------------------------------------------------


def _step(lesson: str, k: int, entry: dict) -> Step:
    where = f"{lesson}, step {k}"
    if unknown := set(entry) - {f.name for f in fields(Step)}:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    claims = tuple(Claim(*claim) for claim in entry.pop("claims", ()))
    choices = tuple(tuple(c) for c in entry.pop("choices", ()))
    answer = entry.pop("answer")
    step = Step(
        **entry,
        answer=tuple(answer) if isinstance(answer, list) else answer,
        choices=choices,
        claims=claims,
    )
    if step.ask not in ASKS:
        raise ValueError(f"{where}: ask is one of {', '.join(ASKS)}")
    if step.metric not in gallery.METRICS or step.figure not in FIGURES:
        raise ValueError(f"{where}: unknown metric or figure")
    for claim in claims:
        if claim.metric not in gallery.METRICS:
            raise ValueError(f"{where}: {claim.text}: unknown metric")
    if step.ask == "choice" and step.answer not in dict(choices):
        raise ValueError(f"{where}: the answer is not one of its choices")
    if step.ask == "click" and len(step.answer) != 2:
        raise ValueError(f"{where}: a click's answer is a point [x, y]")
    if "THEORY §" not in step.why:
        raise ValueError(f"{where}: the why cites no section of docs/theory.md")
    return step


def load(text: str) -> tuple[Lesson, ...]:
    """The lessons of a lessons file (TOML: see ui/lessons.toml); a step with an unknown
    metric, figure or kind of question, an answer its question cannot give, or a why
    without a THEORY § is refused with its lesson and step."""
    lessons = []
    for entry in tomllib.loads(text)["lesson"]:
        steps = tuple(_step(entry["id"], k, s) for k, s in enumerate(entry.pop("step"), 1))
        lessons.append(Lesson(**entry, steps=steps))
    ids = [lesson.id for lesson in lessons]
    if len(set(ids)) != len(ids) or not all(ids):
        raise ValueError("lesson ids must be distinct and not empty")
    return tuple(lessons)


LESSONS = load(Path(__file__).with_name("lessons.toml").read_text(encoding="utf-8"))
BY_ID = {lesson.id: lesson for lesson in LESSONS}


# --- the URL ---------------------------------------------------------------------------


def _check_lesson(lesson: str, s) -> None:
    if lesson:  # "": no lesson, the list
        one_of(tuple(BY_ID))(lesson, s)


def _check_step(step: int, s) -> None:
    in_range(1, len(BY_ID[s["lesson"]].steps) + 1)(step, s)  # n + 1: the summary


@query_dataclass
class LessonQuery(QueryMixin):
    """A lesson and its step (none: the list of lessons)."""

    SPECS = (
        Field("lesson", str, constant(""), _check_lesson),
        Field("step", integer, constant(1), _check_step, lambda s: bool(s["lesson"])),
    )

    lesson: str
    step: int | None

    def to_params(self) -> dict[str, str]:
        """The step is always written with its lesson: a shared link says where it opens."""
        params = super().to_params()
        return params | ({"step": str(self.step)} if self.lesson else {})


PAGE = state.PageState(LessonQuery, prefix="wl_", session="_lesson", fields=())
