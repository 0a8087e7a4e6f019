"""Figure helpers that compute something: interpolation onto the surface grid, the
arrows of the correction field."""

import numpy as np

from core.analyses.surfaces import compute_surfaces
from core.engine.registry import make_optimizer
from core.models.losses import ZOO, batched
from ui.grid import on_grid
from ui.plots import field_figure, quiver


def test_runs_are_placed_on_the_surface_by_bilinear_interpolation():
    x, y = np.linspace(-1, 2, 31), np.linspace(0, 3, 41)
    xx, yy = np.meshgrid(x, y)
    z = 2 * xx - 3 * yy + 0.5 * xx * yy + 1  # bilinear: interpolation is exact
    points = np.array([[0.33, 1.7], [1.99, 0.01], [-1.0, 3.0], [-2.0, 0.5]])
    expected = 2 * points[:, 0] - 3 * points[:, 1] + 0.5 * points[:, 0] * points[:, 1] + 1
    got = on_grid(x, y, z, points)
    np.testing.assert_allclose(got[:3], expected[:3], rtol=1e-12)
    assert np.isnan(got[3])  # outside the window: not drawn


def test_field_arrows_point_along_minus_the_correction():
    opt = make_optimizer("hb", b1=0.7)
    surf = compute_surfaces(
        batched(ZOO["reference"].expression), opt, {"b1": 0.7}, 0.02, ZOO["reference"].window, 20
    )
    (arrows,) = field_figure(surf, arrows=5).data
    n = 25  # 5 x 5 arrows: their shafts (x0, x1, NaN), then their heads (l, tip, r, NaN)
    x, y = (np.array(v, dtype=float) for v in (arrows.x, arrows.y))
    (x, hx), (y, hy) = [(v[: 3 * n].reshape(n, 3), v[3 * n :].reshape(n, 4)) for v in (x, y)]
    shaft = np.stack([x[:, 1] - x[:, 0], y[:, 1] - y[:, 0]], -1)
    iy = np.linspace(0, 19, 5).round().astype(int)
    ix = np.linspace(0, 19, 5).round().astype(int)
    M = surf.correction[np.ix_(iy, ix)].reshape(-1, 2)
    moving = np.linalg.norm(shaft, axis=-1) > 0
    assert moving.sum() > 20
    cos = -(shaft * M).sum(-1)[moving] / (
        np.linalg.norm(shaft, axis=-1)[moving] * np.linalg.norm(M, axis=-1)[moving]
    )
    np.testing.assert_allclose(cos, 1.0, atol=1e-9)
    assert np.allclose(hx[:, 1], x[:, 1]) and np.allclose(hy[:, 1], y[:, 1])  # heads at the tips


def test_quiver_draws_plotlys_create_quiver_lines():
    """The field's arrows are plotly's create_quiver geometry (the oracle), in one pass."""
    from plotly.figure_factory import create_quiver

    rng = np.random.default_rng(3)
    x, y, u, v = (rng.standard_normal(40) for _ in range(4))
    u[:3] = v[:3] = 0.0  # zero arrows: a point, as plotly draws them
    (want,) = create_quiver(x, y, u, v, scale=1.0, arrow_scale=0.35, angle=np.pi / 7).data
    got_x, got_y = quiver(x, y, u, v)
    for got, ref in ((got_x, want.x), (got_y, want.y)):
        assert len(got) == len(ref)
        assert list(np.isnan(got)) == [r is None for r in ref]  # the gaps between pieces
        assert np.allclose(
            got[~np.isnan(got)], [r for r in ref if r is not None], rtol=0, atol=1e-14
        )
