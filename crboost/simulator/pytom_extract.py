"""Simulated pytom_extract_candidates.py (pytom-match-pick 0.14, extract.py extract_particles):
the Rickgauer cut-off from the job statistics (refusing NaN ones), edges of one particle radius
zeroed, peaks taken in score order with a spherical exclusion of radius diameter/2, angles from
pytom's anti-clockwise ZXZ to RELION's ZYZ, written to `<output_dir>/<stem>_particles.star`
(block `particles`; with --relion5-compat: centred coordinates in A, rlnTomoName without `rec_`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np

from .formats import Failure, faults
from .pytom import _existing_file, _positive, read_volume
from .pytom_angles import get_angle_list


def extract_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pytom_extract_candidates.py (SIMULATED)")
    p.add_argument("-j", "--job-file", type=_existing_file, required=True)
    p.add_argument("--tomogram-mask", type=_existing_file)
    p.add_argument("--ignore_tomogram_mask", action="store_true")
    p.add_argument("-n", "--number-of-particles", type=_positive(int), required=True)
    p.add_argument("--number-of-false-positives", type=_positive(float), default=1.0)
    p.add_argument("--particle-diameter", type=_positive(float))
    p.add_argument("-c", "--cut-off", type=float)
    p.add_argument("--tophat-filter", action="store_true")
    p.add_argument("--tophat-connectivity", type=_positive(int), default=1)
    p.add_argument("--relion5-compat", action="store_true")
    p.add_argument("--log", type=str, default="INFO")
    p.add_argument("--tophat-bins", type=_positive(int), default=50)
    p.add_argument("--plot-bins", type=_positive(int), default=20)
    return p


def extract_candidates(argv: list[str]) -> int:
    import pandas as pd
    import starfile
    from scipy.special import erfcinv

    args = extract_parser().parse_args(argv)
    job = json.loads(args.job_file.read_text())
    faults(os.environ.get("CRBOOST_SIM_ITEM", job["tomo_id"]))
    if args.tophat_filter:
        raise Failure("--tophat-filter is not simulated")
    out = Path(job["output_dir"])
    stem = job["tomo_id"]
    scores, _ = read_volume(out / f"{stem}_scores.mrc")
    angles, _ = read_volume(out / f"{stem}_angles.mrc")
    angle_list = get_angle_list(job["rotation_file"], job["rotational_symmetry"])
    for key in ("variance", "std"):
        value = job["job_stats"][key]
        if value is None or math.isinf(value) or math.isnan(value):
            raise Failure(f"ValueError: job stat '{key}' is NaN or inf, please check your "
                          "volumes and update the job_stats json accordingly")  # fmt: skip
    sigma, search_space = job["job_stats"]["std"], job["job_stats"]["search_space"]
    voxel = job["voxel_size"]
    diameter = args.particle_diameter or job.get("particle_diameter")
    if diameter is None:
        raise Failure("ValueError: You need to specify a particle diameter to mask out areas "
                      "around each peak during extraction!")  # fmt: skip
    radius = int((diameter / 2) / voxel)
    scores = scores.astype(np.float32)
    if radius > 0:
        for axis in range(3):
            index = [slice(None)] * 3
            index[axis] = slice(0, radius)
            scores[tuple(index)] = 0
            index[axis] = slice(-radius, None)
            scores[tuple(index)] = 0
    cut_off = args.cut_off
    if cut_off is None:
        cut_off = float(
            erfcinv((2 * args.number_of_false_positives) / search_space) * np.sqrt(2) * sigma
        )
    elif cut_off < 0:
        cut_off = 0.0
    box = radius * 2 + 1
    grid = np.indices((box, box, box)) - box // 2
    exclusion = ((grid**2).sum(axis=0) > radius**2).astype(np.float32)
    rows = []
    for _ in range(args.number_of_particles):
        ind = np.unravel_index(np.nanargmax(scores), scores.shape)
        lcc = float(scores[ind])
        if lcc <= cut_off or math.isnan(lcc):
            break
        rot = _relion_angles(angle_list[int(angles[ind])])
        rows.append((*[int(i) for i in ind], *rot, lcc, cut_off, sigma, voxel, stem))
        start = [i - radius for i in ind]
        region = tuple(slice(max(s, 0), s + box) for s in start)
        cut = tuple(slice(max(0, -s), max(0, -s) + (r.stop - r.start))
                    for s, r in zip(start, region, strict=True))  # fmt: skip
        sub = scores[region]
        sub *= exclusion[cut][: sub.shape[0], : sub.shape[1], : sub.shape[2]]
    df = pd.DataFrame(rows, columns=[
        "rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ", "rlnAngleRot", "rlnAngleTilt",
        "rlnAnglePsi", "rlnLCCmax", "rlnCutOff", "rlnSearchStd", "rlnDetectorPixelSize",
        "rlnMicrographName"])  # fmt: skip
    if args.relion5_compat:
        if stem.startswith("rec_"):
            df["rlnMicrographName"] = stem[4:]
        centre = np.array(job["tomo_shape"]) / 2
        for i, axis in enumerate("XYZ"):
            df[f"rlnCoordinate{axis}"] = (df[f"rlnCoordinate{axis}"] - centre[i]) * voxel
        df = df.rename(columns={
            "rlnCoordinateX": "rlnCenteredCoordinateXAngst",
            "rlnCoordinateY": "rlnCenteredCoordinateYAngst",
            "rlnCoordinateZ": "rlnCenteredCoordinateZAngst",
            "rlnMicrographName": "rlnTomoName",
            "rlnDetectorPixelSize": "rlnTomoTiltSeriesPixelSize"})  # fmt: skip
    print(f"{len(df)} particles extracted, cut-off {cut_off:.4f}")
    starfile.write({"particles": df}, out / f"{stem}_particles.star", overwrite=True)
    return 0


def _relion_angles(zxz: tuple[float, float, float]) -> tuple[float, float, float]:
    """pytom's anti-clockwise ZXZ (radians) as RELION's clockwise ZYZ (degrees)."""
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_euler("ZXZ", [-a for a in zxz])
    return tuple(float(v) for v in rotation.as_euler("ZYZ", degrees=True))
