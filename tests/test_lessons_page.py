"""/lessons under AppTest (issue 22): the list links every lesson; a step hides its runs
and its answer until a prediction is made, then shows the measured answer beside it;
Next and Back move the step in the URL; teaching mode keeps the question and one
button; the summary sets each prediction against its answer; bad URLs fall back."""

from __future__ import annotations

from dataclasses import replace

import pytest
from app_harness import assert_clean, figures, open_page

from core.engine.dynamics import DYNAMICS
from ui import lessons
from ui.lessons import BY_ID, measure, shown


def _open(lesson: str = "", step: int | None = None, **flags: str):
    params = {"v": "1"} | ({"lesson": lesson, "step": str(step)} if lesson else {}) | flags
    return open_page("lessons", params)


def _runs(at) -> set[str]:
    """The runs drawn on the page's figures."""
    return {t.get("name") for fig in figures(at) for t in fig["data"]} & set(DYNAMICS)


def _markdown(at) -> str:
    """The page's text: paragraphs and headings."""
    return "\n".join(m.value for m in (*at.markdown, *at.header, *at.subheader))


def test_the_list_links_every_lesson_to_its_first_step():
    at = _open()
    assert_clean(at, "Lessons")
    links = [(link.proto.page, link.proto.query_string) for link in at.get("page_link")]
    expected = [("lessons", f"lesson={lesson.id}&step=1") for lesson in lessons.LESSONS]
    assert sorted(links) == sorted(expected)  # in three columns


def test_a_step_hides_its_runs_and_answer_until_a_prediction_then_reveals_them():
    at = _open("memory", 1)
    assert_clean(at, "What memory is")
    step = BY_ID["memory"].steps[0]
    reveal = at.button(key="reveal-memory/1")
    assert reveal.disabled and not _runs(at) and "Answer" not in _markdown(at)
    assert not at.main.get("html")  # the type of a screen, not a projector
    at.radio(key="wl-memory/1").set_value("memoryless").run()
    assert not at.button(key="reveal-memory/1").disabled and not _runs(at)
    at.button(key="reveal-memory/1").click().run()
    assert not at.exception
    assert _runs(at) == set(DYNAMICS)  # the runs, drawn with the page's figure
    text = _markdown(at)
    assert f"Answer: {shown(step, measure(step))}" in text
    assert "Your prediction: the memoryless run · **not this time**" in text
    assert "THEORY §1" in text
    assert at.radio(key="wl-memory/1").disabled  # a prediction is made before the reveal
    numbers = next(c.value for c in at.caption if c.value.startswith("Computed from the runs"))
    assert "memory 0.2143" in numbers and "memoryless 0.2486" in numbers


def test_next_and_back_move_the_step_in_the_url_and_keep_the_prediction():
    at = _open("memory", 1)
    at.radio(key="wl-memory/1").set_value("memory").run()
    at.button(key="lesson-next").click().run()
    assert at.query_params["lesson"] == "memory" and at.query_params["step"] == "2"
    assert at.caption[0].value == "Lesson 1 of 6 · step 2 of 2"
    at.button(key="lesson-back").click().run()
    assert at.query_params["step"] == "1"
    assert at.radio(key="wl-memory/1").value == "memory"  # still this session's prediction
    at.button(key="lesson-back").click().run()  # from the first step: the list
    assert "lesson" not in at.query_params and at.title[0].value == "Lessons"


def test_a_number_is_judged_against_the_measured_slope():
    at = _open("correction", 2)
    assert at.button(key="reveal-correction/2").disabled
    at.number_input(key="wl-correction/2").set_value(2.0).run()
    at.button(key="reveal-correction/2").click().run()
    step = BY_ID["correction"].steps[1]
    slope = measure(step)
    assert f"Answer: {slope:.3g}" in _markdown(at)
    assert "**right (within 0.3)**" in _markdown(at)
    assert any(fig["layout"]["xaxis"].get("type") == "log" for fig in figures(at))  # /theory's


def test_teaching_mode_shows_the_question_large_and_the_reveal_behind_one_button():
    at = _open("lion", 2, teach="1")
    assert not at.exception and not at.radio and not at.number_input
    assert [h.value for h in at.header] == ["What does the correction h·M add to Lion's loss?"]
    reveal = at.button(key="reveal-lion/2")
    assert not reveal.disabled  # the class predicts aloud
    assert not at.get("page_link")  # nothing else on screen
    (style,) = at.get("html")  # projector-size type (no sidebar: no preload)
    assert "font-size" in style.proto.body
    reveal.click().run()
    assert at.header[-1].value == "Answer: nothing: M = 0"
    at.button(key="lesson-next").click().run()
    assert at.query_params["teach"] == "1" and at.query_params["step"] == "3"


def test_the_summary_sets_each_prediction_against_its_answer_with_links():
    at = _open("memory", 1)
    at.radio(key="wl-memory/1").set_value("memory").run()
    at.button(key="lesson-next").click().run()
    at.button(key="lesson-next").click().run()  # step 2 without a prediction
    assert at.query_params["step"] == "3"
    assert_clean(at, "What memory is")
    text = _markdown(at)
    assert "Your prediction: the memory run (heavy ball) · answer: **the memory run" in text
    assert "Your prediction: no prediction · answer: **(-1.28" in text
    assert "**1 of 2 predictions right.**" in text
    links = [(link.proto.page, link.proto.query_string) for link in at.get("page_link")]
    for step in BY_ID["memory"].steps:
        assert (step.page, step.query) in links
    assert ("lessons", "lesson=correction&step=1") in links  # the next lesson


@pytest.mark.parametrize(
    ("params", "key", "title"),
    [
        ({"lesson": "nope", "step": "2"}, "lesson", "Lessons"),
        ({"lesson": "lion", "step": "99"}, "step", "Lion: the sign"),
        ({"lesson": "lion", "step": "[x](http://a.b)"}, "step", "Lion: the sign"),
    ],
)
def test_a_bad_url_falls_back_with_a_warning_naming_its_key(params, key, title):
    at = open_page("lessons", {"v": "1"} | params)
    assert not at.exception and at.title[0].value == title
    (warning,) = at.warning
    assert f"`{key}:" in warning.value
    assert "](" not in warning.value.replace("`", "").split(key, 1)[0]  # shown as code


def test_the_page_says_so_when_a_lesson_s_words_and_numbers_disagree(monkeypatch):
    lesson = BY_ID["memory"]
    wrong = replace(lesson.steps[0], answer="memoryless")
    monkeypatch.setitem(BY_ID, "memory", replace(lesson, steps=(wrong, *lesson.steps[1:])))
    at = _open("memory", 1)
    at.radio(key="wl-memory/1").set_value("memory").run()
    at.button(key="reveal-memory/1").click().run()
    (warning,) = at.warning
    assert "expect the memoryless run, but the numbers give the memory run" in warning.value
    assert "Answer: the memory run (heavy ball)" in _markdown(at)  # the numbers win
