"""QC pictures of the particle jobs: a tomogram's score map, its candidates over a tomogram
slice, and the central slices of an average. Small PNGs, contrast-stretched, y up as in IMOD."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .png import stretch, upscale, write_png


def _read(path: Path) -> np.ndarray:
    import mrcfile

    with mrcfile.open(path, permissive=True) as mrc:
        return np.asarray(mrc.data, dtype=np.float32)  # z, y, x


def score_map(scores: Path, out: Path) -> None:
    """The XY slice through the best score, and the maximum over Z, side by side."""
    data = _read(scores)
    data = np.where(np.isfinite(data), data, np.nan)
    z = int(np.unravel_index(np.nanargmax(data), data.shape)[0])
    panels = [stretch(data[z], 0, 100), stretch(np.nanmax(data, axis=0), 0, 100)]
    gap = np.zeros((data.shape[1], 2), dtype=np.uint8)
    write_png(out, upscale(np.flipud(np.hstack([panels[0], gap, panels[1]]))))


def candidates(tomogram: Path, positions_vox: np.ndarray, out: Path, radius_vox: float) -> None:
    """The sum of the tomogram over Z with a red ring at each candidate's XY (voxels)."""
    volume = _read(tomogram)
    grey = stretch(volume.sum(axis=0))
    rgb = np.repeat(grey[..., None], 3, axis=2)
    rgb = upscale(rgb)
    factor = rgb.shape[0] // grey.shape[0]
    yy, xx = np.indices(rgb.shape[:2])
    r = max(2.0, radius_vox * factor)
    for x, y, _z in positions_vox:
        cx, cy = (x + 0.5) * factor, (y + 0.5) * factor
        ring = np.abs(np.hypot(xx - cx, yy - cy) - r) < 1.0
        rgb[ring] = (255, 40, 40)
    write_png(out, np.flipud(rgb))


def central_slices(volume_path: Path, out: Path) -> None:
    """XY, XZ and YZ central slices of a map, side by side."""
    data = _read(volume_path)
    cz, cy, cx = (s // 2 for s in data.shape)
    panels = [data[cz], data[:, cy, :], data[:, :, cx]]
    size = max(p.shape[0] for p in panels)
    padded = [np.pad(stretch(p), ((0, size - p.shape[0]), (0, 2))) for p in panels]
    write_png(out, upscale(np.flipud(np.hstack(padded))))
