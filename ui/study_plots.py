"""The figures of /study: each optimizer's mean with its 95% interval per metric and
column of learning rates, the paired per-seed plot, and h R along training (mean and
interval); every interval is core.analyses.study's."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analyses.study import (
    LIMITS,
    METRICS,
    StudyResult,
    StudyScenario,
    intervals,
    outside_theorem,
)
from core.engine.registry import record
from ui.style import NEUTRAL, frame

# every metric is read where a run stops: at the threshold, or at the end of the budget
LABELS = {
    "train_loss": "train loss",
    "test_loss": "test loss",
    "gap": "generalization gap",
    "sharpness": "sharpness λ_max(H)",
    "hR_final": "h·R at the last step",
    "hR_mean": "h·R averaged over the run",
    "hR_limit_final": "h·R at the last step, limit n → ∞",
    "hR_limit_mean": "h·R averaged over the run, limit n → ∞",
    "steps": "steps taken",
}
UNDEFINED = "not defined: outside the theorem"
PALETTE = ("#7b3fa0", "#1b9e77")


def color(res: StudyResult, opt: str) -> str:
    return record(opt).color or PALETTE[res.scenario.opts.index(opt)]


def shown_metrics(s: StudyScenario) -> tuple[str, ...]:
    """The panels of means_figure: the steps taken only where runs stop at a threshold."""
    return (*METRICS, "steps") if s.until else METRICS


def column_label(s: StudyScenario, k: int) -> str:
    """The k-th column of learning rates: `h = 0.01`, or each optimizer's."""
    a, b = (s.rates(o)[k] for o in s.opts)
    return f"h = {a:g}" if a == b else " · ".join(f"{o} {s.rates(o)[k]:g}" for o in s.opts)


def means_figure(res: StudyResult, height: int = 420) -> go.Figure:
    """One panel per metric: per column of learning rates, each optimizer's mean and 95%
    interval; the h R panels also show the limit n -> infinity (hollow markers)."""
    s = res.scenario
    metrics = shown_metrics(s)
    cols = (len(metrics) + 1) // 2
    fig = make_subplots(2, cols, subplot_titles=[LABELS[m] for m in metrics], vertical_spacing=0.2)
    x = [column_label(s, k) for k in range(s.columns)]
    for j, m in enumerate(metrics):
        row, col = j // cols + 1, j % cols + 1
        for opt in s.opts:
            shown = [(m, opt, "circle")]
            if m in LIMITS:
                shown.append((LIMITS[m], f"{opt} · limit n → ∞", "circle-open"))
            for metric, name, symbol in shown:
                stats = intervals(res.per_seed[opt][metric])
                mean = stats["mean"]
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=mean,
                        error_y={
                            "type": "data",
                            "array": stats["hi"] - mean,
                            "arrayminus": mean - stats["lo"],
                        },
                        mode="markers",
                        marker={"size": 10, "color": color(res, opt), "symbol": symbol},
                        name=name,
                        legendgroup=name,
                        offsetgroup=name,  # side by side in each column
                        showlegend=j == 0 or (j == metrics.index("hR_final") and name != opt),
                        hovertemplate=f"{name}: %{{y:.4g}}<extra></extra>",
                    ),
                    row,
                    col,
                )
            if m in LIMITS and outside_theorem(opt):
                fig.add_annotation(
                    text=f"{opt}: {UNDEFINED}",
                    xref=f"x{j + 1 if j else ''} domain",
                    yref=f"y{j + 1 if j else ''} domain",
                    x=0.5,
                    y=0.1 + 0.15 * s.opts.index(opt),
                    showarrow=False,
                    font={"color": NEUTRAL, "size": 11},
                )
    fig.update_annotations(font_size=13)
    fig = frame(fig, height).update_layout(margin={"t": 50}, legend={"y": 1.08})
    return fig.update_layout(scattermode="group")


def paired_figure(res: StudyResult, metric: str, lr_index: int = 0, height: int = 380):
    """Every seed's value under each optimizer, joined by a line (the pair)."""
    a, b = res.scenario.opts
    va, vb = (res.per_seed[o][metric][:, lr_index] for o in (a, b))
    traces = []
    for seed, ya, yb in zip(res.seeds, va, vb, strict=True):
        traces.append(
            go.Scatter(
                x=[a, b],
                y=[ya, yb],
                mode="lines+markers",
                line={"color": "rgba(120,120,120,0.45)", "width": 1},
                marker={"size": 7, "color": [color(res, a), color(res, b)]},
                showlegend=False,
                hovertemplate=f"seed {seed}: %{{y:.4g}}<extra></extra>",
            )
        )
    fig = go.Figure(traces)
    fig.update_yaxes(title=LABELS[metric])
    return frame(fig, height)


def regularizer_figure(res: StudyResult, lr_index: int = 0, height: int = 360) -> go.Figure:
    """h R along the memory run: the mean over seeds and its 95% band, per optimizer, and
    the mean of its limit n -> infinity (dotted), over the runs still going at each step
    (a run read at a threshold stops there); an optimizer outside the theorem is named
    instead of drawn."""
    fig = go.Figure()
    # the steps some run reached: beyond the last stop no run is going
    shown = 1 + max(int(res.stop[o][:, lr_index].max(initial=0)) for o in res.scenario.opts)
    for opt in res.scenario.opts:
        c = color(res, opt)
        if outside_theorem(opt):
            fig.add_annotation(
                text=f"{opt}: h·R {UNDEFINED}",
                xref="paper",
                yref="paper",
                x=0.02,
                y=0.02 + 0.08 * res.scenario.opts.index(opt),
                xanchor="left",
                showarrow=False,
                font={"color": c},
            )
            continue
        curves = res.curves[opt]
        band = intervals(curves["hR_curve"][:, lr_index, :shown])
        mean, lo, hi = band["mean"], band["lo"], band["hi"]
        runs = curves["hR_limit_curve"][:, lr_index, :shown]
        going = np.isfinite(runs)  # the runs with a value at each step
        limit = np.where(going, runs, 0.0).sum(0) / np.where(going.any(0), going.sum(0), np.nan)
        steps = np.arange(len(mean))
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([steps, steps[::-1]]),
                y=np.concatenate([hi, lo[::-1]]),
                fill="toself",
                fillcolor=c,
                opacity=0.2,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(go.Scatter(x=steps, y=mean, mode="lines", line={"color": c}, name=opt))
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=limit,
                mode="lines",
                line={"color": c, "dash": "dot", "width": 1.5},
                name=f"{opt} · limit n → ∞",
            )
        )
    fig.add_hline(y=0, line={"color": NEUTRAL, "width": 1, "dash": "dot"})
    fig.update_xaxes(title="step n")
    fig.update_yaxes(title="h·R (mean, 95% band)")
    return frame(fig, height)
