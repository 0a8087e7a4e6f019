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


def as_column(v: Hyper, like: Tensor) -> float | Tensor:
    """A scalar as a float; per-trajectory values (B,) as a column tiled over the rows of
    `like` (R, d), which the engine stacks in blocks of B (one block per dynamics, or per
    copy of the corrected rows)."""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        return float(a)
    # a copy: the engine passes rows of read-only weight tables
    column = torch.tensor(a, dtype=like.dtype, device=like.device).reshape(-1, 1)
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

    @property
    def recursive(self) -> bool:
        """Whether the closed forms below hold (ratio < 1 in every row)."""
        return bool(np.all(np.asarray(self.ratio) < 1.0))

    @property
    def constant_sum(self) -> bool:
        """Whether W(n) is the same for every n (THEORY §7 b): with the bias correction
        when tail = head * ratio (an EMA: W = head / (1 - ratio)), else when tail = 0."""
        if self.bias_corrected:
            return bool(np.all(np.asarray(self.tail) == np.asarray(self.head) * self.ratio))
        return bool(np.all(np.asarray(self.tail) == 0.0))

    def tables(self, steps: int) -> GeometricTables:
        """Every weight-derived sequence of a run of `steps` steps, once, in O(steps)."""
        head, tail, ratio = (
            np.atleast_1d(np.asarray(v, dtype=np.float64))
            for v in np.broadcast_arrays(self.head, self.tail, self.ratio)
        )
        # the sequences below depend on r alone: computed once per distinct r (a sweep's
        # 4096 rows have 64), then spread over the rows; column by column, so exact
        distinct, rows = np.unique(ratio, return_inverse=True)
        # r^k by libm's pow, as torch.optim's bias correction 1 - r^(n+1): numpy's
        # vectorized pow differs in the last bit, which 1 - r^(n+1) amplifies 1/(1-r) times
        rs = distinct.tolist()
        power = np.array([[r**k for r in rs] for k in range(steps + 2)])
        z = 1.0 - power[1:] if self.bias_corrected else np.ones_like(power[1:])
        power = power[:-1]
        k = np.arange(steps + 1, dtype=np.float64)[:, None]
        partial = np.concatenate([np.zeros_like(distinct)[None], np.cumsum(power, 0)[:-1]])
        # sums by cumulative sums of positive terms: no cancellation for r near 1
        moment = np.concatenate([np.zeros_like(distinct)[None], np.cumsum(k[1:] * power[:-1], 0)])
        power, z, partial, moment = (a[:, rows.reshape(-1)] for a in (power, z, partial, moment))
        if self.constant_sum:  # the exact constant, not the last bits of a sum
            W = np.broadcast_to(head / (1.0 - ratio) if self.bias_corrected else head, z.shape)
        else:
            W = (head + tail * partial) / z
        return GeometricTables(head, tail, ratio, power, partial, z, W, tail * moment / z)

    def limit(self) -> tuple[np.ndarray | float, np.ndarray | float]:
        """W(inf) = a + c/(1 - r) and sum_k k w(inf, k) = c/(1 - r)^2 (THEORY §7)."""
        r = np.asarray(self.ratio, dtype=np.float64)
        return self.head + self.tail / (1.0 - r), self.tail / (1.0 - r) ** 2


@dataclass(frozen=True)
class GeometricTables:
    """Geometric weights over a run, each array (steps + 1, P) with P = 1 or one column
    per trajectory (THEORY §7):

    power[k] = r^k, partial[m] = sum_{i<m} r^i, z[n] the bias correction (or 1),
    W[n] = sum_k w(n, k) = (a + c partial[n]) / z[n], moment[n] = sum_k k w(n, k),
    and the tail weight of Fbar^(b) in D(n), T(n, n-b) = c r^(n-1-b) partial[b+1] / z[n].
    """

    head: np.ndarray
    tail: np.ndarray
    ratio: np.ndarray
    power: np.ndarray
    partial: np.ndarray
    z: np.ndarray
    W: np.ndarray
    moment: np.ndarray

    def tails(self, n: int, first: int = 0) -> np.ndarray:
        """T(n, n-b) for b = first..n-1, shape (n - first, P)."""
        return (
            self.tail
            * self.power[n - 1 - first :: -1][: n - first]
            * self.partial[first + 1 : n + 1]
            / self.z[n]
        )

    def contraction(self, s: np.ndarray) -> np.ndarray:
        """C[n] = sum_{b<n} T(n, n-b) s[b] for every n (s: (steps, P)), by the recursion
        E[n+1] = r E[n] + partial[b+1] s[b]: O(steps)."""
        steps = s.shape[0]
        q = self.partial[1 : steps + 1] * s
        if q.shape[1] == 1:  # one column: the recursion on Python floats is fastest
            r, e, E = float(self.ratio[0]), 0.0, [0.0]
            for v in q[:, 0].tolist():
                e = r * e + v
                E.append(e)
            E = np.array(E)[:, None]
        else:
            E = np.zeros((steps + 1, s.shape[1]))
            for b in range(steps):
                E[b + 1] = self.ratio * E[b] + q[b]
        return self.tail * E[:steps] / self.z[:steps]


def ema(beta: Hyper, bias_corrected: bool = False) -> Geometric:
    """Exponential moving average v_n = beta v_{n-1} + (1-beta) x_n, v_{-1} = 0."""
    b = _weights_param(beta)
    return Geometric(head=1 - b, tail=(1 - b) * b, ratio=b, bias_corrected=bias_corrected)


@dataclass(frozen=True)
class Average:
    """One averaged feature: A = sum_k weights(n, k) * feature(g_{n-k}).

    `slope` is feature'(g), coordinate-wise on Python floats (engines without autograd)."""

    feature: Callable[[Tensor], Tensor]
    weights: Callable[[int, np.ndarray], np.ndarray]
    slope: Callable[[float], float] | None = None


def _where(condition, a, b):
    """torch.where on tensors, numpy.where on arrays, a conditional on floats (both
    branches must be safe to evaluate: callers guard their denominators)."""
    if isinstance(condition, Tensor):
        return torch.where(condition, a, b)
    if isinstance(condition, np.ndarray):
        return np.where(condition, a, b)
    return a if condition else b


@dataclass(frozen=True)
class Elementwise:
    """The readout coordinate by coordinate, for engines without autograd: `value(g, *A)`
    on Python floats (core.fast2d) and numpy arrays (THEORY §7 c evaluates Fbar^(b) for
    every past b at once), and `partials(g, *A)` = (dPhi/dA_1, ...) on floats and torch
    tensors, which the generic JVP checks in the tests (THEORY §7)."""

    value: Callable[..., float]
    partials: Callable[..., tuple[float, ...]]


@dataclass(frozen=True)
class Optimizer:
    """update = readout(g, *averages) + decay * theta (decoupled weight decay).

    Facts about the readout that let an engine skip work (THEORY §7), declared, never
    guessed from the name: `linear` (readout = A_1 + ... + A_p: the directions D_i follow
    scalar recursions), `flat` (locally constant in the averages: M = 0, no Hessian-vector
    product), `elementwise` (float readout and partials; None with per-trajectory
    hyperparameters), `rows` (the same on numpy arrays whose last axis is the trajectory,
    hyperparameters one per trajectory or shared: core.fast2d_batch)."""

    name: str
    averages: tuple[Average, ...]
    readout: Callable[..., Tensor]
    decay: Hyper = 0.0
    linear: bool = False
    flat: bool = False
    elementwise: Elementwise | None = None
    rows: Elementwise | None = None
    # the diagonal preconditioner P(*averages) of an adaptive readout A_1 / P (Adam's
    # sqrt(v) + eps): what its preconditioned sharpness lambda_max(P^-1 H) divides by
    preconditioner: Callable[..., Tensor] | None = None

    def decay_term(self, theta: Tensor) -> Tensor | float:
        d = as_column(self.decay, theta)
        return d * theta if (not isinstance(d, float) or d != 0.0) else 0.0


def gradient(g: Tensor) -> Tensor:
    return g


def square(g: Tensor) -> Tensor:
    return g * g


def gradient_slope(g: float) -> float:
    return 1.0


def square_slope(g: float) -> float:
    return 2.0 * g


def _scalars(*values: Hyper) -> tuple[float, ...] | None:
    """The hyperparameters as floats, or None if any is per-trajectory."""
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    return None if any(a.ndim for a in arrays) else tuple(float(a) for a in arrays)


def _sum_of_averages(g, *averages):
    out = averages[0]
    for a in averages[1:]:
        out = out + a
    return out


LINEAR = Elementwise(_sum_of_averages, lambda g, *averages: (1.0,) * len(averages))


def safe_sqrt(v: Tensor) -> Tensor:
    """sqrt with derivative 0 at v = 0 instead of inf.

    A coordinate whose gradient is exactly 0 (a loss flat in that direction) has
    v = 0; the readout's derivative there is inf * 0 = nan by autograd although the
    memory correction has a finite limit, in which the v-term vanishes.
    """
    if not (v.requires_grad and torch.is_grad_enabled()):  # no derivative asked: one op
        return torch.sqrt(v)
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
    identity = Elementwise(lambda g: g, lambda g: ())
    return Optimizer("gd", (), lambda g: g, elementwise=identity, rows=identity)


def heavy_ball(b1: Hyper = 0.9) -> Optimizer:
    """torch SGD(momentum=b1, dampening=0): buf_n = b1 buf_{n-1} + g_n, buf_0 = g_0."""
    b = _weights_param(b1)
    momentum = Average(gradient, Geometric(head=1.0, tail=b, ratio=b), gradient_slope)
    return Optimizer(
        "hb", (momentum,), lambda g, m: m, linear=True, elementwise=LINEAR, rows=LINEAR
    )


def nesterov(b1: Hyper = 0.9) -> Optimizer:
    """torch SGD(nesterov=True): update g_n + b1 buf_n."""
    b = _weights_param(b1)
    lookahead = Average(gradient, Geometric(head=1.0 + b, tail=b * b, ratio=b), gradient_slope)
    return Optimizer(
        "nesterov", (lookahead,), lambda g, m: m, linear=True, elementwise=LINEAR, rows=LINEAR
    )


def rmsprop(b2: Hyper = 0.99, eps: Hyper = 1e-8) -> Optimizer:
    """torch RMSprop(alpha=b2): g_n / (sqrt(v_n) + eps), no bias correction."""

    def readout(g: Tensor, v: Tensor) -> Tensor:
        return over_root(g, v, as_column(eps, g))

    return Optimizer(
        "rmsprop",
        (Average(square, ema(b2), square_slope),),
        readout,
        elementwise=_rmsprop_elementwise(*_scalars(eps)) if _scalars(eps) else None,
        rows=_rmsprop_elementwise(_weights_param(eps)),
    )


def over_root(a: Tensor, v: Tensor, eps: float | Tensor) -> Tensor:
    """a / (sqrt(v) + eps), PyTorch's placement of eps, with 0 where sqrt(v) + eps = 0:
    with eps = 0 a coordinate whose gradients were all exactly 0 (v = 0, so a = 0 too)
    does not move, where the quotient 0/0 is not defined (THEORY §14)."""
    root = safe_sqrt(v) + eps
    if isinstance(eps, float) and eps > 0.0:  # never 0: one division
        return a / root
    positive = root > 0
    return torch.where(positive, a / torch.where(positive, root, 1.0), 0.0)


def _rmsprop_elementwise(eps: float) -> Elementwise:
    nonzero = _positive(eps)

    def value(g, v):
        return _over(g, v**0.5 + eps, nonzero)

    def partials(g, v):
        s = v**0.5
        positive = s > 0.0  # d/dv is 0 at v = 0, as with safe_sqrt
        s1 = _where(positive, s, 1.0)
        return (_where(positive, -g / (2.0 * s1 * (s1 + eps) ** 2), 0.0),)

    return Elementwise(value, partials)


def _over(a, root, nonzero: bool):
    """a / root on floats, arrays or tensors; unless the root is `nonzero` (eps > 0 in
    every row), 0 where it is 0 (as over_root)."""
    if nonzero:
        return a / root
    return _where(root > 0.0, a / _where(root > 0.0, root, 1.0), 0.0 * a)


def _positive(eps: float | np.ndarray) -> bool:
    return bool(np.all(np.asarray(eps) > 0.0))


def _adam_like(
    name: str, b1: Hyper, b2: Hyper, eps: Hyper, wd: Hyper, inside: bool = False
) -> Optimizer:
    """Bias-corrected moments m, v read out as m/(sqrt(v) + eps) (PyTorch), or with
    `inside` as m/sqrt(v + eps) (the paper's convention: smooth at v = 0, eps > 0)."""

    def readout(g: Tensor, m: Tensor, v: Tensor) -> Tensor:
        if inside:
            return m / torch.sqrt(v + as_column(eps, g))
        return over_root(m, v, as_column(eps, g))

    def preconditioner(m: Tensor, v: Tensor) -> Tensor:
        return torch.sqrt(v + as_column(eps, v)) if inside else v.sqrt() + as_column(eps, v)

    moments = (
        Average(gradient, ema(b1, True), gradient_slope),
        Average(square, ema(b2, True), square_slope),
    )
    declare = _adam_inside_elementwise if inside else _adam_elementwise
    scalar_eps = _scalars(eps)
    elementwise = declare(*scalar_eps) if scalar_eps else None
    rows = declare(_weights_param(eps))
    return Optimizer(
        name,
        moments,
        readout,
        wd,
        elementwise=elementwise,
        rows=rows,
        preconditioner=preconditioner,
    )


def _adam_elementwise(eps: float) -> Elementwise:
    """THEORY §7: d/dm = 1/(sqrt v + eps), d/dv = -m/(2 sqrt v (sqrt v + eps)^2); at
    v = 0 d/dv is 0 (its limit along the run, THEORY §14), and with eps = 0 the readout
    and d/dm are 0 there too (over_root)."""
    nonzero = _positive(eps)

    def value(g, m, v):
        return _over(m, v**0.5 + eps, nonzero)

    def partials(g, m, v):
        s = v**0.5
        dm = _over(1.0, s + eps, nonzero)
        positive = s > 0.0  # d/dv is 0 at v = 0, as with safe_sqrt
        return dm, _where(positive, -m * dm * dm / (2.0 * _where(positive, s, 1.0)), 0.0)

    return Elementwise(value, partials)


def _adam_inside_elementwise(eps: float) -> Elementwise:
    """m/sqrt(v + eps): d/dm = (v + eps)^(-1/2), d/dv = -m (v + eps)^(-3/2) / 2."""

    def value(g, m, v):
        return m / (v + eps) ** 0.5

    def partials(g, m, v):
        q = v + eps
        dm = 1.0 / q**0.5
        return dm, -0.5 * m * dm / q

    return Elementwise(value, partials)


def adam(b1: Hyper = 0.9, b2: Hyper = 0.999, eps: Hyper = 1e-8) -> Optimizer:
    """torch Adam: bias-corrected moments, eps outside the sqrt."""
    return _adam_like("adam", b1, b2, eps, 0.0)


def adamw(b1: Hyper = 0.9, b2: Hyper = 0.999, eps: Hyper = 1e-8, wd: Hyper = 0.01) -> Optimizer:
    """torch AdamW: Adam's update plus the decoupled weight decay wd * theta."""
    return _adam_like("adamw", b1, b2, eps, wd)


def adamw_epsin(
    b1: Hyper = 0.9, b2: Hyper = 0.999, eps: Hyper = 1e-8, wd: Hyper = 0.01
) -> Optimizer:
    """AdamW with eps inside the root, m/sqrt(v + eps) (the paper's convention): smooth
    where v = 0, so a coordinate without gradient has a finite correction (THEORY §14)."""
    return _adam_like("adamw_epsin", b1, b2, eps, wd, inside=True)


def lion(b1: Hyper = 0.9, b2: Hyper = 0.99, eps: Hyper = 0.0, wd: Hyper = 0.0) -> Optimizer:
    """Lion (Chen et al. 2023): sign_eps(b1 m_{n-1} + (1-b1) g_n) + wd theta,
    m_n = b2 m_{n-1} + (1-b2) g_n."""
    beta1, beta2 = _weights_param(b1), _weights_param(b2)
    interpolation = Geometric(head=1 - beta1, tail=beta1 * (1 - beta2), ratio=beta2)

    def readout(g: Tensor, c: Tensor) -> Tensor:
        return sign_eps(c, as_column(eps, g))

    scalar_eps = _scalars(eps)
    return Optimizer(
        "lion",
        (Average(gradient, interpolation, gradient_slope),),
        readout,
        wd,
        flat=bool(np.all(np.asarray(eps) == 0.0)),  # the exact sign: THEORY §3, §7
        elementwise=_lion_elementwise(*scalar_eps) if scalar_eps else None,
        rows=_lion_rows(_weights_param(eps)),
    )


def _lion_elementwise(eps: float) -> Elementwise:
    """sign_eps(c) = c / sqrt(c^2 + eps), derivative eps / (c^2 + eps)^(3/2)."""
    if eps == 0.0:
        return Elementwise(
            lambda g, c: 1.0 if c > 0.0 else -1.0 if c < 0.0 else c * 0.0, lambda g, c: (0.0,)
        )

    def value(g, c):
        return c / (c * c + eps) ** 0.5

    def partials(g, c):
        q = c * c + eps
        return (eps / (q * q**0.5),)

    return Elementwise(value, partials)


def _lion_rows(eps: float | np.ndarray) -> Elementwise:
    """sign_eps on numpy arrays, eps per trajectory: rows with eps = 0 take the exact sign
    and a zero derivative (as sign_eps on tensors)."""
    exact = np.asarray(eps) == 0.0
    safe = np.where(exact, 1.0, eps)

    def value(g, c):
        return np.where(exact, np.sign(c), c / np.sqrt(c * c + safe))

    def partials(g, c):
        q = c * c + safe
        return (np.where(exact, 0.0, safe / (q * np.sqrt(q))),)

    return Elementwise(value, partials)
