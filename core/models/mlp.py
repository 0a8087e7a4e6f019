"""A multilayer perceptron whose parameters are one flat vector theta (d,).

The engine (core.engine.dynamics) moves points theta of R^d, so the network is a function of
flattened parameters, batched over rows: forward((R, d), x) -> (R, N) outputs.  The
rows are unflattened into batched weight tensors and pushed through batched matrix
products; that is plain autograd, so double backward (the Hessian-vector products of
the memory correction) works.  On a CPU it is ~2x faster than torch.func.vmap over
functional_call for these sizes (benchmarks/bench_network.py measures both).

The flat layout is torch's: layer by layer, weight (out, in) row-major then bias, the
order of torch.nn.utils.parameters_to_vector on the equivalent nn.Sequential, so a
theta loads into `module()` unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

Tensor = torch.Tensor

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "gelu": nn.functional.gelu}
_MODULES = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


@dataclass(frozen=True)
class MLP:
    """in_dim -> depth hidden layers of `width` -> out_dim outputs (one logit or value,
    or one logit per class)."""

    in_dim: int
    width: int
    depth: int
    act: str = "tanh"
    out_dim: int = 1

    @cached_property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        """(out, in) of every linear layer."""
        sizes = [self.in_dim] + [self.width] * self.depth + [self.out_dim]
        return tuple((o, i) for i, o in zip(sizes[:-1], sizes[1:], strict=True))

    @property
    def size(self) -> int:
        """d, the number of parameters."""
        return sum(o * i + o for o, i in self.shapes)

    def init(self, seed: int, dtype=torch.float64, device="cpu") -> Tensor:
        """PyTorch's default nn.Linear initialization, U(-1/sqrt(in), 1/sqrt(in)) for
        weights and biases, drawn from a generator seeded with `seed` (on the CPU, so a
        seed gives the same network on every device)."""
        gen = torch.Generator().manual_seed(seed)
        parts = []
        for o, i in self.shapes:
            bound = 1.0 / math.sqrt(i)
            parts.append(
                (torch.rand(o * i + o, generator=gen, dtype=torch.float64) * 2 - 1) * bound
            )
        return torch.cat(parts).to(dtype=dtype, device=device)

    def layers(self, theta: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Views of the rows of theta (R, d) as weights (R, out, in) and biases (R, out)."""
        R = theta.shape[0]
        out, start = [], 0
        for o, i in self.shapes:
            w = theta[:, start : start + o * i].reshape(R, o, i)
            start += o * i
            out.append((w, theta[:, start : start + o]))
            start += o
        return out

    def forward(self, theta: Tensor, x: Tensor) -> Tensor:
        """Outputs (R, N) of the R networks theta (R, d) at the inputs x (N, in_dim), or
        (R, N, out_dim) with several outputs."""
        act = ACTIVATIONS[self.act]
        layers = self.layers(theta)
        w, b = layers[0]
        z = torch.einsum("ni,roi->rno", x, w) + b[:, None, :]
        for w, b in layers[1:]:
            z = torch.baddbmm(b[:, None, :], act(z), w.transpose(1, 2))
        return z[..., 0] if self.out_dim == 1 else z

    def module(self, theta: Tensor | None = None) -> nn.Sequential:
        """The same network as an nn.Sequential (for torch.optim and functional_call),
        loaded with theta (d,) when given."""
        mods: list[nn.Module] = []
        for k, (o, i) in enumerate(self.shapes):
            if k:
                mods.append(_MODULES[self.act]())
            mods.append(nn.Linear(i, o, dtype=torch.float64))
        net = nn.Sequential(*mods)
        if theta is not None:
            nn.utils.vector_to_parameters(theta.detach().clone(), net.parameters())
            net.to(theta.device)
        return net
