"""The derivatives the engine needs, as plain functions (in the spirit of torch.func).

They are built on torch.autograd rather than torch.func: on a CPU, for the tiny
elementwise graphs of a 2D loss, torch.func.jvp costs several milliseconds a call (it
decomposes every op), double-backward a fraction of that.  The results are
the same exact derivatives; the network path differentiates through torch.func.vmap.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Tensor = torch.Tensor


def grad_and_hvp(
    loss: Callable[[Tensor], Tensor],
    theta: Tensor,
    hessian: bool = True,
    first: int = 0,
) -> tuple[Tensor, Callable[[Tensor], Tensor] | None]:
    """Row-wise gradient of a batched loss (R, d) -> (R,), and a function v -> H v
    (row-wise Hessian-vector products by double backward, callable once).

    One graph serves the gradient of every row and the Hessian-vector products of
    whichever rows get a non-zero v.  A 2D loss that declares its exact derivatives
    (core.models.losses.ExpressionLoss) needs no graph: H v from the Hessian's entries, which
    are evaluated only on the rows from `first` on (the products above it are 0).
    """
    if hasattr(loss, "derivatives") and theta.shape[-1] == 2:
        return _declared(loss, theta, hessian, first)
    t = theta.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(loss(t).sum(), t, create_graph=hessian)
    if not hessian:
        return g, None

    def hvp(v: Tensor) -> Tensor:
        if not g.requires_grad:  # a constant gradient (f = x, max(x, y), 2): H = 0
            return torch.zeros_like(v)
        with torch.enable_grad():
            (hv,) = torch.autograd.grad(g, t, v, allow_unused=True)
        return torch.zeros_like(v) if hv is None else hv  # None: the loss is linear

    return g.detach(), hvp


def _declared(loss, theta: Tensor, hessian: bool, first: int):
    """grad_and_hvp from a loss's declared gradient and Hessian entries (2D)."""
    if not hessian:
        return loss.derivatives(theta, False)[0], None
    g = torch.empty_like(theta)
    if first:
        g[:first] = loss.derivatives(theta[:first], False)[0]
    g[first:], hxx, hxy, hyy = loss.derivatives(theta[first:], True)

    def hvp(v: Tensor) -> Tensor:
        out = torch.zeros_like(v)
        w = v[first:]
        out[first:] = torch.stack(
            (hxx * w[:, 0] + hxy * w[:, 1], hxy * w[:, 0] + hyy * w[:, 1]), -1
        )
        return out

    return g, hvp
