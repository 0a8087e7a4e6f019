"""The curated scenarios of /gallery (and the picture on /): each opens a page with its
full query string."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    title: str
    page: str  # url path
    query: str
    blurb: str


GALLERY = (
    Example(
        "Heavy ball on an ill-conditioned quadratic",
        "playground",
        "v=1&opt=hb&lr=0.01&b1=0.7&loss=quadratic&steps=150",
        "Momentum zig-zags across the steep direction; its memory adds "
        "β/(2(1−β)²)·h·‖∇L‖², a gradient-norm penalty (regularizes).",
    ),
    Example(
        "AdamW vs Lion on a sharp and a flat minimum",
        "compare",
        "v=1&opt=adamw&lr=0.02&steps=300&loss=sharp_flat",
        "Same start, same h: AdamW's memory anti-regularizes (favours large gradients), "
        "Lion's does not.",
    ),
    Example(
        "Adam with its usual betas anti-regularizes",
        "playground",
        "v=1&opt=adam&lr=0.02&steps=300&loss=sharp_flat",
        "β₁ = 0.9, β₂ = 0.999: R = (c₁ − c₂)‖∇L‖₁ with c₁ − c₂ = 9 − 999 = −990; the "
        "perturbed loss rewards steep regions (and h·990 is far from small: see its map).",
    ),
    Example(
        "Lion with the exact sign",
        "playground",
        "v=1&opt=lion&lr=0.02&steps=300&loss=sharp_flat",
        "ε = 0: the sign has zero derivative, so the memory correction vanishes and the "
        "corrected run is the memoryless one.",
    ),
    Example(
        "RMSProp on Himmelblau",
        "playground",
        "v=1&opt=rmsprop&lr=0.05&b2=0.9&eps=0.01&loss=himmelblau",
        "RMSProp's memory is −c₂‖∇L‖₁ where |∇L| ≫ ε: anti-regularizing, and which "
        "minimum a run reaches can change.",
    ),
    Example(
        "Reference case: heavy ball β = 0.5 (THEORY §6)",
        "theory",
        "v=1&opt=hb&b1=0.5&lr=0.04",
        "The paper's error table: the corrected error falls like h², the memoryless one like h.",
    ),
    Example(
        "Reference case: AdamW 0.5/0.7, ε = 0.5, λ = 0.1",
        "theory",
        "v=1&opt=adamw&lr=0.04&b1=0.5&b2=0.7&eps=0.5&wd=0.1",
        "Second order with a large ε: slopes approach 2 and 1 once h is small against "
        "the memory length.",
    ),
    Example(
        "Reference case: Lion 0.5/0.6, smoothed sign ε = 0.25",
        "theory",
        "v=1&opt=lion&lr=0.04&b1=0.5&b2=0.6&eps=0.25&wd=0.1",
        "With a smoothed sign Lion has a (small, positive) correction, and the same orders.",
    ),
    Example(
        "Rosenbrock's banana valley",
        "playground",
        "v=1&opt=adam&lr=0.01&b1=0.5&b2=0.7&eps=0.1&steps=400&loss=rosenbrock",
        "Steep walls, flat floor: where the correction field is strongest, the "
        "memoryless approximation drifts first.",
    ),
    Example(
        "A small network in the smooth regime (THEORY §6)",
        "network",
        "v=1&opt=adamw&lr=0.02&b1=0.5&b2=0.7&eps=1.0&wd=0.01&steps=50",
        "An MLP on two moons: the corrected parameters stay O(h²) from the real run's, "
        "the memoryless ones O(h) (distances over the steps).",
    ),
    Example(
        "AdamW vs Lion on a network: the paper's application",
        "network",
        "v=1&compare=1",
        "Same data, seed and h: each one's generalization gap next to its memory's "
        "regularizer; AdamW's anti-regularizes, Lion's does not.",
    ),
    Example(
        "Phase diagram: where Adam's memory anti-regularizes",
        "sweep",
        "v=1&opt=adam&eps=0.1&x=b1:0.5:0.999:24&y=b2:0.5:0.999:24&steps=150",
        "β₁ × β₂ cells: R = (c₁ − c₂)‖∇L‖₁ anti-regularizes above β₁ = β₂ where |∇L| ≫ ε; "
        "with ε = 0.1 some cells just above the diagonal are mixed instead: where |∇L| is "
        "below the crossover εc₁/(c₂ − c₁) the sign flips, so the boundary moves with ε.",
    ),
    Example(
        "Phase diagram: heavy ball's step size against its momentum",
        "sweep",
        "v=1&opt=hb&x=lr:0.005:0.1:24&y=b1:0.05:0.95:24&steps=150",
        "Memory regularizes in every cell with β > 0; the corrected run tracks the real one "
        "only for small h and β, and diverges where h/(1−β) is large.",
    ),
    Example(
        "Escaping a saddle with momentum",
        "playground",
        "v=1&opt=hb&lr=0.05&b1=0.6&loss=saddle",
        "Started next to the saddle's stable direction, all three runs leave it for the "
        "same minimum, the corrected one closest to the real run.",
    ),
)
