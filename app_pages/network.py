"""/network: a small MLP trained by one optimizer under the three dynamics, what its
memory does to the loss, and AdamW against Lion (the paper's application).

The URL is the scenario (core.network.NetworkScenario), as on the other pages: the page
parses st.query_params leniently (each bad value falls back to its default with a
warning naming the key), writes the normalized query back and seeds the sidebar widgets
from it; a widget showing another value derives the next scenario, publishes it and
reruns.  The widget keys and the session's scenario are this page's own (the 2D pages
keep theirs).  All computation is core.network's, memoized on the scenario.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import numpy as np
import streamlit as st

from core import network
from core.datasets import DATASETS
from core.dynamics import DYNAMICS
from core.mlp import ACTIVATIONS
from core.network import PRESETS, NetworkScenario
from core.optimizers import OPTIMIZERS
from core.scenario import HYPER_DEFAULTS, HYPER_KEYS, ScenarioError
from ui import layout, state
from ui import network_plots as plots
from ui.controls import HYPER_LABELS, OPTIMIZER_NAMES
from ui.plots import STYLE

PAGE = "network"
COMPARE = "compare"  # URL flag of this page: compare=1 shows AdamW against Lion
WIDGET = "wn_"  # this page's widget keys
_CURRENT = "_network"  # the published query string of this page's scenario
_SEEDED = "_network_seeded"
DATA_NAMES = {
    "moons": "Two moons",
    "circles": "Circles",
    "spirals": "Spirals",
    "xor": "XOR",
    "sine": "Sine (regression)",
}
PLANE_NAMES = {"random": "random (filter-normalized)", "pca": "PCA of the trajectory"}


# --- URL <-> scenario <-> widgets -----------------------------------------------------


def _flags() -> dict[str, str]:
    flags = state.flags()
    if st.query_params.get(COMPARE) == "1":
        flags[COMPARE] = "1"
    return flags


def _publish(s: NetworkScenario) -> None:
    params = s.to_params() | _flags()
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)
    st.session_state[_CURRENT] = s.to_query()


def _current() -> NetworkScenario:
    return NetworkScenario.from_query(st.session_state.get(_CURRENT, ""))[0]


def _widget_values(s: NetworkScenario) -> dict[str, object]:
    keys = ("opt", "lr", "data", "n", "noise", "split", "width", "depth", "act")
    keys += ("seed", "batch", "steps", "plane")
    values = {k: getattr(s, k) for k in keys}
    return values | {k: getattr(s, k) for k in HYPER_KEYS if getattr(s, k) is not None}


# the keys the work and memory caps multiply (core.network_fields._check_steps)
_SIZE_KEYS = ("steps", "width", "depth", "n", "split", "batch")


def _parse(raw) -> tuple[NetworkScenario, list[str]]:
    """Lenient parse.  Each bad value falls back to its default; where the defaults of
    the bad keys still break a cap set by the others (a size combination over the work
    cap), the sizes fall back together, and at worst the whole scenario does."""
    try:
        return NetworkScenario.from_query(raw)
    except ScenarioError as err:
        first = err
    params = dict(parse_qsl(raw)) if isinstance(raw, str) else dict(raw)
    dropped = [k for k in _SIZE_KEYS if k in params]
    note = f"{first}; using the defaults of {', '.join(dropped)}"
    try:
        s, warnings = NetworkScenario.from_query(
            {k: v for k, v in params.items() if k not in _SIZE_KEYS}
        )
        return s, [note, *warnings]
    except ScenarioError as err:
        return NetworkScenario(), [note, f"{err}; using the default scenario"]


def _scenario() -> NetworkScenario:
    skip = (*state.APP_FLAGS, COMPARE)
    raw = {k: v for k, v in st.query_params.to_dict().items() if k not in skip}
    if not raw and _CURRENT in st.session_state:
        raw = st.session_state[_CURRENT]  # navigation between pages drops the query
    s, warnings = _parse(raw)
    for w in warnings:
        st.warning(f"URL setting ignored. {w}", icon=":material/warning:")
    _publish(s)
    query = s.to_query()
    force = st.session_state.get(_SEEDED) != query
    for key, value in _widget_values(s).items():
        if force or WIDGET + key not in st.session_state:
            st.session_state[WIDGET + key] = value
    st.session_state[_SEEDED] = query
    return s


def _sync(key: str) -> None:
    """Right after widget `key` is drawn: a value other than the scenario's is a change."""
    s = _current()
    value = st.session_state[WIDGET + key]
    if value == _widget_values(s).get(key):
        return
    try:
        new = s.with_optimizer(value) if key == "opt" else s.updated(**{key: value})
    except ScenarioError as err:
        st.error(f"Not applied. {err}", icon=":material/error:")
        return
    if new != s:
        _publish(new)
        st.rerun()


def _widget(key: str, draw, *args, **kwargs) -> None:
    draw(*args, key=WIDGET + key, **kwargs)
    _sync(key)


def _number(key: str, label: str, step: float, help: str | None = None) -> None:
    # no min/max: the scenario is the validator (its caps give the message)
    integer = isinstance(st.session_state.get(WIDGET + key), int)
    fmt = "%d" if integer else "%g"
    _widget(key, st.number_input, label, step=int(step) if integer else step, format=fmt, help=help)


def _preset_changes(query: str) -> dict:
    return {k: None for k in HYPER_KEYS} | dict(parse_qsl(query))


def _apply_preset(query: str) -> None:
    try:
        _publish(_current().updated(**_preset_changes(query)))
    except ScenarioError as err:  # a preset is valid; keep the scenario if not
        st.toast(f"Preset not applied. {err}")


def _set_compare() -> None:
    if st.session_state[WIDGET + "mode"]:
        st.query_params[COMPARE] = "1"
    elif COMPARE in st.query_params:
        del st.query_params[COMPARE]


def sidebar(s: NetworkScenario) -> None:
    st.subheader("Presets")
    for name, query in PRESETS.items():
        try:
            active = s.updated(**_preset_changes(query)) == s
        except ScenarioError:
            active = False
        st.button(
            name,
            key=f"{WIDGET}preset-{name}",
            on_click=_apply_preset,
            args=(query,),
            type="primary" if active else "secondary",
            width="stretch",
        )
    st.subheader("Optimizer")
    _widget(
        "opt",
        st.selectbox,
        "Optimizer",
        list(OPTIMIZERS),
        format_func=lambda k: OPTIMIZER_NAMES.get(k, k),
    )
    _number("lr", "learning rate h", 0.001, "the step size h of every run")
    for k in HYPER_DEFAULTS[s.opt]:
        step = 0.01 if k in ("b1", "b2") else 0.001
        _number(k, HYPER_LABELS[k], step, f"usual default {HYPER_DEFAULTS[s.opt][k]:g}")

    st.subheader("Data")
    _widget("data", st.selectbox, "data set", list(DATASETS), format_func=DATA_NAMES.get)
    _number("n", "points n", 20, "training + test points (20 to 2000)")
    _number("noise", "noise", 0.05)
    _number("split", "test share", 0.05, "share of the points held out for testing (0 to 0.9)")

    st.subheader("Network")
    left, right = st.columns(2)
    with left:
        _number("width", "width", 1, "hidden units per layer (max 64)")
    with right:
        _number("depth", "depth", 1, "hidden layers (max 4)")
    _widget("act", st.selectbox, "activation", list(ACTIVATIONS))

    st.subheader("Training")
    _number("seed", "seed", 1, "data, initialization and mini-batches")
    left, right = st.columns(2)
    with left:
        _number("batch", "batch", 8, "mini-batch size; 0: full batch")
    with right:
        _number("steps", "steps", 50, "iterations of each run")

    st.subheader("Landscape")
    _widget(
        "plane",
        st.radio,
        "plane of the slice",
        ["random", "pca"],
        format_func=PLANE_NAMES.get,
    )


def overflow_warnings(r) -> None:
    """Parameters can stay finite while the loss overflows: say so for the runs that
    core did not flag as diverged."""
    for k in DYNAMICS:
        bad = np.flatnonzero(~np.isfinite(r.train_loss[k]))
        if r.diverged[k] is None and bad.size:
            st.warning(
                f"The loss of the **{STYLE[k]['label']}** run is not finite from step "
                f"{bad[0]} on (overflow); it is drawn up to its last finite value. Lower "
                "the learning rate.",
                icon=":material/warning:",
            )


# --- explanations --------------------------------------------------------------------


def effect_text(s: NetworkScenario, coefficient: float) -> str:
    if s.opt in ("adam", "adamw"):
        c1, c2 = s.b1 / (1 - s.b1), s.b2 / (1 - s.b2)
        sign = "<" if c1 < c2 else ">" if c1 > c2 else "="
        why = (
            "the memoryless algorithm descends L + hR with R ∝ −‖∇L‖₁: it is drawn to sharp "
            "regions (**anti-regularization**)"
            if c1 < c2
            else "R penalizes ‖∇L‖₁: flat regions are preferred (**regularization**)"
        )
        return (
            f"c₁ − c₂ = β₁/(1−β₁) − β₂/(1−β₂) = {c1:.4g} − {c2:.4g} {sign} 0, so {why}. "
            f"This form holds where |∇L| ≫ ε = {s.eps:g}; where |∇L| ≪ ε the term becomes "
            "c₁/(2ε)‖∇L‖₂², which regularizes."
        )
    if s.opt == "lion":
        return (
            "Lion's exact sign (ε = 0) has zero derivative: memory adds **no correction**. "
            "A smoothed sign (ε > 0) adds a non-negative one that vanishes as ε → 0: Lion "
            "never anti-regularizes."
        )
    if s.opt in ("hb", "nesterov"):
        return "R penalizes ‖∇L‖₂² with a positive coefficient: memory **regularizes**."
    if s.opt == "rmsprop":
        return "R = −c₂‖∇L‖₁ with c₂ = β₂/(1−β₂) > 0: memory **anti-regularizes**."
    return "Gradient descent has no memory, so there is no memory term (R = 0)."


def _fmt(v: float) -> str:
    return f"{v:.4g}" if np.isfinite(v) else "–"


def _max(a: np.ndarray) -> float:
    finite = a[np.isfinite(a)]
    return float(finite.max()) if finite.size else float("nan")


# --- the page -----------------------------------------------------------------------


st.title("Small networks")
s = _scenario()
if not state.teaching():
    with st.sidebar:
        sidebar(s)

st.session_state[WIDGET + "mode"] = st.query_params.get(COMPARE) == "1"
compare_mode = st.toggle(
    "Compare AdamW and Lion",
    key=WIDGET + "mode",
    on_change=_set_compare,
    help="both optimizers with their usual hyperparameters, on the same data, seed and net",
)


def _run(label: str, fn, *args):
    """A core.network computation under a spinner; a refused scenario stops the page
    with its message instead of a traceback."""
    try:
        with st.spinner(label):
            return fn(*args)
    except ScenarioError as err:
        st.error(f"This scenario is refused. {err}", icon=":material/block:")
    except (ValueError, RuntimeError) as err:
        st.error(f"The computation failed: {err}", icon=":material/error:")
    st.stop()


def single_page(s: NetworkScenario) -> None:
    d = network.model(s).size
    st.caption(
        f"An MLP {'1' if s.data == 'sine' else '2'}–{'–'.join([str(s.width)] * s.depth)}–1 "
        f"({s.act}, {d} parameters) on {DATA_NAMES[s.data].lower()}, trained by "
        f"{OPTIMIZER_NAMES[s.opt]} with h = {s.lr:g} for {s.steps} steps "
        f"({'full batch' if s.batch == 0 else f'batches of {s.batch}'}), from one seeded "
        "initialization, under the three dynamics: the optimizer itself (memory), its "
        "memoryless approximation, and the memoryless one with the memory correction."
    )
    r = _run(f"Training {d} parameters: {s.steps} steps of three dynamics…", network.result, s)
    layout.divergence_warnings(s, r)
    overflow_warnings(r)

    cols = st.columns(5)
    cols[0].metric("final training loss · memory", _fmt(r.train_loss["memory"][-1]))
    cols[1].metric("final test loss · memory", _fmt(r.test_loss["memory"][-1]))
    cols[2].metric("generalization gap", _fmt(r.gap), help="test − training loss at the end")
    cols[3].metric(
        "max distance · memoryless",
        _fmt(_max(r.distance["memoryless"])),
        help="O(h): the memoryless approximation drops the correction",
    )
    cols[4].metric(
        "max distance · corrected",
        _fmt(_max(r.distance["corrected"])),
        help="O(h²) over a fixed horizon, once h is small against the memory length",
    )
    if _max(r.distance["corrected"]) > _max(r.distance["memoryless"]):
        st.info(
            "Here the corrected run is *farther* from the memory run than the plain "
            "memoryless one: the expansion needs h small against the scale on which the "
            "update bends (for Adam/AdamW with a tiny ε, the correction "
            "H F̄/(|∇L| + ε) is huge wherever a gradient coordinate is small). Try the "
            "preset *AdamW, smooth regime*, where the corrected run tracks to second order.",
            icon=":material/info:",
        )

    left, right = st.columns(2)
    with left:
        st.markdown("**Loss per dynamics**")
        layout.chart(plots.loss_figure(r, height=layout.height(340)))
    with right:
        st.markdown("**Distance of each memoryless run to the memory run**")
        layout.chart(plots.distance_figure(r, height=layout.height(340)))

    st.subheader("The implicit regularizer along training")
    layout.regularizer_card(s)  # full width: AdamW's formula is long
    left, right = st.columns([3, 2])
    with left:
        layout.chart(plots.regularizer_figure(r, height=layout.height(440)))
    with right:
        st.markdown(effect_text(s, r.regularizer.coefficient))
        st.caption(
            "The curves are evaluated along the memory run with the full-batch training "
            "gradient g = ∇L. h·R uses THEORY §5's closed form (for Adam/AdamW the "
            "|∇L| ≫ ε regime), so it shows the size and sign of the loss perturbation the "
            "memory adds."
        )

    task = network.dataset(s).task
    title = "Learned decision boundary" if task == "classification" else "Learned fit"
    st.subheader(title)
    fit = _run("Evaluating the final networks…", network.fit, s)
    if task == "classification":
        st.caption(
            "P(label 1) of each final network; the line is its decision boundary P = 0.5. "
            "Filled points: training data; hollow points: test data."
        )
    layout.chart(plots.fit_figure(fit, network.dataset(s), height=layout.height(380)))

    st.subheader("Loss landscape around the final parameters")
    sl = _run("Evaluating the loss on a 2D slice…", network.landscape, s)
    left, right = st.columns(2)
    with left:
        st.markdown("**Training loss L** with the three runs projected")
        layout.chart(plots.landscape_figure(sl, height=layout.height(440)))
    with right:
        st.markdown("**Perturbed loss L + hR** (dotted lines: L)")
        layout.chart(plots.landscape_figure(sl, perturbed=True, height=layout.height(440)))
    if sl.plane == "random":
        plane = (
            "two random directions, each neuron's row rescaled to that neuron's weights "
            "(filter normalization, Li et al. 2018), through the memory run's final "
            "parameters; paths are least-squares projections onto the plane"
        )
    else:
        plane = (
            "the top two principal directions of the memory run's path, through its final "
            "parameters; the other runs are projected onto them"
        )
    st.caption(f"Plane: {plane}. Switch it in the sidebar (Landscape).")
    layout.share_box(PAGE, s)


def compare_page(s: NetworkScenario) -> None:
    st.caption(
        "AdamW and Lion, each with its usual hyperparameters (PyTorch's; Lion's paper), on "
        f"the same data, seed and network, with the same h = {s.lr:g} and {s.steps} steps. "
        "The paper's application: AdamW's memory anti-regularizes, Lion's does not."
    )
    rows = _run("Training AdamW and Lion…", network.compare, s)
    results = {row.opt: network.result(s.with_optimizer(row.opt)) for row in rows}
    for row in rows:
        layout.divergence_warnings(results[row.opt].scenario, results[row.opt])
    if s.split == 0:
        st.info("Without a test set (split = 0) there is no generalization gap to compare.")

    table = [
        "| optimizer | hyperparameters | train loss | test loss | gap (test − train) "
        "| coefficient of R | effect | h·R at the end | mean h·R |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        hyper = ", ".join(f"{k} = {v:g}" for k, v in row.hyper.items())
        table.append(
            f"| {OPTIMIZER_NAMES[row.opt]} | {hyper} | {_fmt(row.train_loss)} | "
            f"{_fmt(row.test_loss)} | **{_fmt(row.gap)}** | {row.coefficient:.4g} | "
            f"{layout.EFFECT_BADGE[row.effect]} | {_fmt(row.hR)} | {_fmt(row.hR_mean)} |"
        )
    st.markdown("\n".join(table))
    layout.chart(
        plots.compare_figure(results, OPTIMIZER_NAMES, height=layout.height(400)),
    )
    for row in rows:  # full width: AdamW's formula is long
        st.markdown(f"#### {OPTIMIZER_NAMES[row.opt]}")
        layout.regularizer_card(results[row.opt].scenario)
    st.markdown(
        "With β₁ = 0.9, β₂ = 0.999 **AdamW's memory anti-regularizes**: c₁ − c₂ = 9 − 999 "
        "< 0, so the memoryless algorithm descends L − 990·h·‖∇L‖₁ (plus a weight-decay "
        "term) and is drawn to sharp minima, which tend to generalize worse. **Lion's does "
        "not**: its exact sign has zero derivative, so memory adds no correction (a "
        "smoothed sign adds a non-negative one). One small run is an illustration, not a "
        "benchmark: change the seed or the data to see how the gaps vary."
    )
    st.markdown("**Share this view**")
    st.code(f"{state.share_url(PAGE, s)}&{COMPARE}=1", language=None, wrap_lines=True)


if compare_mode:
    compare_page(s)
else:
    single_page(s)
