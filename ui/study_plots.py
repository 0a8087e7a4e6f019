"""The figures of /study: each optimizer's mean with its 95% interval per metric and
learning rate, the paired per-seed plot, and h R along training (mean and interval)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.query import fmt
from core.study import METRICS, StudyResult, interval
from ui.network_plots import OPT_COLORS
from ui.style import NEUTRAL, frame

LABELS = {
    "train_loss": "final train loss",
    "test_loss": "final test loss",
    "gap": "generalization gap",
    "sharpness": "sharpness λ_max(H)",
    "hR_final": "h·R at the end",
    "hR_mean": "h·R averaged over the run",
}
PALETTE = ("#7b3fa0", "#1b9e77")


def color(res: StudyResult, opt: str) -> str:
    return OPT_COLORS.get(opt, PALETTE[res.scenario.opts.index(opt)])


def means_figure(res: StudyResult, height: int = 420) -> go.Figure:
    """One panel per metric: per learning rate, each optimizer's mean and 95% interval."""
    fig = make_subplots(2, 3, subplot_titles=[LABELS[m] for m in METRICS], vertical_spacing=0.2)
    lrs = [fmt(lr) for lr in res.scenario.lrs]
    for j, m in enumerate(METRICS):
        row, col = j // 3 + 1, j % 3 + 1
        for opt in res.scenario.opts:
            stats = [interval(res.per_seed[opt][m][:, k]) for k in range(len(lrs))]
            mean = np.array([s["mean"] if s["mean"] is not None else np.nan for s in stats])
            lo = np.array([s["lo"] if s["lo"] is not None else np.nan for s in stats])
            hi = np.array([s["hi"] if s["hi"] is not None else np.nan for s in stats])
            fig.add_trace(
                go.Scatter(
                    x=[f"h = {v}" for v in lrs],
                    y=mean,
                    error_y={"type": "data", "array": hi - mean, "arrayminus": mean - lo},
                    mode="markers",
                    marker={"size": 10, "color": color(res, opt)},
                    name=opt,
                    legendgroup=opt,
                    offsetgroup=opt,  # the two optimizers side by side at each h
                    showlegend=j == 0,
                    hovertemplate=f"{opt}: %{{y:.4g}}<extra></extra>",
                ),
                row,
                col,
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
    """h R along the memory run: the mean over seeds and its 95% band, per optimizer."""
    fig = go.Figure()
    for opt in res.scenario.opts:
        curves = res.curves[opt]["hR_curve"][:, lr_index]  # (S, steps + 1)
        stats = [interval(curves[:, n]) for n in range(curves.shape[1])]
        mean, lo, hi = (
            np.array([s[k] if s[k] is not None else np.nan for s in stats])
            for k in ("mean", "lo", "hi")
        )
        steps = np.arange(len(mean))
        c = color(res, opt)
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
    fig.add_hline(y=0, line={"color": NEUTRAL, "width": 1, "dash": "dot"})
    fig.update_xaxes(title="step n")
    fig.update_yaxes(title="h·R (mean, 95% band)")
    return frame(fig, height)
