"""What the memory does to the loss, read from the numbers (THEORY §5, §9, §13).

`verdict` turns values of h R at some points (a window's grid, a run) into
"regularizes", "anti-regularizes", "mixed" or "none"; `window_report` and `run_report`
add the record's closed forms with the share of the points inside each one's regime,
the step n the perturbation belongs to, and warnings.  No sentence here switches on an
optimizer's name: the words come from the record (core.engine.registry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.engine.dynamics import moments_exact
from core.engine.registry import longest_memory, record

MIXED = 0.1  # a verdict needs >= 1 - MIXED of the points on one side (THEORY §9)
NONE = 1e-9  # |h R| below NONE x the loss's variation is no effect
SIGNED = 1e-3  # |h R| below SIGNED x its largest value has no sign (THEORY §9)
# an integrated R's estimated grid error above this share of its range is said (§13)
GRID_ERROR = 0.05
# memory lengths after which S_k = k Fbar^(n) no longer shows in a potential (THEORY §9)
SETTLED_MEMORIES = 10
# "undefined": no R to read, the update is not smooth (outside the theorem, THEORY §11)
EFFECTS = ("regularizes", "anti-regularizes", "mixed", "none", "undefined")


@dataclass(frozen=True)
class Verdict:
    effect: str  # one of EFFECTS
    positive_fraction: float  # share of the points where h R > 0 (nan without points)
    negative_fraction: float  # share where h R < 0
    points: int


# the codes of `effects`, in the order of EFFECTS
CODES = {1: "regularizes", -1: "anti-regularizes", 2: "mixed", 0: "none"}


def effects(hR: np.ndarray, scale, reference=None) -> tuple[np.ndarray, ...]:
    """The verdict's rule on each row of h R (rows, points), all finite and normalized to
    0 where the gradient is smallest; `scale` is the loss's variation there (per row or
    shared).  A point counts as positive or negative where |h R| exceeds SIGNED x
    `reference` (by default the row's largest |h R|): near-critical points, where R is ~0
    up to the grid's error, carry no sign.  The verdict needs 1 - MIXED of the signed
    points on one side.  Returns the CODES per row and the shares of positive and
    negative points."""
    size = np.abs(hR).max(-1)
    tiny = SIGNED * (size if reference is None else np.asarray(reference))
    pos = np.count_nonzero(hR > tiny[..., None], axis=-1) / hR.shape[-1]
    neg = np.count_nonzero(hR < -tiny[..., None], axis=-1) / hR.shape[-1]
    none = (size == 0.0) | (size <= NONE * np.asarray(scale)) | (pos + neg == 0)
    signed = (1 - MIXED) * (pos + neg)
    code = np.select([none, pos >= signed, neg >= signed], [0, 1, -1], 2)
    return code, pos, neg


def verdict(hR, scale: float = 1.0, reference: float | None = None) -> Verdict:
    """The effect of a perturbation h R from its finite values at some points (effects)."""
    v = np.asarray(hR, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Verdict("none", math.nan, math.nan, 0)
    code, pos, neg = effects(v[None], scale, reference)
    return Verdict(CODES[int(code[0])], float(pos[0]), float(neg[0]), int(v.size))


@dataclass(frozen=True)
class FormCheck:
    """A closed form of R and the share of the points inside its regime: on a window's
    grid, where its neglected terms are below TOL of the field M/P (checked on the field);
    along a run, where the regime's conditions on the gradient hold (core.engine.registry)."""

    formula: str
    regime: str
    inside: float

    @property
    def holds(self) -> bool:
        return self.inside >= 1 - MIXED


@dataclass(frozen=True)
class Report:
    opt: str
    n: int | None  # the step of M^(n) behind R; None: n -> infinity
    window: Verdict  # over the window's grid (or the run, where there is no grid)
    run: Verdict | None  # along the memory run (inside the window)
    forms: tuple[FormCheck, ...]
    crossover: float | None  # |g| where the sign of R's coefficient flips (record)
    limit_fraction: float  # rms |M^(n)/P| / rms |M^inf/P|: how much of the limit n has
    residual: float
    warnings: tuple[str, ...]
    # an R on a grid: its estimated error over its range (THEORY §13; 0 in closed form);
    # None along a run, where R is evaluated, not fitted
    grid_error: float | None = None

    @property
    def in_regime(self) -> bool:
        """A closed form holds on the points, and R has (nearly) reached its limit."""
        reached = self.n is None or abs(self.limit_fraction - 1) <= MIXED
        return reached and any(f.holds for f in self.forms)

    @property
    def best(self) -> FormCheck | None:
        """The closed form inside its regime at the most points (None: a declared
        optimizer has none)."""
        return max(self.forms, key=lambda f: f.inside, default=None)

    @property
    def effect(self) -> str:
        return self.window.effect


def _checks(opt: str, shares) -> tuple[FormCheck, ...]:
    return tuple(
        FormCheck(f.formula, f.regime, share)
        for f, share in zip(record(opt).forms, shares, strict=True)
    )


def _inside(opt: str, hyper: dict, g: np.ndarray) -> tuple[FormCheck, ...]:
    """The regimes along a run, from the gradient alone (no field to check against)."""
    gt = torch.as_tensor(g.reshape(-1, g.shape[-1]), dtype=torch.float64)
    return _checks(
        opt,
        (
            float(f.inside(hyper, gt).double().mean()) if f.defined(hyper) else 0.0
            for f in record(opt).forms
        ),
    )


def percent(share: float) -> str:
    """A share as a percentage with two significant digits below 10% (0.33%, not 0%)."""
    return f"{share:.0%}" if abs(share) >= 0.1 else f"{100 * share:.2g}%"


_LIMIT = {True: "the limit's closed forms", False: "the limit would"}  # a declaration has none


def common_warnings(opt: str, hyper: dict, n: int | None, limit_fraction: float) -> list:
    rec, out = record(opt), []
    if not rec.smooth(hyper):
        out.append(f"non-smooth update: {rec.not_smooth}")
    if n is not None and abs(limit_fraction - 1) > MIXED:
        out.append(
            f"finite n: at step n = {n} the correction is {percent(limit_fraction)} of its "
            f"n → ∞ limit, so {_LIMIT[bool(rec.forms)]} misstate its size (THEORY §1)"
        )
    return out


def potential_warnings(opt: str, hyper: dict, n: int | None) -> list[str]:
    """Where R^(n) comes from a potential (networks, studies): whether its sums take
    S_k = k Fbar^(n), which is exact only once W_i(b) has settled (THEORY §9)."""
    rec = record(opt)
    if n is None or not rec.smooth(hyper) or moments_exact(rec.optimizer(**hyper)):
        return []
    # the step count, rounded first: 1/(1 - 0.8) is 5.000000000000001 in floats
    settled = math.ceil(round(SETTLED_MEMORIES * longest_memory(opt, hyper)[1], 9))
    if n >= settled:
        return []
    return [
        f"approximate h·R: {rec.label}'s weight sums W(b) grow along the run, and R at step "
        f"n = {n} takes S_k = k·F̄⁽ⁿ⁾ (THEORY §9), exact after about {SETTLED_MEMORIES} "
        f"memory lengths (n ≥ {settled}); before, it can be off by tens of percent "
        "and more in the first steps"
    ]


def bilinear(surf, points: np.ndarray, z: np.ndarray) -> np.ndarray:
    """z (G, G) on surf's grid at points (N, 2); nan outside the window."""
    x, y = surf.x, surf.y
    fx = (points[:, 0] - x[0]) / (x[1] - x[0])
    fy = (points[:, 1] - y[0]) / (y[1] - y[0])
    out = np.full(len(points), np.nan)
    ok = (fx >= 0) & (fx <= len(x) - 1) & (fy >= 0) & (fy <= len(y) - 1)
    ix = np.minimum(np.floor(fx[ok]).astype(int), len(x) - 2)
    iy = np.minimum(np.floor(fy[ok]).astype(int), len(y) - 2)
    tx, ty = fx[ok] - ix, fy[ok] - iy
    out[ok] = (
        z[iy, ix] * (1 - tx) * (1 - ty)
        + z[iy, ix + 1] * tx * (1 - ty)
        + z[iy + 1, ix] * (1 - tx) * ty
        + z[iy + 1, ix + 1] * tx * ty
    )
    return out


def _unless_unresolved(v: Verdict, surf) -> Verdict:
    """An unresolved sign map (THEORY §13) supports no verdict but "mixed"."""
    if surf.resolved or v.effect == "none":
        return v
    return Verdict("mixed", v.positive_fraction, v.negative_fraction, v.points)


def window_report(opt: str, hyper: dict, lr: float, surf, path: np.ndarray | None) -> Report:
    """The verdict over a 2D window (surf: core.analyses.surfaces.Surfaces) and along the memory
    run's path (N, 2), with the closed forms' regimes on the window."""
    scale = float(np.ptp(surf.loss[np.isfinite(surf.loss)])) if np.isfinite(surf.loss).any() else 1
    hR = lr * surf.R
    warnings = common_warnings(opt, hyper, surf.n, surf.limit_fraction)
    run = None
    if path is not None and len(path):
        along = bilinear(surf, path, hR)
        if np.isnan(along).any():
            warnings.append(
                f"the memory run leaves the window at {np.isnan(along).mean():.0%} of its "
                "steps; the verdict along the run counts the steps inside"
            )
        run = _unless_unresolved(verdict(along, scale, float(np.abs(hR).max())), surf)
    if surf.residual and not surf.resolved:
        warnings.append(
            f"sign not resolved: the sign map of R changes on {1 - surf.sign_agreement:.0%} "
            "of the window between this grid and half of it; raise the grid before reading "
            "a verdict (THEORY §13)"
        )
    elif surf.residual > 0.05 and not surf.discretization:
        warnings.append(
            f"M/P is not a gradient: {surf.residual:.0%} of it is left over by the best R "
            "at both resolutions (THEORY §13)"
        )
    if surf.grid_error > GRID_ERROR:
        warnings.append(
            f"grid error: the integrated R's error is estimated at {surf.grid_error:.0%} of "
            f"its range on the window (above {GRID_ERROR:.0%}, from this grid and half of "
            "it; the fit's residual cannot see it); raise the grid or narrow the window "
            "(THEORY §13)"
        )
    window = _unless_unresolved(verdict(hR, scale), surf)
    return Report(
        opt=opt,
        n=surf.n,
        window=window,
        run=run,
        forms=_checks(opt, surf.forms_inside),
        crossover=record(opt).crossover(hyper),
        limit_fraction=surf.limit_fraction,
        residual=surf.residual,
        warnings=tuple(warnings),
        grid_error=surf.grid_error,
    )


def residual_text(surf) -> str:
    """What the least-squares residual is (THEORY §13): discretization or not."""
    if surf.residual < 1e-9:  # rounding level: the field is a gradient
        return ""
    both = f"{surf.residual:.1%} (grid), {surf.residual_coarse:.1%} (half grid)"
    if surf.discretization:
        return f"fit residual {both}: shrinks with the grid, so discretization (kinks)"
    return f"non-gradient part of M/P: {both}"


def grid_error_text(grid_error: float | None) -> str:
    """An integrated R's estimated grid error in words (THEORY §13); "" where there is none
    (a closed form, a run)."""
    if not grid_error:
        return ""
    matters = f"; above {GRID_ERROR:.0%}, it matters" if grid_error > GRID_ERROR else ""
    return f"grid error ≈ {grid_error:.1%} of R's range (from this grid and half of it{matters})"


def run_report(opt: str, hyper: dict, lr: float, L, g, theta, n: int | None) -> tuple:
    """h R along a run (rows of L (N,), g and theta (N, d)) from the record's potential
    with the sums of M^(n), n the run's step (THEORY §1, §9), the same in the limit
    n -> infinity, the verdict and the regimes along the run: (hR, hR_limit, Report).

    The report's limit_fraction is rms h R^(n) / rms h R^inf over the run, the two
    curves shown; the finite-n warning reads it as on the 2D card."""
    rec = record(opt)
    hR, limit = ((lr * rec.perturbation(hyper, L, g, theta, k)).cpu().numpy() for k in (n, None))
    Ln = L.cpu().numpy()
    scale = float(np.ptp(Ln[np.isfinite(Ln)])) if np.isfinite(Ln).any() else 1.0
    if rec.smooth(hyper):
        v = verdict(hR, max(scale, float(np.abs(Ln[np.isfinite(Ln)]).max(initial=0.0))))
    else:
        v = Verdict("undefined", math.nan, math.nan, 0)
    fraction = rms_ratio(hR, limit)
    return (
        hR,
        limit,
        Report(
            opt=opt,
            n=n,
            window=v,
            run=v,
            forms=_inside(opt, hyper, g.cpu().numpy()),
            crossover=rec.crossover(hyper),
            limit_fraction=fraction,
            residual=0.0,
            warnings=tuple(
                common_warnings(opt, hyper, n, fraction) + potential_warnings(opt, hyper, n)
            ),
        ),
    )


def rms_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """rms a / rms b over the points where both are finite; 1 where b has no size."""
    ok = np.isfinite(a) & np.isfinite(b)
    size = float(np.sqrt(np.mean(b[ok] ** 2))) if ok.any() else 0.0
    return float(np.sqrt(np.mean(a[ok] ** 2))) / size if size > 0 else 1.0
