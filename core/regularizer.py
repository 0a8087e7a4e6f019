"""The implicit regularizer R of each optimizer's memory, as THEORY §5 tabulates it:
the memoryless algorithm with the correction descends L + h R."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Regularizer:
    formula: str  # LaTeX for R
    coefficient: float  # the factor in front of the gradient norm
    effect: str  # "regularizes", "anti-regularizes" or "none"
    regime: str  # where the formula holds


def _effect(c: float) -> str:
    return "regularizes" if c > 0 else "anti-regularizes" if c < 0 else "none"


def implicit_regularizer(opt: str, hyper: dict[str, float]) -> Regularizer:
    b1, b2, eps, wd = (hyper.get(k) for k in ("b1", "b2", "eps", "wd"))
    if opt == "gd":
        return Regularizer(
            "R = 0", 0.0, "none", "no memory (GD's own drift h/4 ||∇L||² is not memory)"
        )
    if opt in ("hb", "nesterov"):
        c = (b1 if opt == "hb" else b1 * b1) / (2 * (1 - b1) ** 2)
        beta = r"\beta" if opt == "hb" else r"\beta^2"
        return Regularizer(
            rf"R = \frac{{{beta}}}{{2(1-\beta)^2}}\,\|\nabla L\|_2^2", c, _effect(c), "exact"
        )
    if opt == "rmsprop":
        c = -b2 / (1 - b2)
        return Regularizer(r"R = -c_2\,\|\nabla L\|_1", c, _effect(c), "|∇L| ≫ ε")
    if opt in ("adam", "adamw"):
        c = b1 / (1 - b1) - b2 / (1 - b2)
        decay = r" + \lambda (c_1 - c_2)(\theta\cdot\nabla L - L)" if opt == "adamw" else ""
        return Regularizer(
            r"R = (c_1 - c_2)\,\|\nabla L\|_1" + decay,
            c,
            _effect(c),
            f"|∇L| ≫ ε (for |∇L| ≪ ε: c₁/(2ε)||∇L||², regularizes); wd = {wd or 0}",
        )
    if opt == "lion":
        c = b1 / (1 - b2) if eps else 0.0
        return Regularizer(
            r"\nabla R = \frac{\beta_1}{1-\beta_2}\,\frac{\varepsilon}{(\nabla L)^2"
            r"+\varepsilon}\,H\,\bar F \;\to 0 \text{ as } \varepsilon \to 0",
            c,
            _effect(c),
            "exact sign (ε = 0): no correction at all" if not eps else "smoothed sign",
        )
    raise ValueError(f"unknown optimizer {opt!r}")
