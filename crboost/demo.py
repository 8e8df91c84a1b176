"""`crboost demo`: a small synthetic dataset and a project that processes it with the simulator.

Per tilt series: MRC movies (a few frames of 128x128 counts) that are projections of a known
3D phantom (crboost/phantom.py: beads and particles, a true tilt axis, per-tilt shifts, defocus
and astigmatism, a defocus hand), and a SerialEM-style mdoc (header, title lines with the
nominal tilt axis, a dose-symmetric scheme whose ZValue order is the tilt order while DateTime
gives the acquisition order, Windows SubFramePath, 2-digit-year dates), as SerialEM 4 writes
them. The truth goes to raw/phantom.json (see crboost/phantom.py and docs/conventions.md).

Variants for tests of data the field brings: mdocs without DateTime (`datetime=False`) and
stack-only sessions (`stack_only=True`: no movies saved, empty SubFramePath, the tilt stack
next to the mdoc, as Tomo5/SerialEM write it when frames are not kept).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from . import phantom

PIXEL_SIZE = 2.7
TILT_AXIS = 85.3
DOSE_PER_TILT = 3.0
FRAMES = 4
SIZE = 128
VOLTAGE = 300
#: Tomogram thickness of the demo project (unbinned pixels): room for the phantom's slab.
TOMO_Z = 64


def demo_settings(pixel_size: float = PIXEL_SIZE) -> dict:
    """The demo project's settings: the simulator; the movies are 128x128 pixels, so small
    tomograms, alignment and reconstruction at bin 2."""
    return {
        "tools.simulate": True,
        "resources.default": {"cpus": 1, "mem_mb": 1000, "runtime": 10},
        "pipeline.tiltseries.params.tomo_z": TOMO_Z,
        "pipeline.align.params.angpix": round(2 * pixel_size, 4),
        "pipeline.reconstruct.params.angpix": round(2 * pixel_size, 4),
    }


DEMO_SETTINGS = demo_settings()
#: `crboost demo --to particles`: tool settings sized for the demo's tomograms; tiny cryoCARE
#: training, a coarse angular search. Candidates: the best peaks of each tomogram (manual cut-off
#: 0, at most 8), not pytom's false-positive estimate, which on tomograms this small keeps nothing
#: and leaves nothing to average.
DEMO_PARTICLE_SETTINGS = {
    "pipeline.denoisetrain.params": {"subvolume_dimensions": 12, "number_training_subvolumes": 20,
                                     "epochs": 1, "steps_per_epoch": 2, "batch_size": 2},
    "pipeline.denoise.params.n_tiles": [1, 1, 1],
    "pipeline.match.params.angular_search": 30,
    "pipeline.candidates.params": {"particle_diameter": 65, "max_num_particles": 8,
                                   "cutoff_method": "manual", "cc_threshold": 0.0},
    "pipeline.subtomo.params": {"box_size": 12, "crop_size": 10, "binning": 2},
    "pipeline.average.params": {"box_size": 12, "crop_size": 10, "binning": 2},
}  # fmt: skip


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
    pixel_size: float = PIXEL_SIZE,
    datetime_stamps: bool = True,
    stack_only: bool = False,
    hand: int = -1,
    truths: list[phantom.TiltSeriesTruth] | None = None,
) -> Path:
    """Movies under raw/frames/ (or the stack raw/mdoc/<name>.mrc), the mdoc
    raw/mdoc/<name>.mrc.mdoc and the tilt series' truth in raw/phantom.json (or appended to
    `truths`, for the caller to write at once); returns the mdoc."""
    import mrcfile

    angles = angles if angles is not None else dose_symmetric_angles()
    rng = np.random.default_rng(seed)
    frames_dir = raw / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    (raw / "mdoc").mkdir(parents=True, exist_ok=True)
    tilts = [(order, angle, round(angle + float(rng.normal(0, 0.003)), 5))
             for order, angle in enumerate(angles)]  # fmt: skip
    movies = [(f"{name}_{order:03d}_{angle:.1f}.mrc", order, measured)
              for order, angle, measured in tilts]  # fmt: skip
    truth = phantom.make_truth(name, seed, pixel_size, (SIZE, SIZE), TILT_AXIS, movies, hand)
    images = {}
    for movie, _order, _ in movies:
        expected = phantom.render_tilt(truth, truth.tilt_of(movie)) * phantom.COUNTS_PER_FRAME
        counts = rng.poisson(expected, size=(FRAMES, SIZE, SIZE)).clip(0, 127).astype(np.int8)
        images[movie] = counts
        if not stack_only:
            with mrcfile.new(frames_dir / movie, overwrite=True) as mrc:
                mrc.set_data(counts)
                mrc.voxel_size = pixel_size
    # SerialEM stores sections by tilt angle here; DateTime holds the acquisition order.
    sections = sorted(zip(movies, tilts, strict=True), key=lambda s: s[1][1])
    if stack_only:
        stack = np.stack([images[m[0]].astype(np.int16).sum(axis=0) for m, _ in sections])
        with mrcfile.new(raw / "mdoc" / f"{name}.mrc", overwrite=True) as mrc:
            mrc.set_data(stack.astype(np.int16))
            mrc.voxel_size = pixel_size
    lines = [
        f"PixelSpacing = {pixel_size}",
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
    for z, ((movie, order, measured), _) in enumerate(sections):
        lines += [
            f"[ZValue = {z}]",
            f"TiltAngle = {measured:.5f}",
            f"StagePosition = {100 + seed:.3f} {200 - seed:.3f}",
            "StageZ = -21.6029",
            "Magnification = 42000",
            "Intensity = 0.241737",
            f"ExposureDose = {DOSE_PER_TILT}",
            f"DoseRate = {DOSE_PER_TILT * pixel_size**2 / 1.2:.5f}",
            f"PixelSpacing = {pixel_size}",
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
            "SubFramePath = " + ("" if stack_only else f"X:\\serialEM\\demo\\{movie}"),
            f"NumSubFrames = {FRAMES}",
            f"FrameDosesAndNumber = {DOSE_PER_TILT / FRAMES} {FRAMES}",
        ]
        if datetime_stamps:
            lines.append(f"DateTime = {_date(start + timedelta(seconds=40 * order))}")
        lines.append("")
    mdoc = raw / "mdoc" / f"{name}.mrc.mdoc"
    mdoc.write_text("\n".join(lines))
    if truths is None:
        add_truths(raw, [truth])
    else:
        truths.append(truth)
    return mdoc


def add_truths(raw: Path, truths: list[phantom.TiltSeriesTruth]) -> None:
    """Add (or replace) tilt series in raw/phantom.json, with their phantom volumes at the
    demo's tomogram pixel size (2 x the movies')."""
    path = raw / phantom.TRUTH_FILE
    old = phantom.read_truth(path) if path.exists() else {}
    voxel = 2 * truths[0].pixel_size
    shape = (TOMO_Z // 2, SIZE // 2, SIZE // 2)
    if path.exists():
        meta = json.loads(path.read_text())["volumes"]
        voxel, shape = meta["voxel_size"], tuple(meta["shape_zyx"])
    phantom.write_truth(raw, old, truths, voxel, shape)


def _date(when: datetime) -> str:
    return when.strftime("%d-%b-%y %H:%M:%S")


def tilt_series_names(count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"TS_{i:0{width}d}" for i in range(1, count + 1)]


def write_demo_data(
    project: Path,
    count: int,
    names: list[str] | None = None,
    max_angle: float = 30.0,
    pixel_size: float = PIXEL_SIZE,
    datetime_stamps: bool = True,
) -> Path:
    """Synthetic raw data under PROJECT/raw/; returns that directory. max_angle sets the tilt
    range (+-, 3 degree steps: 30 gives 21 tilts, 6 gives 5)."""
    raw = project / "raw"
    start = datetime(2025, 1, 24, 20, 0, 0)
    angles = dose_symmetric_angles(max_angle=max_angle)
    truths: list[phantom.TiltSeriesTruth] = []
    for i, name in enumerate(names or tilt_series_names(count)):
        write_tilt_series(raw, name, seed=i + 1, start=start + timedelta(minutes=30 * i),
                          angles=angles, pixel_size=pixel_size,
                          datetime_stamps=datetime_stamps, truths=truths)  # fmt: skip
    add_truths(raw, truths)
    return raw


def write_template(
    folder: Path, voxel: float, box: int = 12, white: bool = True
) -> tuple[Path, Path]:
    """templates/particle.mrc (white density, as WarpTools' reconstructions show it) and a
    spherical mask; returns their paths."""
    import mrcfile

    folder.mkdir(parents=True, exist_ok=True)
    data = phantom.particle_map(box, voxel) * (1 if white else -1)
    grid = np.indices((box, box, box)) - box // 2
    mask = ((grid**2).sum(axis=0) <= (box // 2 - 1) ** 2).astype(np.float32)
    paths = (folder / "particle.mrc", folder / "particle_mask.mrc")
    for path, volume in zip(paths, (data, mask), strict=True):
        with mrcfile.new(path, overwrite=True) as mrc:
            mrc.set_data(volume)
            mrc.voxel_size = voxel
    return paths
