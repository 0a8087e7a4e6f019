"""Time per step of each dynamics on the default network, against torch.optim.

    python benchmarks/bench_network.py [QUERY] [--threads N] [--repeats R]

Measured round-robin in the same process (medians of a few repeats), threads pinned,
at two run lengths: a step of the history-free engine costs the same at 100 and 2000.

  torch.optim        a plain training loop on the equivalent nn.Sequential: the memory
                     run as anyone would write it (the baseline)
  simulate(...)      core.engine.dynamics.simulate running one dynamics alone, then all three
                     (one autograd graph per step for every dynamics it runs)
Targets (issue 8): memory step <= 1.3x torch.optim's, flat in the run length;
corrected step <= 2.5x a memory step.
  vmap               gradient + Hessian-vector products with torch.func.vmap over
                     functional_call against the batched matmuls of core.models.mlp, to back
                     that choice
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# isort: off
from _timing import interleaved, pin_threads  # noqa: E402  (pins BLAS threads before torch)

import torch  # noqa: E402
from torch.func import functional_call, vmap  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from core.engine.autodiff import grad_and_hvp  # noqa: E402
from core.engine.dynamics import DYNAMICS, simulate  # noqa: E402
from core.scenarios.network_scenario import NetworkScenario, dataset, model  # noqa: E402
from core.models.training import data_loss  # noqa: E402
from core.engine.registry import make_optimizer  # noqa: E402
# isort: on


def torch_loop(s: NetworkScenario, theta0: torch.Tensor, x, y, steps: int):
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
        for _ in range(steps):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(net(x)[:, 0], y).backward()
            opt.step()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("query", nargs="?", default="")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--steps", default="100,2000", help="run lengths (the step cost is flat)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(pin_threads(args.threads))
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
    print(f"scenario {s.to_query()}: d = {mlp.size}, {len(y)} points, optimizer {s.opt} {s.hyper}")
    print(f"{'steps':>6}{'torch.optim':>13}{'memory':>9}{'corrected':>11}{'all 3':>9}   ms/step")
    ratios = []
    for steps in (int(v) for v in args.steps.split(",")):
        fns = {"torch.optim": torch_loop(s, theta0, x, y, steps)}
        for label, dyn in (
            ("memory", ("memory",)),
            ("corrected", ("corrected",)),
            ("all", DYNAMICS),
        ):
            fns[label] = lambda d=dyn, n=steps: simulate(loss, opt, theta0, s.lr, n, d)
        t = {k: v["median"] / steps for k, v in interleaved(fns, args.repeats).items()}
        print(
            f"{steps:>6}{t['torch.optim'] * 1e3:13.3f}{t['memory'] * 1e3:9.3f}"
            f"{t['corrected'] * 1e3:11.3f}{t['all'] * 1e3:9.3f}"
        )
        ratios.append((steps, t))
    for steps, t in ratios:
        base = t["torch.optim"]
        print(
            f"{steps:>6} steps: memory / torch.optim {t['memory'] / base:5.2f}x (target <= 1.3), "
            f"corrected / memory {t['corrected'] / t['memory']:5.2f}x (target <= 2.5), "
            f"all three / torch.optim {t['all'] / base:5.2f}x"
        )

    # the choice of core.models.mlp's batched matmuls over torch.func.vmap, measured
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

    def grad_hvp(fn, reps=20):
        def go():
            for _ in range(reps):
                _, hvp = grad_and_hvp(fn, rows)
                hvp(torch.ones_like(rows))

        return go

    t = interleaved({"matmul": grad_hvp(loss), "vmap": grad_hvp(vmap(one))}, args.repeats)
    print(
        f"grad + hvp on {len(rows)} rows: vmap / batched matmul "
        f"{t['vmap']['median'] / t['matmul']['median']:.2f}x"
    )


if __name__ == "__main__":
    main()
