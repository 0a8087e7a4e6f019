"""A 2D slice of a high-dimensional loss around a point, with trajectories projected on it.

Two planes: filter-normalized random directions (Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets": each neuron's row of a random direction is rescaled to the
norm of that neuron's weights, biases get no direction) and the top two principal
directions of a trajectory (PCA of the path relative to its last point).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.models.mlp import MLP

Tensor = torch.Tensor
_BLOCK_ELEMENTS = 1 << 20  # points x parameters of the slice computed at once


@dataclass(frozen=True, eq=False)
class Slice:
    """The plane center + a * directions[0] + b * directions[1]."""

    plane: str  # "random" or "pca"
    a: np.ndarray  # (G,) coordinates along the first direction
    b: np.ndarray  # (G,)
    loss: np.ndarray  # (G, G) indexed [ib, ia]
    perturbed: np.ndarray  # (G, G): L + h R, the loss the corrected dynamics descends
    paths: dict[str, np.ndarray]  # dynamics -> (steps + 1, 2) projected coordinates
    explained: tuple[float, float] | None  # PCA: share of the path's variance per axis


def filter_normalized(mlp: MLP, theta: Tensor, seed: int) -> Tensor:
    """Two random directions (2, d) scaled neuron by neuron to the weights of theta."""
    rng = np.random.default_rng([seed, 2018])  # a stream apart from the data's and init's
    raw = torch.as_tensor(rng.standard_normal((2, mlp.size)), dtype=theta.dtype).to(theta.device)
    out = torch.zeros_like(raw)
    start = 0
    for o, i in mlp.shapes:
        rows = slice(start, start + o * i)
        w = theta[rows].reshape(1, o, i)
        r = raw[:, rows].reshape(2, o, i)
        scale = w.norm(dim=-1, keepdim=True) / r.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        out[:, rows] = (r * scale).reshape(2, -1)
        start += o * i + o  # the bias keeps a zero direction
    return out


def principal(path: Tensor) -> tuple[Tensor, tuple[float, float]]:
    """Top two principal directions (2, d) of path (T, d) around its last point, each
    signed so that its largest coordinate is positive, and their shares of variance."""
    X = path - path[-1]
    _, sv, vh = torch.linalg.svd(X, full_matrices=False)
    dirs = vh[:2]
    if dirs.shape[0] < 2:  # a one-step path spans one direction: add any orthogonal one
        extra = torch.zeros_like(dirs[:1])
        extra[0, int(dirs[0].abs().argmin())] = 1.0
        extra -= (extra @ dirs[0]) * dirs[0]
        dirs = torch.cat([dirs, extra / extra.norm()])
    pivot = dirs.abs().argmax(dim=1)
    dirs = dirs * torch.sign(dirs[torch.arange(2), pivot])[:, None]
    var = (sv**2).cpu().numpy()
    total = var.sum() if var.sum() > 0 else 1.0
    shares = np.zeros(2)
    shares[: min(2, len(var))] = var[:2] / total
    return dirs, (float(shares[0]), float(shares[1]))


def project(points: Tensor, center: Tensor, dirs: Tensor) -> np.ndarray:
    """Least-squares coordinates (a, b) of points (T, d) in the plane (directions need
    not be orthogonal: the random ones are not)."""
    gram = dirs @ dirs.T
    return torch.linalg.solve(gram, dirs @ (points - center).T).T.cpu().numpy()


def loss_slice(
    values_and_grads: Callable[[Tensor], tuple[Tensor, Tensor]],
    perturbation: Callable[[Tensor, Tensor, Tensor], Tensor],
    h: float,
    plane: str,
    center: Tensor,
    dirs: Tensor,
    paths: dict[str, Tensor],
    grid: int,
    explained: tuple[float, float] | None = None,
) -> Slice:
    """L and L + h R on a grid x grid slice; R(L, g, theta) needs the gradients too.

    The random plane spans [-1, 1] (Li et al.'s scale); the PCA plane spans the memory
    path with a margin, so the trajectories fill it."""
    coords = {k: project(p, center, dirs) for k, p in paths.items()}
    if plane == "random":
        ext_a = ext_b = 1.0
    else:
        span = np.abs(coords["memory"]).max(axis=0) * 1.25
        ext_a, ext_b = (float(v) if v > 0 else 1.0 for v in span)
    a = np.linspace(-ext_a, ext_a, grid)
    b = np.linspace(-ext_b, ext_b, grid)
    bb, aa = np.meshgrid(b, a, indexing="ij")
    ab = torch.as_tensor(np.stack([aa.ravel(), bb.ravel()], 1), dtype=center.dtype)
    L, R = [], []
    # a block of grid points at a time: the points and their gradients, (grid^2, d) each,
    # take 98 MB at the caps (d = 12,737), and each session computing a slice holds them
    for block in ab.to(center.device).split(max(1, _BLOCK_ELEMENTS // center.numel())):
        theta = center + block @ dirs
        L_b, g = values_and_grads(theta)
        L.append(L_b)
        R.append(perturbation(L_b, g, theta))
    L, R = torch.cat(L), torch.cat(R)
    return Slice(
        plane=plane,
        a=a,
        b=b,
        loss=L.reshape(grid, grid).cpu().numpy(),
        perturbed=(L + h * R).reshape(grid, grid).cpu().numpy(),
        paths=coords,
        explained=explained,
    )
