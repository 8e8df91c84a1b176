"""PNG files from numpy arrays (8-bit grey or RGB), with the standard library's zlib."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def stretch(image: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Contrast-stretched to 0..255 between two percentiles (uint8)."""
    data = np.asarray(image, dtype=np.float64)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return np.zeros(data.shape, dtype=np.uint8)
    lo, hi = np.percentile(finite, [low, high])
    if hi <= lo:
        hi = lo + 1.0
    out = np.clip((np.nan_to_num(data, nan=lo, neginf=lo, posinf=hi) - lo) / (hi - lo), 0, 1)
    return (out * 255).round().astype(np.uint8)


def write_png(path: Path, image: np.ndarray) -> None:
    """image: (h, w) uint8 grey or (h, w, 3) uint8 RGB; row 0 at the top."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    colour = 2 if image.ndim == 3 else 0
    rows = image.reshape(height, -1)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                    + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))  # fmt: skip
    tmp.replace(path)


def upscale(image: np.ndarray, minimum: int = 128, maximum: int = 1024) -> np.ndarray:
    """Nearest-neighbour enlargement so small maps are visible: the shorter side at least
    `minimum` px, the longer at most `maximum`."""
    short, long = min(image.shape[:2]), max(image.shape[:2])
    factor = max(1, min(int(np.ceil(minimum / short)), maximum // long))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
