"""The network scenario: its query keys (capped so that no URL can pin the server), the
NetworkScenario dataclass, the page's presets, and the data set and MLP it names.

Sizes are capped one by one (width, depth, n, steps), and the run as a whole twice
(core.scenarios.limits): its predicted time bounds the computation, d * (steps + 1) the memory a
stored trajectory takes.  Both are checked on `steps`, the last key they depend on, so
the message names it and says which other keys enter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

from core.engine.declared import Declaration
from core.engine.dynamics import sums_history
from core.models.datasets import DATASETS, DIGITS, MULTICLASS, Dataset, dims, make_dataset
from core.models.mlp import ACTIVATIONS, MLP
from core.scenarios import limits
from core.scenarios.limits import MAX_DEPTH, MAX_NET_STEPS, MAX_POINTS, MAX_STORED, MAX_WIDTH
from core.scenarios.pair import PairQuery, pair_fields
from core.scenarios.query import (
    Field,
    QueryMixin,
    ScenarioError,
    constant,
    in_range,
    integer,
    number,
    one_of,
    query_dataclass,
)
from core.scenarios.scenario import HYPER_KEYS, OPTIMIZER_FIELDS, OptimizerQuery, optimizer


def train_size(n: int, split: float) -> int:
    return n - round(split * n)


def parameter_count(s: Mapping) -> int:
    """d of the scenario's MLP (digits: with every pixel, an upper bound)."""
    in_dim, out_dim = dims(s["data"])
    return MLP(in_dim, s["width"], s["depth"], out_dim=out_dim).size


def _default_n(s: Mapping) -> int:
    """Every digit image; 200 points of a generated set."""
    return DIGITS if s["data"] in MULTICLASS else 200


def _check_n(n: int, s: Mapping) -> None:
    in_range(20, DIGITS if s["data"] in MULTICLASS else MAX_POINTS)(n, s)


def _generated(s: Mapping) -> bool:
    """Whether the data set is drawn with noise (the digits are images)."""
    return s["data"] not in MULTICLASS


def _check_split(split: float, s: Mapping) -> None:
    in_range(0.0, 0.9)(split, s)
    if train_size(s["n"], split) < 2:
        raise ValueError("leaves fewer than 2 training points")


def _check_batch(batch: int, s: Mapping) -> None:
    n_train = train_size(s["n"], s["split"])
    if batch > n_train:
        raise ValueError(f"{batch} is more than the {n_train} training points (0: full batch)")


def view_seconds(s: Mapping, steps: int) -> float:
    """The cost model's time of /network's view of the values parsed so far."""
    d, n_train = parameter_count(s), train_size(s["n"], s["split"])
    return limits.network_seconds(
        s["width"] * s["depth"],
        d,
        steps,
        s["batch"] or n_train,
        n_train,
        s["n"] - n_train,
        sums_history(optimizer(s)),
        s["plane"] == "pca",
    )


def _check_steps(steps: int, s: Mapping) -> None:
    in_range(1, MAX_NET_STEPS)(steps, s)
    d = parameter_count(s)
    seconds = view_seconds(s, steps)
    if seconds > limits.budget():
        most = limits.largest(lambda n: view_seconds(s, n), 1, steps)
        raise ValueError(
            limits.over_budget(
                seconds,
                f"{d} parameters x {steps} steps"
                + (" in the PCA plane" if s["plane"] == "pca" else ""),
                "steps, width, depth, n, batch or plane",
                None if most is None else f"at most {most} steps with the rest as given",
            )
        )
    _check_stored(steps, s)


def _check_stored(steps: int, s: Mapping) -> None:
    d = parameter_count(s)
    stored = d * (steps + 1)
    if stored > MAX_STORED:
        raise ValueError(
            f"{d} parameters x {steps + 1} iterates = {stored:.3g} exceeds the cap "
            f"{MAX_STORED:.3g}; lower steps, width or depth"
        )


# The shared optimizer keys, with the network's own defaults for two of them: heavy ball
# (its usual beta 0.7) at lr 0.05, a run the correction tracks (its corrected run ends
# ~7x closer to the memory run than the memoryless one) that trains visibly in the 100
# steps.  AdamW with its usual hyperparameters is the counter-example preset: at any
# usable h its correction fails (THEORY §6).  The other hyperparameters keep each
# optimizer's usual defaults, as in the 2D scenarios.
_OWN_DEFAULTS = {"opt": "hb", "lr": 0.05}

NETWORK_FIELDS = tuple(
    replace(f, default=constant(_OWN_DEFAULTS[f.key])) if f.key in _OWN_DEFAULTS else f
    for f in OPTIMIZER_FIELDS
) + (
    Field("data", str, constant("moons"), one_of(DATASETS)),
    Field("n", integer, _default_n, _check_n),
    Field("noise", number, constant(0.1), in_range(0.0, 2.0), _generated),
    Field("split", number, constant(0.25), _check_split),
    Field("width", integer, constant(16), in_range(1, MAX_WIDTH)),
    Field("depth", integer, constant(2), in_range(1, MAX_DEPTH)),
    Field("act", str, constant("tanh"), one_of(tuple(ACTIVATIONS))),
    Field("seed", integer, constant(0), in_range(0, 999_999_999)),
    Field("batch", integer, constant(0), _check_batch),
    Field("plane", str, constant("random"), one_of(("random", "pca"))),
    Field("steps", integer, constant(100), _check_steps),
)


class NetworkData(QueryMixin):
    """The data and network fields that network runs and studies share (annotated once;
    core.scenarios.query.query_dataclass makes them fields)."""

    data: str
    n: int
    noise: float | None  # None for the digits
    split: float
    width: int
    depth: int
    act: str
    seed: int

    @property
    def regularizer_step(self) -> int:
        """The step n whose M^(n) h R is built from: the run's last update, n = steps - 1
        (every network run and study has `steps`), as on the 2D card (THEORY §1)."""
        return self.steps - 1


# Query presets for a page.  The defaults are each optimizer's usual ones; with
# AdamW's eps = 1e-8 the correction H Fbar / (|g| + eps) is huge wherever a gradient
# coordinate is small, so the corrected run is far from second order at any usable h
# (THEORY §6).  THEORY's smooth regime shows the slopes 2 and 1.
PRESETS = {
    "AdamW, smooth regime (THEORY §6)": "opt=adamw&b1=0.5&b2=0.7&eps=1.0&wd=0.01",
    "heavy ball 0.5 (THEORY §6)": "opt=hb&b1=0.5",
    "AdamW defaults (counter-example)": "opt=adamw",
    "Lion defaults (outside the theorem)": "opt=lion",
}
# the presets where the corrected run is not closer to the memory run, and why
COUNTEREXAMPLES = {
    "AdamW defaults (counter-example)": "β₁ = 0.9, β₂ = 0.999, ε = 1e-8: the correction "
    "H F̄/(|g| + ε) is huge where a gradient coordinate is small, so the corrected run ends "
    "farther from the memory run than the memoryless one (THEORY §6, §11)",
    "Lion defaults (outside the theorem)": "the exact sign (ε = 0) is not smooth: no "
    "correction, the corrected run is the memoryless one (THEORY §11)",
}


@query_dataclass
class NetworkScenario(OptimizerQuery, NetworkData):
    """A network run: optimizer, data, architecture, batch size, steps, landscape plane."""

    SPECS = NETWORK_FIELDS

    batch: int
    steps: int
    plane: str


def _check_compare_steps(steps: int, s: Mapping) -> None:
    """The step count of a comparison: capped as a run's (its time is core.analyses.network's
    compare_refusal, which says how many steps fit)."""
    in_range(1, MAX_NET_STEPS)(steps, s)
    _check_stored(steps, s)


_NET = {f.key: f for f in NETWORK_FIELDS}
# the keys a comparison shares with a single run (its data, network and training)
SHARED = ("data", "n", "noise", "split", "width", "depth", "act", "seed", "batch")
COMPARE_FIELDS = (
    *pair_fields(1),
    *(_NET[k] for k in SHARED),
    Field("steps", integer, constant(100), _check_compare_steps),
)


@query_dataclass
class CompareScenario(PairQuery, NetworkData):
    """/network's compare mode (compare=1 in the URL; `python -m core network
    'compare=1&...'`): two optimizers, each at its own learning rate and weight decay
    (core.scenarios.pair: by default, for AdamW and Lion, the Lion paper's ratio), its other
    hyperparameters the usual ones, on the same data, network, initialization and step
    count."""

    SPECS = COMPARE_FIELDS

    batch: int
    steps: int

    def run(self, opt: str) -> NetworkScenario:
        """The network run of `opt` in this comparison."""
        # a declaration's ratios are written in its weights: its keys, not hyperparameters
        own = {k: v for k, v in self.hyper(opt).items() if k in HYPER_KEYS}
        declared = opt.params if isinstance(opt, Declaration) else {}
        hyper = {k: None for k in HYPER_KEYS} | own | declared
        shared = {k: getattr(self, k) for k in (*SHARED, "steps")}
        return NetworkScenario().updated(opt=opt, lr=self.rates(opt)[0], **hyper, **shared)


COMPARE = "compare"  # the URL flag of /network's compare mode


def compare_mode(query: str) -> tuple[bool, str]:
    """(whether the query asks for the compare mode, the query without that flag): the
    CLI's `python -m core network` reads /network's URLs as the page does."""
    pairs = parse_qsl(query.split("?", 1)[-1], keep_blank_values=True)
    flags = [v for k, v in pairs if k == COMPARE]
    if any(v not in ("0", "1") for v in flags):
        raise ScenarioError(COMPARE, f"{flags[-1]!r} is not 0 or 1")
    rest = urlencode([(k, v) for k, v in pairs if k != COMPARE])
    return bool(flags) and flags[-1] == "1", rest


def dataset(s: NetworkData) -> Dataset:
    return make_dataset(s.data, s.n, s.noise or 0.0, s.split, s.seed)


def model(s: NetworkScenario) -> MLP:
    data = dataset(s)
    return MLP(data.in_dim, s.width, s.depth, s.act, data.out_dim)
