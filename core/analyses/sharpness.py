"""Sharpness: the largest (algebraic) eigenvalue of a loss's Hessian at each parameter row.

One function for every page that shows it (/sweep, /study).  Rows are independent: each
row's value comes from its own Hessian and its own seeded start vector.  Small problems
(d <= DENSE) take the full Hessian, d Hessian-vector products in one graph, and its
eigenvalues (exact); larger ones a Lanczos solver (ARPACK through
scipy.sparse.linalg.eigsh, which="LA") on Hessian-vector products, whose convergence is
checked: a row where it does not converge is NaN, never an unconverged estimate.

With a diagonal preconditioner P (an adaptive optimizer's, e.g. Adam's sqrt(v) + eps at
a step), the value is the preconditioned sharpness lambda_max(P^-1 H), computed as the
top eigenvalue of the symmetric matrix P^-1/2 H P^-1/2 (the same spectrum: the two are
similar), so the same symmetric solvers apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from core.engine.autodiff import grad_and_hvp

Tensor = torch.Tensor
# up to this many parameters the full Hessian costs fewer products than one Lanczos pass
# (a basis of NCV vectors) and its eigenvalues are exact
DENSE = 32
NCV = 20  # Lanczos vectors (ARPACK's default for one eigenvalue)
TOL = 1e-6  # residual |H v - lambda v| <= TOL |lambda|: lambda to about TOL^2 / gap
# ARPACK's restarts before a row counts as not converged: the pages' networks converge
# in the first pass (21 products on each row of the default /study), and the bound keeps
# a row's worst case at products(restarts), which the cost model prices.  A caller that
# can afford more (the preconditioned spectra of /paper converge more slowly) asks for it.
RESTARTS = 1


def products(restarts: int = RESTARTS) -> int:
    """The most Hessian-vector products one row's solve can take."""
    return NCV + restarts * (NCV - 1)


PRODUCTS = products()


def sharpness(
    loss,
    theta: Tensor,
    seeds: Sequence[int] | None = None,
    precondition: Tensor | None = None,
    restarts: int = RESTARTS,
) -> Tensor:
    """lambda_max(H) of the batched loss (R, d) -> (R,) at each row of theta (R, d); NaN
    where the Hessian is not finite or Lanczos did not converge.  seeds: one per row, the
    seed of that row's Lanczos start vector (default 0 for every row).  precondition:
    the diagonals (R, d) of positive preconditioners P, for lambda_max(P^-1 H).  restarts:
    ARPACK's, before a row counts as not converged (at most products(restarts) products)."""
    R, d = theta.shape
    scale = None if precondition is None else precondition.to(theta).rsqrt()  # P^-1/2
    if d <= DENSE:
        return _dense(loss, theta, scale)
    seeds = [0] * R if seeds is None else [int(k) for k in seeds]
    out = [
        _lanczos(
            loss, theta[i : i + 1], seeds[i], None if scale is None else scale[i : i + 1], restarts
        )
        for i in range(R)
    ]
    return torch.tensor(out, dtype=theta.dtype, device=theta.device)


def _dense(loss, theta: Tensor, scale: Tensor | None = None) -> Tensor:
    """The full Hessians (R, d, d), one column per Hessian-vector product, and their top
    eigenvalue (of diag(scale) H diag(scale) when scale is given)."""
    R, d = theta.shape
    _, hvp = grad_and_hvp(loss, theta.repeat(d, 1))
    eye = torch.eye(d, dtype=theta.dtype, device=theta.device)
    H = torch.stack(hvp(eye.repeat_interleave(R, 0)).split(R), -1)
    if scale is not None:
        H = scale[:, :, None] * H * scale[:, None, :]
    H = 0.5 * (H + H.transpose(-1, -2))  # symmetric up to rounding
    finite = torch.isfinite(H).all(-1).all(-1)
    top = torch.linalg.eigvalsh(torch.where(finite[:, None, None], H, 0.0))[:, -1]
    return torch.where(finite, top, torch.nan)


def _lanczos(loss, row: Tensor, seed: int, scale: Tensor | None, restarts: int) -> float:
    """lambda_max of one row's Hessian H (or of diag(scale) H diag(scale)) by eigsh on
    Hessian-vector products (one graph, kept for every product); NaN if it does not
    converge."""
    d = row.shape[1]
    t = row.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(loss(t).sum(), t, create_graph=True)
    if not torch.isfinite(g).all():
        return float("nan")
    if not g.requires_grad:  # a loss linear in theta: H = 0
        return 0.0

    def product(v: np.ndarray) -> np.ndarray:
        u = torch.as_tensor(np.ascontiguousarray(v).reshape(1, d), dtype=row.dtype)
        u = u.to(row.device) if scale is None else scale * u.to(row.device)
        with torch.enable_grad():
            (hv,) = torch.autograd.grad(g, t, u, retain_graph=True)
        hv = hv if scale is None else scale * hv
        return hv.detach().cpu().numpy().reshape(-1)

    H = LinearOperator((d, d), matvec=product, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(d)
    try:
        top = eigsh(
            H, k=1, which="LA", v0=v0, tol=TOL, ncv=NCV, maxiter=restarts, return_eigenvectors=False
        )
    except ArpackNoConvergence:
        return float("nan")
    return float(top[0]) if np.isfinite(top[0]) else float("nan")
