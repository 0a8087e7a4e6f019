"""Training a network: the data loss of parameter rows, mini-batches, the run of the three
dynamics, and the loss and gradients of many parameter vectors in bounded memory.

An MLP's flattened parameters theta (d,) are the point the engine moves: the training
loss is a batched function (R, d) -> (R,) of parameter rows, handed to
core.engine.dynamics.simulate like any 2D loss.  Nothing here steps an optimizer itself.
`check`, where given, is called before every training step and between evaluation
chunks, and stops the computation by raising (core.cancel).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from core.analyses import compute
from core.cancel import Check, checked
from core.engine.dynamics import Run, simulate
from core.engine.registry import make_optimizer, record
from core.models.datasets import Dataset
from core.models.mlp import MLP
from core.scenarios.network_scenario import NetworkScenario, dataset, model

Tensor = torch.Tensor
_ELEMENTS = 1 << 20  # rows * points * width per chunk when evaluating many networks


def data_loss(mlp: MLP, task: str, x: Tensor, y: Tensor):
    """The mean loss over (x, y) of every parameter row: (R, d) -> (R,).  Logistic loss
    (binary cross-entropy with logits) for classification, cross-entropy of the softmax
    for multiclass (labels 0..C-1), squared error otherwise."""
    labels = y.long() if task == "multiclass" else None

    def loss(theta: Tensor) -> Tensor:
        out = mlp.forward(theta, x)
        if task == "classification":
            per_point = F.binary_cross_entropy_with_logits(out, y.expand_as(out), reduction="none")
        elif task == "multiclass":  # (R, N, C) logits: one (R N, C) cross-entropy
            R, N, C = out.shape
            target = labels.expand(R, N).reshape(-1)
            per_point = F.cross_entropy(out.reshape(-1, C), target, reduction="none").view(R, N)
        else:
            per_point = (out - y) ** 2
        return per_point.mean(-1)

    return loss


def data_accuracy(mlp: MLP, task: str, x: Tensor, y: Tensor):
    """The share of (x, y) each parameter row classifies right: (R, d) -> (R,) (logit > 0
    for label 1; the largest logit for multiclass).  None for a regression."""
    if task == "regression":
        return None

    def accuracy(theta: Tensor) -> Tensor:
        with torch.no_grad():
            out = mlp.forward(theta, x)
            guess = out.argmax(-1) if task == "multiclass" else (out > 0).to(out.dtype)
            return (guess == y.to(guess.dtype)).to(x.dtype).mean(-1)

    return accuracy


def batch_schedule(n_train: int, batch: int, steps: int, seed: int) -> np.ndarray | None:
    """The training points of every step (steps, batch): epochs of a fresh seeded
    permutation, cut into full batches (a remainder is dropped).  None: full batch."""
    if batch == 0:
        return None
    rng = np.random.default_rng([seed, batch])
    per_epoch = n_train // batch
    epochs = -(-steps // per_epoch)
    cuts = [rng.permutation(n_train)[: per_epoch * batch] for _ in range(epochs)]
    return np.concatenate(cuts).reshape(-1, batch)[:steps]


class StepBatches:
    """The training loss of step n on its mini-batch, for core.engine.dynamics.simulate.

    Contract relied on: simulate evaluates its loss exactly once per step, in order
    n = 0, 1, ..., on the stacked rows of all three dynamics (plus the corrected copies
    whose Hessian-vector products come from the same graph).  So the k-th call is step
    k, and memory, memoryless and corrected see the same batch at every step.  `calls`
    counts the evaluations so the caller can check that the contract held.
    """

    def __init__(self, mlp: MLP, task: str, x: Tensor, y: Tensor, schedule: np.ndarray):
        self.mlp, self.task, self.x, self.y = mlp, task, x, y
        self.schedule = torch.as_tensor(schedule, device=x.device)
        self.calls = 0

    def __call__(self, theta: Tensor) -> Tensor:
        if self.calls >= len(self.schedule):
            raise RuntimeError("the loss was called more often than there are steps")
        idx = self.schedule[self.calls]
        self.calls += 1
        return data_loss(self.mlp, self.task, self.x[idx], self.y[idx])(theta)


def training_loss(mlp: MLP, data: Dataset, batch: int, steps: int, seed: int, device):
    """The loss simulate steps on: full batch, or a fresh StepBatches for one run."""
    x, y = as_tensors(data.x_train, data.y_train, device)
    schedule = batch_schedule(len(y), batch, steps, seed)
    if schedule is None:
        return data_loss(mlp, data.task, x, y)
    return StepBatches(mlp, data.task, x, y, schedule)


def run_network(loss, opt, theta0: Tensor, lr, steps: int, check=None) -> Run:
    """simulate(), checking the once-per-step contract when the loss is step-indexed."""
    run = simulate(checked(loss, check), opt, theta0, lr, steps)
    if isinstance(loss, StepBatches) and loss.calls != steps:
        raise RuntimeError(f"simulate called the loss {loss.calls} times for {steps} steps")
    return run


def trajectories(s: NetworkScenario, device: str | None = None, check: Check = None) -> Run:
    """The three dynamics from the seeded initialization, on the CPU or `device`."""
    dev = torch_device(device)
    mlp = model(s)
    loss = training_loss(mlp, dataset(s), s.batch, s.steps, s.seed, dev)
    opt = make_optimizer(s.opt, **s.hyper)
    return run_network(loss, opt, mlp.init(s.seed, device=dev), s.lr, s.steps, check)


def as_tensors(x: np.ndarray, y: np.ndarray, device) -> tuple[Tensor, Tensor]:
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float64, device=device)  # noqa: E731
    return as_t(x), as_t(y)


def torch_device(device) -> torch.device:
    """`device`, or the one core.analyses.compute picks when it is None."""
    return compute.device() if device is None else torch.device(device)


# --- evaluating many parameter vectors ----------------------------------------------


def _chunk_rows(mlp: MLP, points: int) -> int:
    return max(1, _ELEMENTS // max(1, points * max(mlp.width, mlp.in_dim)))


def values(loss, mlp: MLP, points: int, theta: Tensor, check=None) -> Tensor:
    """loss(theta) for many rows, in chunks that bound the activations' memory."""
    size = _chunk_rows(mlp, points)
    with torch.no_grad():
        return torch.cat([checked(loss, check)(c) for c in theta.split(size)])


def values_and_grads(
    loss, mlp: MLP, points: int, theta: Tensor, check=None
) -> tuple[Tensor, Tensor]:
    """loss(theta) and its row-wise gradients, chunked like `values`."""
    out_v, out_g = [], []
    loss = checked(loss, check)
    for c in theta.split(_chunk_rows(mlp, points)):
        t = c.detach().requires_grad_(True)
        with torch.enable_grad():
            v = loss(t)
            (g,) = torch.autograd.grad(v.sum(), t)
        out_v.append(v.detach())
        out_g.append(g)
    return torch.cat(out_v), torch.cat(out_g)


def perturbation(opt: str, hyper: dict, L: Tensor, g: Tensor, theta: Tensor, n) -> Tensor:
    """R per row at step n (None: n -> infinity) from the optimizer record's potential
    (THEORY §9, core.engine.registry.Record.perturbation): each closed form of §5 in its regime,
    exact where H is diagonal otherwise; 0 for gradient descent, NaN for exact-sign Lion
    (not defined: outside the theorem, THEORY §11)."""
    return record(opt).perturbation(hyper, L, g, theta, n)
