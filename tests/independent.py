"""An independent implementation of THEORY §1 for the tests: each optimizer written as
its plain recursion over the whole history, the memory correction from the defining
formula M^(n) = sum_k d_k F^(n)(t..t) S_k(t) by brute-force autograd Jacobians.
Shares nothing with core/ but the loss functions."""

import torch


def sign_eps(c, eps):
    return torch.sign(c) if eps == 0 else c / torch.sqrt(c * c + eps)


def gradient_of(loss):
    def grad(theta):
        (g,) = torch.autograd.grad(loss(theta[None]).sum(), theta, create_graph=True)
        return g

    return grad


# F^(n)(theta_0, ..., theta_n) of each optimizer, from its recursion (THEORY §3)
def gd(grad, history):
    return grad(history[-1])


def hb(grad, history, b1):
    buf = torch.zeros_like(history[0])
    for theta in history:
        buf = b1 * buf + grad(theta)
    return buf


def nesterov(grad, history, b1):
    return grad(history[-1]) + b1 * hb(grad, history, b1)


def rmsprop(grad, history, b2, eps):
    v = torch.zeros_like(history[0])
    for theta in history:
        v = b2 * v + (1 - b2) * grad(theta) ** 2
    return grad(history[-1]) / (torch.sqrt(v) + eps)


def adamw(grad, history, b1, b2, eps, wd=0.0):
    m = v = torch.zeros_like(history[0])
    for theta in history:
        g = grad(theta)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    n = len(history)
    return (m / (1 - b1**n)) / (torch.sqrt(v / (1 - b2**n)) + eps) + wd * history[-1]


def adam(grad, history, b1, b2, eps):
    return adamw(grad, history, b1, b2, eps)


def lion(grad, history, b1, b2, eps, wd):
    m = torch.zeros_like(history[0])
    for theta in history[:-1]:
        m = b2 * m + (1 - b2) * grad(theta)
    return sign_eps(b1 * m + (1 - b1) * grad(history[-1]), eps) + wd * history[-1]


UPDATES = {f.__name__: f for f in (gd, hb, nesterov, rmsprop, adam, adamw, lion)}


def brute_force_fields(update, t, n):
    """Fbar^(n)(t) and M^(n)(t) straight from THEORY §1."""
    fbar = [
        update([t.detach().clone().requires_grad_(True) for _ in range(b + 1)]).detach()
        for b in range(n + 1)
    ]
    history = tuple(t.detach().clone() for _ in range(n + 1))  # history[j] = theta_j
    jac = torch.autograd.functional.jacobian(lambda *h: update(list(h)), history)
    m = torch.zeros_like(t)
    for k in range(1, n + 1):
        s_k = sum(fbar[b] for b in range(n - k, n))
        m = m + jac[n - k] @ s_k
    return fbar[n], m


def trajectories(loss, name, hyper, theta0, lr, steps):
    """The memory, memoryless and corrected runs, one step at a time."""
    grad = gradient_of(loss)

    def update(history):
        return UPDATES[name](grad, history, **hyper)

    memory = [theta0.clone()]
    memoryless, corrected = [theta0.clone()], [theta0.clone()]
    for n in range(steps):
        history = [p.clone().requires_grad_(True) for p in memory]
        memory.append(memory[-1] - lr * update(history).detach())
        fbar, _ = brute_force_fields(update, memoryless[-1], n)
        memoryless.append(memoryless[-1] - lr * fbar)
        fbar, m = brute_force_fields(update, corrected[-1], n)
        corrected.append(corrected[-1] - lr * (fbar + lr * m))
    return {
        "memory": torch.stack(memory),
        "memoryless": torch.stack(memoryless),
        "corrected": torch.stack(corrected),
    }
