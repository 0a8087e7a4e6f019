"""Phase diagrams (core.analyses.sweep): cells equal single runs, the verdict equals THEORY §4-§5's
closed forms, the URL round-trips, bad input is refused, and the CLI prints JSON."""

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scenarios import admitted, refusal

from core import cli
from core.analyses import compute
from core.analyses.sweep import (
    MAX_AXIS,
    Axis,
    SweepScenario,
    _kappa_grid,
    compute_sweep,
)
from core.engine.registry import RECORDS, swept
from core.models.losses import batched
from core.scenarios.report import sweep_csv, sweep_json
from core.scenarios.scenario import HYPER_KEYS

SMALL = [
    "opt=adam&b1=0.7&eps=0.3&x=b1:0.3:0.9:5&y=b2:0.4:0.95:4&steps=60",
    "opt=hb&x=lr:0.005:0.02:4&y=b1:0.1:0.6:5&steps=60&lr=0.001",
    "opt=lion&b1=0.6&b2=0.7&wd=0.1&x=eps:0:1:4&y=b1:0.3:0.9:3&steps=60",
    "opt=rmsprop&x=b2:0.5:0.9:3&y=eps:0.001:0.5:4:log&steps=60&loss=himmelblau",
    "opt=adamw&x=wd:0:0.5:3&y=eps:0.01:1:3:log&steps=60&loss=sharp_flat",
]


def single(s, ix, iy):
    """Cell (ix, iy) run on its own, as /playground runs it, and measured here."""
    cell = s.cell(ix, iy)
    run = compute.trajectories(cell)
    assert all((d < 0).all() for d in run.diverged.values())  # divergence: its own test
    f = batched(cell.expression)
    end = {k: run[k][-1, 0] for k in ("memory", "memoryless", "corrected")}
    hessian = torch.autograd.functional.hessian(lambda t: f(t[None])[0], end["memory"])
    worst = {
        k: (run[k][:, 0] - run.memory[:, 0]).norm(dim=-1).max() for k in ("memoryless", "corrected")
    }
    return {
        "gap_memoryless": float((end["memoryless"] - end["memory"]).norm()),
        "gap_corrected": float((end["corrected"] - end["memory"]).norm()),
        "final_loss_memory": float(f(end["memory"][None])[0]),
        "sharpness_memory": float(torch.linalg.eigvalsh(hessian)[-1]),
        "theory_error": float(worst["corrected"] / worst["memoryless"]),
    }


@pytest.mark.parametrize("query", SMALL, ids=lambda q: q.split("&")[0])
def test_random_cells_equal_single_scenario_runs(query):
    s = SweepScenario.parse(query)
    res = compute_sweep(s)
    rng = np.random.default_rng(len(query))
    cells = [(0, 0)] + [(int(rng.integers(s.x.n)), int(rng.integers(s.y.n))) for _ in range(2)]
    for ix, iy in cells:  # (0, 0): Lion's eps = 0 row next to eps > 0 rows
        cell = s.cell(ix, iy)
        assert getattr(cell, s.x.key) == res.x[ix] and getattr(cell, s.y.key) == res.y[iy]
        for name, expected in single(s, ix, iy).items():
            got = res.metrics[name][iy, ix]
            assert math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-12), (name, ix, iy)


def _start_sign(s):
    """The boundary's verdict: the sign of kappa at the start as n -> infinity (what the
    effect heatmap showed before issue #11's follow-up), on the cells' own grid."""
    lo, hi = _kappa_grid(s, s.x.values, s.y.values, compute.loss(s), "cpu")
    return np.where(lo > 1e-12, 1, np.where(hi < -1e-12, -1, 0))  # nan (no information): 0


def test_adam_boundary_is_the_sign_of_c1_minus_c2_times_the_regime_factor():
    """THEORY §4: Adam's M = H Fbar/(|g|+eps) (c1 - c2 |g|/(|g|+eps)) per coordinate, so
    R's sign flips where c1 = c2 |g_j|/(|g_j|+eps): b1 = b2 as eps -> 0, moved by eps."""
    for eps in (1e-8, 0.5):
        s = SweepScenario.parse(f"opt=adam&eps={eps}&x=b1:0.3:0.97:9&y=b2:0.3:0.97:8&steps=1")
        theta = torch.tensor([[s.x0, s.y0]], requires_grad=True)
        (g,) = torch.autograd.grad(batched(s.expression)(theta).sum(), theta)
        r = (g.abs() / (g.abs() + eps))[0].numpy()  # |g_j| / (|g_j| + eps), per coordinate
        c1 = (s.x.values / (1 - s.x.values))[None, :, None]
        c2 = (s.y.values / (1 - s.y.values))[:, None, None]
        factor = c1 - c2 * r  # (ny, nx, 2)
        expected = np.where((factor > 0).all(-1), 1, np.where((factor < 0).all(-1), -1, 0))
        sign = _start_sign(s)
        assert (sign == expected).all()
        if eps < 1e-6:  # the boundary is b1 = b2
            below = s.y.values[:, None] > s.x.values[None, :]
            assert (sign[below] == -1).all()
            assert (sign[~below] == 1).all()
        else:  # eps moves it: some b2 > b1 cells regularize
            assert (sign[s.y.values[:, None] > s.x.values[None, :]] >= 0).any()


@pytest.mark.parametrize(
    "query, effect",
    [
        ("opt=hb&x=lr:0.01:0.05:3&y=b1:0.1:0.9:3", 1),  # beta/(2(1-beta)^2) ||g||^2 > 0
        ("opt=nesterov&x=lr:0.01:0.05:3&y=b1:0.1:0.9:3", 1),
        ("opt=rmsprop&x=b2:0.5:0.9:3&y=eps:1e-8:1e-6:3:log", -1),  # -c2 ||g||_1
        ("opt=lion&x=eps:0.01:1:3:log&y=b1:0.5:0.9:3", 1),  # smoothed sign: >= 0
        ("opt=lion&x=b2:0.5:0.99:3&y=b1:0.5:0.9:3", 0),  # exact sign: no correction
    ],
)
def test_boundary_sign_of_the_other_optimizers(query, effect):
    assert (_start_sign(SweepScenario.parse(query + "&steps=1")) == effect).all()


CARD = {"regularizes": 1, "anti-regularizes": -1, "mixed": 0, "none": 0}


def card(s, ix, iy) -> int:
    """The regularizer card of cell (ix, iy), computed as /playground computes it."""
    return CARD[compute.regularizer(s.cell(ix, iy)).effect]


def test_effect_is_the_cards_verdict_where_the_start_sign_at_infinity_is_not():
    """On Adam's diagonal b1 = b2 the start's sign at n -> infinity says +1 (eps > 0),
    while the card (R from M^(n) at the run's step on the window) says mixed: the sweep
    shows the card's verdict there and at random cells."""
    s = SweepScenario.parse("opt=adam&x=b1:0.5:0.999:8&y=b2:0.5:0.999:8&steps=200")
    effect = compute_sweep(s).metrics["effect"]
    assert _start_sign(s)[1, 1] == 1 and card(s, 1, 1) == 0  # they differ at this cell
    rng = np.random.default_rng(11)
    cells = [(1, 1), (3, 3)] + [tuple(int(v) for v in rng.integers(8, size=2)) for _ in range(4)]
    for ix, iy in cells:
        assert effect[iy, ix] == card(s, ix, iy), (ix, iy)
    assert {1, -1, 0} <= set(effect.ravel())


@pytest.mark.parametrize(
    "query",
    SMALL
    + [
        "opt=nesterov&x=lr:0.005:0.1:3&y=b1:0.0:0.95:4&steps=100",
        "opt=adamw&x=eps:0.0001:1:4:log&y=b1:0.5:0.99:3&steps=100",
    ],
    ids=lambda q: q.split("&")[0] + q.split("&")[-1],
)
def test_effect_equals_the_card_at_random_cells(query):
    """Every direction case of THEORY §7 (a: hb, nesterov; b: adam, adamw; c: rmsprop,
    lion eps > 0; flat: lion eps = 0), axes entering the weights, the readout (eps) and
    the decay (wd)."""
    s = SweepScenario.parse(query)
    effect = compute_sweep(s).metrics["effect"]
    rng = np.random.default_rng(len(query))
    for _ in range(3):
        ix, iy = int(rng.integers(s.x.n)), int(rng.integers(s.y.n))
        assert effect[iy, ix] == card(s, ix, iy), (ix, iy)


def test_diverged_cells_are_null_and_the_rest_goes_on(capsys):
    query = "opt=hb&x=lr:0.01:10:4&y=b1:0.1:0.5:2&steps=200&loss=quadratic"
    assert cli.main(["sweep", query]) == 0
    out = json.loads(capsys.readouterr().out)
    dead = np.array(out["diverged"]["memory"]) >= 0
    assert dead[:, -1].all() and not dead[:, 0].any()  # h = 10 diverges, h = 0.01 not
    for name in ("final_loss_memory", "gap_memoryless", "sharpness_memory", "theory_error"):
        grid = np.array(out["metrics"][name], dtype=float)  # null -> nan
        assert np.isnan(grid[dead]).all(), name
        assert np.isfinite(grid[:, 0]).all(), name


def test_cli_sweep_json_layout(capsys):
    query = "opt=adam&x=b1:0.5:0.99:3&y=b2:0.9:0.999:2&steps=20"
    assert cli.main(["sweep", query]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["x"]["key"] == "b1" and out["x"]["values"] == [0.5, 0.745, 0.99]
    assert out["y"]["key"] == "b2" and out["y"]["values"] == [0.9, 0.999]
    for name in ("gap_memoryless", "gap_corrected", "final_loss_memory", "sharpness_memory"):
        grid = np.array(out["metrics"][name], dtype=float)
        assert grid.shape == (2, 3) and np.isfinite(grid).all(), name
    assert set(np.ravel(out["metrics"]["effect"])) <= {-1, 0, 1}
    assert SweepScenario.parse(out["scenario"]) == SweepScenario.parse(query)


@pytest.mark.parametrize(
    "query, key, words",
    [
        ("x=b1:0.5:0.9:65", "x", "2 to 64"),
        ("x=b1:0.9:0.5:8", "x", "lo < hi"),
        ("x=b1:0.5:1.0:8", "x", "out of range"),
        ("x=wd:0:1:8", "x", "not a hyperparameter of adam"),
        ("x=eps:0:1:8:log", "x", "log axis needs lo > 0"),
        ("x=b1:a:1:8", "x", "not a number"),
        ("x=b1:0.1:0.9", "x", "key:lo:hi:n"),
        ("x=b1:0.1:0.9:8&y=b1:0.2:0.5:4", "y", "both axes sweep b1"),
        ("x=b1:0.1:0.9:64&y=b2:0.1:0.9:64&steps=2001", "steps", "out of range"),
        # a group of cells per (wd, eps): 8192 integrated fields (11 s measured)
        ("opt=adamw&x=wd:0:1:64&y=eps:0.001:1:64:log&steps=300", "y", "would take about"),
        # case (c): every cell's directions sum its past (RMSprop, Lion eps > 0)
        ("opt=rmsprop&x=b2:0.5:0.999:24&y=eps:0.0001:1.0:24:log&steps=200", "y", "would take"),
        ("opt=lion&x=eps:0.0001:1:64:log&y=b1:0.5:0.99:64&steps=100", "y", "would take"),
        ("opt=gd", "opt", "not one of"),
        ("steps=2001", "steps", "out of range"),
    ],
)
def test_bad_queries_are_refused_with_the_key_named(query, key, words):
    assert words in refusal(SweepScenario, query, key)
    s, warnings = SweepScenario.from_query(query)  # the page: a default and a warning
    assert warnings and s == SweepScenario.parse(s.to_query())


@pytest.mark.parametrize("opt", sorted(swept()))
def test_every_default_sweep_and_adams_64_by_64_by_1000_are_admitted(opt):
    """The cost model (core.scenarios.limits.sweep_seconds) admits what computes in the budget:
    each optimizer's default sweep, and the benchmark's 64 x 64 x 1000 Adam sweep."""
    assert SweepScenario.parse(f"opt={opt}").opt == opt
    big = SweepScenario.parse("opt=adam&x=b1:0.5:0.999:64&y=b2:0.5:0.999:64&steps=1000")
    assert big.x.n * big.y.n * big.steps == 64 * 64 * 1000


def test_cli_bad_sweep_is_one_stderr_line_and_exit_2(capsys):
    assert cli.main(["sweep", "x=b1:0.1:0.9:100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "x:" in err and "2 to 64" in err


_KEYS = {  # key -> (lo, hi) within its range
    "lr": (1e-4, 1.0),
    "b1": (0.0, 0.999),
    "b2": (0.0, 0.999),
    "eps": (1e-9, 5.0),
    "wd": (0.0, 2.0),
}


@st.composite
def sweeps(draw):
    opt = draw(st.sampled_from(sorted(swept())))
    keys = draw(st.permutations(["lr", *compute_keys(opt)]))[:2]
    axes = []
    for key in keys:
        lo_bound, hi_bound = _KEYS[key]
        a, b = sorted(
            draw(st.lists(st.floats(lo_bound, hi_bound), min_size=2, max_size=2, unique=True))
        )
        log = draw(st.booleans()) and a > 0
        axes.append(Axis(key, a, b, draw(st.integers(2, MAX_AXIS)), log))
    steps = draw(st.integers(1, 200))
    fields = dict(opt=opt, **_hyper(opt), steps=steps, x=axes[0], y=axes[1])
    return admitted(SweepScenario, fields)  # what the cost model admits


def compute_keys(opt):
    return list(RECORDS[opt].defaults)


def _hyper(opt):
    return {k: RECORDS[opt].defaults.get(k) for k in HYPER_KEYS}


@settings(max_examples=150, deadline=None)
@given(sweeps())
def test_url_round_trip(s):
    assert SweepScenario.parse(s.to_query()) == s
    ix, iy = s.x.n - 1, 0
    cell = s.cell(ix, iy)  # every cell is a valid single scenario with the axis values
    assert getattr(cell, s.x.key) == s.x.values[ix] and getattr(cell, s.y.key) == s.y.values[0]


def test_sweep_json_has_every_metric_as_a_grid():
    res = compute_sweep(SweepScenario.parse("x=b1:0.5:0.9:3&y=b2:0.5:0.9:2&steps=5"))
    out = sweep_json(res)
    assert set(out["metrics"]) == set(res.metrics)
    assert all(np.shape(v) == (2, 3) for v in out["metrics"].values())


def _gallery(page_title_word: str) -> SweepScenario:
    from ui.gallery import GALLERY

    (example,) = [e for e in GALLERY if e.page == "sweep" and page_title_word in e.title]
    s = SweepScenario.parse(example.query)
    return s.updated(x=str(s.x).replace(":24", ":10"), y=str(s.y).replace(":24", ":10"))


def test_gallery_adam_sweep_shows_the_boundary_moving_with_eps():
    s = _gallery("Adam")
    effect = compute_sweep(s).metrics["effect"]
    above = s.y.values[:, None] > s.x.values[None, :]  # b2 > b1
    below = s.y.values[:, None] < s.x.values[None, :]
    assert (effect[above] == -1).any() and (effect[below] == 1).all()
    assert (effect[above] == 0).any()  # "some cells just above the diagonal are mixed"
    assert not (effect[above] == 1).any()
    tiny = compute_sweep(s.updated(eps=1e-8)).metrics["effect"]
    assert (tiny[above] == -1).all()  # as eps -> 0 the boundary is b1 = b2


def test_gallery_heavy_ball_sweep():
    s = _gallery("heavy ball")
    res = compute_sweep(s)
    momentum = s.y.values > 0
    assert (res.metrics["effect"][momentum] == 1).all()  # "regularizes in every cell"
    ratio = res.metrics["theory_error"]
    assert ratio[1, 0] < 1  # small h and beta: the corrected run tracks the memory run
    dead = res.diverged["corrected"] >= 0
    assert dead[-1, -1] and not dead[1, 0]  # large h/(1 - beta): the corrected run diverges


def test_csv_has_one_line_per_cell_with_every_metric():
    res = compute_sweep(SweepScenario.parse("opt=hb&x=lr:0.01:10:3&y=b1:0.1:0.5:2&steps=150"))
    lines = sweep_csv(res).splitlines()
    head = lines[0].split(",")
    assert len(lines) == 1 + 6 and head[:4] == ["ix", "iy", "lr", "b1"]
    for line in lines[1:]:
        row = dict(zip(head, line.split(","), strict=True))
        ix, iy = int(row["ix"]), int(row["iy"])
        assert float(row["lr"]) == res.x[ix] and float(row["b1"]) == res.y[iy]
        for name, grid in res.metrics.items():
            v = grid[iy, ix]
            assert (row[name] == "") if not np.isfinite(v) else float(row[name]) == v
        assert int(row["diverged_memory"]) == res.diverged["memory"][iy, ix]
    assert any(row.split(",")[-3] != "-1" for row in lines[1:])  # h = 10 diverges


def test_another_optimizer_keeps_the_axes_that_still_apply():
    s = SweepScenario.parse("opt=adam&x=b1:0.6:0.9:5&y=lr:0.01:0.05:4")
    lion = s.with_optimizer("lion")  # b1 and lr are Lion's too
    assert (lion.opt, lion.x, lion.y, lion.b2) == ("lion", s.x, s.y, 0.99)
    rms = s.with_optimizer("rmsprop")  # no b1: its own default axes
    assert (rms.opt, str(rms.x), str(rms.y)) == ("rmsprop", *RECORDS["rmsprop"].sweep.axes)


def test_a_constant_loss_has_no_effect_and_warns_nothing():
    """g = 0 and a flat window (the loss varies by 0): R = 0, 'none' in every cell, as
    the card says; no floating-point warning on the way."""
    import warnings

    s = SweepScenario.parse("opt=lion&loss=custom&f=2&x=eps:0.01:1:3:log&y=b1:0.5:0.9:3&steps=20")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        effect = compute_sweep(s).metrics["effect"]
    assert (effect == 0).all() and card(s, 1, 1) == 0
