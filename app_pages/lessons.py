"""/lessons: predict, then reveal.  The list of lessons; a lesson's step (its text, its
scenario drawn without its runs, the question, the student's prediction, then the
reveal: the runs, the measured answer beside the prediction, and why); a lesson's
summary.  The lessons are data (ui/lessons.toml, read by ui/lessons.py); the URL holds
the lesson and the step."""

import streamlit as st

from ui import layout
from ui.lessons import (
    BY_ID,
    EVIDENCE,
    FIGURES,
    LESSONS,
    ON_MAP,
    PAGE,
    Lesson,
    LessonQuery,
    Step,
    mark,
    matches,
    measure,
    question_figure,
    shown,
)

PREDICTIONS, REVEALED = "_lesson_predictions", "_lesson_revealed"  # session keys
q = PAGE.scenario()
layout.projector_type()


def _key(lesson: Lesson, k: int) -> str:
    return f"{lesson.id}/{k}"


def _predictions() -> dict:
    return st.session_state.setdefault(PREDICTIONS, {})


def _revealed() -> set:
    return st.session_state.setdefault(REVEALED, set())


def go(lesson: str, step: int | None) -> None:
    """Next, Back: publish the lesson's step (the browser keeps each in its history)."""
    PAGE.publish(LessonQuery(lesson=lesson, step=step if lesson else None))


def predict(key: str, value) -> None:
    """A prediction, until its step is revealed."""
    if key not in _revealed():
        _predictions()[key] = value


def reveal(key: str) -> None:
    _revealed().add(key)


def prediction_widget(step: Step, key: str, done: bool) -> None:
    """A choice or a number, kept in the session (a widget's own state goes when its
    step is left); a click is made on the map."""
    widget = f"wl-{key}"
    if widget not in st.session_state and key in _predictions():
        st.session_state[widget] = _predictions()[key]
    store = {"on_change": lambda: predict(key, st.session_state[widget]), "disabled": done}
    if step.ask == "choice":
        labels = dict(step.choices)
        st.radio(
            "Your prediction", list(labels), format_func=labels.get, index=None, key=widget, **store
        )
    elif step.ask == "number":
        st.number_input(
            "Your prediction", value=None, format="%g", key=widget, placeholder="a number", **store
        )
    elif not done:  # after the reveal the prediction is said beside the answer
        where = _predictions().get(key)
        st.markdown(
            f"Your prediction{ON_MAP}: **{shown(step, where)}**"
            if where is not None
            else "Click the map to place your prediction."
        )


def overview() -> None:
    st.title("Lessons")
    st.caption(
        "Predict, then reveal: each step asks a question about a scenario before it "
        "shows the runs, then shows the answer computed from them beside your "
        "prediction, and why. Each lesson's step is in the URL: share it and the class "
        "opens the same step. Add teach=1 to the URL for a projector."
    )
    columns = st.columns(3)
    for i, lesson in enumerate(LESSONS, 1):
        with columns[(i - 1) % 3].container(border=True):
            st.markdown(f"**{i}. {lesson.title}**")
            st.caption(f"{lesson.blurb} {len(lesson.steps)} steps.")
            layout.page_link("lessons", f"Start lesson {i} →", f"lesson={lesson.id}&step=1")


def step_view(lesson: Lesson, k: int) -> None:
    step, key = lesson.steps[k - 1], _key(lesson, k)
    n, done = len(lesson.steps), key in _revealed()
    st.title(lesson.title)
    st.caption(f"Lesson {list(BY_ID).index(lesson.id) + 1} of {len(BY_ID)} · step {k} of {n}")
    with st.spinner("Computing this step's runs…"):
        measured = measure(step)  # the answer, computed now; shown after the reveal
    st.markdown(step.text)
    prediction = _predictions().get(key)
    figure, answer = st.columns([3, 2], gap="large")
    with figure:
        height = layout.height(420)
        fig = FIGURES[step.figure](step, height) if done else question_figure(step, height)
        if fig is None:
            st.caption("The study's figure is drawn with the reveal.")
        else:
            fig = mark(fig, step, prediction, measured if done else None)
            on_click = (
                (lambda x, y: predict(key, (round(x, 3), round(y, 3))))
                if step.ask == "click"
                else None
            )
            layout.chart(fig, f"lesson-{key}", on_click=on_click)
    with answer:
        layout.heading(step.question)
        asked = layout.for_each_student(prediction_widget, step, key, done)
        if not done:
            ready = prediction is not None or not asked  # teaching: the class predicts aloud
            st.button(
                "Reveal the answer",
                key=f"reveal-{key}",
                type="primary",
                disabled=not ready,
                on_click=reveal,
                args=(key,),
            )
            if not ready:
                st.caption("Make your prediction first.")
        else:
            revealed(step, measured, prediction)
    back, forward = st.columns(2)
    back.button(
        "← Back",
        key="lesson-back",
        on_click=go,
        width="stretch",
        args=(lesson.id, k - 1) if k > 1 else ("", None),
    )
    forward.button(
        "Summary →" if k == n else "Next →",
        key="lesson-next",
        on_click=go,
        args=(lesson.id, k + 1),
        width="stretch",
        type="primary" if done else "secondary",
    )


def revealed(step: Step, measured, prediction) -> None:
    """The answer measured from the runs, the prediction beside it, and why."""
    if not matches(measured, step.answer, step.within):
        st.warning(
            f"This lesson's words expect {shown(step, step.answer)}, but the numbers give "
            f"{shown(step, measured)}: the numbers are what is shown.",
            icon=":material/warning:",
        )
    layout.heading(f"Answer: {shown(step, measured)}")
    if step.metric in EVIDENCE:
        st.caption(f"Computed from the runs: {EVIDENCE[step.metric](step)}")
    layout.for_each_student(beside, step, measured, prediction)
    st.markdown(f"**Why.** {step.why}")
    layout.for_each_student(
        layout.page_link, step.page, f"Open this scenario in /{step.page} →", step.query
    )


def beside(step: Step, measured, prediction) -> None:
    """The student's prediction beside the measured answer."""
    right = matches(prediction, measured, step.within)
    close = f" (within {step.within:g})" if step.within else ""
    verdict = f"right{close}" if right else "not this time"
    on_map = ON_MAP if step.ask == "click" and prediction is not None else ""
    st.markdown(f"Your prediction{on_map}: {shown(step, prediction)} · **{verdict}**")


def summary_view(lesson: Lesson) -> None:
    st.title(lesson.title)
    st.caption("Summary: each prediction against the answer computed from the runs.")
    right = 0
    with st.spinner("Computing the lesson's answers…"):
        answers = [measure(step) for step in lesson.steps]
    for k, (step, measured) in enumerate(zip(lesson.steps, answers, strict=True), 1):
        prediction = _predictions().get(_key(lesson, k))
        hit = prediction is not None and matches(prediction, measured, step.within)
        right += hit
        mark_ = "–" if prediction is None else ("✓" if hit else "✗")
        with st.container(border=True):
            st.markdown(f"**{k}. {step.question}**")
            st.markdown(
                f"Your prediction: {shown(step, prediction)} · answer: "
                f"**{shown(step, measured)}** · {mark_}"
            )
            layout.page_link(step.page, f"Open in /{step.page} →", step.query)
    st.markdown(f"**{right} of {len(lesson.steps)} predictions right.**")
    back, forward = st.columns(2)
    back.button(
        "← Back",
        key="lesson-back",
        on_click=go,
        args=(lesson.id, len(lesson.steps)),
        width="stretch",
    )
    later = list(BY_ID).index(lesson.id) + 1
    with forward:
        if later < len(LESSONS):
            after = LESSONS[later]
            layout.page_link(
                "lessons", f"Next lesson: {after.title} →", f"lesson={after.id}&step=1"
            )
        layout.page_link("lessons", "All lessons", "v=1")


if not q.lesson:
    overview()
elif q.step > len(BY_ID[q.lesson].steps):
    summary_view(BY_ID[q.lesson])
else:
    step_view(BY_ID[q.lesson], q.step)
