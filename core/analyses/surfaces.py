"""Surfaces on a grid (THEORY §4-§5, §13): the loss, gradient norms, the memory
correction M, and the perturbed loss L + h R with the regularization sign map.

Every grid point is a row of one batched computation.  R comes from M^(n) at the run's
own step n (THEORY §1, finite n) or from its limit n -> infinity.  Each closed form of
the record is checked against the limit field on the grid (the share of the window where
it holds); in the limit R is in closed form where a form is exact on the whole window
(heavy ball, Nesterov; Lion where H is diagonal and λ = 0); otherwise it is integrated
from the field grad R = M / P by a least-squares (Neumann Poisson) solve, on the grid and
on the grid at half resolution, so that a residual that shrinks under refinement
(discretization: kinks, steep fields) is told from one that does not (a non-gradient
part), the grid error is estimated, and an unresolved sign map is flagged (THEORY §13).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from core.engine import kernel
from core.engine.autodiff import grad_and_hvp
from core.engine.dynamics import asymptotic_fields, fields_at_step, limit_moments
from core.engine.optimizers import Optimizer
from core.engine.registry import TOL, record

Tensor = torch.Tensor

EXACT = 1e-9  # a closed form whose neglected terms are this small (relative) is R itself


@dataclass(frozen=True)
class Surfaces:
    x: np.ndarray  # (G,)
    y: np.ndarray  # (G,)
    loss: np.ndarray  # (G, G), indexed [iy, ix]
    grad: np.ndarray  # (G, G, 2): g
    correction: np.ndarray  # (G, G, 2): M^(n) (n: `n`, None for the limit)
    R: np.ndarray  # the perturbation, zero at the smallest gradient on the grid
    perturbed: np.ndarray  # L + h R
    source: str  # "closed form: ..." or "integrated ..."
    residual: float  # ||grad R - M/P|| / ||M/P|| on the grid (0 for a closed form)
    n: int | None  # the step whose M^(n) R is built from; None: n -> infinity
    limit_fraction: float  # rms |M^(n)/P^(n)| / rms |M^inf/P^inf| over the window
    residual_coarse: float  # the residual on the grid at half resolution
    sign_agreement: float  # share of the coarse points where both fits give R's sign
    # max |R - exact R| over R's range, estimated from the grid and its half (0 for a
    # closed form): what the residual cannot see (THEORY §13)
    grid_error: float
    # per record form (THEORY §5): the share of the points where its gradient is within
    # TOL of the limit field M/P, i.e. where its neglected terms are below TOL
    forms_inside: tuple[float, ...]

    @property
    def sign(self) -> np.ndarray:
        """+1 where the perturbation raises the loss, -1 where it lowers it."""
        return np.sign(self.R)

    @property
    def resolved(self) -> bool:
        """The sign map does not change (beyond 10% of the window) at half resolution."""
        return self.sign_agreement >= RESOLVED

    @property
    def discretization(self) -> bool:
        """The residual shrinks under refinement: grid error, not a non-gradient part."""
        return self.residual < 0.8 * self.residual_coarse


def form_gradients(loss, forms, hyper: dict, pts: Tensor, L: Tensor) -> list[Tensor]:
    """grad R of each closed form at the points (R, 2), by the chain rule through
    R(L, g, theta): dR/dL g + H dR/dg + dR/dtheta, the products with H in one batch."""
    rows = len(pts)
    g_all, hvp = grad_and_hvp(loss, pts.repeat(len(forms), 1))
    g = g_all[:rows]
    direct, along_g = [], []
    for form in forms:
        inputs = [a.detach().clone().requires_grad_(True) for a in (L, g, pts)]
        with torch.enable_grad():
            R = form.R(hyper, *inputs)
            parts = [None] * 3  # R = 0 (gradient descent) has no graph
            if R.requires_grad:
                parts = torch.autograd.grad(R.sum(), inputs, allow_unused=True)
        dL, dg, dt = (
            torch.zeros_like(a) if p is None else p for a, p in zip(inputs, parts, strict=True)
        )
        direct.append(dL[:, None] * g + dt)
        along_g.append(dg)
    hv = hvp(torch.cat(along_g)).split(rows)
    return [d + h for d, h in zip(direct, hv, strict=True)]


def form_checks(loss, opt_name: str, hyper: dict, pts: Tensor, L: Tensor, field) -> tuple:
    """Where each closed form of the record holds: the share of the points where the
    terms it neglects, M/P - grad R_form (M/P the limit field, THEORY §5), are at most
    TOL of M/P.  This checks each regime's condition itself (|g| against eps, a diagonal
    Hessian, weight decay) on the grid, not a proxy for it.  Also returns the first form
    whose neglected terms are at rounding level on the whole window (R itself), or None."""
    forms = record(opt_name).forms
    if not forms:  # a declared optimizer: R is integrated, never read off a form
        return (), None
    size = np.linalg.norm(field, axis=-1)
    shares, exact = [], None
    grads = form_gradients(loss, forms, hyper, pts, L)
    for i, (form, grad) in enumerate(zip(forms, grads, strict=True)):
        if not form.defined(hyper):
            shares.append(0.0)
            continue
        neglected = np.linalg.norm(grad.cpu().numpy() - field, axis=-1)
        shares.append(float(np.mean(neglected <= TOL * size)))
        if exact is None and neglected.max() <= EXACT * size.max():
            exact = i
    return tuple(shares), exact


RESOLVED = 0.9  # the sign map is resolved where this share of it agrees at half the grid


def sign_agreement(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Per row (rows, points): the share of the points where R on the half grid and R fit
    on the half grid itself have the same sign (THEORY §13); points whose R is at rounding
    level next to the anchor have no sign to compare (1 where none is left)."""
    scale = np.maximum(np.abs(fine).max(-1), np.abs(coarse).max(-1))[:, None]
    live = (np.abs(fine) > 1e-9 * scale) | (np.abs(coarse) > 1e-9 * scale)
    agree = (np.sign(fine) == np.sign(coarse)) & live
    n_live = np.count_nonzero(live, axis=-1)
    return np.where(n_live > 0, np.count_nonzero(agree, axis=-1) / np.maximum(n_live, 1), 1.0)


def integrate_gradient(fx: np.ndarray, fy: np.ndarray, dx: float, dy: float):
    """R on the grid whose forward differences best fit the field (least squares).

    The normal equations are the Neumann Poisson problem, diagonal in the DCT-II basis.
    Returns R (mean zero) and the relative residual of the fit.
    """
    gy, gx = fx.shape
    # targets on the cell edges: the field averaged over each edge's two end points
    tx = 0.5 * (fx[:, 1:] + fx[:, :-1]) * dx
    ty = 0.5 * (fy[1:, :] + fy[:-1, :]) * dy
    rhs = np.zeros_like(fx)
    rhs[:, :-1] -= tx
    rhs[:, 1:] += tx
    rhs[:-1, :] -= ty
    rhs[1:, :] += ty
    cx, lx = _dct_basis(gx)
    cy, ly = _dct_basis(gy)
    coeffs = cy @ rhs @ cx.T
    denom = ly[:, None] + lx[None, :]
    denom[0, 0] = 1.0
    coeffs /= denom
    coeffs[0, 0] = 0.0  # R is defined up to a constant
    R = cy.T @ coeffs @ cx
    fit = np.concatenate([(np.diff(R, axis=1) - tx).ravel(), (np.diff(R, axis=0) - ty).ravel()])
    size = math.hypot(_norm(tx), _norm(ty))
    return R, _norm(fit) / size if size > 0 else 0.0


def _norm(a: np.ndarray) -> float:
    """The 2-norm of all of a's entries, scaled as BLAS nrm2 does: no overflow where the
    entries are finite but their squares are not (a steep loss's field)."""
    return float(scipy.linalg.norm(a.ravel(), check_finite=False))


def _dct_basis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal DCT-II matrix and the eigenvalues of the 1D Neumann Laplacian D^T D."""
    k = np.arange(n)[:, None]
    c = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n)) * np.sqrt(2.0 / n)
    c[0] /= np.sqrt(2.0)
    return c, 2.0 - 2.0 * np.cos(np.pi * np.arange(n) / n)


def preconditioner(opt: Optimizer, g, scales=None):
    """P of §5 (core.engine.kernel.preconditioner) with the sums W_i `scales`, by default
    their limits W_i(inf)."""
    if scales is None:
        scales = [float(np.asarray(limit_moments(av.weights)[0])) for av in opt.averages]
    return kernel.preconditioner(opt, g, scales)


def _field(opt: Optimizer, g: Tensor, M: Tensor, scales=None) -> np.ndarray:
    """M/P as a numpy array (non-finite entries, e.g. 0/0 at g = 0, as 0)."""
    f = (M / preconditioner(opt, g, scales)).cpu().numpy()
    return np.where(np.isfinite(f), f, 0.0)


def _anchored(R: np.ndarray, at) -> np.ndarray:
    return R - R[at]


def compute_surfaces(
    loss,
    opt: Optimizer,
    hyper: dict,
    lr: float,
    window,
    grid: int,
    device="cpu",
    n: int | None = None,
    closed_form: bool = True,
) -> Surfaces:
    """The surfaces with R from M^(n) (n None: the limit n -> infinity); closed_form=False
    integrates R even where a closed form exists (to check the one against the other)."""
    xmin, xmax, ymin, ymax = window
    x = torch.linspace(xmin, xmax, grid, dtype=torch.float64, device=device)
    y = torch.linspace(ymin, ymax, grid, dtype=torch.float64, device=device)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)
    with torch.no_grad():
        values = loss(pts)
    g, _, M_inf, _ = asymptotic_fields(loss, opt, pts)
    limit = _field(opt, g, M_inf)
    if n is None:
        M, field = M_inf, limit
    else:
        scales = [float(np.asarray(av.weights(n, np.arange(n + 1))).sum()) for av in opt.averages]
        _, M = fields_at_step(loss, opt, pts, n)
        field = _field(opt, g, M, scales)
    size = _norm(limit)
    limit_fraction = _norm(field) / size if size > 0 else 1.0
    norms = g.reshape(grid, grid, 2).cpu().numpy()
    gnorm = np.hypot(norms[..., 0], norms[..., 1])
    anchor = np.unravel_index(np.argmin(gnorm), gnorm.shape)
    coarse_anchor = np.unravel_index(np.argmin(gnorm[::2, ::2]), gnorm[::2, ::2].shape)
    field = field.reshape(grid, grid, 2)
    dx, dy = (xmax - xmin) / (grid - 1), (ymax - ymin) / (grid - 1)
    shares, exact = form_checks(loss, opt.name, hyper, pts, values, limit)
    if n is None and closed_form and exact is not None:
        form = record(opt.name).forms[exact]
        R = form.R(hyper, values, g, pts).reshape(grid, grid).cpu().numpy()
        source = f"closed form: {form.formula}"
        residual, residual_coarse, agreement, grid_error = 0.0, 0.0, 1.0, 0.0
    else:
        R, residual = integrate_gradient(field[..., 0], field[..., 1], dx, dy)
        sub = field[::2, ::2]
        coarse, residual_coarse = integrate_gradient(sub[..., 0], sub[..., 1], 2 * dx, 2 * dy)
        fine = _anchored(R[::2, ::2], coarse_anchor)
        coarse = _anchored(coarse, coarse_anchor)
        agreement = float(sign_agreement(fine.reshape(1, -1), coarse.reshape(1, -1))[0])
        # Richardson: the fit is second order (trapezoid targets), so R's error on this
        # grid is about a third of its change from the half grid; high where the half
        # grid does not resolve a steep field, low where the field jumps (THEORY §13)
        span = float(np.ptp(R))
        grid_error = float(np.abs(fine - coarse).max() / (3 * span)) if span > 0 else 0.0
        step = "the limit n → ∞" if n is None else f"step n = {n}"
        source = f"integrated from M/P at {step} (least squares)"
    R = _anchored(R, anchor)
    L = values.reshape(grid, grid).cpu().numpy()
    return Surfaces(
        x=x.cpu().numpy(),
        y=y.cpu().numpy(),
        loss=L,
        grad=norms,
        correction=M.reshape(grid, grid, 2).cpu().numpy(),
        R=R,
        perturbed=L + lr * R,
        source=source,
        residual=residual,
        n=n,
        limit_fraction=limit_fraction,
        residual_coarse=residual_coarse,
        sign_agreement=agreement,
        grid_error=grid_error,
        forms_inside=shares,
    )
