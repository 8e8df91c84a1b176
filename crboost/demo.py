"""`crboost demo`: a small synthetic dataset and a project that processes it with the simulator.

Per tilt series: MRC movies of a few 64x64 frames and a SerialEM-style mdoc (header, title lines
with the tilt axis, a dose-symmetric scheme whose ZValue order is the tilt order while DateTime
gives the acquisition order, Windows SubFramePath, 2-digit-year dates), as SerialEM 4 writes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

PIXEL_SIZE = 2.7
TILT_AXIS = 85.3
DOSE_PER_TILT = 3.0
FRAMES = 4
SIZE = 64
VOLTAGE = 300


def dose_symmetric_angles(
    max_angle: float = 30.0, step: float = 3.0, group: int = 2
) -> list[float]:
    """Hagen scheme: 0, then groups alternating between positive and negative tilts."""
    positives = [step * i for i in range(1, int(max_angle / step) + 1)]
    negatives = [-a for a in positives]
    order = [0.0]
    while positives or negatives:
        order += positives[:group] + negatives[:group]
        del positives[:group]
        del negatives[:group]
    return order


def write_tilt_series(
    raw: Path,
    name: str,
    seed: int,
    start: datetime,
    angles: list[float] | None = None,
) -> Path:
    """Movies under raw/frames/ and the mdoc raw/mdoc/<name>.mrc.mdoc; returns the mdoc path."""
    import mrcfile

    angles = angles if angles is not None else dose_symmetric_angles()
    rng = np.random.default_rng(seed)
    frames_dir = raw / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    (raw / "mdoc").mkdir(parents=True, exist_ok=True)
    sections = []
    for order, angle in enumerate(angles):
        movie = f"{name}_{order:03d}_{angle:.1f}.mrc"
        counts = rng.poisson(1.5, size=(FRAMES, SIZE, SIZE)).astype(np.int8)
        with mrcfile.new(frames_dir / movie, overwrite=True) as mrc:
            mrc.set_data(counts)
            mrc.voxel_size = PIXEL_SIZE
        acquired = start + timedelta(seconds=40 * order)
        sections.append((angle, order, movie, acquired))
    # SerialEM stores sections by tilt angle here; DateTime holds the acquisition order.
    sections.sort(key=lambda s: s[0])
    lines = [
        f"PixelSpacing = {PIXEL_SIZE}",
        f"Voltage = {VOLTAGE}",
        "Version = SerialEM Version 4.1.10 64-bit, built Apr 24 2024 05:35:09",
        f"ImageFile = {name}.mrc",
        f"ImageSize = {SIZE} {SIZE}",
        "DataMode = 1",
        "",
        f"[T = SerialEM: crboost demo microscope   {_date(start)}]",
        "",
        f"[T = Tilt axis angle = {TILT_AXIS}, binning = 1 spot = 7 camera = 0 dosym = 0.0]",
        "",
    ]
    for z, (angle, order, movie, acquired) in enumerate(sections):
        lines += [
            f"[ZValue = {z}]",
            f"TiltAngle = {angle + rng.normal(0, 0.003):.5f}",
            f"StagePosition = {100 + seed:.3f} {200 - seed:.3f}",
            "StageZ = -21.6029",
            "Magnification = 42000",
            "Intensity = 0.241737",
            f"ExposureDose = {DOSE_PER_TILT}",
            f"DoseRate = {DOSE_PER_TILT * PIXEL_SIZE**2 / 1.2:.5f}",
            f"PixelSpacing = {PIXEL_SIZE}",
            "SpotSize = 7",
            f"Defocus = {-4 + rng.normal(0, 0.2):.4f}",
            "ImageShift = 0.2 0.5",
            f"RotationAngle = {TILT_AXIS + 90:.1f}",
            "ExposureTime = 1.2",
            "Binning = 1",
            "CameraIndex = 0",
            "DividedBy2 = 1",
            "MagIndex = 25",
            "CountsPerElectron = 16",
            "TargetDefocus = -4",
            f"PriorRecordDose = {DOSE_PER_TILT * order}",
            f"SubFramePath = X:\\serialEM\\demo\\{movie}",
            f"NumSubFrames = {FRAMES}",
            f"FrameDosesAndNumber = {DOSE_PER_TILT / FRAMES} {FRAMES}",
            f"DateTime = {_date(acquired)}",
            "",
        ]
    mdoc = raw / "mdoc" / f"{name}.mrc.mdoc"
    mdoc.write_text("\n".join(lines))
    return mdoc


def _date(when: datetime) -> str:
    return when.strftime("%d-%b-%y %H:%M:%S")


def tilt_series_names(count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"TS_{i:0{width}d}" for i in range(1, count + 1)]


def write_demo_data(
    project: Path, count: int, names: list[str] | None = None, max_angle: float = 30.0
) -> Path:
    """Synthetic raw data under PROJECT/raw/; returns that directory. max_angle sets the tilt
    range (+-, 3 degree steps: 30 gives 21 tilts, 6 gives 5)."""
    raw = project / "raw"
    start = datetime(2025, 1, 24, 20, 0, 0)
    angles = dose_symmetric_angles(max_angle=max_angle)
    for i, name in enumerate(names or tilt_series_names(count)):
        write_tilt_series(raw, name, seed=i + 1, start=start + timedelta(minutes=30 * i),
                          angles=angles)  # fmt: skip
    return raw


def particle_map(box: int, voxel: float) -> np.ndarray:
    """An asymmetric particle (three blobs of different size in an L), white on 0, (z, y, x)."""
    grid = (np.indices((box, box, box)) - box // 2) * voxel  # z, y, x in A
    blobs = [((0, 0, 0), 14.0, 1.0), ((0, 0, 16), 9.0, 0.8), ((0, 14, 0), 7.0, 0.6)]
    out = np.zeros((box, box, box), dtype=np.float32)
    for (z, y, x), sigma, weight in blobs:
        r2 = (grid[0] - z) ** 2 + (grid[1] - y) ** 2 + (grid[2] - x) ** 2
        out += weight * np.exp(-r2 / (2 * sigma**2)).astype(np.float32)
    return out


def write_template(
    folder: Path, voxel: float, box: int = 12, white: bool = True
) -> tuple[Path, Path]:
    """templates/particle.mrc (white density, as WarpTools' reconstructions show it) and a
    spherical mask; returns their paths."""
    import mrcfile

    folder.mkdir(parents=True, exist_ok=True)
    data = particle_map(box, voxel) * (1 if white else -1)
    grid = np.indices((box, box, box)) - box // 2
    mask = ((grid**2).sum(axis=0) <= (box // 2 - 1) ** 2).astype(np.float32)
    paths = (folder / "particle.mrc", folder / "particle_mask.mrc")
    for path, volume in zip(paths, (data, mask), strict=True):
        with mrcfile.new(path, overwrite=True) as mrc:
            mrc.set_data(volume)
            mrc.voxel_size = voxel
    return paths
