"""Maps as pictures: a filled-contour map rendered on the server into one PNG that a
figure shows as a layout image under its traces.

Why: plotly's client-side animation (the step scrubber, play) re-plots a subplot from
the animated traces only and erases every non-scatter trace there (contours, heatmaps);
a layout image is not a trace, so the map survives, and the browser draws one image
instead of a few thousand contour path points.  Pure numpy + zlib."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

PIXELS = 300  # the picture's longer side: sharp at chart size, ~20 kB


def upsample(x: np.ndarray, y: np.ndarray, z: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """z (indexed [iy, ix] on the grid x, y) bilinearly on an ny x nx grid spanning the
    same window; nan where a neighbour is nan."""
    fx = np.interp(np.linspace(x[0], x[-1], nx), x, np.arange(len(x)))
    fy = np.interp(np.linspace(y[0], y[-1], ny), y, np.arange(len(y)))
    ix = np.clip(np.floor(fx).astype(int), 0, len(x) - 2)
    iy = np.clip(np.floor(fy).astype(int), 0, len(y) - 2)
    tx, ty = (fx - ix)[None, :], (fy - iy)[:, None]
    a, b = z[np.ix_(iy, ix)], z[np.ix_(iy, ix + 1)]
    c, d = z[np.ix_(iy + 1, ix)], z[np.ix_(iy + 1, ix + 1)]
    return (1 - ty) * ((1 - tx) * a + tx * b) + ty * ((1 - tx) * c + tx * d)


def hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def band_colors(colorscale: list, bands: int) -> np.ndarray:
    """(bands, 3) RGB: the colour scale at each band's middle."""
    stops = np.array([s for s, _ in colorscale])
    rgb = np.array([hex_rgb(c) for _, c in colorscale])
    mid = (np.arange(bands) + 0.5) / bands
    return np.stack([np.interp(mid, stops, rgb[:, i]) for i in range(3)], axis=-1)


def edges(band: np.ndarray) -> np.ndarray:
    """Pixels where the band changes to the right or below: the contour lines."""
    out = np.zeros(band.shape, dtype=bool)
    out[:, :-1] |= band[:, :-1] != band[:, 1:]
    out[:-1, :] |= band[:-1, :] != band[1:, :]
    return out


def contour_picture(
    x: np.ndarray,
    y: np.ndarray,
    levels: np.ndarray,
    colorscale: list,
    bands: int,
    line: tuple[str, float] = ("#3c465a", 0.35),
    overlay: np.ndarray | None = None,
    overlay_line: tuple[str, float] = ("#282828", 0.45),
    overlay_bands: int = 12,
) -> np.ndarray:
    """(rows, cols, 4) uint8, top row = largest y: `levels` (in [0, 1] on the grid x, y)
    filled in `bands` bands of `colorscale` with thin lines between them, and the
    iso-lines of `overlay` (levels in [0, 1]) dotted on top; nan is transparent."""
    wide = (x[-1] - x[0]) >= (y[-1] - y[0])
    span = (x[-1] - x[0]) / (y[-1] - y[0])
    nx = PIXELS if wide else max(2, round(PIXELS * span))
    ny = max(2, round(PIXELS / span)) if wide else PIXELS
    fine = upsample(x, y, levels, nx, ny)[::-1]  # image rows run down
    ok = np.isfinite(fine)
    band = np.clip(np.floor(np.where(ok, fine, 0.0) * bands), 0, bands - 1).astype(int)
    rgb = band_colors(colorscale, bands)[band]
    color, alpha = line
    on = edges(band) & ok
    rgb[on] = (1 - alpha) * rgb[on] + alpha * hex_rgb(color)
    if overlay is not None:
        fine2 = upsample(x, y, overlay, nx, ny)[::-1]
        ok2 = np.isfinite(fine2)
        band2 = np.floor(np.where(ok2, fine2, 0.0) * overlay_bands).astype(int)
        rows, cols = np.indices(band2.shape)
        dotted = edges(band2) & ok2 & ok & ((rows + cols) % 4 < 2)
        color, alpha = overlay_line
        rgb[dotted] = (1 - alpha) * rgb[dotted] + alpha * hex_rgb(color)
    rgba = np.concatenate([rgb, np.where(ok, 255.0, 0.0)[..., None]], axis=-1)
    return np.round(rgba).astype(np.uint8)


def png(rgba: np.ndarray) -> bytes:
    """An RGBA uint8 array (rows, cols, 4) as PNG bytes."""
    rows, cols = rgba.shape[:2]

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    scanlines = np.concatenate([np.zeros((rows, 1), np.uint8), rgba.reshape(rows, -1)], axis=1)
    header = struct.pack(">IIBBBBB", cols, rows, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def data_uri(rgba: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png(rgba)).decode("ascii")
