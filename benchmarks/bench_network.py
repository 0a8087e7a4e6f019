"""Time per step of each dynamics on the default network, against torch.optim.

    python benchmarks/bench_network.py [QUERY] [--threads N] [--repeats R]

Measured in the same process, medians of a few repeats:

  torch.optim        a plain training loop on the equivalent nn.Sequential: the memory
                     run as anyone would write it (the baseline)
  simulate(...)      core.dynamics.simulate running one dynamics alone, then all three
                     (one autograd graph per step for every dynamics it runs)
  vmap               gradient + Hessian-vector products with torch.func.vmap over
                     functional_call against the batched matmuls of core.mlp, to back
                     that choice
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.func import functional_call, vmap
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import median_seconds  # noqa: E402

from core.autodiff import grad_and_hvp  # noqa: E402
from core.dynamics import DYNAMICS, simulate  # noqa: E402
from core.network import NetworkScenario, data_loss, dataset, model  # noqa: E402
from core.optimizers import make_optimizer  # noqa: E402


def torch_loop(s: NetworkScenario, theta0: torch.Tensor, x, y):
    mlp = model(s)
    h = s.hyper
    makers = {
        "hb": lambda p: torch.optim.SGD(p, s.lr, momentum=h.get("b1", 0)),
        "nesterov": lambda p: torch.optim.SGD(p, s.lr, momentum=h.get("b1", 0), nesterov=True),
        "rmsprop": lambda p: torch.optim.RMSprop(p, s.lr, alpha=h.get("b2", 0), eps=h.get("eps")),
        "adam": lambda p: torch.optim.Adam(
            p, s.lr, betas=(h.get("b1"), h.get("b2")), eps=h.get("eps")
        ),
        "adamw": lambda p: torch.optim.AdamW(
            p, s.lr, betas=(h.get("b1"), h.get("b2")), eps=h.get("eps"), weight_decay=h.get("wd")
        ),
        "gd": lambda p: torch.optim.SGD(p, s.lr),
    }

    def run():
        net = mlp.module(theta0)
        opt = makers[s.opt](list(net.parameters()))
        for _ in range(s.steps):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(net(x)[:, 0], y).backward()
            opt.step()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("query", nargs="?", default="")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    s = NetworkScenario.parse(args.query)
    if s.batch or dataset(s).task != "classification" or s.opt == "lion":
        sys.exit("the benchmark times full-batch classification with a torch.optim optimizer")
    data, mlp = dataset(s), model(s)
    x = torch.as_tensor(data.x_train)
    y = torch.as_tensor(data.y_train)
    loss = data_loss(mlp, data.task, x, y)
    opt = make_optimizer(s.opt, **s.hyper)
    theta0 = mlp.init(s.seed)
    p = len(opt.averages)
    print(f"scenario {s.to_query()}: d = {mlp.size}, {len(y)} points, {s.steps} steps")
    print(f"optimizer {s.opt} {s.hyper}, torch threads {torch.get_num_threads()}")

    per_step = {}
    per_step["torch.optim"] = median_seconds(torch_loop(s, theta0, x, y), args.repeats) / s.steps
    for dyn in (("memory",), ("memoryless",), ("corrected",), DYNAMICS):
        name = f"simulate({', '.join(dyn)})"
        run = lambda d=dyn: simulate(loss, opt, theta0, s.lr, s.steps, d)  # noqa: E731
        per_step[name] = median_seconds(run, args.repeats) / s.steps
    reps = 50

    net = mlp.module(theta0)
    names = [n for n, _ in net.named_parameters()]
    shapes = [q.shape for q in net.parameters()]

    def unflatten(t):
        out, start = {}, 0
        for n, sh in zip(names, shapes, strict=True):
            out[n] = t[start : start + sh.numel()].reshape(sh)
            start += sh.numel()
        return out

    def one(t):
        return F.binary_cross_entropy_with_logits(functional_call(net, unflatten(t), (x,))[:, 0], y)

    rows = theta0.repeat(3 + max(p - 1, 0), 1)
    for name, fn in (("batched matmul", loss), ("vmap", vmap(one))):

        def grad_hvp(fn=fn):
            for _ in range(reps):
                _, hvp = grad_and_hvp(fn, rows)
                hvp(torch.ones_like(rows))

        per_step[f"grad+hvp, {len(rows)} rows, {name}"] = (
            median_seconds(grad_hvp, args.repeats) / reps
        )

    for k, v in per_step.items():
        print(f"  {k:34s} {v * 1e3:8.3f} ms/step")
    base = per_step["torch.optim"]
    memory, corrected = per_step["simulate(memory)"], per_step["simulate(corrected)"]
    ratios = {
        "corrected / memory (target <= 3)": corrected / memory,
        "memory / torch.optim": memory / base,
        "all three / torch.optim": per_step[f"simulate({', '.join(DYNAMICS)})"] / base,
        "vmap / batched matmul": per_step[f"grad+hvp, {len(rows)} rows, vmap"]
        / per_step[f"grad+hvp, {len(rows)} rows, batched matmul"],
    }
    for k, v in ratios.items():
        print(f"{k:36s} {v:6.2f}x")


if __name__ == "__main__":
    main()
