"""Time per step of the three dynamics on the default network, against torch.optim.

    python benchmarks/bench_network.py [QUERY] [--threads N] [--repeats R]

simulate() steps memory, memoryless and corrected together (one autograd graph per
step), so the per-dynamics cost is measured by parts, in the same process:

  torch.optim        a plain training loop on the equivalent nn.Sequential: the memory
                     run as anyone would write it (the baseline)
  simulate           all three dynamics, per step
  memory part        the gradient of one parameter row through the flat batched loss
                     plus the memory readout (what the memory run adds to simulate)
  corrected part     the gradient of the corrected row with the Hessian-vector products
                     of its correction (p rows, one double backward) plus the JVP of the
                     readout: what the corrected run adds
  vmap               the same gradient + HVP with torch.func.vmap over functional_call,
                     to back the choice of batched matmuls in core.mlp

Every number is the median of a few repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.func import functional_call, vmap
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.autodiff import grad_and_hvp  # noqa: E402
from core.dynamics import memoryless_and_correction, simulate  # noqa: E402
from core.network import NetworkScenario, data_loss, dataset, model  # noqa: E402
from core.optimizers import make_optimizer  # noqa: E402


def median_time(fn, repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


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
    per_step["torch.optim"] = median_time(torch_loop(s, theta0, x, y), args.repeats) / s.steps
    per_step["simulate (3 dynamics)"] = (
        median_time(lambda: simulate(loss, opt, theta0, s.lr, s.steps), args.repeats) / s.steps
    )

    row = theta0[None]
    scales = [1.0] * p
    reps = 50

    def memory_part():
        for _ in range(reps):
            g, _ = grad_and_hvp(loss, row, hessian=False)
            opt.readout(g, *(av.feature(g) for av in opt.averages))

    def corrected_part():
        for _ in range(reps):
            g, hvp = grad_and_hvp(loss, row.repeat(max(p, 1), 1), hessian=p > 0)
            if p:
                hvps = hvp(torch.ones_like(row).repeat(p, 1)).split(1)
                memoryless_and_correction(opt, g[:1], scales, hvps)

    per_step["memory part"] = median_time(memory_part, args.repeats) / reps
    per_step["corrected part"] = median_time(corrected_part, args.repeats) / reps

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

        per_step[f"grad+hvp, {len(rows)} rows, {name}"] = median_time(grad_hvp, args.repeats) / reps

    for k, v in per_step.items():
        print(f"  {k:34s} {v * 1e3:8.3f} ms/step")
    base = per_step["torch.optim"]
    ratios = {
        "simulate / torch.optim": per_step["simulate (3 dynamics)"] / base,
        "corrected part / memory part": per_step["corrected part"] / per_step["memory part"],
        "corrected part / torch.optim": per_step["corrected part"] / base,
        "memory part / torch.optim": per_step["memory part"] / base,
        "vmap / batched matmul": per_step[f"grad+hvp, {len(rows)} rows, vmap"]
        / per_step[f"grad+hvp, {len(rows)} rows, batched matmul"],
    }
    for k, v in ratios.items():
        print(f"{k:36s} {v:6.2f}x")


if __name__ == "__main__":
    main()
