"""THEORY §7 (c) for a readout that acts coordinate by coordinate: the directions D_i(n)
as one function of a single coordinate of g (docs/theory.md §7).

With an elementwise readout (RMSprop, Lion eps > 0), coordinate j of Fbar^(b)(t) is
value(g_j, W_1(b) phi_1(g_j), ...), so coordinate j of

    D_i(n) - m_i(n) decay t = sum_{b<n} T_i(n, n-b) Fbar^(b)(t)

is F_i(g_j): one scalar function per average, the same at every point and in every
coordinate.  A trajectory evaluates it exactly at its d coordinates (O(n d) a step).  A
grid of R points would cost R d n exactly; there F_i is interpolated instead.  On each
half-line x >= 0 and x <= 0 it is analytic (a readout may have a kink at g = 0 through
|g| = sqrt(g^2)), so a Chebyshev interpolant in t = asinh(x / s), which resolves every
scale from s to the largest |g|, converges geometrically.  Its degree doubles until the
coefficients' tail is at rounding level, and it is then checked against the exact sums at
sample points of the data; where either fails, the exact sums are used.
"""

from __future__ import annotations

import numpy as np

from core.engine import kernel
from core.engine.kernel import past_sum
from core.engine.optimizers import GeometricTables, Optimizer

_DEGREES = (32, 64, 128, 256, 512, 1024)  # each twice the last: nested nodes
_SCALE = 2.0**-40  # s = this * max|x|: asinh is linear below s, logarithmic above
_CHECK = 1e-10  # largest error against the exact sums at the checks, relative to max|F|
_INTERPOLATE_FROM = 4096  # coordinates: below this the exact sums cost less


def applies(opt: Optimizer, tables: list[GeometricTables]) -> bool:
    """Whether the declaration has one set of hyperparameters (one column): every readout
    acts coordinate by coordinate (core.engine.optimizers.Readout)."""
    return opt.scalar and all(t.W.shape[1] == 1 for t in tables)


class CoordinateDirections:
    """F_i(x) = sum_{b<n} T_i(n, n-b) value(x, W_1(b) phi_1(x), ...) for every n of a run,
    from the closed-form tables of THEORY §7 (one column: scalar hyperparameters)."""

    def __init__(self, opt: Optimizer, tables: list[GeometricTables]):
        self.opt = opt
        self.features = [av.feature for av in opt.averages]
        steps = min(t.W.shape[0] for t in tables) - 1
        self.steps = steps
        self.W = [np.ascontiguousarray(t.W[:steps, 0]) for t in tables]
        # T(n, n-b) = c r^(n-1-b) partial[b+1] / z[n]: r^(n-1-b) for b < n is the tail of
        # the reversed powers, so row n costs one product
        self._reversed = [t.power[:steps, 0][::-1].copy() for t in tables]
        self._partial = [t.tail[0] * t.partial[1 : steps + 1, 0] for t in tables]
        self._z = [t.z[:, 0] for t in tables]

    def tails(self, n: int) -> np.ndarray:
        """T_i(n, n-b) for b < n, as an (n, p) array."""
        columns = [
            r[self.steps - n :] * q[:n] / z[n]
            for r, q, z in zip(self._reversed, self._partial, self._z, strict=True)
        ]
        return columns[0][:, None] if len(columns) == 1 else np.stack(columns, axis=1)

    def exact(self, n: int, x: np.ndarray) -> np.ndarray:
        """F_i at the coordinates x (m,), as (m, p), by the sums over b < n."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
        tails = self.tails(n)
        chunk = max(1, kernel.CHUNK // max(n, 1))
        with np.errstate(all="ignore"):  # inf and nan as torch has them
            if x.shape[0] <= chunk:  # one block (a trajectory's coordinates: every step)
                return self._sums(n, x, tails)
            return np.concatenate(
                [self._sums(n, x[i : i + chunk], tails) for i in range(0, x.shape[0], chunk)]
            )

    def _sums(self, n: int, x: np.ndarray, tails: np.ndarray) -> np.ndarray:
        """core.engine.kernel.past_sum with the coordinates on axis 0, the averages i on axis 1
        and the past steps b on axis 2 (contiguous: the sum runs along memory)."""
        g = x.reshape(-1, 1, 1)
        feats = [f(g) for f in self.features]
        W = [w[:n] for w in self.W]
        return past_sum(self.opt, g, feats, W, tails.T[None], axis=-1)

    def __call__(self, n: int, x: np.ndarray) -> np.ndarray:
        """F_i at the coordinates x (m,), as (m, p): interpolated where m is large and the
        interpolant passes its checks, else exact."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.size < _INTERPOLATE_FROM or n == 0:
            return self.exact(n, x)
        out = np.empty((x.size, len(self.W)))
        finite = np.isfinite(x)
        if not finite.all():
            out[~finite] = self.exact(n, x[~finite])
        for side in (x >= 0.0) & finite, (x < 0.0) & finite:
            if side.any():
                out[side] = self._half_line(n, x[side])
        return out

    def _half_line(self, n: int, x: np.ndarray) -> np.ndarray:
        """F at x (all >= 0 or all < 0) by a Chebyshev interpolant in asinh(x / s)."""
        sign = 1.0 if x[0] >= 0.0 else -1.0
        top = float(np.abs(x).max())
        if top == 0.0 or x.size < _DEGREES[-1]:  # the exact sums cost less
            return self.exact(n, x)
        s = _SCALE * top
        T = float(np.arcsinh(top / s))
        values = None
        for degree in _DEGREES:
            t = 0.5 * T * (1.0 - np.cos(np.pi * np.arange(degree + 1) / degree))
            if values is None:
                values = self.exact(n, sign * s * np.sinh(t))
            else:  # the degrees double: the even nodes are the last degree's, summed before
                previous, values = values, np.empty((degree + 1, values.shape[1]))
                values[0::2] = previous
                values[1::2] = self.exact(n, sign * s * np.sinh(t[1::2]))
            coefficients = _chebyshev(values)
            scale = np.abs(values).max()
            if not np.isfinite(scale):
                break
            if np.abs(coefficients[-3:]).max() <= 1e-15 * degree * max(scale, 1e-300):
                u = 2.0 * np.arcsinh(np.abs(x) / s) / T - 1.0
                approx = np.stack(
                    [np.polynomial.chebyshev.chebval(u, c) for c in coefficients.T], axis=1
                )
                picks = _samples(x)
                error = np.abs(approx[picks] - self.exact(n, x[picks])).max()
                if error <= _CHECK * max(scale, 1e-300):
                    return approx
                break
        return self.exact(n, x)


def _chebyshev(values: np.ndarray) -> np.ndarray:
    """Chebyshev coefficients (degree + 1, p) of the values at the Lobatto points
    u_k = -cos(pi k / degree), k = 0..degree, by a DCT-I through the FFT."""
    v = values[::-1]  # at cos(pi j / degree), j = 0..degree
    N = v.shape[0] - 1
    c = np.fft.rfft(np.concatenate([v, v[-2:0:-1]]), axis=0).real / N
    c[0] /= 2.0
    c[N] /= 2.0
    return c[: N + 1]


def _samples(x: np.ndarray, count: int = 16) -> np.ndarray:
    """Indices of the smallest and largest |x| and of evenly spaced ranks between."""
    order = np.argsort(np.abs(x), kind="stable")
    return order[np.unique(np.linspace(0, x.size - 1, count).round().astype(int))]
