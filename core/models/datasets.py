"""Small datasets, deterministic from a seed (no downloads).

Four 2D binary classification sets (labels 0/1, logistic loss), one 1D regression set
(squared loss), and scikit-learn's bundled handwritten digits (8x8 images, 10 classes,
cross-entropy; shipped with the package).  Two moons and two circles are scikit-learn's
generators, seeded; the others draw from one numpy Generator.  The same (name, n,
noise, seed) always gives the same points; the train/test split is a seeded shuffle,
so both parts see every class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CLASSIFICATION = ("moons", "circles", "spirals", "xor")
REGRESSION = ("sine",)
MULTICLASS = ("digits",)
DATASETS = CLASSIFICATION + REGRESSION + MULTICLASS
DIGITS = 1797  # images in scikit-learn's digits set
DIGITS_PIXELS = 64
DIGITS_CLASSES = 10


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs (N, in_dim) and targets (N,) as float64 arrays, split into train and test."""

    name: str
    # "classification" (labels 0/1, logistic loss), "multiclass" (labels 0..classes-1,
    # cross-entropy) or "regression" (squared loss)
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int = 2  # labels of a classification task (1 for a regression)
    # digits: the rows of scikit-learn's images in each part (None for generated sets)
    source_train: np.ndarray | None = None
    source_test: np.ndarray | None = None

    @property
    def in_dim(self) -> int:
        return self.x_train.shape[1]

    @property
    def out_dim(self) -> int:
        """The network's outputs: one logit per class (multiclass), else one."""
        return self.classes if self.task == "multiclass" else 1


def dims(name: str) -> tuple[int, int]:
    """(inputs, outputs) of the network for data set `name` (inputs at most: constant
    digit pixels are dropped), without drawing it: what the cost model needs."""
    if name in MULTICLASS:
        return DIGITS_PIXELS, DIGITS_CLASSES
    return (1 if name in REGRESSION else 2), 1


def _moons(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: scikit-learn's make_moons, seeded from rng."""
    from sklearn.datasets import make_moons  # scikit-learn loads in seconds: when used

    return make_moons(n, shuffle=False, noise=noise, random_state=_seed(rng))


def _circles(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius 1 (label 0) around one of radius 0.5 (label 1): scikit-learn's
    make_circles, seeded from rng."""
    from sklearn.datasets import make_circles

    return make_circles(n, shuffle=False, noise=noise, random_state=_seed(rng), factor=0.5)


def _seed(rng: np.random.Generator) -> int:
    """A seed for scikit-learn's generators (numpy's legacy RandomState), drawn from rng."""
    return int(rng.integers(2**31))


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


def make_dataset(
    name: str, n: int, noise: float, split: float, seed: int, constant: bool = False
) -> Dataset:
    """n points of dataset `name`; a seeded shuffle puts round(split * n) of them in the
    test part (split = 0: no test set).  Digits ignore `noise`; `constant` keeps their
    pixels that are constant on the training part (see `digits`)."""
    if name in MULTICLASS:
        return digits(n, split, seed, constant)
    if name not in _GENERATORS:
        raise ValueError(f"unknown dataset {name!r} (one of {', '.join(DATASETS)})")
    rng = np.random.default_rng(seed)
    x, y = _GENERATORS[name](rng, n, noise)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    train, test = _split(rng, n, split)
    task = "classification" if name in CLASSIFICATION else "regression"
    classes = 1 if task == "regression" else 2
    return Dataset(name, task, x[train], y[train], x[test], y[test], classes)


def _split(rng: np.random.Generator, n: int, split: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): a seeded shuffle, round(split * n) of them for the test."""
    order = rng.permutation(n)
    n_test = round(split * n)
    return order[n_test:], order[:n_test]


def digits(n: int, split: float, seed: int, constant: bool = False) -> Dataset:
    """n of scikit-learn's 1,797 handwritten digits (8x8 pixels, 0-16; all of them for
    n >= 1797, else a seeded subset), split by a seeded shuffle.  The pixels are
    standardized with the training part's mean and standard deviation; pixels constant
    on the training part (the image corners: their gradient is exactly 0, THEORY §14) are
    dropped, or with `constant` kept, centred and left unscaled."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng([seed, DIGITS])
    pick = np.arange(DIGITS) if n >= DIGITS else np.sort(rng.choice(DIGITS, n, replace=False))
    x, y = x[pick], y[pick]
    train, test = _split(rng, len(y), split)
    mean, std = x[train].mean(0), x[train].std(0)
    varying = std > 0
    if not constant:
        x, mean, std = x[:, varying], mean[varying], std[varying]
    x = (x - mean) / np.where(std > 0, std, 1.0)
    y = y.astype(np.float64)
    parts = (x[train], y[train], x[test], y[test])
    return Dataset("digits", "multiclass", *parts, DIGITS_CLASSES, pick[train], pick[test])
