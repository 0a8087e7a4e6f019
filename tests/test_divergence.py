"""Divergence stops that trajectory (it keeps its last finite point, the step is
recorded) and the other dynamics go on."""

import json

import torch

from core import cli
from core.engine.dynamics import simulate
from core.engine.registry import make_optimizer
from core.models.losses import batched


def test_unstable_memoryless_run_diverges_while_memory_run_goes_on():
    # 0.5 x^2 with h = 1.5, beta = 0.9: heavy ball is stable (h < 2(1+beta)); its
    # memoryless version steps with h/(1-beta) = 15 and blows up geometrically.
    loss = batched("0.5*x^2 + 0.5*y^2")
    run = simulate(loss, make_optimizer("hb", b1=0.9), torch.tensor([1.0, -0.5]), 1.5, 400)
    d = run.diverged
    assert d["memory"][0] == -1
    assert 0 < d["memoryless"][0] < 400
    assert 0 < d["corrected"][0] < 400
    for k in ("memoryless", "corrected"):
        path = run[k][:, 0]
        assert torch.isfinite(path).all()
        stop = d[k][0]
        assert torch.equal(path[stop:], path[stop - 1].expand_as(path[stop:]))
    assert torch.isfinite(run.memory).all() and run.memory[-1].abs().max() < 1e-3


def test_cli_ends_a_diverged_trajectory_at_its_last_finite_point(capsys):
    query = "opt=hb&b1=0.9&lr=1.5&steps=400&loss=custom&f=0.5*x^2%2B0.5*y^2&x0=1&y0=0.1"
    assert cli.main(["simulate", query]) == 0
    out = json.loads(capsys.readouterr().out)
    stop = out["diverged"]["memoryless"]
    assert stop is not None and out["diverged"]["memory"] is None
    assert len(out["memoryless"]) == stop
    assert len(out["memory"]) == 401
    assert all(abs(v) < float("inf") for p in out["memoryless"] for v in p)


def test_nan_from_the_loss_itself_is_divergence():
    # sqrt of a negative number: nan gradient on the first step
    loss = batched("sqrt(x) + y^2")
    run = simulate(loss, make_optimizer("adam"), torch.tensor([-1.0, 1.0]), 0.1, 5)
    assert all(run.diverged[k][0] == 1 for k in run.diverged)
    assert torch.equal(run.memory[-1, 0], torch.tensor([-1.0, 1.0]))


def test_a_flat_direction_is_not_divergence():
    # the gradient's y-coordinate is exactly 0: Adam's v = 0 there, and the correction
    # must take its finite limit instead of autograd's inf * 0
    for name in ("adam", "adamw", "rmsprop"):
        run = simulate(batched("x^2"), make_optimizer(name), torch.tensor([1.0, 0.5]), 0.01, 20)
        assert all(run.diverged[k][0] == -1 for k in run.diverged), name
        if name != "adamw":  # (AdamW's weight decay moves y)
            assert torch.equal(run.corrected[:, 0, 1], torch.full((21,), 0.5))
