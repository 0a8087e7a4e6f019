"""The pages' result tables as data: one pandas DataFrame a table, one row per optimizer
(or step size), each cell a number of core's results as the page prints it (Markdown:
st.table renders the verdict badges)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.analyses.compute import PathSummary
from core.analyses.network import CompareRow
from core.analyses.order import OrderStudy, steps_to
from core.analyses.regularizer import Report
from core.engine.dynamics import DYNAMICS
from core.engine.registry import label
from core.scenarios.scenario import OptimizerQuery
from ui.layout import EFFECT_BADGE

UNDEFINED = "outside the theorem"  # h·R of a non-smooth update (THEORY §11)


def number(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else "–"


def _hyper(s: OptimizerQuery | CompareRow, **first: float) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in {**first, **s.hyper}.items()) or "–"


def compare_2d(results: list[tuple[OptimizerQuery, PathSummary, Report]]) -> pd.DataFrame:
    """/compare: each optimizer's verdict, where its memory run ends, its final losses and
    the largest distances of the memoryless runs to the memory run."""
    rows = []
    for s, summary, report in results:
        x, y = summary.paths["memory"][-1]
        run = report.run
        rows.append(
            {
                "optimizer": label(s.opt),
                "hyperparameters": _hyper(s),
                "verdict on the window": EFFECT_BADGE[report.effect],
                "h·R > 0 on the run": f"{run.positive_fraction:.0%}" if run and run.points else "–",
                "memory run ends at": f"({x:.3g}, {y:.3g})",
                "final loss: memory / memoryless / corrected": " / ".join(
                    f"{summary.losses[k][-1]:.4g}" for k in DYNAMICS
                ),
                "max distance to memory: memoryless / corrected": (
                    f"{summary.gap_memoryless:.3g} / {summary.gap_corrected:.3g}"
                ),
            }
        )
    return pd.DataFrame(rows)


def compare_networks(rows: list[CompareRow], n: int | None) -> pd.DataFrame:
    """/network's comparison (core.analyses.network.compare_rows): losses, the generalization gap
    and h·R of each optimizer, h·R at the run's step n and in the limit."""
    out = []
    for row in rows:
        defined = row.effect != "undefined"
        out.append(
            {
                "optimizer": label(row.opt),
                "hyperparameters": _hyper(row, h=row.lr),
                "train loss": number(row.train_loss),
                "test loss": number(row.test_loss),
                "gap (test − train)": f"**{number(row.gap)}**",
                "verdict along the run": EFFECT_BADGE[row.effect],
                "h·R > 0 on the run": f"{row.positive_fraction:.0%}" if defined else UNDEFINED,
                f"h·R at the end (n = {n})": number(row.hR) if defined else UNDEFINED,
                "mean h·R": number(row.hR_mean) if defined else UNDEFINED,
                "h·R at the end, limit n → ∞": number(row.hR_limit) if defined else UNDEFINED,
            }
        )
    return pd.DataFrame(out)


def order(study: OrderStudy, horizon: float) -> pd.DataFrame:
    """/theory: each step size's steps to the horizon, errors, local slopes (against the
    previous row) and whether it is asymptotic."""
    rows = []
    for i, (h, n) in enumerate(zip(study.h, steps_to(horizon, study.h), strict=True)):
        rows.append(
            {
                "h": f"{h:g}",
                "steps T/h": n,
                "error corrected": f"{study.corrected[i]:.3e}",
                "error memoryless": f"{study.memoryless[i]:.3e}",
                "slope corrected": f"{study.slopes_corrected[i - 1]:.2f}" if i else "–",
                "slope memoryless": f"{study.slopes_memoryless[i - 1]:.2f}" if i else "–",
                "asymptotic": "✓" if study.asymptotic[i] else "✗ pre-asymptotic",
            }
        )
    return pd.DataFrame(rows)


def show(table: pd.DataFrame) -> None:
    """A result table, its cells as Markdown (the verdict badges)."""
    st.table(table, hide_index=True)
