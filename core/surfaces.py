"""Surfaces on a grid (THEORY §4-§5): the loss, gradient norms, the asymptotic memory
correction M, and the perturbed loss L + h R with the regularization sign map.

Every grid point is a row of one batched computation.  R comes in closed form where §5
gives one for the whole plane; otherwise it is integrated from the field grad R = M / P
by a least-squares (Neumann Poisson) solve, and the part of the field that is not a
gradient is reported as a relative residual next to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.dynamics import asymptotic_fields, limit_moments, readout_at
from core.optimizers import Optimizer

Tensor = torch.Tensor


@dataclass(frozen=True)
class Surfaces:
    x: np.ndarray  # (G,)
    y: np.ndarray  # (G,)
    loss: np.ndarray  # (G, G), indexed [iy, ix]
    grad_norm2: np.ndarray  # ||g||_2
    grad_norm1: np.ndarray  # ||g||_1
    correction: np.ndarray  # (G, G, 2): asymptotic M
    R: np.ndarray  # the perturbation, zero at the smallest gradient on the grid
    perturbed: np.ndarray  # L + h R
    source: str  # "closed form: ..." or "integrated"
    residual: float  # ||grad R - M/P|| / ||M/P||: how far M/P is from a gradient

    @property
    def sign(self) -> np.ndarray:
        """+1 where the perturbation raises the loss, -1 where it lowers it."""
        return np.sign(self.R)


def _closed_form_R(opt: Optimizer, hyper: dict, g: Tensor) -> tuple[Tensor, str] | None:
    """R of THEORY §5 where it holds on the whole plane (not just in a limit regime)."""
    sq = (g * g).sum(-1)
    if opt.name == "gd" or (opt.name == "lion" and hyper.get("eps") == 0.0):
        return torch.zeros_like(sq), "closed form: R = 0 (no memory correction)"
    if opt.name == "hb":
        b = hyper["b1"]
        return b / (2 * (1 - b) ** 2) * sq, "closed form: β/(2(1-β)²) ||∇L||²"
    if opt.name == "nesterov":
        b = hyper["b1"]
        return b * b / (2 * (1 - b) ** 2) * sq, "closed form: β²/(2(1-β)²) ||∇L||²"
    return None


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
    size = np.sqrt((tx**2).sum() + (ty**2).sum())
    return R, float(np.linalg.norm(fit) / size) if size > 0 else 0.0


def _dct_basis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal DCT-II matrix and the eigenvalues of the 1D Neumann Laplacian D^T D."""
    k = np.arange(n)[:, None]
    c = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n)) * np.sqrt(2.0 / n)
    c[0] /= np.sqrt(2.0)
    return c, 2.0 - 2.0 * np.cos(np.pi * np.arange(n) / n)


def preconditioner(opt: Optimizer, g: Tensor) -> Tensor:
    """P = u(g) / g of §5, u the memoryless readout with the limit sums W_i(inf)."""
    tiny = torch.finfo(g.dtype).tiny ** 0.25  # away from 0/0 where a coordinate of g is 0
    safe = torch.where(g.abs() < tiny, torch.full_like(g, tiny), g)
    scales = [float(np.asarray(limit_moments(av.weights)[0])) for av in opt.averages]
    return readout_at(opt, safe, scales) / safe


def compute_surfaces(
    loss, opt: Optimizer, hyper: dict, lr: float, window, grid: int, device="cpu"
) -> Surfaces:
    xmin, xmax, ymin, ymax = window
    x = torch.linspace(xmin, xmax, grid, dtype=torch.float64, device=device)
    y = torch.linspace(ymin, ymax, grid, dtype=torch.float64, device=device)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)
    with torch.no_grad():
        values = loss(pts)
    g, _, M = asymptotic_fields(loss, opt, pts)
    closed = _closed_form_R(opt, hyper, g)
    if closed is not None:
        R, source = closed[0], closed[1]
        residual = 0.0
        R = R.reshape(grid, grid).cpu().numpy()
    else:
        field = (M / preconditioner(opt, g)).reshape(grid, grid, 2).cpu().numpy()
        dx, dy = (xmax - xmin) / (grid - 1), (ymax - ymin) / (grid - 1)
        field = np.where(np.isfinite(field), field, 0.0)
        R, residual = integrate_gradient(field[..., 0], field[..., 1], dx, dy)
        source = "integrated from M/P (least squares)"
    norms = g.reshape(grid, grid, 2).cpu().numpy()
    anchor = np.unravel_index(np.argmin(np.linalg.norm(norms, axis=-1)), (grid, grid))
    R = R - R[anchor]
    L = values.reshape(grid, grid).cpu().numpy()
    return Surfaces(
        x=x.cpu().numpy(),
        y=y.cpu().numpy(),
        loss=L,
        grad_norm2=np.linalg.norm(norms, axis=-1),
        grad_norm1=np.abs(norms).sum(-1),
        correction=M.reshape(grid, grid, 2).cpu().numpy(),
        R=R,
        perturbed=L + lr * R,
        source=source,
        residual=residual,
    )
