"""Optimizers declared by their memory (THEORY.md §2-§3).

An optimizer with memory is

    update_n = readout(g_n, A_1, ..., A_p) + decay * theta_n,
    A_i      = sum_{k=0..n} w_i(n, k) * feature_i(g_{n-k}),

so a declaration names the averaged per-step features, their weights w_i(n, k) and the
readout.  The engine (core.dynamics) derives the memory run, the memoryless run and the
memory correction from this declaration alone; nothing here is optimizer-specific code
for the engine.

Hyperparameters may be floats or 1-D sequences (one value per trajectory), so a batch of
runs with different hyperparameters is one tensor computation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

Tensor = torch.Tensor
Hyper = float | Sequence[float] | np.ndarray


def _weights_param(v: Hyper) -> float | np.ndarray:
    """A weight parameter as a float or a (B,) array (one per trajectory)."""
    a = np.asarray(v, dtype=np.float64)
    return float(a) if a.ndim == 0 else a


def _readout_param(v: Hyper, like: Tensor) -> float | Tensor:
    """A readout parameter as a float or a column matching the rows of `like`.

    Per-trajectory values (B,) are tiled over the rows, which the engine stacks in
    blocks of B (one block per dynamics, or per copy of the corrected rows)."""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        return float(a)
    column = torch.as_tensor(a, dtype=like.dtype, device=like.device).reshape(-1, 1)
    return column.repeat(like.shape[-2] // column.shape[0], 1)


@dataclass(frozen=True)
class Geometric:
    """Weights w(n, 0) = head, w(n, k) = tail * ratio**(k-1) for k >= 1.

    With bias_corrected, every weight is divided by 1 - ratio**(n+1) (Adam's moments).
    Parameters may be arrays of shape (B,): weights then have a trailing batch axis.
    """

    head: float | np.ndarray
    tail: float | np.ndarray
    ratio: float | np.ndarray
    bias_corrected: bool = False

    def __call__(self, n: int, k: np.ndarray) -> np.ndarray:
        k = np.asarray(k, dtype=np.float64)
        if any(np.ndim(v) for v in (self.head, self.tail, self.ratio)):
            k = k[:, None]  # per-trajectory parameters (any of them): a batch axis
        # ratio**(k-1) at k = 0 would divide by zero when ratio = 0; it is masked anyway.
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(k == 0, self.head, self.tail * self.ratio ** np.maximum(k - 1, 0))
        if self.bias_corrected:
            w = w / (1.0 - self.ratio ** (n + 1))
        return np.broadcast_to(w, np.broadcast_shapes(w.shape, np.shape(self.ratio)))


def ema(beta: Hyper, bias_corrected: bool = False) -> Geometric:
    """Exponential moving average v_n = beta v_{n-1} + (1-beta) x_n, v_{-1} = 0."""
    b = _weights_param(beta)
    return Geometric(head=1 - b, tail=(1 - b) * b, ratio=b, bias_corrected=bias_corrected)


@dataclass(frozen=True)
class Average:
    """One averaged feature: A = sum_k weights(n, k) * feature(g_{n-k})."""

    feature: Callable[[Tensor], Tensor]
    weights: Callable[[int, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Optimizer:
    """update = readout(g, *averages) + decay * theta (decoupled weight decay)."""

    name: str
    averages: tuple[Average, ...]
    readout: Callable[..., Tensor]
    decay: Hyper = 0.0

    def decay_term(self, theta: Tensor) -> Tensor | float:
        d = _readout_param(self.decay, theta)
        return d * theta if (not isinstance(d, float) or d != 0.0) else 0.0


def gradient(g: Tensor) -> Tensor:
    return g


def square(g: Tensor) -> Tensor:
    return g * g


def safe_sqrt(v: Tensor) -> Tensor:
    """sqrt with derivative 0 at v = 0 instead of inf.

    A coordinate whose gradient is exactly 0 (a loss flat in that direction) has
    v = 0; the readout's derivative there is inf * 0 = nan by autograd although the
    memory correction has a finite limit, in which the v-term vanishes.
    """
    positive = v > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, v, 1.0)), 0.0)


def sign_eps(c: Tensor, eps: float | Tensor) -> Tensor:
    """Smoothed sign c / sqrt(c^2 + eps); eps = 0 is the exact sign (Lion)."""
    if isinstance(eps, float):
        return torch.sign(c) if eps == 0.0 else c / torch.sqrt(c * c + eps)
    # per-row eps (a sweep): rows with eps = 0 take the exact sign, whose derivative is
    # exactly 0 (their memory correction vanishes, as in a single run with eps = 0)
    exact = eps == 0
    return torch.where(exact, torch.sign(c), c / torch.sqrt(c * c + torch.where(exact, 1.0, eps)))


# --- the declarations (THEORY.md §3) -------------------------------------------------


def gd() -> Optimizer:
    return Optimizer("gd", (), lambda g: g)


def heavy_ball(b1: Hyper = 0.9) -> Optimizer:
    """torch SGD(momentum=b1, dampening=0): buf_n = b1 buf_{n-1} + g_n, buf_0 = g_0."""
    b = _weights_param(b1)
    momentum = Average(gradient, Geometric(head=1.0, tail=b, ratio=b))
    return Optimizer("hb", (momentum,), lambda g, m: m)


def nesterov(b1: Hyper = 0.9) -> Optimizer:
    """torch SGD(nesterov=True): update g_n + b1 buf_n."""
    b = _weights_param(b1)
    lookahead = Average(gradient, Geometric(head=1.0 + b, tail=b * b, ratio=b))
    return Optimizer("nesterov", (lookahead,), lambda g, m: m)


def rmsprop(b2: Hyper = 0.99, eps: Hyper = 1e-8) -> Optimizer:
    """torch RMSprop(alpha=b2): g_n / (sqrt(v_n) + eps), no bias correction."""

    def readout(g: Tensor, v: Tensor) -> Tensor:
        return g / (safe_sqrt(v) + _readout_param(eps, g))

    return Optimizer("rmsprop", (Average(square, ema(b2)),), readout)


def _adam_like(name: str, b1: Hyper, b2: Hyper, eps: Hyper, wd: Hyper) -> Optimizer:
    def readout(g: Tensor, m: Tensor, v: Tensor) -> Tensor:
        return m / (safe_sqrt(v) + _readout_param(eps, g))

    moments = (Average(gradient, ema(b1, True)), Average(square, ema(b2, True)))
    return Optimizer(name, moments, readout, wd)


def adam(b1: Hyper = 0.9, b2: Hyper = 0.999, eps: Hyper = 1e-8) -> Optimizer:
    """torch Adam: bias-corrected moments, eps outside the sqrt."""
    return _adam_like("adam", b1, b2, eps, 0.0)


def adamw(b1: Hyper = 0.9, b2: Hyper = 0.999, eps: Hyper = 1e-8, wd: Hyper = 0.01) -> Optimizer:
    """torch AdamW: Adam's update plus the decoupled weight decay wd * theta."""
    return _adam_like("adamw", b1, b2, eps, wd)


def lion(b1: Hyper = 0.9, b2: Hyper = 0.99, eps: Hyper = 0.0, wd: Hyper = 0.0) -> Optimizer:
    """Lion (Chen et al. 2023): sign_eps(b1 m_{n-1} + (1-b1) g_n) + wd theta,
    m_n = b2 m_{n-1} + (1-b2) g_n."""
    beta1, beta2 = _weights_param(b1), _weights_param(b2)
    interpolation = Geometric(head=1 - beta1, tail=beta1 * (1 - beta2), ratio=beta2)

    def readout(g: Tensor, c: Tensor) -> Tensor:
        return sign_eps(c, _readout_param(eps, g))

    return Optimizer("lion", (Average(gradient, interpolation),), readout, wd)


# name -> (declaration, the hyperparameters it takes besides the learning rate)
OPTIMIZERS: dict[str, tuple[Callable[..., Optimizer], tuple[str, ...]]] = {
    "gd": (gd, ()),
    "hb": (heavy_ball, ("b1",)),
    "nesterov": (nesterov, ("b1",)),
    "rmsprop": (rmsprop, ("b2", "eps")),
    "adam": (adam, ("b1", "b2", "eps")),
    "adamw": (adamw, ("b1", "b2", "eps", "wd")),
    "lion": (lion, ("b1", "b2", "eps", "wd")),
}


def make_optimizer(name: str, **hyper: Hyper) -> Optimizer:
    """The declared optimizer `name` with the hyperparameters it uses (others ignored)."""
    declare, keys = OPTIMIZERS[name]
    return declare(**{k: hyper[k] for k in keys if k in hyper})
