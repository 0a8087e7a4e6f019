"""Figure helpers that compute something: interpolation onto the surface grid."""

import numpy as np

from ui.plots import on_grid


def test_runs_are_placed_on_the_surface_by_bilinear_interpolation():
    x, y = np.linspace(-1, 2, 31), np.linspace(0, 3, 41)
    xx, yy = np.meshgrid(x, y)
    z = 2 * xx - 3 * yy + 0.5 * xx * yy + 1  # bilinear: interpolation is exact
    points = np.array([[0.33, 1.7], [1.99, 0.01], [-1.0, 3.0], [-2.0, 0.5]])
    expected = 2 * points[:, 0] - 3 * points[:, 1] + 0.5 * points[:, 0] * points[:, 1] + 1
    got = on_grid(x, y, z, points)
    np.testing.assert_allclose(got[:3], expected[:3], rtol=1e-12)
    assert np.isnan(got[3])  # outside the window: not drawn
