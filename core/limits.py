"""Every cap of the app and the CLI, and the cost model behind them.

Sizes are capped one by one (steps, grid, width, ...), and each page's computation as a
whole by its predicted time: the `*_seconds` functions model the engine's cost term by
term, with constants measured on the reference machine (2 shared CPU cores, one torch
thread) by benchmarks/bench_caps.py, which also searches the corners of the caps and
prints the worst measured time and memory.  A scenario whose predicted time exceeds
BUDGET_S is refused with a message naming the keys that enter the cost.

The scenario specs (core.scenario, core.network_scenario) and the sweep tools take their
caps from here; nothing else defines a limit.
"""

from __future__ import annotations

import math

BUDGET_S = 4.0  # predicted seconds of one page's computation (measured target: <= 5 s)

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
MAX_STUDY_WORK = 2_000_000_000  # runs x parameters x points x steps: ~30 s in process here
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
# 2D (core.fast2d): a float loop per trajectory row, so a step costs ~ the number of rows.
# Networks (core.dynamics, history-free): per step a fixed overhead (autograd calls,
# small tensor ops) plus, per training point, the hidden activations (width x depth,
# elementwise work dominates small networks) and the parameters (matrix products).
STEP_2D_S = 5e-05  # one step of the three 2D dynamics, per trajectory row
# per past step of a step, per row, when the optimizer sums its past (THEORY §7 c: one
# (2, n) block of numpy a step; 5000 steps of Lion eps = 0.1: 0.31 s CPU, RMSprop 0.46 s)
HISTORY_2D_S = 2e-8
GRID_2D_S = 2e-6  # one grid point of the 2D surfaces
# M^(n) on the grid when the optimizer sums its past: the directions as a function of one
# coordinate (core.coordinate), interpolated from at most 2 x 2,047 node sums over the
# past, whatever the grid: per step of n (5000 steps, grid 200: 0.15-0.32 s CPU measured).
# Should the interpolant fail its check, the exact sums cost 2 grid^2 n x ~8e-9 s (3.2 s
# at the caps): no built-in readout has needed them.
GRID_HISTORY_S = 4e-5
STEP_NET_S = 0.0042  # fixed overhead of one network step
STEP_PARAM_S = 4.2e-07  # per parameter of one step (the optimizer's vector operations)
ACT_TRAIN_S = 2.45e-07  # per hidden activation x training point of one step
PARAM_TRAIN_S = 1.4e-09  # per parameter x training point of one step
EVAL_NET_S = 1.12e-07  # per hidden activation x data point, evaluating one step of a run
SLICE_NET_S = 5.6e-08  # per hidden activation x training point x landscape grid point
# an optimizer without an exact recursion (core.dynamics.sums_history) sums over every
# past step at every step: per past step, a fixed part and a part per parameter
HISTORY_STEP_S = 6.3e-05
HISTORY_PARAM_S = 3.5e-08


def plane_run_seconds(steps: int, rows: int = 1, history: bool = False) -> float:
    """The three dynamics of `rows` 2D trajectories (`history`: the optimizer sums over
    its past at every step)."""
    seconds = STEP_2D_S * steps * rows
    if history:
        seconds += HISTORY_2D_S * steps * steps / 2 * rows
    return seconds


def plane_seconds(steps: int, grid: int, history: bool = False) -> float:
    """/playground, or one optimizer of /compare: trajectories and surfaces."""
    surfaces = GRID_2D_S * grid * grid + (GRID_HISTORY_S * steps if history else 0.0)
    return plane_run_seconds(steps, 1, history) + surfaces


def order_seconds(T: float, hs: tuple[float, ...], history: bool = False) -> float:
    """/theory: every step size is a row, run to the longest horizon."""
    return plane_run_seconds(max(max(1, round(T / h)) for h in hs), len(hs), history)


def network_run_seconds(
    units: int, d: int, steps: int, points: int, history: bool = False
) -> float:
    """Training an MLP with `units` hidden activations (width x depth) and d parameters:
    the three dynamics on `points` points per step (the batch); `history`: the optimizer
    sums over its past at every step."""
    per_point = ACT_TRAIN_S * units + PARAM_TRAIN_S * d
    seconds = steps * (STEP_NET_S + STEP_PARAM_S * d + points * per_point)
    if history:
        seconds += steps * steps / 2 * (HISTORY_STEP_S + HISTORY_PARAM_S * d)
    return seconds


def network_seconds(
    units: int, d: int, steps: int, points: int, n_train: int, n_test: int, history: bool
) -> float:
    """/network: training, then the losses of the three runs at every step (train and
    test) with the gradient along the memory run, and the landscape slice."""
    evaluate = EVAL_NET_S * units * (steps + 1) * (n_train + n_test)
    landscape = SLICE_NET_S * slice_grid(units, n_train) ** 2 * n_train * units
    return network_run_seconds(units, d, steps, points, history) + evaluate + landscape


def slice_grid(units: int, n_train: int) -> int:
    """The landscape resolution: SLICE_GRID, or less so that the slice (forward and
    backward at grid^2 parameter vectors) takes at most a quarter of the budget."""
    per_point = SLICE_NET_S * units * n_train
    return max(5, min(SLICE_GRID, math.isqrt(int(BUDGET_S / 4 / per_point))))


# /sweep (core.fast2d_batch, core.sweep_verdict), measured by bench_caps.py --pages sweep
# (CPU seconds under load): the three dynamics per step and per cell and step (numpy arrays
# of all cells), case (c)'s history per cell and past step; the verdict per cell and grid
# point (each cell's R combined from its group's integrated bases, and read), per group
# and basis field (the field and two least-squares fits), and in case (c) per cell (its
# directions as a function of one coordinate: interpolant nodes summed over the past).
SWEEP_STEP_S = 5e-4  # per step whatever the cells: ~100 numpy calls
SWEEP_CELL_STEP_S = 2.5e-7
SWEEP_HISTORY_S = 4e-8
SWEEP_POINT_S = 2e-8
SWEEP_BASIS_S = 1.5e-3
SWEEP_C_CELL_S = 5e-3
SWEEP_C_STEP_S = 1.2e-5


def sweep_seconds(
    cells: int, steps: int, points: int, case: str, groups: int, bases: int, history: bool
) -> float:
    """/sweep: `cells` cells of `steps` steps, the verdict on `points` grid points with R
    from M^(n) (`case` of THEORY §7, `groups` x `bases` integrated fields)."""
    seconds = (SWEEP_STEP_S + SWEEP_CELL_STEP_S * cells) * steps
    if history:
        seconds += SWEEP_HISTORY_S * cells * steps * steps / 2
    if case != "flat":
        seconds += SWEEP_POINT_S * cells * points + SWEEP_BASIS_S * groups * bases
    if case == "c":
        seconds += cells * (SWEEP_C_CELL_S + SWEEP_C_STEP_S * steps)
    return seconds


def over_budget(seconds: float, what: str, keys: str) -> str | None:
    """The refusal message when `seconds` exceed the budget (None when it fits)."""
    if seconds <= BUDGET_S:
        return None
    return (
        f"{what} would take about {seconds:.3g} s of computing (max {BUDGET_S:g} s); lower {keys}"
    )


# /paper: a memory-only row (one training loss and gradient, no corrected run) against a
# step of the three dynamics of one row; one Hessian-vector product of a Lanczos solve
# against the same; the products of one solve (eigsh, which="LA", tol 1e-10, measured on
# the digits' MLP: 60-200)
MEMORY_ROW = 0.15
HVP_SHARE = 0.5
LANCZOS_PRODUCTS = 200


def paper_seconds(
    units: int, d: int, points: int, three: int, memory: int = 0, solves: int = 0
) -> float:
    """An experiment of /paper on `points` training points: `three` steps of the three
    dynamics (one row each), `memory` row-steps of the memory run alone, and `solves`
    Lanczos solves of a preconditioned sharpness."""
    step = network_run_seconds(units, d, 1, points)  # the three dynamics of one row
    return step * (three + MEMORY_ROW * memory + HVP_SHARE * LANCZOS_PRODUCTS * solves)


def over_paper_budget(seconds: float, what: str, keys: str) -> str | None:
    """The refusal message beyond MAX_PAPER_S (None when it fits)."""
    if seconds <= MAX_PAPER_S:
        return None
    return (
        f"{what} would take about {seconds:.3g} s of computing (max {MAX_PAPER_S:g} s); "
        f"lower {keys}"
    )
