"""The torch engine's batches and devices: rows with their own hyperparameters, step
sizes and starts equal single runs, and CUDA equals the CPU (each backend against
torch.optim and lion-pytorch: tests/test_engine_agreement.py)."""

import pytest
import torch

from core.engine.dynamics import simulate
from core.engine.registry import make_optimizer
from core.models.losses import ZOO, batched

LOSS = batched(ZOO["reference"].expression)
START = (-1.2, 0.8)


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
