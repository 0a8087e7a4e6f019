"""Small datasets generated in code, deterministic from a seed (no downloads).

Four 2D binary classification sets (labels 0/1, logistic loss) and one 1D regression
set (squared loss).  Every generator draws from one numpy Generator, so the same
(name, n, noise, seed) always gives the same points; the train/test split is a seeded
shuffle, so both parts see every class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CLASSIFICATION = ("moons", "circles", "spirals", "xor")
REGRESSION = ("sine",)
DATASETS = CLASSIFICATION + REGRESSION


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs (N, in_dim) and targets (N,) as float64 arrays, split into train and test."""

    name: str
    task: str  # "classification" (labels 0/1, logistic loss) or "regression" (squared loss)
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def in_dim(self) -> int:
        return self.x_train.shape[1]


def _moons(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as sklearn's make_moons)."""
    n_outer = n // 2
    n_inner = n - n_outer
    t_out = np.linspace(0.0, np.pi, n_outer)
    t_in = np.linspace(0.0, np.pi, n_inner)
    x = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], 1),
            np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], 1),
        ]
    )
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return x + noise * rng.standard_normal(x.shape), y


def _circles(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius 1 (label 0) around one of radius 0.5 (label 1)."""
    n_outer = n // 2
    n_inner = n - n_outer
    t_out = np.linspace(0.0, 2 * np.pi, n_outer, endpoint=False)
    t_in = np.linspace(0.0, 2 * np.pi, n_inner, endpoint=False)
    x = np.concatenate(
        [
            np.stack([np.cos(t_out), np.sin(t_out)], 1),
            0.5 * np.stack([np.cos(t_in), np.sin(t_in)], 1),
        ]
    )
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return x + noise * rng.standard_normal(x.shape), y


def _spirals(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of one and a half turns, radius up to 1."""
    n0 = n // 2
    n1 = n - n0

    def arm(m: int, phase: float) -> np.ndarray:
        r = np.linspace(0.05, 1.0, m)
        t = 3 * np.pi * r + phase
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)

    x = np.concatenate([arm(n0, 0.0), arm(n1, np.pi)])
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    return x + noise * rng.standard_normal(x.shape), y


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in [-1, 1]^2, label 1 where x*y > 0; the noise moves the inputs
    after labelling, so it blurs the quadrant borders."""
    x = rng.uniform(-1.0, 1.0, (n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.float64)
    return x + noise * rng.standard_normal(x.shape), y


def _sine(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """y = sin(x) + noise * N(0, 1) on x uniform in [-3, 3]."""
    x = rng.uniform(-3.0, 3.0, (n, 1))
    return x, np.sin(x[:, 0]) + noise * rng.standard_normal(n)


_GENERATORS: dict[str, Callable] = {
    "moons": _moons,
    "circles": _circles,
    "spirals": _spirals,
    "xor": _xor,
    "sine": _sine,
}


def make_dataset(name: str, n: int, noise: float, split: float, seed: int) -> Dataset:
    """n points of dataset `name`; a seeded shuffle puts round(split * n) of them in the
    test part (split = 0: no test set)."""
    if name not in _GENERATORS:
        raise ValueError(f"unknown dataset {name!r} (one of {', '.join(DATASETS)})")
    rng = np.random.default_rng(seed)
    x, y = _GENERATORS[name](rng, n, noise)
    order = rng.permutation(n)
    n_test = round(split * n)
    test, train = order[:n_test], order[n_test:]
    task = "classification" if name in CLASSIFICATION else "regression"
    return Dataset(name, task, x[train], y[train], x[test], y[test])
