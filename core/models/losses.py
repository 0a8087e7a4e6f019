"""2D losses: a zoo of named landscapes and user expressions, all through one parser.

Every zoo loss is written in the same whitelist grammar users type (core.models.expression),
so the zoo and custom losses share one compiled path and one set of safety rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from core.models.derivatives import Derivatives, operations
from core.models.expression import Expression, compile_expression, size, tree
from core.scenarios.limits import LossSize

Tensor = torch.Tensor


@dataclass(frozen=True)
class ZooLoss:
    name: str
    title: str
    expression: str
    window: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    start: tuple[float, float]
    description: str

    def __post_init__(self):  # parsed and compiled at most once in a process (nine losses)
        object.__setattr__(self, "expression", Expression(self.expression))


ZOO: dict[str, ZooLoss] = {
    z.name: z
    for z in (
        ZooLoss(
            "reference",
            "Reference (THEORY §6)",
            "0.5*(x-1)^2 + 2*(y - 0.5*x^2)^2 + 0.1*sin(3*x + y)",
            (-2.0, 2.0, -1.0, 2.0),
            (-1.2, 0.8),
            "The smooth non-quadratic loss of the paper's error table: a bent valley with a "
            "small ripple.",
        ),
        ZooLoss(
            "quadratic",
            "Ill-conditioned quadratic",
            "0.5*x^2 + 10*y^2",
            (-2.0, 2.0, -1.2, 1.2),
            (-1.8, 0.9),
            "Curvatures 1 and 20: momentum zig-zags across the steep direction.",
        ),
        ZooLoss(
            "rosenbrock",
            "Rosenbrock",
            "(1 - x)^2 + 100*(y - x^2)^2",
            (-2.0, 2.0, -1.0, 3.0),
            (-1.5, 2.0),
            "The classic banana valley (b = 100): steep walls, a flat floor, minimum at (1, 1).",
        ),
        ZooLoss(
            "himmelblau",
            "Himmelblau",
            "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
            (-5.0, 5.0, -5.0, 5.0),
            (-0.3, -0.9),
            "Four minima of equal height: which one a run reaches depends on its memory.",
        ),
        ZooLoss(
            "beale",
            "Beale",
            "(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2",
            (-4.5, 4.5, -4.5, 4.5),
            (-1.0, 1.5),
            "Flat plateaus and sharp ridges; minimum at (3, 0.5).",
        ),
        ZooLoss(
            "saddle",
            "Saddle",
            "0.5*x^2 - 0.5*y^2 + 0.125*y^4",
            (-2.0, 2.0, -2.5, 2.5),
            (1.5, 0.05),
            "A saddle at the origin between two minima at y = ±√2: escaping it takes memory.",
        ),
        ZooLoss(
            "rastrigin",
            "Rastrigin-like",
            "0.5*(x^2 + y^2) + 1.5*(2 - cos(2*pi*x) - cos(2*pi*y))",
            (-3.0, 3.0, -3.0, 3.0),
            (2.3, -1.7),
            "A bowl covered with local minima: a grid of traps of the same shape.",
        ),
        ZooLoss(
            "valley",
            "Narrow curved valley",
            "0.05*x^2 + 5*(y - sin(x))^2",
            (-4.0, 4.0, -2.0, 2.0),
            (-3.5, 0.6),
            "A narrow sinusoidal valley with a gentle floor: the gradient norm penalty of "
            "momentum pulls runs toward its centre line.",
        ),
        ZooLoss(
            "sharp_flat",
            "Sharp vs flat minimum",
            "0.05*(x^2 + y^2) - 1.2*exp(-20*((x - 1)^2 + y^2)) - exp(-0.3*((x + 1.5)^2 + y^2))",
            (-4.0, 3.0, -2.5, 2.5),
            (1.3, 0.9),
            "A sharp well (right) and a wide one (left): from this start AdamW's memory run "
            "settles in the sharp well, Lion's in the wide one at h = 0.02 over 300 steps.",
        ),
    )
}

CUSTOM_WINDOW = (-3.0, 3.0, -3.0, 3.0)


def surface_function(expression: str):
    """f(x, y) for a zoo or user expression (raises ExpressionError on bad text)."""
    return compile_expression(expression)


class ExpressionLoss:
    """The loss as the engine wants it: (R, 2) -> (R,), rows independent, with its exact
    derivatives declared (core.models.derivatives), so the engine needs no autograd graph."""

    def __init__(self, expression: str):
        self.expression = expression
        self.function = surface_function(expression)

    @cached_property
    def exact(self) -> Derivatives:
        """Compiled on first use: a caller that only evaluates the loss never pays it."""
        return Derivatives.of(self.expression)

    def __call__(self, theta: Tensor) -> Tensor:
        return self.function(theta[..., 0], theta[..., 1])

    def derivatives(self, theta: Tensor, hessian: bool) -> tuple[Tensor, ...]:
        """g (R, 2), and with `hessian` the entries hxx, hxy, hyy (R,) too."""
        out = self.exact.tensors(theta[:, 0], theta[:, 1], hessian)
        return (torch.stack(out[:2], dim=-1), *out[2:])


def expression_of(loss: str, f: str | None) -> str:
    """The expression of a scenario's loss: the zoo's, or the user's `f` (custom)."""
    return f if loss == "custom" else ZOO[loss].expression


def batched(expression: str) -> ExpressionLoss:
    """The loss of `expression` for the engine (raises ExpressionError on bad text)."""
    return ExpressionLoss(expression)


def loss_size(expression: str) -> LossSize:
    """What evaluating `expression` costs per point, for core.scenarios.limits' cost model (raises
    ExpressionError on bad text)."""
    node = tree(expression)
    ops = operations(node)
    return LossSize(size(node), ops["gradient"], ops["hessian"])
