"""The JSON reports of 2D scenarios (a run, the order study, the regularizer's verdict)
that the CLI prints and the pages export, and the one rule every JSON report follows:
no NaN or infinity, null instead."""

from __future__ import annotations

import numpy as np

from core import compute
from core.dynamics import DYNAMICS
from core.order import run_warnings
from core.registry import record
from core.regularizer import residual_text
from core.scenario import Scenario


def finite_or_none(a):
    """A number or an array as JSON-ready floats (nested lists), NaN and infinities as
    None (JSON has neither; a diverged value is null)."""
    a = np.asarray(a, dtype=float)
    out = a.astype(object)
    out[~np.isfinite(a)] = None
    return out.tolist()


def simulate_json(s: Scenario) -> dict:
    run = compute.trajectories(s)
    out = {"scenario": s.to_query(), "settings": _settings(s)}
    for k in DYNAMICS:
        out[k] = run[k][: run.diverged_at(k), 0].tolist()  # up to its last finite point
    out["diverged"] = {k: run.diverged_at(k) for k in DYNAMICS}
    out["warnings"] = run_warnings(record(s.opt), s.hyper, compute.summary(s), s.win)
    return out


def regularizer_json(s: Scenario) -> dict:
    """The perturbed loss's verdict over the window (THEORY §9), for the page's view."""
    surf = compute.surfaces(s)
    rep = compute.regularizer(s, surf)
    best = rep.best
    return {
        "scenario": s.to_query(),
        "formula": best.formula,
        "regime": best.regime,
        "in_regime": rep.in_regime,
        "forms": [
            {"formula": f.formula, "regime": f.regime, "inside_fraction": f.inside}
            for f in rep.forms
        ],
        "crossover": rep.crossover,
        "n": "inf" if rep.n is None else rep.n,
        "limit_fraction": finite_or_none(rep.limit_fraction),
        "positive_fraction": finite_or_none(rep.window.positive_fraction),
        "run_positive_fraction": finite_or_none(rep.run.positive_fraction) if rep.run else None,
        "effect": rep.effect,
        "run_effect": rep.run.effect if rep.run else None,
        "source": surf.source,
        "residual": surf.residual,
        "residual_half_grid": surf.residual_coarse,
        "residual_note": residual_text(surf),
        "sign_agreement_half_grid": surf.sign_agreement,
        "warnings": list(rep.warnings),
    }


def order_json(s: Scenario) -> dict:
    st = compute.order(s)

    return {
        "scenario": s.to_query(),
        "h": list(st.h),
        "horizon": s.T,
        "corrected": finite_or_none(st.corrected),
        "memoryless": finite_or_none(st.memoryless),
        "slopes": {
            "corrected": finite_or_none(st.slopes_corrected),
            "memoryless": finite_or_none(st.slopes_memoryless),
        },
        "asymptotic": list(st.asymptotic),
        "fitted_slope": finite_or_none([st.fit_corrected, st.fit_memoryless]),
        "fitted_rows": st.fit_rows,
        "warnings": list(st.warnings),
    }


def _settings(s) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(s).items()}
