"""Pictures from MRC images and volumes: read small (memory-mapped, strided), stretch the
contrast, lay tilts out in a montage, write PNG (Pillow).

Real averages are 4k x 4k floats (64 MB): only every s-th row and column is read, so a
thumbnail costs a few MB of I/O however large the image.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


def read_image(path: str | Path, size: int) -> np.ndarray:
    """A 2-D image (the first section of a stack) shrunk to about `size` px on its long side."""
    import mrcfile

    with mrcfile.mmap(path, mode="r", permissive=True) as mrc:
        data = mrc.data
        if data is None:
            raise ValueError(f"{path}: no data")
        if data.ndim == 3:
            data = data[0]
        step = max(1, math.ceil(max(data.shape) / (2 * size)))
        small = np.asarray(data[::step, ::step], dtype=np.float32)
    return shrink(small, size)


def shrink(image: np.ndarray, size: int) -> np.ndarray:
    """Box-average down to at most `size` px on the long side (no aliasing from striding)."""
    factor = max(1, math.ceil(max(image.shape) / size))
    if factor == 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    return image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def central_slices(path: str | Path, size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Central XY and XZ slices of a tomogram (each the mean of a thin central slab, for
    contrast), shrunk to about `size` px; and the voxel size."""
    import mrcfile

    with mrcfile.mmap(path, mode="r", permissive=True) as mrc:
        volume = mrc.data
        if volume is None or volume.ndim != 3:
            raise ValueError(f"{path}: not a volume")
        nz, ny, nx = volume.shape
        half_z = max(1, nz // 40)
        half_y = max(1, ny // 40)
        xy = np.asarray(volume[max(0, nz // 2 - half_z) : nz // 2 + half_z], dtype=np.float32)
        xz = np.asarray(volume[:, max(0, ny // 2 - half_y) : ny // 2 + half_y], dtype=np.float32)
        voxel = float(mrc.voxel_size.x)
    return shrink(xy.mean(axis=0), size), shrink(xz.mean(axis=1), size), voxel


def stretch(image: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """8-bit image with the percentiles low..high mapped to black..white (a flat image is
    mid-grey: it has nothing to show)."""
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return np.full(image.shape, 128, dtype=np.uint8)
    lo, hi = np.percentile(finite, [low, high])
    if not hi > lo:
        return np.full(image.shape, 128, dtype=np.uint8)
    scaled = (np.nan_to_num(image, nan=lo) - lo) / (hi - lo)
    return (np.clip(scaled, 0, 1) * 255).round().astype(np.uint8)


def montage(
    images: list[np.ndarray], labels: list[str], cell: int, columns: int | None = None
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Stretched images in a grid of square cells, each labelled; returns the picture and each
    image's cell (x, y, width, height) in pixels, for a page to point at one tilt."""
    from PIL import Image, ImageDraw

    n = len(images)
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    canvas = Image.new("L", (columns * cell, rows * cell), 0)
    draw = ImageDraw.Draw(canvas)
    cells = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        x, y = (i % columns) * cell, (i // columns) * cell
        tile = Image.fromarray(stretch(image))
        scale = (cell - 2) / max(tile.width, tile.height)  # small images are enlarged too
        tile = tile.resize((max(1, round(tile.width * scale)), max(1, round(tile.height * scale))),
                           Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.BOX)  # fmt: skip
        canvas.paste(tile, (x + (cell - tile.width) // 2, y + (cell - tile.height) // 2))
        draw.rectangle([x + 1, y + 1, x + 7 * len(label) + 4, y + 12], fill=0)
        draw.text((x + 3, y + 1), label, fill=255)
        cells.append((x, y, cell, cell))
    return np.asarray(canvas), cells


def enlarge(image: np.ndarray, least: int = 256, factor: int = 0) -> np.ndarray:
    """A small 8-bit picture repeated pixel by pixel until its long side reaches `least` (or
    by `factor`, if given)."""
    factor = factor or max(1, math.ceil(least / max(image.shape)))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Write atomically: a page being read never gets half a picture."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    Image.fromarray(image).save(tmp, format="PNG", optimize=True)
    os.replace(tmp, path)
