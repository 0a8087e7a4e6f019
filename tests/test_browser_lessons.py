"""/lessons in a real browser (issue 22): every lesson walked by clicks from its first
step to its summary, each step's answer and runs hidden until a prediction is made (a
choice, a number, a click on the map); the browser's back and forward; a shared step
link opening on its step.  Waits are on the page's own elements, never fixed sleeps."""

from __future__ import annotations

import re

import pytest
from browser import query, settle, skip_or_fail

skip_or_fail(pytest)

from playwright.sync_api import expect  # noqa: E402

from ui.lessons import LESSONS, shown  # noqa: E402

WAIT = 90_000  # ms: the first visit of a step computes its runs (the study: seconds)
NAMES = """Array.from(document.querySelectorAll('.js-plotly-plot'))
    .flatMap(g => (g.data || []).map(t => t.name))"""
START_ONLY = f"() => {NAMES}.includes('start') && !{NAMES}.includes('memory')"
# the reveal's figure: the runs on the map, or the page's figure of the answer (the
# sign of hR, the order study, the study's), drawn in place of the question's map
REVEALED = f"() => {NAMES}.length > 0 && !({START_ONLY})()"
RUNS = f"() => {NAMES}.includes('memory')"


def _idle(page) -> None:
    """The script run is over: its elements stay put (a button re-rendered between the
    mouse's press and release would lose the click)."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState"
        " === 'notRunning'",
        timeout=WAIT,
    )


def _reveal(page):
    return page.get_by_role("button", name="Reveal the answer")


def _answer(page):
    return page.get_by_role("heading", name=re.compile("^Answer: "))


def _at_step(page, i: int, k: int, n: int) -> None:
    """Lesson i's step k (of n) is on screen, its question waiting for a prediction."""
    expect(page.get_by_text(f"Lesson {i} of {len(LESSONS)} · step {k} of {n}")).to_be_visible(
        timeout=WAIT
    )
    expect(_reveal(page)).to_be_disabled(timeout=WAIT)  # nothing predicted yet
    _idle(page)


def _predict(page, step) -> None:
    if step.ask == "choice":
        page.locator('[role="radiogroup"] label').first.click()
    elif step.ask == "number":
        field = page.get_by_label("Your prediction")
        field.fill("1.5")
        field.press("Enter")
    else:  # a click on the map's middle
        area = page.locator(".js-plotly-plot .nsewdrag").first
        expect(area).to_be_visible(timeout=WAIT)
        box = area.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        expect(page.get_by_text(re.compile(r"^Your prediction .*: \(-?\d"))).to_be_visible(
            timeout=WAIT
        )


def _walk(page, i: int, lesson) -> None:
    n = len(lesson.steps)
    for k, step in enumerate(lesson.steps, 1):
        _at_step(page, i, k, n)
        assert _answer(page).count() == 0  # hidden, and so are the runs:
        if step.page == "study":
            expect(page.get_by_text("The study's figure is drawn with the reveal.")).to_be_visible(
                timeout=WAIT
            )
        else:  # the map with the start alone (the step before drew its runs there)
            page.wait_for_function(START_ONLY, timeout=WAIT)
        assert query(page.url) == {"v": "1", "lesson": lesson.id, "step": str(k)}
        _predict(page, step)
        expect(_reveal(page)).to_be_enabled(timeout=WAIT)
        _idle(page)
        _reveal(page).click()
        expect(_answer(page)).to_be_visible(timeout=WAIT)
        if step.ask == "choice":  # the stated answer is the measured one (test_lessons)
            expect(_answer(page)).to_have_text(f"Answer: {shown(step, step.answer)}", timeout=WAIT)
        page.wait_for_function(
            RUNS if step.figure in ("map", "perturbed") else REVEALED, timeout=WAIT
        )
        why = page.locator("p").filter(has_text=re.compile(r"^Why\. .*THEORY §\d"))
        expect(why).to_be_visible(timeout=WAIT)
        _idle(page)
        page.get_by_role("button", name="Summary →" if k == n else "Next →").click()
    expect(page.get_by_text("Summary: each prediction")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text(re.compile(rf"^\d of {n} predictions right"))).to_be_visible(
        timeout=WAIT
    )
    assert page.locator('[data-testid="stPageLink"] a', has_text="Open in /").count() == n
    _idle(page)


def test_every_lesson_walked_by_clicks_with_back_and_forward(server, page):
    page.goto(f"{server}/lessons")
    page.get_by_role("link", name="Start lesson 1 →").click()
    for i, lesson in enumerate(LESSONS, 1):
        if i > 1:  # from the summary of the lesson before
            page.get_by_role("link", name=f"Next lesson: {lesson.title} →").click()
        _walk(page, i, lesson)
    last = LESSONS[-1]
    n = len(last.steps)
    page.go_back()  # the browser's back: the last step, still revealed
    expect(page.get_by_text(f"step {n} of {n}")).to_be_visible(timeout=WAIT)
    expect(_answer(page)).to_be_visible(timeout=WAIT)
    assert query(page.url)["step"] == str(n)
    page.go_back()
    expect(page.get_by_text(f"step {n - 1} of {n}")).to_be_visible(timeout=WAIT)
    page.go_forward()
    page.go_forward()
    expect(page.get_by_text("Summary: each prediction")).to_be_visible(timeout=WAIT)
    assert query(page.url) == {"v": "1", "lesson": last.id, "step": str(n + 1)}


def test_a_shared_step_link_opens_on_that_step(server, page):
    page.goto(f"{server}/lessons?v=1&lesson=adam&step=2&teach=1")  # a new session
    settle(page)  # the page's style (projector type) included
    expect(page.get_by_text("Lesson 4 of 6 · step 2 of 3")).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("heading", name="And now?")).to_be_visible(timeout=WAIT)
    assert _answer(page).count() == 0  # teaching mode: the reveal behind its one button
    size = "e => parseFloat(getComputedStyle(e).fontSize)"
    sizes = [
        page.get_by_role("heading", name="And now?").evaluate(size),
        page.get_by_text(re.compile("^The same bowl and betas")).evaluate(size),
    ]
    assert sizes[0] >= 40 and sizes[1] >= 24, sizes  # the question large, projector type
    _reveal(page).click()
    expect(_answer(page)).to_have_text("Answer: it regularizes", timeout=WAIT)
    assert query(page.url) == {"v": "1", "lesson": "adam", "step": "2", "teach": "1"}


OVERFLOW = """() => Array.from(document.querySelectorAll('[data-testid=stMain] *'))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).length"""


def test_a_step_fits_a_phone_before_and_after_its_reveal(server, page):
    """390 px, a phone in the lecture hall: nothing wider than the screen, the map, the
    question and its answer on the page."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}/lessons?v=1&lesson=lion&step=1")
    _at_step(page, 5, 1, 3)
    page.wait_for_function(START_ONLY, timeout=WAIT)
    assert page.evaluate(OVERFLOW) == 0
    _predict(page, LESSONS[4].steps[0])  # a click on the map, on a phone
    _idle(page)
    _reveal(page).click()
    expect(_answer(page)).to_be_visible(timeout=WAIT)
    page.wait_for_function(RUNS, timeout=WAIT)
    _idle(page)
    assert page.evaluate(OVERFLOW) == 0
