"""Every cap of the app and the CLI, and the cost model behind them.

Sizes are capped one by one (steps, grid, width, ...), and each page's computation as a
whole by its predicted time: the `*_seconds` functions model the engine's cost term by
term (a user's loss by its size, LossSize), with constants measured on the reference
machine (2 shared CPU cores, one torch thread) by benchmarks/bench_caps.py, which also
searches the corners of the caps and prints the measured CPU time against the model's
and the peak memory.  A scenario whose predicted time exceeds the budget (BUDGET_S; the
command line's CLI_BUDGET_S under `allowance`) is refused with a message naming the
keys that enter the cost and the largest setting admitted.

The scenario specs (core.scenarios.scenario, core.scenarios.network_scenario) and the sweep
tools take their caps from here; nothing else defines a limit."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

BUDGET_S = 4.0  # predicted seconds of one page's computation (measured target: <= 5 s)
# the command line runs on its user's machine: a longer computation is admitted there
# (python -m core --help says so), under `allowance` (a context, never the server's)
CLI_BUDGET_S = 60.0
_ALLOWANCE: ContextVar[float | None] = ContextVar("allowance", default=None)


def budget() -> float:
    """The predicted seconds a computation may take here: BUDGET_S, or the allowance of
    the enclosing `allowance` block."""
    seconds = _ALLOWANCE.get()
    return BUDGET_S if seconds is None else seconds


@contextmanager
def allowance(seconds: float):
    """Within the block (this thread or task only), computations of up to `seconds` are
    admitted: the command line's budget."""
    token = _ALLOWANCE.set(seconds)
    try:
        yield
    finally:
        _ALLOWANCE.reset(token)


# --- 2D scenarios (/playground, /compare, /theory, python -m core simulate|order) ---
MAX_STEPS = 5000  # steps of one trajectory set
MAX_GRID = 200  # surfaces are MAX_GRID^2 points
MAX_ORDER_STEPS = 20000  # the order study's sum of T/h
MAX_STEP_SIZES = 8  # step sizes of an order study
MAX_COMPARE = 4  # optimizers on /compare
MAX_LIST = 16  # values of a comma-separated query value
MAX_COORD = 1e6  # |coordinate| of a start or a window

# --- networks (/network, python -m core network) ---
MAX_WIDTH = 64
MAX_DEPTH = 4
MAX_POINTS = 2000  # data points (train + test)
MAX_NET_STEPS = 2000
MAX_STORED = 4_000_000  # d * (steps + 1): one stored trajectory, 32 MB in float64
SLICE_GRID = 31  # largest landscape grid (it shrinks to fit the budget)
FIT_GRID = 60  # decision-boundary grid (FIT_GRID^2 inputs), or points of a 1D fit

# --- phase diagrams (/sweep, python -m core sweep) ---
MAX_AXIS = 64  # cells per axis: at most 64 x 64 = 4096 cells
MAX_SWEEP_STEPS = 2000

# --- many-seed network studies (/study, python -m core study) ---
MAX_SEEDS = 256
MAX_STUDY_LRS = 4  # learning rates of the optional grid
MAX_STUDY_STEPS = 2000
MAX_STUDY_STORED = 16_000_000  # d x (steps + 1) x runs of one chunk: its paths, 128 MB
MAX_STUDY_CURVES = 1_000_000  # runs x (steps + 1): the curves kept, 16 MB

# --- the paper's experiments on the digits (/paper, python -m core paper) ---
PAPER_DEFAULT_S = 60.0  # each experiment's default view is sized to run within this
MAX_PAPER_S = 600.0  # predicted seconds beyond which an experiment is refused
MAX_PAPER_SEEDS = 32
MAX_PAPER_STEPS = 20_000  # steps of one run
MAX_PAPER_LIST = 6  # step sizes, betas of one experiment
MAX_PAPER_POINTS = 60  # sharpness checkpoints

# --- the cost model (seconds on the reference machine) ---
# The constants were first measured while five processes shared the machine's two cores;
# bench_caps.py on the machine alone then measured the network corners at 0.2-0.5x and
# the order study's at 0.1-0.6x of these predictions, so the network terms are scaled by 0.7
# and the 2D step by 1/3; the grid's history term was added (see bench_caps.py's output).
# Those of issue 18 (a user's loss, the network's evaluation and landscape, /study) were
# fitted by least squares to CPU times measured under load 4-13 (other processes on the
# two cores), so they are on the slow side of the machine alone.
# 2D (core.engine.fast2d): a float loop per trajectory row, so a step costs ~ the number of rows.
STEP_2D_S = 5e-05  # one step of the three 2D dynamics, per trajectory row, small losses
# per past step of a step, per row, when the optimizer sums its past (THEORY §7 c: one
# (2, n) block of numpy a step; 5000 steps of Lion eps = 0.1: 0.31 s CPU, RMSprop 0.46 s)
HISTORY_2D_S = 2e-8
GRID_2D_S = 2e-6  # one grid point of the 2D surfaces
# M^(n) on the grid when the optimizer sums its past: the directions as a function of one
# coordinate (core.engine.coordinate), interpolated from at most 2 x 2,047 node sums over the
# past, whatever the grid: per step of n (5000 steps, grid 200: 0.15-0.32 s CPU measured).
# No built-in loss has failed the interpolant's check.
GRID_HISTORY_S = 4e-5
# ... and where the check may fail (a user's loss: huge or infinite gradients on the
# window), the exact sums: per grid point, coordinate and past step ((x+y+1)^36 with
# RMSprop, 5000 steps, grid 200: 2.6 s of surfaces measured)
EXACT_SUM_S = 8e-9
# Networks: one pass of an MLP over its data costs, per row of parameters, a fixed part
# (autograd calls, small tensor ops), a part per parameter (the optimizer's vector
# operations, copies) and, per data point, a part per hidden activation (width x depth:
# elementwise work dominates small networks) and a part per parameter (matrix products).


class Pass(NamedTuple):
    """The seconds of one pass, per row of parameters: fixed, per parameter, and per data
    point per hidden activation and per parameter."""

    fixed: float
    param: float
    act: float
    act_param: float

    def seconds(self, units: int, d: int, points: int) -> float:
        return self.fixed + self.param * d + points * (self.act * units + self.act_param * d)


# /network (core.analyses.network), history-free optimizers: one step of the three dynamics (the
# corrected one with its Hessian-vector products) on the batch; the evaluation of one step
# (the three runs' losses on the training and test points, the gradient along the memory
# run); the landscape at one grid point (loss and gradient on the training points).  The
# evaluation and the landscape were priced per activation only until bench_caps.py's
# width-64, depth-4 corners (d = 12,737) measured 1.5x and 2.5x: their per-parameter
# parts were added (fitted over widths 8-64, depths 1-4 and 200 or 1,000 points).
NET_STEP = Pass(4.2e-3, 4.2e-7, 2.45e-7, 1.4e-9)
NET_EVAL = Pass(1.9e-4, 1.7e-7, 8e-8, 4.4e-10)
NET_SLICE = Pass(6e-5, 1.8e-7, 3.2e-8, 3.4e-10)
# the PCA plane: a thin SVD of the memory path (steps + 1, d), ~ T d min(T, d) operations
PCA_S = 2e-9
# an optimizer without an exact recursion (core.engine.dynamics.sums_history) sums over every
# past step at every step: per past step, a fixed part and a part per parameter
HISTORY_STEP_S = 6.3e-05
HISTORY_PARAM_S = 3.5e-08

# /study (core.analyses.study), per chunk of rows (seeds x learning rates of one optimizer): the
# memory run alone, all rows in one batched step (a fixed part per step, then per row);
# at every step of every row the loss and its gradient (h R and the curves); and the
# sharpness, Hessian-vector products per row.  Fitted over widths 8-64, depths 1-4,
# 200-2,000 points, 8-32 rows, 10-200 steps.
STUDY_STEP_S = 1.1e-3
STUDY_ROW = Pass(0.0, 3.5e-8, 3.3e-8, 1.84e-10)
STUDY_CURVE = Pass(1.8e-6, 4.1e-8, 3.2e-8, 2.2e-10)
STUDY_HVP = Pass(1.9e-5, 4.7e-8, 4.2e-8, 6e-10)
# the sharpness's Lanczos (core.analyses.sharpness) takes one row's products one at a time, each a
# call from ARPACK through numpy into autograd: ~0.9 ms of fixed cost per product measured
# on the default /study (24-38 ms a row for 21-31 products), priced at its bound PRODUCTS
# (the pages' networks converge within the first 21)
LANCZOS_PRODUCT_S = 9e-4


class LossSize(NamedTuple):
    """What a 2D loss costs per point (core.models.losses.loss_size): the nodes of its tree (torch
    evaluates the loss node by node) and, for its derivative code (core.models.derivatives), the
    temporaries of the gradient and of the gradient with the Hessian, each with how many
    of them call a helper of several operations (core.models.derivatives.operations)."""

    nodes: int
    gradient: tuple[int, int]
    hessian: tuple[int, int]


# The loss's evaluation, per operation of its derivative code: fitted to CPU times of
# sums, products, nested sin, softplus, max and powers x^y (bench_caps.py's long losses
# among them); a helper of several operations costs what the dearest, the powers', do.
# Python floats (core.engine.fast2d), per point: a temporary, a helper call of several operations
FLOAT_OP_S = 6e-8
FLOAT_CALL_S = 3.5e-7
# # numpy arrays (core.engine.fast2d_batch, core.analyses.sweep_verdict): per line of code
# and call, and per element of a temporary or of a helper call
ARRAY_LINE_S = 3e-6
ARRAY_OP_S = 2e-9
ARRAY_CALL_S = 4e-8
# one 2D step of the torch engine (core.engine.dynamics) for a run the float path hands over:
# a fixed part, and per operation of the derivative code on one-element tensors (call
# overheads); Adam and RMSprop with eps = 0 at a zero gradient measured 1.1-1.3 ms a step
# for x^2 + y^2, 4-7 ms for 1,000-1,400 operations, 45-51 ms for the powers' 4,705
TORCH_STEP_2D_S = 1.3e-3
TORCH_OP_2D_S = 4e-6
TORCH_CALL_2D_S = 3e-5
# torch tensors (core.analyses.surfaces, the sweep's metrics and boundary), per element
TORCH_OP_S = 5e-9
TORCH_CALL_S = 2.7e-8


def _code(loss: LossSize, hessian: bool) -> tuple[int, int]:
    return loss.hessian if hessian else loss.gradient


def float_step_seconds(loss: LossSize) -> float:
    """One step of the three 2D dynamics for one trajectory on floats: the gradient code
    for the memory and the memoryless run, the Hessian code for the corrected one."""
    (g, gc), (h, hc) = loss.gradient, loss.hessian
    return STEP_2D_S + FLOAT_OP_S * (2 * g + h) + FLOAT_CALL_S * (2 * gc + hc)


def array_seconds(loss: LossSize, points: int, hessian: bool) -> float:
    """The derivative code once on numpy arrays of `points` elements."""
    lines, calls = _code(loss, hessian)
    return ARRAY_LINE_S * lines + points * (ARRAY_OP_S * lines + ARRAY_CALL_S * calls)


def tensor_seconds(loss: LossSize, points: int, hessian: bool) -> float:
    """The derivative code once on torch tensors of `points` elements."""
    lines, calls = _code(loss, hessian)
    return points * (TORCH_OP_S * lines + TORCH_CALL_S * calls)


def torch_step_seconds(loss: LossSize) -> float:
    """One step of the three 2D dynamics for one trajectory on the torch engine, where
    the float path hands a run over (core.engine.fast2d.leaves_the_floats)."""
    (g, gc), (h, hc) = loss.gradient, loss.hessian
    return TORCH_STEP_2D_S + TORCH_OP_2D_S * (2 * g + h) + TORCH_CALL_2D_S * (2 * gc + hc)


def plane_run_seconds(
    steps: int, rows: int, history: float, loss: LossSize, torch: bool = False
) -> float:
    """The three dynamics of `rows` 2D trajectories (`history`: the optimizer sums over
    its past at every step, at this weight per past step, core.engine.dynamics.sums_history:
    0 where it does not; `torch`: the run may go to the torch engine)."""
    step = torch_step_seconds(loss) if torch else float_step_seconds(loss)
    return (step + HISTORY_2D_S * steps / 2 * history) * steps * rows


def plane_seconds(
    steps: int,
    grid: int,
    history: float,
    loss: LossSize,
    torch: bool = False,
    exact: bool = False,
) -> float:
    """/playground (or one optimizer of /compare): the trajectories, run once (the page's
    downloads read its cached summary), and the surfaces (the loss on the grid, the
    Hessian code at its points for M at n -> infinity and at step n; `exact`: a
    history's sums may not be interpolated)."""
    points = grid * grid
    surfaces = GRID_2D_S * points + history_seconds(points, steps, exact) * history
    surfaces += TORCH_OP_S * points * loss.nodes + tensor_seconds(loss, 2 * points, True)
    return plane_run_seconds(steps, 1, history, loss, torch) + surfaces


def history_seconds(points: int, steps: int, exact: bool) -> float:
    """M^(n) at `points` points when the optimizer sums its past (THEORY §7 c): the
    interpolant's node sums, or (`exact`) the sums at every point."""
    return EXACT_SUM_S * 2 * points * steps if exact else GRID_HISTORY_S * steps


def order_seconds(
    T: float, hs: tuple[float, ...], history: float, loss: LossSize, torch: bool = False
) -> float:
    """/theory: every step size is a row, run to the longest horizon."""
    steps = max(max(1, round(T / h)) for h in hs)
    return plane_run_seconds(steps, len(hs), history, loss, torch)


def network_run_seconds(units: int, d: int, steps: int, points: int, history: float = 0.0) -> float:
    """Training an MLP with `units` hidden activations (width x depth) and d parameters:
    the three dynamics on `points` points per step (the batch); `history`: the optimizer
    sums over its past at every step."""
    seconds = steps * NET_STEP.seconds(units, d, points)
    return seconds + steps * steps / 2 * (HISTORY_STEP_S + HISTORY_PARAM_S * d) * history


def network_result_seconds(
    units: int, d: int, steps: int, points: int, n_train: int, n_test: int, history: float
) -> float:
    """One run and its numbers at every step (core.analyses.network.result): /network's
    comparison runs one per optimizer, the CLI's network command one."""
    evaluate = (steps + 1) * NET_EVAL.seconds(units, d, n_train + n_test)
    return network_run_seconds(units, d, steps, points, history) + evaluate


def network_seconds(
    units: int,
    d: int,
    steps: int,
    points: int,
    n_train: int,
    n_test: int,
    history: float,
    pca: bool = False,
) -> float:
    """/network: a result (training, then the numbers of every step) and the landscape
    slice (`pca`: in the plane of the memory path's principal directions)."""
    grid = slice_grid(units, d, n_train)
    landscape = grid * grid * NET_SLICE.seconds(units, d, n_train)
    if pca:
        T = steps + 1
        landscape += PCA_S * T * d * min(T, d)
    result = network_result_seconds(units, d, steps, points, n_train, n_test, history)
    return result + landscape


def slice_grid(units: int, d: int, n_train: int) -> int:
    """The landscape resolution: SLICE_GRID, or less so that the slice (forward and
    backward at grid^2 parameter vectors) takes at most a quarter of the budget."""
    per_point = NET_SLICE.seconds(units, d, n_train)
    return max(5, min(SLICE_GRID, math.isqrt(int(budget() / 4 / per_point))))


def study_seconds(
    units: int, d: int, steps: int, n_train: int, rows: int, calls: int, iterations: int
) -> float:
    """/study: `rows` runs (2 optimizers x seeds x learning rates) batched in `calls`
    chunks, each trained for `steps` steps on `n_train` points, evaluated at every step,
    and at most `iterations` Hessian-vector products for its sharpness at the end."""
    per_row = (
        steps * STUDY_ROW.seconds(units, d, n_train)
        + (steps + 1) * STUDY_CURVE.seconds(units, d, n_train)
        + iterations * (STUDY_HVP.seconds(units, d, n_train) + LANCZOS_PRODUCT_S)
    )
    return calls * steps * STUDY_STEP_S + rows * per_row


# # /sweep (core.engine.fast2d_batch, core.analyses.sweep_verdict), measured by
# bench_caps.py --pages sweep (CPU seconds under load): the three dynamics per step and per
# cell and step (numpy arrays of all cells), case (c)'s history per cell and past step; the
# verdict per cell and grid point (each cell's R combined from its group's integrated bases,
# and read), per group and basis field (the field and two least-squares fits), and in case
# (c) per cell (its directions as a function of one coordinate: interpolant nodes summed
# over the past).
SWEEP_STEP_S = 5e-4  # per step whatever the cells: ~100 numpy calls
SWEEP_CELL_STEP_S = 2.5e-7
SWEEP_HISTORY_S = 4e-8
SWEEP_POINT_S = 2e-8
SWEEP_BASIS_S = 1.5e-3
SWEEP_C_CELL_S = 5e-3
SWEEP_C_STEP_S = 1.2e-5


def sweep_seconds(
    cells: int,
    steps: int,
    points: int,
    case: str,
    groups: int,
    bases: int,
    history: float,
    loss: LossSize,
    boundary: int,
    exact: bool = False,
) -> float:
    """/sweep: `cells` cells of `steps` steps (the gradient code on the memory and
    memoryless rows, the Hessian code on the corrected ones, each step), the metrics at
    the ends, the boundary (the Hessian code on `boundary` rows, torch), and the verdict
    on `points` grid points with R from M^(n) (`case` of THEORY §7, `groups` x `bases`
    integrated fields; `exact`: case (c)'s sums may not be interpolated)."""
    step = SWEEP_STEP_S + SWEEP_CELL_STEP_S * cells
    step += array_seconds(loss, 2 * cells, False) + array_seconds(loss, cells, True)
    seconds = step * steps
    ends = 3 * cells  # the metrics: L, g and H at every run's end
    seconds += TORCH_OP_S * ends * loss.nodes + tensor_seconds(loss, ends, False)
    seconds += tensor_seconds(loss, 2 * ends, True) + tensor_seconds(loss, boundary, True)
    seconds += SWEEP_HISTORY_S * cells * steps * steps / 2 * history
    if case != "flat":
        seconds += array_seconds(loss, points, True)  # L, g and H on the verdict's grid
        seconds += SWEEP_POINT_S * cells * points + SWEEP_BASIS_S * groups * bases
    if case == "c":  # `exact`: the interpolant may fail (a user's loss)
        per_cell = SWEEP_C_STEP_S * steps if not exact else history_seconds(points, steps, True)
        seconds += cells * (SWEEP_C_CELL_S + per_cell * max(history, 1.0))
    return seconds


def largest(seconds: Callable[[int], float], lo: int, hi: int) -> int | None:
    """The largest n in [lo, hi] whose `seconds(n)` (growing with n) fits the budget, or
    None: what a refusal offers instead."""
    if seconds(lo) > budget():
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if seconds(mid) <= budget() else (lo, mid - 1)
    return lo


def steps_refusal(
    seconds: Callable[[int], float], steps: int, what: str, keys: str, rest: str
) -> str | None:
    """The refusal of a computation of `steps` steps that costs seconds(n) at n steps,
    naming the most steps admitted `rest` (the other keys as given); None within the
    budget."""
    total = seconds(steps)
    if total <= budget():
        return None
    most = largest(seconds, 1, steps)
    return over_budget(total, what, keys, None if most is None else f"at most {most} steps {rest}")


def over_budget(seconds: float, what: str, keys: str, most: str | None = None) -> str | None:
    """The refusal message when `seconds` exceed the budget (None when it fits); `most`:
    the largest admitted setting of the other keys as given."""
    if seconds <= budget():
        return None
    return (
        f"{what} would take about {seconds:.3g} s of computing (max {budget():g} s); lower {keys}"
        + (f" ({most})" if most else "")
    )


# /paper: a memory-only row (one training loss and gradient, no corrected run) against a
# step of the three dynamics of one row; one Hessian-vector product of a Lanczos solve
# against the same; a solve is priced at its bound on products (core.analyses.sharpness.products)
MEMORY_ROW = 0.15
HVP_SHARE = 0.5


def paper_seconds(
    units: int, d: int, points: int, three: int, memory: int = 0, solves: int = 0, products=0
) -> float:
    """An experiment of /paper on `points` training points: `three` steps of the three
    dynamics (one row each), `memory` row-steps of the memory run alone, and `solves`
    Lanczos solves of a preconditioned sharpness, each of at most `products` products."""
    step = network_run_seconds(units, d, 1, points)  # the three dynamics of one row
    return step * (three + MEMORY_ROW * memory + HVP_SHARE * products * solves)


def over_paper_budget(seconds: float, what: str, keys: str) -> str | None:
    """The refusal message beyond MAX_PAPER_S (None when it fits)."""
    if seconds <= MAX_PAPER_S:
        return None
    return (
        f"{what} would take about {seconds:.3g} s of computing (max {MAX_PAPER_S:g} s); "
        f"lower {keys}"
    )
