"""The memory run of every declared optimizer against the reference implementations:
torch.optim for those PyTorch has, the lion-pytorch package for Lion (eps = 0)."""

import pytest
import torch
from lion_pytorch import Lion

from core.dynamics import simulate
from core.losses import ZOO, batched
from core.registry import make_optimizer

LOSS = batched(ZOO["reference"].expression)
START = (-1.2, 0.8)

CASES = [
    ("gd", {}, torch.optim.SGD, {}),
    ("hb", {"b1": 0.7}, torch.optim.SGD, {"momentum": 0.7}),
    ("nesterov", {"b1": 0.6}, torch.optim.SGD, {"momentum": 0.6, "nesterov": True}),
    ("rmsprop", {"b2": 0.9, "eps": 0.1}, torch.optim.RMSprop, {"alpha": 0.9, "eps": 0.1}),
    (
        "adam",
        {"b1": 0.8, "b2": 0.95, "eps": 0.05},
        torch.optim.Adam,
        {"betas": (0.8, 0.95), "eps": 0.05},
    ),
    (
        "adamw",
        {"b1": 0.8, "b2": 0.95, "eps": 0.05, "wd": 0.1},
        torch.optim.AdamW,
        {"betas": (0.8, 0.95), "eps": 0.05, "weight_decay": 0.1},
    ),
    (
        "adamw",
        {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "wd": 0.01},
        torch.optim.AdamW,
        {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01},
    ),
    (
        "lion",
        {"b1": 0.9, "b2": 0.99, "eps": 0.0, "wd": 0.1},
        Lion,
        {"betas": (0.9, 0.99), "weight_decay": 0.1},
    ),
]


def reference_run(optimizer_class, kwargs, lr, steps, start=START):
    p = torch.tensor(start, requires_grad=True)
    opt = optimizer_class([p], lr=lr, **kwargs)
    points = [p.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        LOSS(p[None]).sum().backward()
        opt.step()
        points.append(p.detach().clone())
    return torch.stack(points)


# Steps and lr keep each run in a regime where rounding is not amplified chaotically:
# near a minimum with a tiny eps, g / sqrt(v) is ill-conditioned and any two correct
# implementations drift apart at the 1e-15 -> 1e-2 level (RMSprop after ~120 steps).
@pytest.mark.parametrize(("name", "hyper", "cls", "kwargs"), CASES)
def test_memory_run_equals_reference_implementation(name, hyper, cls, kwargs):
    lr, steps = 0.01, 60
    run = simulate(LOSS, make_optimizer(name, **hyper), torch.tensor(START), lr, steps)
    expected = reference_run(cls, kwargs, lr, steps)
    assert run.memory.shape == (steps + 1, 1, 2)
    assert torch.allclose(run.memory[:, 0], expected, rtol=0, atol=1e-12)
    assert not torch.equal(run.memory[-1], run.memory[0])


def test_batched_hyperparameters_and_starts_equal_single_runs():
    starts = torch.tensor([[-1.2, 0.8], [0.5, -0.5], [1.5, 1.5]])
    b1, b2, eps, lr = [0.5, 0.8, 0.9], [0.7, 0.9, 0.999], [0.5, 0.1, 1e-3], [0.02, 0.01, 0.005]
    batch = simulate(LOSS, make_optimizer("adamw", b1=b1, b2=b2, eps=eps, wd=0.1), starts, lr, 40)
    for i in range(3):
        opt = make_optimizer("adamw", b1=b1[i], b2=b2[i], eps=eps[i], wd=0.1)
        single = simulate(LOSS, opt, starts[i], lr[i], 40)
        for k in ("memory", "memoryless", "corrected"):
            assert torch.allclose(batch[k][:, i], single[k][:, 0], rtol=0, atol=1e-13), k


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_runs_agree_with_cpu():
    opt = make_optimizer("adamw", b1=0.5, b2=0.7, eps=0.5, wd=0.1)
    cpu = simulate(LOSS, opt, torch.tensor(START), 0.02, 30)
    gpu = simulate(LOSS, opt, torch.tensor(START, device="cuda"), 0.02, 30)
    for k in ("memory", "memoryless", "corrected"):
        assert gpu[k].device.type == "cuda"
        assert torch.allclose(gpu[k].cpu(), cpu[k], rtol=0, atol=1e-12), k
