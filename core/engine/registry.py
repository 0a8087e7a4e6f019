"""One record per optimizer (THEORY §8): its name and label, its hyperparameters, its
memory declaration (the factory in core.engine.optimizers), whether its update is smooth
(THEORY §11), the closed forms of its perturbation R with the regime of each (THEORY §5)
and the sentences the pages say about it.

Scenario defaults and checks, widgets, the regularizer card, /sweep's default axes and
lines, /about's tables, the colours of the figures, the network's perturbation and the
CLI read these records; nothing else switches on an optimizer's name.  Adding an
optimizer is adding its record to RECORDS (README: "How to add an optimizer").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from core.engine import kernel, optimizers
from core.engine.declared import WEIGHTS, Declaration
from core.engine.dynamics import step_moments
from core.engine.optimizers import Optimizer

Tensor = torch.Tensor
Hyper = dict[str, float]
Sums = list[tuple[float, float]]  # per average (W_i(n), m_i(n)): core.engine.dynamics.step_moments

# a closed form's regime holds at a point where its neglected terms are below TOL
# relative to the kept ones (THEORY §9)
TOL = 0.1


@dataclass(frozen=True)
class Hyperparameter:
    key: str
    label: str
    default: float
    lo: float
    hi: float
    hi_open: bool = False
    step: float = 0.001
    help: str = ""
    lo_open: bool = False

    def check(self, v: float) -> None:
        low = v < self.lo or (self.lo_open and v == self.lo)
        if low or v > self.hi or (self.hi_open and v == self.hi):
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            raise ValueError(f"{v!r} is out of range {left}{self.lo!r}, {self.hi!r}{right}")


def beta(key: str, label: str, default: float, help: str) -> Hyperparameter:
    return Hyperparameter(key, label, default, 0.0, 1.0, hi_open=True, step=0.01, help=help)


def epsilon(default: float, help: str, positive: bool = False) -> Hyperparameter:
    return Hyperparameter("eps", "ε", default, 0.0, 10.0, help=help, lo_open=positive)


def decay(default: float) -> Hyperparameter:
    return Hyperparameter(
        "wd", "weight decay λ", default, 0.0, 10.0, help="decoupled weight decay λθ"
    )


@dataclass(frozen=True)
class ClosedForm:
    """R in closed form (THEORY §5) and where it holds.

    R(hyper, L, g, theta) gives R per row of g (R, d).  Where it holds is where the terms
    it neglects are below TOL of the field M/P: on a 2D grid that is checked on the field
    itself (core.analyses.surfaces.form_checks); along a run, with no Hessian at hand, inside(hyper,
    g) reads the regime's conditions on the gradient alone, per row or per coordinate
    (R, d).  defined(hyper): the settings the form speaks about at all."""

    formula: str  # LaTeX
    regime: str  # words
    R: Callable[[Hyper, Tensor, Tensor, Tensor], Tensor]
    inside: Callable[[Hyper, Tensor], Tensor]
    defined: Callable[[Hyper], bool] = lambda h: True
    effect: str = ""  # what R does in its regime, in words (/about's table)


@dataclass(frozen=True)
class Diagonal:
    """A line a phase diagram draws where its axes are `keys`: the diagonal x = y, with
    its legend `label` (Adam's beta1 = beta2, where c1 = c2 and R changes sign as
    eps -> 0, THEORY §5)."""

    keys: frozenset[str]
    label: str


@dataclass(frozen=True)
class Sweep:
    """How /sweep opens on an optimizer: its default axes (`key:lo:hi:n[:log]`, the pairs
    where its theory has a boundary) and the lines its theory draws between the cells."""

    axes: tuple[str, str]
    lines: tuple[Diagonal, ...] = ()


@dataclass(frozen=True)
class Usual:
    """How an optimizer's own paper sets it against another optimizer (`reference`): a
    learning rate `lo` to `hi` times smaller and a decoupled weight decay as many times
    larger, so that lr·λ, the decay per step, stays about the same."""

    reference: str
    lo: float
    hi: float
    source: str


@dataclass(frozen=True)
class Record:
    name: str
    label: str
    declare: Callable[..., Optimizer]  # the factory of core.engine.optimizers
    hyper: tuple[Hyperparameter, ...]
    memory: str  # what the memory is, one sentence
    forms: tuple[ClosedForm, ...]  # closed forms of R, each with its regime
    # R at any point for every setting, with the step's sums in place of W = 1 and
    # c = beta/(1-beta): each closed form in its regime, otherwise exact where H is
    # diagonal and there is no weight decay (THEORY §9); used where no grid exists
    # (`perturbation`)
    potential: Callable[[Hyper, Tensor, Tensor, Tensor, Sums], Tensor]
    smooth: Callable[[Hyper], bool] = lambda h: True  # THEORY §11, assumption 1
    not_smooth: str = ""  # why, when it is not
    family: tuple[str, tuple[float, ...]] | None = None  # a smooth family to show instead
    crossover: Callable[[Hyper], float | None] = lambda h: None  # |g| where R's sign flips
    crossover_sentence: str = ""  # what the crossover means, `{value}` in it (the card)
    betas: tuple[str, ...] = field(default=())  # the keys that set memory lengths
    # the gradient size on which the update bends (THEORY §11, §14): the O(h^2) constant
    # grows as it shrinks; 0 where the update does not bend (or is not smooth)
    bend: Callable[[Hyper], float] = lambda h: 0.0
    usual: Usual | None = None  # its usual settings against another optimizer's
    sweep: Sweep | None = None  # /sweep's default axes and lines (None: not swept)
    color: str | None = None  # its line in the figures that set optimizers side by side
    # (F bar, M) as n -> infinity in LaTeX, with c_i = beta_i/(1 - beta_i) (/about's table)
    limit: tuple[str, str] | None = None

    @property
    def defaults(self) -> Hyper:
        return {p.key: p.default for p in self.hyper}

    def crossover_text(self, value: float) -> str:
        return self.crossover_sentence.format(value=f"{value:.3g}")

    def spec(self, key: str) -> Hyperparameter:
        return next(p for p in self.hyper if p.key == key)

    def optimizer(self, **hyper: float) -> Optimizer:
        keys = {p.key for p in self.hyper}
        return self.declare(**{k: v for k, v in hyper.items() if k in keys})

    def perturbation(self, hyper: Hyper, L: Tensor, g: Tensor, theta: Tensor, n) -> Tensor:
        """R per row of g and theta (N, d) at step n (None: n -> infinity) from the
        potential with the sums of M^(n) (THEORY §1, §9); NaN where the update is not
        smooth: there R is not defined, the case is outside the theorem (THEORY §11)."""
        if not self.smooth(hyper):
            return torch.full_like(L, math.nan)
        return self.potential(hyper, L, g, theta, step_moments(self.optimizer(**hyper), n))


# --- pieces of the closed forms -------------------------------------------------------


def _c(b: float) -> float:
    return b / (1 - b)


def _l1(g: Tensor) -> Tensor:
    return g.abs().sum(-1)


def _sq(g: Tensor) -> Tensor:
    return (g * g).sum(-1)


def _everywhere(h: Hyper, g: Tensor) -> Tensor:
    return torch.ones(g.shape[:-1], dtype=torch.bool, device=g.device)


def _decay_term(theta: Tensor, L: Tensor, g: Tensor) -> Tensor:
    """theta.g - L: the potential of H theta (THEORY §5)."""
    return (theta * g).sum(-1) - L


def _psi1(a: Tensor, eps: float) -> Tensor:
    """int_0^a u/(u+eps) du, with its series where a << eps (no cancellation)."""
    if eps == 0.0:
        return a
    x = a / eps
    series = x * x / 2 - x**3 / 3 + x**4 / 4
    return eps * torch.where(x < 1e-2, series, x - torch.log1p(x))


def _psi2(a: Tensor, eps: float) -> Tensor:
    """int_0^a (u/(u+eps))^2 du, with its series where a << eps."""
    if eps == 0.0:
        return a
    x = a / eps
    series = x**3 / 3 - x**4 / 2 + 3 * x**5 / 5
    return eps * torch.where(x < 1e-2, series, x - 2 * torch.log1p(x) + x / (1 + x))


def _adam_family(h: Hyper, L: Tensor, g: Tensor, theta: Tensor, first, second) -> Tensor:
    """sum_j Psi(|g_j|) + wd kbar (theta.g - L), THEORY §9, with the sums (W, m) of the
    gradient's and the square's averages.  Fbar = W1 g/(x + eps), x = sqrt(W2) |g|, and
    M/P = (m1/W1 - (m2/W2) x/(x + eps)) H Fbar give Psi = (m1/W2) psi1(x)
    - (W1 m2/W2^2) psi2(x): c1 psi1(|g|) - c2 psi2(|g|) in the limit (W = 1, m = c)."""
    (W1, m1), (W2, m2), eps = first, second, h["eps"]
    x = math.sqrt(W2) * g.abs()
    R = (m1 / W2 * _psi1(x, eps) - W1 * m2 / W2**2 * _psi2(x, eps)).sum(-1)
    wd = h.get("wd", 0.0)
    if wd:
        kbar = (m1 / W1 - m2 / W2 * x / (x + eps)).mean(-1)  # the factor of H theta in M/P
        R = R + wd * kbar * _decay_term(theta, L, g)
    return R


def _adam_potential(h: Hyper, L: Tensor, g: Tensor, theta: Tensor, sums: Sums) -> Tensor:
    return _adam_family(h, L, g, theta, *sums)


def _rmsprop_potential(h: Hyper, L: Tensor, g: Tensor, theta: Tensor, sums: Sums) -> Tensor:
    """Adam's without a first moment: the gradient itself (W1 = 1, m1 = 0)."""
    return _adam_family(h, L, g, theta, (1.0, 0.0), sums[0])


def _adam_large(h: Hyper, g: Tensor) -> Tensor:
    """|g_j| >> eps: g/(|g|+eps) ~ sign(g) and c2 eps/(|g|+eps) small against |c1 - c2|."""
    a, eps = g.abs(), h["eps"]
    gap = abs(_c(h.get("b1", 0.0)) - _c(h["b2"]))
    return (eps <= TOL * (a + eps)) & (_c(h["b2"]) * eps <= TOL * gap * (a + eps))


def _adam_small(h: Hyper, g: Tensor) -> Tensor:
    """|g_j| << eps: g/(|g|+eps) ~ g/eps and c2 |g|/(|g|+eps) small against c1."""
    a, eps = g.abs(), h["eps"]
    return (a <= TOL * eps) & (_c(h["b2"]) * a <= TOL * _c(h["b1"]) * (a + eps))


def _eps(h: Hyper) -> float:
    """PyTorch's placement, g/(|g| + eps): the update bends where |g| ~ eps."""
    return h["eps"]


def _root_eps(h: Hyper) -> float:
    """g/sqrt(g^2 + eps) (Lion's smoothed sign, Adam with eps inside): |g| ~ sqrt(eps)."""
    return math.sqrt(h["eps"])


def _smoothed(h: Hyper) -> bool:
    return h["eps"] > 0


def _adam_crossover(h: Hyper) -> float | None:
    c1, c2 = _c(h.get("b1", 0.0)), _c(h["b2"])
    return h["eps"] * c1 / (c2 - c1) if c2 > c1 else None


def _adam_forms(decay: bool) -> tuple[ClosedForm, ...]:
    wd_large = r" + \lambda (c_1 - c_2)(\theta\cdot\nabla L - L)" if decay else ""
    wd_small = r" + \lambda c_1 (\theta\cdot\nabla L - L)" if decay else ""

    def large(h, L, g, t):
        c = _c(h["b1"]) - _c(h["b2"])
        return c * (_l1(g) + (h.get("wd", 0.0) * _decay_term(t, L, g) if decay else 0.0))

    def small(h, L, g, t):
        c1 = _c(h["b1"])
        extra = h.get("wd", 0.0) * c1 * _decay_term(t, L, g) if decay else 0.0
        return c1 / (2 * h["eps"]) * _sq(g) + extra if h["eps"] > 0 else torch.zeros_like(L)

    return (
        ClosedForm(
            r"R = (c_1 - c_2)\,\|\nabla L\|_1" + wd_large,
            "|∂L/∂θⱼ| ≫ ε (n → ∞)",
            large,
            _adam_large,
            effect="anti-regularizes where β₂ > β₁ (the defaults: c₁ − c₂ = 9 − 999)",
        ),
        ClosedForm(
            r"R = \frac{c_1}{2\varepsilon}\,\|\nabla L\|_2^2" + wd_small,
            "|∂L/∂θⱼ| ≪ ε (n → ∞)",
            small,
            _adam_small,
            defined=_smoothed,
            effect="regularizes",
        ),
    )


# --- Adam with eps inside the root: m/sqrt(v + eps) (THEORY §14) -----------------------
# Fbar = sign_eps(g) = g/sqrt(g^2 + eps) (+ wd theta) and M/P = (c1 - c2 g^2/(g^2 + eps))
# H Fbar: Lion's smoothed sign with Adam's coefficient.


def _root_ratio(a: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """r = sqrt(1 + x) - 1 and sqrt(1 + x), x = a^2/eps, without cancellation."""
    root = torch.sqrt(1.0 + a * a / eps)
    return (a * a / eps) / (root + 1.0), root


def _inside_potential(h: Hyper, L: Tensor, g: Tensor, theta: Tensor) -> Tensor:
    """sum_j Psi(|g_j|), Psi(a) = int_0^a (c1 - c2 u^2/(u^2 + eps)) u/sqrt(u^2 + eps) du
    = sqrt(eps) (c1 r - c2 r^2/sqrt(1 + x)), plus wd kbar (theta.g - L) as for Adam (§9)."""
    c1, c2, eps = _c(h["b1"]), _c(h["b2"]), h["eps"]
    r, root = _root_ratio(g.abs(), eps)
    R = math.sqrt(eps) * (c1 * r - c2 * r * r / root).sum(-1)
    wd = h.get("wd", 0.0)
    if wd:
        R = R + wd * _inside_coefficient(h, g).mean(-1) * _decay_term(theta, L, g)
    return R


def _inside_coefficient(h: Hyper, g: Tensor) -> Tensor:
    """c1 - c2 g^2/(g^2 + eps) per coordinate: the factor of H Fbar in M/P."""
    q = g * g
    return _c(h["b1"]) - _c(h["b2"]) * q / (q + h["eps"])


def _inside_large(h: Hyper, g: Tensor) -> Tensor:
    """g_j^2 >> eps: sign_eps(g) ~ sign(g) and c2 eps/(g^2 + eps) small against |c1 - c2|."""
    q, eps = g * g + h["eps"], h["eps"]
    gap = abs(_c(h["b1"]) - _c(h["b2"]))
    return (eps <= TOL * q) & (_c(h["b2"]) * eps <= TOL * gap * q)


def _inside_small(h: Hyper, g: Tensor) -> Tensor:
    """g_j^2 << eps: sign_eps(g) ~ g/sqrt(eps) and c2 g^2/(g^2 + eps) small against c1."""
    q, eps = g * g, h["eps"]
    return (q <= TOL * eps) & (_c(h["b2"]) * q <= TOL * _c(h["b1"]) * (q + eps))


def _inside_crossover(h: Hyper) -> float | None:
    """|g| where c1 - c2 g^2/(g^2 + eps) changes sign: sqrt(eps c1/(c2 - c1))."""
    c1, c2 = _c(h["b1"]), _c(h["b2"])
    return math.sqrt(h["eps"] * c1 / (c2 - c1)) if c2 > c1 else None


def _inside_forms() -> tuple[ClosedForm, ...]:
    large, small = _adam_forms(decay=True)

    def small_R(h, L, g, t):
        c1 = _c(h["b1"])
        return c1 * (_sq(g) / (2 * math.sqrt(h["eps"])) + h.get("wd", 0.0) * _decay_term(t, L, g))

    return (
        replace(large, regime="|∂L/∂θⱼ| ≫ √ε (n → ∞)", inside=_inside_large),
        ClosedForm(
            r"R = \frac{c_1}{2\sqrt{\varepsilon}}\,\|\nabla L\|_2^2"
            r" + \lambda c_1 (\theta\cdot\nabla L - L)",
            "|∂L/∂θⱼ| ≪ √ε (n → ∞)",
            small_R,
            _inside_small,
            effect="regularizes",
        ),
    )


def _momentum_form(power: int) -> ClosedForm:
    top = r"\beta" if power == 1 else r"\beta^2"

    def R(h, L, g, t):
        return h["b1"] ** power / (2 * (1 - h["b1"]) ** 2) * _sq(g)

    return ClosedForm(
        rf"R = \frac{{{top}}}{{2(1-\beta)^2}}\,\|\nabla L\|_2^2",
        "everywhere (n → ∞)",
        R,
        _everywhere,
        effect="regularizes",
    )


def _lion_c(h: Hyper) -> float:
    return h["b1"] / (1 - h["b2"])


def _lion_coefficient(h: Hyper, g: Tensor) -> Tensor:
    """c eps/(g_j^2 + eps) per coordinate: the factor of H Fbar in M/P (THEORY §5)."""
    return _lion_c(h) * h["eps"] / (g * g + h["eps"])


def _lion_equal_coefficients(h: Hyper, g: Tensor) -> Tensor:
    """Per row: no weight decay, and the coefficients agree within TOL, so that the
    neglected commutator sum_j H_ij Fbar_j (k_j - k_i) is small whatever H is."""
    k = _lion_coefficient(h, g)
    spread = k.amax(-1) - k.amin(-1)
    return (spread <= TOL * k.amax(-1)) & (h.get("wd", 0.0) == 0.0)


def _lion_small(h: Hyper, g: Tensor) -> Tensor:
    """g_j^2 << eps: the coefficient is c to TOL and sign_eps(g) ~ g/sqrt(eps)."""
    return g * g <= TOL * h["eps"]


def _lion_forms() -> tuple[ClosedForm, ...]:
    """Lion's M/P is K H (sign_eps(g) + wd theta) with K = diag(c eps/(g_j^2 + eps)).
    Where H is diagonal K H sign_eps(g) is the gradient of c sum_j (sqrt(eps) -
    eps/sqrt(g_j^2 + eps)), but K H theta is the gradient of no function of L, g and
    theta: the weight decay has a closed form only where K = c, for g_j^2 << eps
    (THEORY §5)."""

    def small(h, L, g, t):
        return _lion_c(h) * (_sq(g) / (2 * math.sqrt(h["eps"])) + h["wd"] * _decay_term(t, L, g))

    return (
        ClosedForm(
            r"R = \frac{\beta_1}{1-\beta_2}\sum_j\Big(\sqrt{\varepsilon}"
            r" - \frac{\varepsilon}{\sqrt{(\partial_j L)^2+\varepsilon}}\Big)",
            "n → ∞, λ = 0; exact where the Hessian is diagonal (or the coefficients "
            "ε/((∂ⱼL)² + ε) are equal)",
            lambda h, L, g, t: _lion_R(h | {"wd": 0.0}, L, g, t, 1.0, _lion_c(h)),
            _lion_equal_coefficients,
            defined=_smoothed,
            effect="regularizes; ∇R → 0 as ε → 0",
        ),
        ClosedForm(
            r"R = \frac{\beta_1}{1-\beta_2}\Big(\frac{\|\nabla L\|_2^2}{2\sqrt{\varepsilon}}"
            r" + \lambda (\theta\cdot\nabla L - L)\Big)",
            "(∂ⱼL)² ≪ ε (n → ∞)",
            small,
            _lion_small,
            defined=_smoothed,
            effect="regularizes",
        ),
    )


def _lion_R(h: Hyper, L: Tensor, g: Tensor, theta: Tensor, W: float, m: float) -> Tensor:
    """(m/W^2) sum_j (sqrt(eps) - eps/sqrt(W^2 g_j^2 + eps)) (+ weight decay as for Adam,
    §9): Fbar = sign_eps(W g) and M/P = m eps/(W^2 g^2 + eps)^(3/2) H g where H is
    diagonal; c = m, W = 1 in the limit.  The weight decay's term is closed where
    g_j^2 << eps, an approximation elsewhere.  0 for the exact sign (M = 0, THEORY §3)."""
    eps = h["eps"]
    if eps == 0.0:
        return torch.zeros_like(L)
    q = (W * g) ** 2 + eps
    R = m / W**2 * (math.sqrt(eps) - eps / torch.sqrt(q)).sum(-1)
    wd = h.get("wd", 0.0)
    if wd:
        kbar = (m / W * eps / q).mean(-1)  # the factor of H theta in M/P
        R = R + wd * kbar * _decay_term(theta, L, g)
    return R


def _lion_potential(h: Hyper, L: Tensor, g: Tensor, theta: Tensor, sums: Sums) -> Tensor:
    return _lion_R(h, L, g, theta, *sums[0])


def _zero(h: Hyper, L: Tensor, g: Tensor, theta: Tensor, sums: Sums = ()) -> Tensor:
    return torch.zeros_like(L)


_B1 = "β₁ (momentum)"
_B2 = "β₂ (second moment)"
_EPS_HELP = "added to √v: the update bends on the scale ε (THEORY §11)"


def _momentum_potential(h: Hyper, L: Tensor, g: Tensor, theta: Tensor, sums: Sums) -> Tensor:
    """m/2 ||g||^2: M = H D = m H Fbar and P = W, so M/P = m H g (THEORY §5, finite n),
    the closed form's beta^power/(1-beta)^2 in the limit."""
    return sums[0][1] / 2 * _sq(g)


# the axes where the theory has a boundary: heavy ball's h x beta, Adam's b1 = b2 and
# Lion's eps.  RMSprop's and Lion's (eps > 0) verdicts cost O(steps) per cell (THEORY §7
# c): fewer cells
_MOMENTUM_SWEEP = Sweep(("lr:0.005:0.1:24", "b1:0.0:0.95:24"))
_ADAM_SWEEP = Sweep(
    ("b1:0.5:0.999:24", "b2:0.5:0.999:24"),
    (Diagonal(frozenset({"b1", "b2"}), "β₁ = β₂: c₁ = c₂, where R changes sign as ε → 0"),),
)
_ADAM_FBAR = r"g/(\lvert g\rvert+\varepsilon)"
_ADAM_M = (
    r"\frac{H\bar F}{\lvert g\rvert+\varepsilon}\left(c_1 - c_2"
    r"\frac{\lvert g\rvert}{\lvert g\rvert+\varepsilon}\right)"
)
_ADAM_CROSSOVER = (
    "The field's coefficient c₁ − c₂|g|/(|g| + ε) changes sign at |∂L/∂θⱼ| = εc₁/(c₂ − c₁) "
    "= {value} (THEORY §5): below it memory regularizes, above it anti-regularizes."
)


def _momentum_record(name: str, label: str, declare, b1: float, memory: str, power: int) -> Record:
    """Heavy ball (power 1) and Nesterov (power 2): one β, R = β^power/(2(1-β)²)|g|²."""
    form = _momentum_form(power)
    top = r"\beta" if power == 1 else r"\beta^2"
    return Record(
        name=name,
        label=label,
        declare=declare,
        hyper=(beta("b1", "β (momentum)", b1, "the buffer keeps β of itself per step"),),
        memory=memory,
        forms=(form,),
        potential=_momentum_potential,
        betas=("b1",),
        sweep=_MOMENTUM_SWEEP,
        limit=(r"g/(1-\beta)", rf"{top}/(1-\beta)^3\; H g"),
    )


def _adam_record(
    name: str, label: str, declare, memory: str, decoupled: bool, color: str | None = None
) -> Record:
    """Adam, and AdamW with its decoupled weight decay (default 0.01)."""
    return Record(
        name=name,
        label=label,
        declare=declare,
        hyper=(
            beta("b1", _B1, 0.9, "the average of g keeps β₁ of itself per step"),
            beta("b2", _B2, 0.999, "the average of g² keeps β₂ of itself per step"),
            epsilon(1e-8, _EPS_HELP),
            *((decay(0.01),) if decoupled else ()),
        ),
        memory=memory,
        forms=_adam_forms(decay=decoupled),
        potential=_adam_potential,
        crossover=_adam_crossover,
        crossover_sentence=_ADAM_CROSSOVER,
        betas=("b1", "b2"),
        bend=_eps,
        sweep=_ADAM_SWEEP,
        color=color,
        limit=(_ADAM_FBAR + (r" + \lambda\theta" if decoupled else ""), _ADAM_M),
    )


RECORDS: dict[str, Record] = {
    r.name: r
    for r in (
        Record(
            name="gd",
            label="Gradient descent",
            declare=optimizers.gd,
            hyper=(),
            memory="Gradient descent has no memory: each step uses the current gradient only.",
            forms=(
                ClosedForm("R = 0", "everywhere: no memory", _zero, _everywhere, effect="none"),
            ),
            limit=("g", "0"),
            potential=_zero,
        ),
        _momentum_record(
            "hb",
            "Heavy ball (SGD momentum)",
            optimizers.heavy_ball,
            # 0.7, not PyTorch's usual 0.9: with 0.9 the memory spans ~10 steps and, at
            # the default step size, the corrected run leaves its regime (THEORY §8)
            0.7,
            "The momentum buffer sums past gradients with weights βᵏ; in the long run "
            "the step is h·g/(1−β): gradient descent with the effective step h/(1−β).",
            power=1,
        ),
        _momentum_record(
            "nesterov",
            "Nesterov",
            optimizers.nesterov,
            0.9,
            "Nesterov's look-ahead weighs the current gradient by 1+β and older ones "
            "by βᵏ⁺¹; the long-run step is h·g/(1−β).",
            power=2,
        ),
        Record(
            name="rmsprop",
            label="RMSProp",
            declare=optimizers.rmsprop,
            hyper=(
                beta("b2", _B2, 0.99, "the average of g² keeps β₂ of itself per step"),
                epsilon(1e-8, _EPS_HELP),
            ),
            memory="RMSProp divides the gradient by the root of an average of past g².",
            forms=(
                ClosedForm(
                    r"R = -c_2\,\|\nabla L\|_1",
                    "|∂L/∂θⱼ| ≫ ε (n → ∞)",
                    lambda h, L, g, t: -_c(h["b2"]) * _l1(g),
                    lambda h, g: h["eps"] <= TOL * (g.abs() + h["eps"]),
                    effect="anti-regularizes",
                ),
            ),
            potential=_rmsprop_potential,
            betas=("b2",),
            bend=_eps,
            sweep=Sweep(("b2:0.5:0.999:16", "eps:0.0001:1.0:16:log")),
            limit=(
                r"g/(\lvert g\rvert+\varepsilon)",
                r"-c_2\,\lvert g\rvert\,(H\bar F)/(\lvert g\rvert+\varepsilon)^2",
            ),
        ),
        _adam_record(
            "adam",
            "Adam",
            optimizers.adam,
            "Adam divides a bias-corrected average of past gradients (β₁) by the root "
            "of one of past g² (β₂).",
            decoupled=False,
        ),
        _adam_record(
            "adamw",
            "AdamW",
            optimizers.adamw,
            "AdamW is Adam's update plus the decoupled weight decay λθ, which has no "
            "memory of its own.",
            decoupled=True,
            color="#7b3fa0",
        ),
        Record(
            name="adamw_epsin",
            label="AdamW, ε inside the root",
            declare=optimizers.adamw_epsin,
            hyper=(
                beta("b1", _B1, 0.9, "the average of g keeps β₁ of itself per step"),
                beta("b2", _B2, 0.999, "the average of g² keeps β₂ of itself per step"),
                epsilon(
                    1e-8,
                    "inside the root, m/√(v+ε) (the paper's convention): smooth at v = 0; "
                    "ε > 0, and √ε plays the role of PyTorch's ε (THEORY §14)",
                    positive=True,
                ),
                decay(0.01),
            ),
            memory="AdamW with ε inside the root: m/√(v+ε), the paper's convention, instead "
            "of PyTorch's m/(√v+ε); smooth where v = 0.",
            forms=_inside_forms(),
            potential=_inside_potential,
            crossover=_inside_crossover,
            crossover_sentence=(
                "The field's coefficient c₁ − c₂g²/(g² + ε) changes sign at |∂L/∂θⱼ| = "
                "√(εc₁/(c₂ − c₁)) = {value} (THEORY §14): below it memory regularizes, "
                "above it anti-regularizes."
            ),
            betas=("b1", "b2"),
            bend=_root_eps,
            sweep=_ADAM_SWEEP,
            limit=(
                r"g/\sqrt{g^2+\varepsilon} + \lambda\theta",
                r"\frac{H\bar F}{\sqrt{g^2+\varepsilon}}\left(c_1 - c_2"
                r"\frac{g^2}{g^2+\varepsilon}\right)",
            ),
        ),
        Record(
            name="lion",
            label="Lion",
            declare=optimizers.lion,
            hyper=(
                beta("b1", "β₁ (interpolation)", 0.9, "the step's mix of memory and g"),
                beta("b2", "β₂ (momentum)", 0.99, "the momentum keeps β₂ of itself per step"),
                epsilon(
                    0.0,
                    "smoothed sign c/√(c²+ε); 0 is Lion's exact sign, outside the smooth "
                    "theorem (THEORY §11)",
                ),
                decay(0.0),
            ),
            memory=(
                "Lion steps by the sign of a mix of its momentum (β₁) and the current "
                "gradient; the momentum averages past gradients (β₂)."
            ),
            forms=_lion_forms(),
            potential=_lion_potential,
            smooth=lambda h: h["eps"] > 0,
            not_smooth=(
                "The exact sign (ε = 0) is not differentiable where the averaged gradient "
                "changes sign and has derivative 0 elsewhere: the theorem's smoothness "
                "assumption fails, the formula gives no correction, and memory still moves "
                "the run by O(1) at sign changes (THEORY §11)."
            ),
            family=("eps", (1.0, 0.1, 0.01, 0.001)),
            betas=("b1", "b2"),
            bend=_root_eps,
            usual=Usual("adamw", 3.0, 10.0, "Chen et al. 2023, the Lion paper"),
            sweep=Sweep(("eps:0.0001:1.0:16:log", "b1:0.5:0.99:16")),
            color="#1b9e77",
            limit=(
                r"\mathrm{sign}_\varepsilon(g) + \lambda\theta",
                r"\frac{\beta_1}{1-\beta_2}\,\frac{\varepsilon}{(g^2+\varepsilon)^{3/2}}"
                r"\,H\bar F",
            ),
        ),
    )
}


# the pair the pages that set two optimizers side by side open with (/network's
# comparison, /study): AdamW against Lion, as in the Lion paper
COMPARED = ("adamw", "lion")


def record(name: str) -> Record:
    """The record of a built-in optimizer's name, or of a Declaration (a declared
    optimizer, core.engine.declared: its own record, built once per declaration)."""
    if isinstance(name, Declaration):
        return name.record
    try:
        return RECORDS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}") from None


def scenario_hyper(name: str, values) -> Hyper:
    """The hyperparameters of the optimizer `name` in a scenario's `values`: each key the
    scenario has a field for from it, the others (a declaration's ratios w1, w2, w3,
    written inside its weights) from the record's defaults."""
    fields = hyper_keys()
    return {k: values[k] if k in fields else v for k, v in record(name).defaults.items()}


# --- a declared optimizer's record (core.engine.declared) ----------------------------

_GAUSS = np.polynomial.legendre.leggauss(16)  # nodes and weights on [-1, 1]


def _declared_potential(declaration: Declaration):
    """R = sum_j Psi(g_j) + wd kbar (theta.g - L) from the declaration alone (THEORY §9):
    where H is diagonal, M/P per coordinate is H_jj psi(g_j), psi(u) = u sum_i dPhi/dA_i
    phi_i'(u) m_i at A_i = W_i phi_i(u) -- the kernel's correction with m_i u in place of
    H D_i -- so Psi(a) = int_0^a psi, by 16-point Gauss-Legendre; exact there, an
    approximation elsewhere, as the built-ins' (and not a closed form: the pages
    integrate R on the grid)."""
    nodes, weights = (torch.tensor(v, dtype=torch.float64) for v in _GAUSS)

    def psi(opt: Optimizer, u: Tensor, sums: Sums) -> Tensor:
        W = [total for total, _ in sums]
        averages = kernel.memoryless_averages(opt, u, W)
        return kernel.correction(opt, u, averages, [m * u for _, m in sums])

    def potential(h: Hyper, L: Tensor, g: Tensor, theta: Tensor, sums: Sums) -> Tensor:
        opt = declaration.optimizer(**h)
        u = g[..., None] * ((nodes + 1) / 2).to(g)  # (..., d, nodes)
        R = (g * (psi(opt, u, sums) * (weights.to(g) / 2)).sum(-1)).sum(-1)
        wd = h.get("wd", 0.0)
        if wd:
            P = kernel.preconditioner(opt, g, [total for total, _ in sums])
            kbar = torch.nan_to_num(psi(opt, g, sums) / (g * P)).mean(-1)  # of H theta in M/P
            R = R + wd * kbar * _decay_term(theta, L, g)
        return torch.nan_to_num(R)

    return potential


def declared_record(declaration: Declaration) -> Record:
    """The record of a declaration: its weight decay and, as hyperparameters a sweep may
    vary, the ratio of each weight (w1, w2, w3: their B or RATIO); no closed form of R
    (the pages integrate it on the grid, THEORY §13); smooth unless an expression calls
    abs, min or max (THEORY §11)."""
    ratios = tuple(
        Hyperparameter(
            key,
            f"B of {key} ({w.kind})",
            w.ratio,
            0.0,
            1.0,
            hi_open=True,
            help=f"the ratio of {key}: the share of itself the average keeps per step",
        )
        for key, w in zip(WEIGHTS, declaration.parsed_weights, strict=False)
    )
    kinks = declaration.kinks
    first = ratios[0].key if ratios else "lr"
    return Record(
        name=declaration,
        label="Custom (declared)",
        declare=declaration.optimizer,
        hyper=(decay(0.0), *ratios),
        memory=(
            f"A declared optimizer: {len(ratios)} average(s) of features of g, read out by r "
            "(its formulas are shown with the declaration)."
        ),
        forms=(),
        potential=_declared_potential(declaration),
        smooth=lambda h: not kinks,
        not_smooth=(
            f"The declaration's {', '.join(kinks)} calls abs, min or max, whose derivative "
            "jumps: the theorem's smoothness assumption fails there (THEORY §11)."
        )
        if kinks
        else "",
        betas=tuple(p.key for p in ratios),
        sweep=Sweep(("lr:0.005:0.1:16", f"{first}:0.0:0.99:16")),
    )


def make_optimizer(name: str, **hyper) -> Optimizer:
    """The declared optimizer `name` with the hyperparameters its record takes (others
    ignored); values may be per-trajectory sequences (core.engine.optimizers)."""
    return record(name).optimizer(**hyper)


def label(name: str) -> str:
    """The optimizer's name on the pages (its record's label; the name itself if unknown)."""
    if isinstance(name, Declaration):
        return name.record.label
    return RECORDS[name].label if name in RECORDS else name


def hyper_keys() -> tuple[str, ...]:
    """Every record's hyperparameter keys, in their first order: a scenario's fields."""
    return tuple(dict.fromkeys(p.key for r in RECORDS.values() for p in r.hyper))


def swept() -> tuple[str, ...]:
    """The optimizers /sweep takes: those whose record says how to sweep them."""
    return tuple(k for k, r in RECORDS.items() if r.sweep is not None)


def memory_lengths(name: str, hyper: Hyper, n: int | None) -> list[tuple[str, float, float]]:
    """Per beta of the record: (key, 1/(1-beta) steps, 1 - beta^n: the share of its
    weights' limit mass a plain average of n + 1 steps has)."""
    out = []
    for key in record(name).betas:
        b = hyper[key]
        reached = 1.0 if n is None else 1.0 - b ** (n + 1)
        out.append((key, 1.0 / (1.0 - b), reached))
    return out


# the slopes 2 and 1 show once the horizon holds about this many memory lengths (THEORY §12)
ASYMPTOTIC_MEMORIES = 20


def longest_memory(name: str, hyper: Hyper) -> tuple[float, float]:
    """(beta, 1/(1-beta)) for the largest of the record's betas: the steps over which
    its memory weights decay by ~1/e (beta 0 and 1 step without memory)."""
    beta = max((hyper[k] for k in record(name).betas), default=0.0)
    return beta, 1.0 / (1.0 - beta)
