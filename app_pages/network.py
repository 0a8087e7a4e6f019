"""/network: a small MLP trained by one optimizer under the three dynamics, what its
memory does to the loss, and AdamW against Lion (the paper's application).

The URL is the scenario (core.scenarios.network_scenario.NetworkScenario), kept in sync with
the widgets as on the other pages (ui.state.NETWORK: this page's own widget keys and session
scenario; ui.network_controls: its sidebar).  All computation is core.analyses.network's,
cached by ui.cache: one run per scenario gives the result, the fit and the landscape."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.analyses import network
from core.engine.registry import label
from core.scenarios.network_scenario import CompareScenario, NetworkScenario, dataset, model
from core.scenarios.pair import settings
from core.scenarios.query import ScenarioError
from ui import cache, layout, tables, text
from ui import network_controls as nc
from ui import network_plots as plots
from ui.state import NETWORK, NETWORK_COMPARE

PAGE = "network"


def _pct(v: float) -> str:
    return f"{v:.1%}" if np.isfinite(v) else "–"


# --- the page -----------------------------------------------------------------------


st.title("Small networks")
compare_mode = nc.comparing()
s = (NETWORK_COMPARE if compare_mode else NETWORK).scenario()
layout.sidebar(nc.sidebar, s, compare_mode)
nc.compare_toggle(compare_mode)


def _run(label: str, fn, *args):
    """A core.analyses.network computation under a spinner; a refused scenario stops the page
    with its message instead of a traceback."""
    try:
        with st.spinner(label):
            return fn(*args)
    except ScenarioError as err:
        st.error(f"This scenario is refused. {text.plain(err)}", icon=":material/block:")
    except (ValueError, RuntimeError) as err:
        st.error(f"The computation failed: {text.plain(err)}", icon=":material/error:")
    st.stop()


def single_page(s: NetworkScenario) -> None:
    mlp = model(s)
    d = mlp.size
    loss_name = {"classification": "logistic loss", "multiclass": "cross-entropy"}
    st.caption(
        f"An MLP {'–'.join(str(o) for o in [mlp.in_dim, *([s.width] * s.depth), mlp.out_dim])} "
        f"({s.act}, {d} parameters, {loss_name.get(dataset(s).task, 'squared loss')}) on "
        f"{nc.DATA_NAMES[s.data].lower()}, trained by "
        f"{label(s.opt)} with h = {s.lr:g} for {s.steps} steps "
        f"({'full batch' if s.batch == 0 else f'batches of {s.batch}'}), from one seeded "
        "initialization, under the three dynamics: the optimizer itself (memory), its "
        "memoryless approximation, and the memoryless one with the memory correction."
    )
    v = _run(f"Training {d} parameters: {s.steps} steps of three dynamics…", cache.network_view, s)
    r = v.result
    layout.divergence_warnings(r)
    layout.loss_warnings(r.train_loss, r.diverged, skip_diverged=True)

    cols = st.columns(6)
    cols[0].metric("final training loss · memory", tables.number(r.train_loss["memory"][-1]))
    cols[1].metric("final test loss · memory", tables.number(r.test_loss["memory"][-1]))
    cols[2].metric(
        "final test accuracy · memory",
        _pct(r.test_accuracy["memory"]),
        help="share of the test set classified right (memoryless "
        f"{_pct(r.test_accuracy['memoryless'])}, corrected {_pct(r.test_accuracy['corrected'])})",
    )
    cols[3].metric(
        "generalization gap", tables.number(r.gap), help="test − training loss at the end"
    )
    far = {k: r.max_distance(k) for k in ("memoryless", "corrected")}
    cols[4].metric(
        "max distance · memoryless",
        tables.number(far["memoryless"]),
        help="O(h): the memoryless approximation drops the correction",
    )
    cols[5].metric(
        "max distance · corrected",
        tables.number(far["corrected"]),
        help="O(h²) over a fixed horizon, once h is small against the memory length",
    )
    layout.farther_note(
        s,
        far["corrected"],
        far["memoryless"],
        " The presets from THEORY §6 show runs where the corrected run tracks to second order.",
    )

    layout.chart_pair(
        "network-runs",
        ("**Loss per dynamics**", plots.loss_figure(r, height=layout.height(340))),
        (
            "**Distance of each memoryless run to the memory run**",
            plots.distance_figure(r, height=layout.height(340)),
        ),
    )

    st.subheader("The implicit regularizer along training")
    layout.regularizer_card(s, r.regularizer, where="the memory run's steps")
    layout.chart(plots.regularizer_figure(r, height=layout.height(440)), "network-regularizer")
    if r.regularizer.effect == "undefined":
        st.caption(
            "The curves are evaluated along the memory run with the full-batch training "
            "gradient g = ∇L. h·R is not defined here: the update is not smooth, outside "
            "the theorem (THEORY §11), so no perturbation is drawn."
        )
    else:
        st.caption(
            "The curves are evaluated along the memory run with the full-batch training "
            f"gradient g = ∇L. h·R is built from the correction M⁽ⁿ⁾ at the run's step "
            f"n = {r.regularizer.n}, as on the 2D card (THEORY §1), by a potential that has "
            "each closed form of THEORY §5 in its regime, its coefficients the sums of "
            "M⁽ⁿ⁾ (THEORY §9): its sign along the run is the verdict above. Dotted: the "
            "same in the limit n → ∞."
        )

    task, fit = dataset(s).task, v.fit
    if fit is None:  # images: no plane of inputs to draw the learned function on
        st.caption(
            f"Test accuracy at the end: memory {_pct(r.test_accuracy['memory'])}, memoryless "
            f"{_pct(r.test_accuracy['memoryless'])}, corrected "
            f"{_pct(r.test_accuracy['corrected'])}."
        )
    else:
        st.subheader("Learned decision boundary" if task == "classification" else "Learned fit")
        if task == "classification":
            st.caption(
                "P(label 1) of each final network; the line is its decision boundary P = 0.5. "
                "Filled points: training data; hollow points: test data."
            )
        layout.chart(plots.fit_figure(fit, dataset(s), height=layout.height(380)), "network-fit")

    st.subheader("Loss landscape around the final parameters")
    sl = v.landscape
    loss_panel = (
        "**Training loss L** with the three runs projected",
        plots.landscape_figure(sl, height=layout.height(440)),
    )
    if r.regularizer.effect == "undefined":
        st.markdown(loss_panel[0])
        layout.chart(loss_panel[1], "network-landscape-left")
        st.caption("No perturbed loss L + hR: h·R is not defined here (THEORY §11).")
    else:
        layout.chart_pair(
            "network-landscape",
            loss_panel,
            (
                f"**Perturbed loss L + hR** at n = {r.regularizer.n} (dotted lines: L)",
                plots.landscape_figure(sl, perturbed=True, height=layout.height(440)),
            ),
        )
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
    layout.share_box(PAGE, s, NETWORK)


def compare_page(c: CompareScenario) -> None:
    labels = " and ".join(label(o) for o in c.opts)
    st.caption(
        f"{labels}, each at its own learning rate and weight decay, its other "
        f"hyperparameters the usual ones: {'. '.join(settings(c))}. "
        f"{network.compare_matched(c)}. The paper's application: the sign of each one's "
        "memory perturbation next to its generalization gap, both measured on this run."
    )
    refusal = network.compare_refusal(c)
    if refusal:
        st.error(f"This comparison is refused: {refusal}.", icon=":material/block:")
        return
    runs = [_run("Checking the runs…", c.run, opt) for opt in c.opts]
    results = {r.opt: _run(f"Training {label(r.opt)}…", cache.network_result, r) for r in runs}
    rows = network.compare_rows(list(results.values()))
    for row in rows:
        layout.divergence_warnings(results[row.opt])
    if c.split == 0:
        st.info("Without a test set (split = 0) there is no generalization gap to compare.")

    tables.show(tables.compare_networks(rows, c.regularizer_step))
    layout.chart(
        plots.compare_figure(results, height=layout.height(400)),
        "network-compare",
    )
    for row in rows:  # full width: AdamW's formula is long
        st.markdown(f"#### {label(row.opt)}")
        res = results[row.opt]
        layout.regularizer_card(res.scenario, res.regularizer, where="the memory run's steps")
    st.markdown(network.compare_text(rows))
    layout.share_box(PAGE, c, NETWORK_COMPARE)  # with compare=1


if compare_mode:
    compare_page(s)
else:
    single_page(s)
