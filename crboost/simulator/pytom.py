"""Simulated pytom-match-pick 0.14 (SBC-Utrecht/pytom-match-pick @27f5d68): pytom_match_template.py
and pytom_extract_candidates.py.

Command lines: the real argparse definitions (entry_points.py), so unknown or malformed options
fail the same way (exit 2 with usage). Inputs checked as pytom checks them (tmjob.py: cubic
template, template and mask of one shape, voxel sizes equal to 3 decimals; dataclass.py: as many
doses and defoci as tilt angles; io.py: .tlt/.rawtlt, .txt suffixes; -g against the visible GPUs).

Matching is a real normalised cross-correlation (FFT, local normalisation under the mask) of the
rotated template with the tomogram, over a COARSE subset of pytom's own angle list (at most
MAX_ROTATIONS of them, evenly spread over the list); `<stem>_angles.mrc` holds indices into pytom's
full list, as pytom's does. No missing-wedge/CTF weighting of the template (pytom's per-tilt
weighting is not simulated), except pytom's known failure: duplicate tilt angles with
--per-tilt-weighting give a score map of -inf and NaN job statistics, with exit status 0
(pytom issue #348). Outputs: `<stem>_scores.mrc`, `<stem>_angles.mrc`, `<stem>_job.json` (the
TMJob fields, job_stats) in -d; extraction: pytom's extract_particles algorithm (Rickgauer
cut-off, edges of one particle radius zeroed, spherical exclusion of radius diameter/2), written
to `<output_dir>/<stem>_particles.star` (block `particles`, --relion5-compat columns).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np

from .formats import Failure, faults
from .pytom_angles import get_angle_list

VERSION = "0.14.0"
MAX_ROTATIONS = 300


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    return path


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not larger than zero")
        return value

    return parse


def match_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pytom_match_template.py (SIMULATED)")
    p.add_argument("-t", "--template", type=_existing_file, required=True)
    p.add_argument("-v", "--tomogram", type=_existing_file, required=True)
    p.add_argument("-d", "--destination", type=Path, default=Path("./"))
    p.add_argument("-m", "--mask", type=_existing_file, required=True)
    p.add_argument("--non-spherical-mask", action="store_true")
    p.add_argument("--particle-diameter", type=_positive(float))
    p.add_argument("--angular-search", type=str)
    p.add_argument("--z-axis-rotational-symmetry", type=_positive(int), default=1)
    p.add_argument("-s", "--volume-split", nargs=3, type=int, default=[1, 1, 1])
    for axis in "xyz":
        p.add_argument(f"--search-{axis}", nargs=2, type=int)
    p.add_argument("--tomogram-mask", type=_existing_file)
    p.add_argument("-a", "--tilt-angles", nargs="+", type=str)
    p.add_argument("--tilt-angles-first-column", nargs=1, type=str)
    p.add_argument("--per-tilt-weighting", action="store_true")
    p.add_argument("--voxel-size-angstrom", type=_positive(float))
    p.add_argument("--low-pass", type=_positive(float))
    p.add_argument("--high-pass", type=_positive(float))
    p.add_argument("--dose-accumulation", type=str)
    p.add_argument("--defocus", type=str)
    p.add_argument("--amplitude-contrast", type=float)
    p.add_argument("--spherical-aberration", type=_positive(float))
    p.add_argument("--voltage", type=_positive(float))
    p.add_argument("--phase-shift", type=float, default=0.0)
    p.add_argument("--tomogram-ctf-model", choices=["phase-flip"])
    p.add_argument("--defocus-handedness", choices=[-1, 0, 1], type=int, default=0)
    p.add_argument("--spectral-whitening", action="store_true")
    p.add_argument("-r", "--random-phase-correction", action="store_true")
    p.add_argument("--half-precision", action="store_true")
    p.add_argument("--rng-seed", type=_positive(int))
    p.add_argument("--relion5-tomograms-star", type=_existing_file)
    p.add_argument("--warp-xml-file", type=_existing_file)
    p.add_argument("-g", "--gpu-ids", nargs="+", type=int, required=True)
    p.add_argument("--log", type=str, default="INFO")
    return p


def _values(parser, option: str, text: str, suffixes: tuple[str, ...]) -> list[float]:
    path = Path(text)
    if not path.exists() or path.suffix not in suffixes:
        parser.error(f"{option} provided file does not exist or does not have the right format")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if lines and len(lines[0].split()) > 1:
        parser.error(f"{option} provided file has more than one column")
    return [float(ln) for ln in lines]


def visible_gpus() -> int:
    """What cupy.cuda.runtime.getDeviceCount() would say: the devices CUDA_VISIBLE_DEVICES
    leaves (one when it is unset, the simulated machine's GPU)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return 1
    return len([v for v in value.split(",") if v.strip() and v.strip() != "NoDevFiles"])


def match_template(argv: list[str]) -> int:
    parser = match_parser()
    args = parser.parse_args(argv)
    count = visible_gpus()
    for gpu in args.gpu_ids:
        if gpu < 0 or gpu >= count:
            parser.error(f"-g/--gpu-ids all gpu indices should be between 0 and {count - 1}")
    if not args.destination.is_dir():
        parser.error(f"-d/--destination {args.destination} does not exist")
    faults(os.environ.get("CRBOOST_SIM_ITEM", args.tomogram.stem))
    if args.relion5_tomograms_star or args.warp_xml_file:
        raise Failure("the simulator reads tilt-series metadata from text files only")
    angles = args.tilt_angles
    if args.tilt_angles_first_column:
        angles = args.tilt_angles_first_column
    if angles is None:
        raise Failure(
            "ValueError: Without tilt angles the missing wedge cannot be calculated. "
            "A minimal run requires tilt angles."
        )
    if len(angles) == 1:
        tilts = _values(parser, "--tilt-angles", angles[0], (".tlt", ".rawtlt"))
    elif len(angles) == 2:
        tilts = sorted(float(a) for a in angles)
    else:
        parser.error("--tilt-angles can only take one or two arguments")
    doses = (
        _values(parser, "--dose-accumulation", args.dose_accumulation, (".txt",))
        if args.dose_accumulation
        else None
    )
    defocus = None
    if args.defocus:
        if args.defocus.endswith(".txt"):
            defocus = _values(parser, "--defocus", args.defocus, (".txt",))
        else:
            defocus = [float(args.defocus)]
        if None in (args.amplitude_contrast, args.spherical_aberration, args.voltage):
            raise Failure(
                "ValueError: Cannot create 3D CTF weighting because one or multiple of the "
                "required parameters (amplitude-contrast, spherical-abberation or voltage) "
                "is/are missing."
            )
    if len(tilts) < 2:
        raise Failure("ValueError: TiltSeriesMetaData requires at least 2 tilt angles")
    if defocus is not None and len(defocus) not in (1, len(tilts)):
        raise Failure(
            "ValueError: Expected either a list with a single CtfData or the same number as "
            f"tilt_angles ({len(tilts)}). Got {len(defocus)} instead."
        )
    if doses is not None and len(doses) != len(tilts):
        raise Failure(
            "ValueError: Expected a list with the same number of doses as tilt angles "
            f"({len(tilts)}). Got {len(doses)} instead."
        )
    if args.angular_search is None and args.particle_diameter is None:
        raise Failure(
            "ValueError: Either the angular search should be specifically set or a particle "
            "diameter should be provided to infer the angular search!"
        )
    tomo, tomo_px = read_volume(args.tomogram)
    template, template_px = read_volume(args.template)
    mask, _ = read_volume(args.mask)
    if len(set(template.shape)) != 1:
        raise Failure(f"ValueError: Template is not cubic, all dimensions should be equal. "
                      f"Found template shape: {template.shape}.")  # fmt: skip
    if template.shape != mask.shape:
        raise Failure("ValueError: Template and mask have a different shape in pixels. "
                      f"Found template shape: {template.shape}. Found maks shape: {mask.shape}")  # fmt: skip
    if args.voxel_size_angstrom:
        voxel = args.voxel_size_angstrom
        if round(voxel, 3) != round(tomo_px, 3) or round(voxel, 3) != round(template_px, 3):
            print("WARNING: Provided voxel size does not match voxel size annotated in "
                  "tomogram/template mrc.")  # fmt: skip
    elif round(tomo_px, 3) == round(template_px, 3) and tomo_px > 0:
        voxel = round(tomo_px, 3)
    else:
        raise Failure(
            "ValueError: Voxel size could not be assigned, either a mismatch between tomogram "
            "and template or annotated as 0."
        )
    increment = args.angular_search
    if increment is None:
        increment = math.degrees(max(2 * voxel, args.low_pass or 0) / args.particle_diameter)
    try:
        angle_list = get_angle_list(increment, args.z_axis_rotational_symmetry)
    except ValueError:
        raise Failure("TMJobError: Invalid angular search provided.") from None
    duplicate = len(set(round(a, 2) for a in tilts)) < len(tilts)
    if args.per_tilt_weighting and duplicate:
        # pytom #348: a zero-width wedge slice -> NaN weights -> every score -inf, exit 0
        scores = np.full(tomo.shape, -np.inf, dtype=np.float32)
        best = np.zeros(tomo.shape, dtype=np.float32)
        variance = float("nan")
    else:
        scores, best, variance = correlate(tomo, template, mask, angle_list)
    dtype = np.float16 if args.half_precision else np.float32
    stem = args.tomogram.stem
    out = args.destination
    write_volume(out / f"{stem}_scores.mrc", scores.astype(dtype), voxel)
    write_volume(out / f"{stem}_angles.mrc", best.astype(np.float32), voxel)
    stats = {
        "search_space": int(scores.size * len(angle_list)),
        "variance": variance,
        "std": math.sqrt(variance) if variance == variance else float("nan"),
    }
    job = job_json(args, tomo.shape, template.shape, voxel, increment, len(angle_list), stats,
                   tilts, defocus, doses, str(np.dtype(dtype)))  # fmt: skip
    (out / f"{stem}_job.json").write_text(json.dumps(job, indent=4))
    return 0


def read_volume(path: Path) -> tuple[np.ndarray, float]:
    """MRC data in pytom's x, y, z order, and the voxel size."""
    import mrcfile

    try:
        with mrcfile.open(path, permissive=True) as mrc:
            vx, vy, vz = (float(v) for v in (mrc.voxel_size.x, mrc.voxel_size.y, mrc.voxel_size.z))
            if not (round(vx, 3) == round(vy, 3) == round(vz, 3)):
                raise Failure("UnequalSpacingError: Input volume voxel spacing is not identical "
                              "in each dimension!")  # fmt: skip
            return np.ascontiguousarray(np.asarray(mrc.data, dtype=np.float32).T), vx
    except ValueError as e:
        raise Failure(f"{path}: not an MRC file ({e})") from None


def write_volume(path: Path, data: np.ndarray, voxel: float) -> None:
    import mrcfile

    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(data.T))
        mrc.voxel_size = voxel


def rotation_matrix(angles: tuple[float, float, float]) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("ZXZ", angles).as_matrix()


def rotate(volume: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The volume rotated by `matrix` about its centre voxel (box // 2), linear interpolation."""
    from scipy.ndimage import affine_transform

    centre = np.array(volume.shape) // 2
    inverse = matrix.T
    offset = centre - inverse @ centre
    return affine_transform(volume, inverse, offset=offset, order=1, mode="constant")


def correlate(tomo: np.ndarray, template: np.ndarray, mask: np.ndarray, angle_list: list):
    """Best normalised cross-correlation per voxel over a coarse subset of the angle list."""
    shape = tomo.shape
    n_eval = min(len(angle_list), MAX_ROTATIONS)
    picks = np.unique(np.linspace(0, len(angle_list) - 1, n_eval).round().astype(int))
    f_tomo = np.fft.rfftn(tomo)
    f_tomo2 = np.fft.rfftn(tomo * tomo)
    scores = np.full(shape, -np.inf, dtype=np.float32)
    best = np.zeros(shape, dtype=np.float32)
    variances = []
    for index in picks:
        matrix = rotation_matrix(angle_list[index])
        t = rotate(template, matrix)
        m = (rotate(mask, matrix) > 0.5).astype(np.float32)
        n = float(m.sum())
        if n < 2:
            continue
        inside = t[m > 0]
        t = np.where(m > 0, (t - inside.mean()) / (inside.std() or 1.0), 0.0)
        f_t = np.fft.rfftn(_centred(t, shape))
        f_m = np.fft.rfftn(_centred(m, shape))
        numerator = np.fft.irfftn(f_tomo * np.conj(f_t), s=shape) / n
        mean = np.fft.irfftn(f_tomo * np.conj(f_m), s=shape) / n
        mean2 = np.fft.irfftn(f_tomo2 * np.conj(f_m), s=shape) / n
        sigma = np.sqrt(np.clip(mean2 - mean * mean, 1e-12, None))
        score = (numerator / sigma).astype(np.float32)
        variances.append(float(score.var()))
        better = score > scores
        scores[better] = score[better]
        best[better] = index
    return scores, best, float(np.mean(variances)) if variances else float("nan")


def _centred(box: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A box placed in a volume of `shape` with its centre voxel at the origin (wrapped)."""
    out = np.zeros(shape, dtype=np.float32)
    out[tuple(slice(0, s) for s in box.shape)] = box
    return np.roll(out, [-(s // 2) for s in box.shape], axis=(0, 1, 2))


def job_json(args, tomo_shape, template_shape, voxel, increment, n_rotations, stats, tilts,
             defocus, doses, dtype) -> dict:  # fmt: skip
    ctf = None
    if defocus is not None:
        ctf = [{"defocus": d * 1e-6, "amplitude_contrast": args.amplitude_contrast,
                "voltage": args.voltage * 1e3, "spherical_aberration": args.spherical_aberration * 1e-3,
                "phase_shift_deg": args.phase_shift, "flip_phase": False, "__class__": "CtfData"}
               for d in (defocus if len(defocus) > 1 else defocus * len(tilts))]  # fmt: skip
    size = list(tomo_shape)
    return {
        "mask": str(args.mask.absolute()),
        "mask_is_spherical": not args.non_spherical_mask,
        "output_dir": str(args.destination.absolute()),
        "tomogram": str(args.tomogram.absolute()),
        "template": str(args.template.absolute()),
        "tomo_id": args.tomogram.stem,
        "ts_metadata": {"tilt_angles": tilts, "angles_in_degrees": True, "ctf_data": ctf,
                        "dose_accumulation": doses, "defocus_handedness": args.defocus_handedness,
                        "per_tilt_weighting": args.per_tilt_weighting,
                        "level_angle_x": 0.0, "level_angle_y": 0.0,
                        "__class__": "TiltSeriesMetaData"},  # fmt: skip
        "tomo_shape": size,
        "template_shape": list(template_shape),
        "mask_shape": list(template_shape),
        "voxel_size": voxel,
        "tomogram_mask": None,
        "whole_start": None,
        "sub_start": [0, 0, 0],
        "sub_step": size,
        "start_slice": 0,
        "steps_slice": 1,
        "rotational_symmetry": args.z_axis_rotational_symmetry,
        "particle_diameter": args.particle_diameter,
        "rotation_file": increment,
        "n_rotations": n_rotations,
        "low_pass": args.low_pass,
        "high_pass": args.high_pass,
        "whiten_spectrum": args.spectral_whitening,
        "whitening_filter": str((args.destination / f"{args.tomogram.stem}_whitening_filter.npy").absolute()),
        "random_phase_correction": args.random_phase_correction,
        "rng_seed": args.rng_seed or 321,
        "job_key": "0",
        "leader": None,
        "job_stats": stats,
        "log_level": args.log,
        "pytom_tm_version_number": VERSION,
        "output_dtype": dtype,
        "search_x": [0, size[0]],
        "search_y": [0, size[1]],
        "search_z": [0, size[2]],
    }  # fmt: skip
