"""Optimizers declared by their memory (THEORY.md §2-§3).

An optimizer with memory is

    update_n = readout(g_n, A_1, ..., A_p) + decay * theta_n,
    A_i      = sum_{k=0..n} w_i(n, k) * feature_i(g_{n-k}),

so a declaration names the averaged per-step features, their weights w_i(n, k) and the
readout.  The engine (core.engine.dynamics) derives the memory run, the memoryless run and the
memory correction from this declaration alone; nothing here is optimizer-specific code
for the engine.

Hyperparameters may be floats or 1-D sequences (one value per trajectory), so a batch of
runs with different hyperparameters is one tensor computation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

Tensor = torch.Tensor
Hyper = float | Sequence[float] | np.ndarray


def recursion(x: np.ndarray, r: float | np.ndarray) -> np.ndarray:
    """y[b] = x[b] + r y[b-1], y[-1] = 0, along the first axis (r one number, or one per
    column): the state recursion U(n+1) = phi_n + r U(n) of THEORY §7, by scipy's lfilter
    (the operations of the loop, in its order).  scipy.signal is imported on first use:
    it takes ~2 s, which a process that never runs a recursion (`python -m core --help`)
    would pay."""
    from scipy.signal import lfilter

    if np.ndim(r) == 0:
        return lfilter([1.0], [1.0, -float(r)], x, axis=0)
    x = np.asarray(x, dtype=np.float64)
    ratios = np.broadcast_to(r, x.shape[1:])
    return np.stack(
        [lfilter([1.0], [1.0, -rj], x[:, j]) for j, rj in enumerate(ratios.tolist())], axis=1
    )


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
        """Every weight-derived sequence of a run of `steps` steps, in O(steps): built once
        per weights object and step count (a page's runs and surfaces share its optimizer,
        core.analyses.compute.optimizer: one set of tables per view)."""
        built = self.__dict__.setdefault("_built", {})  # frozen: its own dict, not a field
        if steps not in built:
            built[steps] = self._tables(steps)
        return built[steps]

    def _tables(self, steps: int) -> GeometricTables:
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
        power = np.array([list(map(r.__pow__, range(steps + 2))) for r in rs]).T
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
        E = np.zeros((steps + 1, q.shape[1]))
        E[1:] = recursion(q, self.ratio)  # one ratio per column, or one for all
        return self.tail * E[:steps] / self.z[:steps]


def ema(beta: Hyper, bias_corrected: bool = False) -> Geometric:
    """Exponential moving average v_n = beta v_{n-1} + (1-beta) x_n, v_{-1} = 0."""
    b = _weights_param(beta)
    return Geometric(head=1 - b, tail=(1 - b) * b, ratio=b, bias_corrected=bias_corrected)


@dataclass(frozen=True)
class Average:
    """One averaged feature: A = sum_k weights(n, k) * feature(g_{n-k}), with the
    feature's derivative `slope` (THEORY §2: M carries phi_i'(g) H D_i)."""

    feature: Callable
    weights: Callable[[int, np.ndarray], np.ndarray]
    slope: Callable


def where(condition, a, b):
    """torch.where on tensors, numpy.where on arrays, a conditional on floats (both
    branches must be safe to evaluate: callers guard their denominators)."""
    if isinstance(condition, Tensor):
        return torch.where(condition, a, b)
    if isinstance(condition, np.ndarray):
        return np.where(condition, a, b)
    return a if condition else b


def sign(c):
    """The exact sign on floats, arrays and tensors (0 at 0)."""
    if isinstance(c, Tensor):
        return torch.sign(c)
    if isinstance(c, np.ndarray | np.generic):
        return np.sign(c)
    return 1.0 if c > 0.0 else -1.0 if c < 0.0 else 0.0 * c


def lay_out(params: dict, like) -> dict:
    """A readout's hyperparameters in the layout of `like`: floats stay floats; per-
    trajectory values (B,) broadcast along the last axis of a numpy array (the array
    engines put the trajectory last) and down the rows of a tensor (the torch engine
    stacks rows in blocks of B)."""
    if isinstance(like, Tensor):
        return {k: as_column(v, like) for k, v in params.items()}
    return params


@dataclass(frozen=True)
class Readout:
    """The readout Phi(g, A_1, ..., A_p) coordinate by coordinate and its partials
    dPhi/dA_i, each written once with the arithmetic that Python floats, numpy arrays and
    torch tensors share, so that every engine (core.engine.fast2d on floats,
    core.engine.fast2d_batch and the grid analyses on arrays, core.engine.dynamics on
    tensors) runs the same formula. `value(p, g, *A)` and `partials(p, g, *A)` take the
    hyperparameters `params` laid out for their inputs (lay_out)."""

    value: Callable[..., Any]
    partials: Callable[..., tuple]
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Optimizer:
    """update = readout(g, *averages) + decay * theta (decoupled weight decay).

    Facts about the readout that let an engine skip work (THEORY §7), declared, never
    guessed from the name: `linear` (readout = A_1 + ... + A_p: the directions D_i follow
    scalar recursions), `flat` (locally constant in the averages: M = 0, no Hessian-vector
    product)."""

    name: str
    averages: tuple[Average, ...]
    readout: Readout
    decay: Hyper = 0.0
    linear: bool = False
    flat: bool = False
    # the diagonal preconditioner P(*averages) of an adaptive readout A_1 / P (Adam's
    # sqrt(v) + eps): what its preconditioned sharpness lambda_max(P^-1 H) divides by
    preconditioner: Callable[..., Tensor] | None = None
    # what one evaluation of the readout costs against a built-in's (a declared readout's
    # code is priced by its length: core.scenarios.limits scales the past sums by it)
    work: float = 1.0

    @property
    def scalar(self) -> bool:
        """Whether every hyperparameter is one number (not one per trajectory)."""
        weights = [
            (av.weights.head, av.weights.tail, av.weights.ratio)
            for av in self.averages
            if isinstance(av.weights, Geometric)
        ]
        values = [self.decay, *self.readout.params.values(), *(v for w in weights for v in w)]
        return all(np.ndim(v) == 0 for v in values)

    def value(self, g, *averages):
        """Phi(g, *averages), on floats, arrays or tensors."""
        return self.readout.value(lay_out(self.readout.params, g), g, *averages)

    def partials(self, g, *averages) -> tuple:
        return self.readout.partials(lay_out(self.readout.params, g), g, *averages)

    def decay_term(self, theta: Tensor) -> Tensor | float:
        d = as_column(self.decay, theta)
        return d * theta if (not isinstance(d, float) or d != 0.0) else 0.0


def gradient(g):
    return g


def square(g):
    return g * g


def gradient_slope(g):
    return 1.0


def square_slope(g):
    return 2.0 * g


def _sum_of_averages(p, g, *averages):
    out = averages[0]
    for a in averages[1:]:
        out = out + a
    return out


def _ones(p, g, *averages):
    return (1.0,) * len(averages)


def over(a, root, nonzero: bool):
    """a / root; unless the root is `nonzero` (eps > 0 in every row), 0 where it is 0: with
    eps = 0 a coordinate whose gradients were all exactly 0 (v = 0, so a = 0 too) does not
    move, where the quotient 0/0 is not defined (THEORY §14)."""
    if nonzero:
        return a / root
    return where(root > 0.0, a / where(root > 0.0, root, 1.0), 0.0 * a)


def _positive(eps: Hyper) -> bool:
    return bool(np.all(np.asarray(eps) > 0.0))


# --- the declarations (THEORY.md §3) -------------------------------------------------


def gd() -> Optimizer:
    return Optimizer("gd", (), Readout(lambda p, g: g, lambda p, g: ()))


LINEAR = Readout(_sum_of_averages, _ones)


def heavy_ball(b1: Hyper = 0.9) -> Optimizer:
    """torch SGD(momentum=b1, dampening=0): buf_n = b1 buf_{n-1} + g_n, buf_0 = g_0."""
    b = _weights_param(b1)
    momentum = Average(gradient, Geometric(head=1.0, tail=b, ratio=b), gradient_slope)
    return Optimizer("hb", (momentum,), LINEAR, linear=True)


def nesterov(b1: Hyper = 0.9) -> Optimizer:
    """torch SGD(nesterov=True): update g_n + b1 buf_n."""
    b = _weights_param(b1)
    lookahead = Average(gradient, Geometric(head=1.0 + b, tail=b * b, ratio=b), gradient_slope)
    return Optimizer("nesterov", (lookahead,), LINEAR, linear=True)


def rmsprop(b2: Hyper = 0.99, eps: Hyper = 1e-8) -> Optimizer:
    """torch RMSprop(alpha=b2): g_n / (sqrt(v_n) + eps), no bias correction."""
    nonzero = _positive(eps)

    def value(p, g, v):
        return over(g, v**0.5 + p["eps"], nonzero)

    def partials(p, g, v):
        """d/dv = -g / (2 sqrt v (sqrt v + eps)^2), 0 at v = 0 (THEORY §14)."""
        s = v**0.5
        positive = s > 0.0
        s1 = where(positive, s, 1.0)
        return (where(positive, -g / (2.0 * s1 * (s1 + p["eps"]) ** 2), 0.0 * g),)

    average = Average(square, ema(b2), square_slope)
    return Optimizer("rmsprop", (average,), Readout(value, partials, {"eps": _weights_param(eps)}))


def _adam_like(
    name: str, b1: Hyper, b2: Hyper, eps: Hyper, wd: Hyper, inside: bool = False
) -> Optimizer:
    """Bias-corrected moments m, v read out as m/(sqrt(v) + eps) (PyTorch), or with
    `inside` as m/sqrt(v + eps) (the paper's convention: smooth at v = 0, eps > 0)."""
    nonzero = _positive(eps)

    def root(p, v):
        return (v + p["eps"]) ** 0.5 if inside else v**0.5 + p["eps"]

    def value(p, g, m, v):
        return over(m, root(p, v), nonzero)

    def partials(p, g, m, v):
        """THEORY §7: d/dm = 1/P, and d/dv = -m/(2 sqrt v P^2) (PyTorch's placement,
        P = sqrt v + eps; 0 at v = 0, its limit along the run, THEORY §14) or
        -m/(2 P^3) (eps inside, P = sqrt(v + eps))."""
        if inside:
            q = v + p["eps"]
            dm = 1.0 / q**0.5
            return dm, -0.5 * m * dm / q
        dm = over(1.0, root(p, v), nonzero)
        s = v**0.5
        positive = s > 0.0
        return dm, where(positive, -m * dm * dm / (2.0 * where(positive, s, 1.0)), 0.0 * m)

    def preconditioner(m: Tensor, v: Tensor) -> Tensor:
        return root(lay_out({"eps": _weights_param(eps)}, v), v)

    moments = (
        Average(gradient, ema(b1, True), gradient_slope),
        Average(square, ema(b2, True), square_slope),
    )
    readout = Readout(value, partials, {"eps": _weights_param(eps)})
    return Optimizer(name, moments, readout, wd, preconditioner=preconditioner)


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
    m_n = b2 m_{n-1} + (1-b2) g_n, with sign_eps(c) = c / sqrt(c^2 + eps); eps = 0 is the
    exact sign, whose derivative is 0 (THEORY §3, §7)."""
    beta1, beta2, e = _weights_param(b1), _weights_param(b2), _weights_param(eps)
    interpolation = Geometric(head=1 - beta1, tail=beta1 * (1 - beta2), ratio=beta2)
    # per trajectory: "exact" 1.0 where eps = 0 (the sign), with eps 1 there to keep the
    # other branch finite
    exact = np.asarray(e) == 0.0
    params = {"exact": _weights_param(exact * 1.0), "eps": _weights_param(np.where(exact, 1.0, e))}

    def value(p, g, c):
        return where(p["exact"] > 0.0, sign(c), c / (c * c + p["eps"]) ** 0.5)

    def partials(p, g, c):
        q = c * c + p["eps"]
        return (where(p["exact"] > 0.0, 0.0 * c, p["eps"] / (q * q**0.5)),)

    return Optimizer(
        "lion",
        (Average(gradient, interpolation, gradient_slope),),
        Readout(value, partials, params),
        wd,
        flat=bool(np.all(np.asarray(e) == 0.0)),
    )
