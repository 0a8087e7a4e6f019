"""Pieces of page layout shared by several pages: the sidebar (hidden in teaching mode),
figure sizes for teaching mode, charts (alone or in a pair), the divergence and overflow
warnings, the implicit regularizer card and the share/export box."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

import numpy as np
import streamlit as st

from core.analyses import compute
from core.analyses.compute import PathSummary
from core.analyses.network import NetworkResult
from core.analyses.order import farther
from core.analyses.regularizer import Report, grid_error_text, percent, residual_text
from core.engine.dynamics import DYNAMICS
from core.engine.registry import RECORDS, TOL, memory_lengths, record
from core.scenarios.query import QueryMixin
from core.scenarios.report import paths_csv, simulate_json, to_json
from core.scenarios.scenario import OptimizerQuery, Scenario
from ui import cache, live_chart, pages, plots, state
from ui.style import STYLE

EFFECT_BADGE = {
    "regularizes": ":green-badge[regularizes]",
    "anti-regularizes": ":red-badge[anti-regularizes]",
    "mixed": ":orange-badge[mixed]",
    "none": ":gray-badge[no effect on the loss]",
    "undefined": ":gray-badge[not defined: outside the theorem]",
}


def _share(v) -> str:
    return f"{v.positive_fraction:.0%}" if v.points else "–"


def page_link(page: str, label: str, query: str = "", **kwargs) -> None:
    """A link to the page at url path `page` (query: a scenario's query string), keeping
    the app flags such as teaching mode."""
    params = dict(parse_qsl(query)) | state.flags()
    st.page_link(pages.page(page), label=label, query_params=params, **kwargs)


def sidebar(build: Callable[..., None], *args) -> None:
    """The page's controls, build(*args), in the sidebar; teaching mode has no sidebar
    (the figures take the screen, the URL sets the scenario)."""
    if not state.teaching():
        with st.sidebar:
            build(*args)


# teaching mode's type, read from the back of a lecture hall: the text of the main area
# and its buttons larger, its headings (a lesson's question and answer) larger still
_PROJECTOR_TYPE = """<style>
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] li {
  font-size: 1.55rem; line-height: 1.45; }
[data-testid="stMainBlockContainer"] h2 { font-size: 2.6rem; line-height: 1.25; }
[data-testid="stMainBlockContainer"] button p { font-size: 1.45rem; }
</style>"""


def projector_type() -> None:
    """Teaching mode: the page's text at projector size (its figures grow by `height`
    and plots.projector)."""
    if state.teaching():
        st.html(_PROJECTOR_TYPE)


def heading(text: str) -> None:
    """A heading the class must read (a question, its answer): larger in teaching mode."""
    (st.header if state.teaching() else st.subheader)(text, anchor=False)


def for_each_student(build: Callable[..., None], *args) -> bool:
    """What one student uses on their own screen (a prediction, links to explore):
    build(*args), except in teaching mode, where the class answers aloud.  Whether it
    was drawn."""
    if state.teaching():
        return False
    build(*args)
    return True


def height(normal: int) -> int:
    """Plots are taller in teaching mode (projected in class)."""
    return int(normal * 1.45) if state.teaching() else normal


def _teaching(fig):
    return plots.projector(fig) if state.teaching() else fig


def chart(fig, key: str, static: bool = False, on_click=None) -> None:
    """A plotly figure at full width (larger type in teaching mode), drawn in place
    under `key` (ui.live_chart: a changed figure is drawn once, an unchanged one not
    again); the modebar keeps its PNG export.  on_click(x, y) gets a clicked point's
    coordinates."""
    config = {
        "displaylogo": False,
        "staticPlot": static,
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }
    live_chart.live_chart(_teaching(fig), key, config, on_click)


def selectable_chart(fig, key: str) -> dict:
    """A plotly figure whose clicked point reruns the page and comes back as
    st.plotly_chart's selection (a chart that leaves the page on a click)."""
    config = {"displaylogo": False}
    return st.plotly_chart(
        _teaching(fig),
        width="stretch",
        config=config,
        key=key,
        on_select="rerun",
        selection_mode="points",
    )


def chart_pair(key: str, left: tuple[str, object], right: tuple[str, object]) -> None:
    """Two (caption, figure) side by side, each caption above its chart; their keys are
    `key`-left and `key`-right."""
    for column, side, (caption, fig) in zip(
        st.columns(2), ("left", "right"), (left, right), strict=True
    ):
        with column:
            st.markdown(caption)
            chart(fig, f"{key}-{side}")


def divergence_warnings(summary: PathSummary | NetworkResult) -> None:
    """One warning per run that diverged (2D runs and networks alike)."""
    for k in DYNAMICS:
        at = summary.diverged[k]
        if at is None:
            continue
        why = (
            " The correction h·M is large next to the memoryless step here: the expansion "
            "needs h small against the memory length, so lower h or β."
            if k == "corrected"
            else " Lower the learning rate."
        )
        st.warning(
            f"The **{STYLE[k]['label']}** run diverged at step {at}; it is drawn up to its "
            f"last finite point.{why}",
            icon=":material/warning:",
        )


def readout_notes(summary: PathSummary) -> None:
    """What a declared optimizer's readout does along the memory run: where it is not
    finite, or its derivative is not (core.engine.declared.readout_notes)."""
    for note in summary.notes:
        st.warning(note[0].upper() + note[1:] + ".", icon=":material/warning:")


def farther_note(s, corrected: float, memoryless: float, more: str = "") -> None:
    """Whenever the corrected run ends farther from the memory run than the memoryless
    one (their largest distances to it), say so and why (core.analyses.order.farther); `more`:
    a sentence the page adds."""
    sentence = farther(record(s.opt), s.hyper, corrected, memoryless)
    if sentence:
        st.info(f"Here {sentence}.{more}", icon=":material/info:")


def smooth_family(s) -> None:
    """For a non-smooth update, the smooth family of its record side by side (THEORY §11):
    R and the correction shrink with the smoothing; the memory run's effect need not."""
    members = compute.family(s)
    if not members or not st.toggle("Compare with the smoothed family", key="family"):
        return
    key = record(s.opt).family[0]
    rows = []
    for value, member in [(s.hyper[key], s), *members]:
        summary, surf = cache.summary(member), cache.surfaces(member)
        rows.append(
            {
                key: f"{value:g}",
                "max |h·R| on the window": f"{member.lr * np.abs(surf.R).max():.3g}",
                "verdict": cache.regularizer(member).effect,
                "max |memory − corrected|": f"{summary.gap_corrected:.3g}",
                "max |memory − memoryless|": f"{summary.gap_memoryless:.3g}",
            }
        )
    st.table(rows)
    st.caption(
        f"As {key} → 0 the perturbation h·R and the correction shrink to the exact sign's "
        "zero, while the distance between the memory and memoryless runs, the memory's own "
        "effect, does not have to (THEORY §11)."
    )


def surface_caption(surf) -> None:
    """Where R comes from, and how far to trust an integrated one (THEORY §13)."""
    notes = [t for t in (residual_text(surf), grid_error_text(surf.grid_error)) if t]
    st.caption(" · ".join([f"R: {surf.source}", *notes]))


def loss_warnings(
    losses: dict[str, np.ndarray], diverged: dict[str, int | None], skip_diverged: bool = False
) -> None:
    """One warning per run whose loss is not finite somewhere, naming the run and the
    step: nan where L is undefined (a log or a root of a negative number), inf where it
    overflows.  skip_diverged: leave runs that diverged to divergence_warnings."""
    for k in DYNAMICS:
        values = np.asarray(losses[k], dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if not bad.size or (skip_diverged and diverged[k] is not None):
            continue
        later = f" and at {bad.size - 1} later steps" if bad.size > 1 else ""
        if np.isnan(values[bad[0]]):
            what = (
                "not a number (nan): the run reached points where L is undefined (a log or "
                "a root of a negative number, 0/0, inf − inf)"
            )
        else:
            what = "infinite: L overflows there; lower the learning rate"
        st.warning(
            f"The loss of the **{STYLE[k]['label']}** run is {what}, at step {bad[0]}{later}. "
            "Its path is drawn; its loss is not.",
            icon=":material/warning:",
        )


def value_text(v: float) -> str:
    """A loss for a metric: 4 significant digits, or what a non-finite value means."""
    if np.isfinite(v):
        return f"{v:.4g}"
    return "undefined (nan)" if np.isnan(v) else "overflow (inf)"


def regularizer_card(s: OptimizerQuery, report: Report, where: str = "the window") -> None:
    """The verdict read from h R (THEORY §9), the record's closed forms with their
    regimes and whether the view is inside each, the memory lengths at the run's last
    step, the warnings."""
    st.markdown(f"**Implicit regularizer of the memory** {EFFECT_BADGE[report.effect]}")
    undefined = report.effect == "undefined"
    if undefined:
        st.caption("h·R is not defined: the update is outside the theorem (THEORY §11)")
    else:
        parts = [f"h·R > 0 on {_share(report.window)} of {where}"]
        if report.run is not None and report.run is not report.window:
            parts.append(f"on {_share(report.run)} of the memory run's steps")
        step = "n → ∞" if report.n is None else f"M⁽ⁿ⁾ at the run's step n = {report.n}"
        if report.n is not None:
            step += f" ({percent(report.limit_fraction)} of the n → ∞ correction)"
        st.caption(" · ".join(parts) + f" · R from {step}")
    fit = grid_error_text(report.grid_error)
    if fit:
        st.caption(f"R fitted on the grid: residual {report.residual:.2g} · {fit}")
    if report.forms:
        st.caption(
            "Each closed form is checked on the field over the window: it holds at a point "
            f"where the terms it neglects are below {TOL:.0%} of M/P there (THEORY §5)."
            if report.grid_error is not None
            else "Along the run the regimes are read from the gradient alone, coordinate by "
            "coordinate (no Hessian at hand, THEORY §5)."
        )
    for form in report.forms:
        st.latex(form.formula)
        mark = "✓ the view is inside it" if form.holds else "✗ the view is outside it"
        st.caption(f"regime: {form.regime} · holds on {form.inside:.0%} of {where} · {mark}")
    if report.crossover is not None:
        st.caption(record(report.opt).crossover_text(report.crossover))
    lengths = [
        f"{key}: memory 1/(1−β) ≈ {steps:.4g} steps; after the run's {s.steps} steps "
        f"1 − βⁿ⁺¹ = {reached:.2f}"
        for key, steps, reached in memory_lengths(s.opt, s.hyper, s.steps - 1)
    ]
    if lengths:
        st.caption(" · ".join(lengths))
    for w in report.warnings:  # conditions of the reading, not faults of the run
        st.info(w, icon=":material/warning:")
    if not report.in_regime and report.forms and report.effect not in ("none", "undefined"):
        st.caption("No closed form describes this view: the verdict is read from R itself.")
    st.caption(record(s.opt).memory)


def share_box(page: str, s: QueryMixin, page_state: state.PageState = state.PLANE) -> None:
    """The URL of `page` showing s, with the app flags and page_state's flags: plain text
    (st.code would load Streamlit's 1.5 MB syntax highlighter on every first visit, the
    largest cost of /playground's first visit after plotly.js; benchmarks/bench_browser.py)."""
    st.markdown("**Share this view**")
    st.text(page_state.share_url(page, s), width="stretch")


def downloads(stem: str, csv: Callable[[], str], json: Callable[[], str]) -> None:
    """A page's CSV and JSON downloads, `stem`.csv and `stem`.json: each document is
    serialized by its callable only when its button is clicked (from results the page
    already holds), so a view that downloads nothing pays nothing."""
    left, right = st.columns(2)
    for column, label, document, suffix, mime in (
        (left, "⬇ CSV", csv, "csv", "text/csv"),
        (right, "⬇ JSON", json, "json", "application/json"),
    ):
        column.download_button(
            label, document, f"{stem}.{suffix}", mime, on_click="ignore", width="stretch"
        )


# --- /about's tables, one row per record (per closed form) -----------------------------


def _cell(text: str) -> str:
    """Text for a markdown table cell: a pipe would end the cell (|g| reads the same as ∣g∣)."""
    return text.replace("|", "∣")


def _math(latex: str) -> str:
    """LaTeX for a markdown table cell: the norm bars as \\Vert, no pipe."""
    return "$" + latex.removeprefix("R = ").replace(r"\|", r"\Vert ") + "$"


def limit_table() -> str:
    """F bar and M as n -> infinity of every record that states them (THEORY §4)."""
    rows = [
        f"| {r.label} | {_math(r.limit[0])} | {_math(r.limit[1])} |"
        for r in RECORDS.values()
        if r.limit is not None
    ]
    return "\n".join(["| optimizer | $\\bar F$ | $M$ |", "|---|---|---|", *rows])


def perturbation_table() -> str:
    """Every record's closed forms of R with their regimes and effects (THEORY §5), and
    where the update is not smooth, that R is not defined (THEORY §11)."""
    rows = []
    for r in RECORDS.values():
        for form in r.forms:
            rows.append(
                f"| {r.label} | {_cell(form.regime)} | {_math(form.formula)} | {form.effect} |"
            )
        if r.not_smooth:
            rows.append(f"| {r.label} | not smooth | none: outside the theorem | {r.not_smooth} |")
    head = ["| optimizer | regime | $R$ | effect |", "|---|---|---|---|"]
    return "\n".join([*head, *rows])


def playground_downloads(s: Scenario, summary: PathSummary) -> None:
    """/playground's paths (CSV) and runs (JSON, as `python -m core simulate` prints
    them), from the page's cached summary."""
    downloads(
        f"trajectories-{s.opt}-{s.loss}",
        lambda: paths_csv(summary),
        lambda: to_json(simulate_json(s, summary), indent=1),
    )
