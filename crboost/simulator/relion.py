"""Simulated RELION 5 (3dem/relion @73f0a3c, src/jaz/tomography/programs/): relion_tomo_subtomo
and relion_tomo_reconstruct_particle.

Command line: RELION's IOParser, which only WARNS on unknown options (args.cpp) and fails on a
missing required one (`--b`, `--o`). Input: an optimisation set (`--i`, key/value
_rlnTomoParticlesFile/_rlnTomoTomogramsFile) or `--p`/`--t`; tomograms.star block `global`, each
tilt series' STAR in block `data_<rlnTomoName>`; particles in block `particles` (else "there are
no particles", particle_set.cpp), rlnTomoName matching tomograms.star, positions
rlnCenteredCoordinateX/Y/ZAngst from the tomogram centre w0/2 (tomogram_set.cpp:315).

True geometry: particle positions are projected into each tilt image with RELION's projection
model (tomogram.cpp setProjectionMatrix: S(shift)·S(image centre)·Rz(ZRot)·Ry(YTilt)·Rx(XTilt)·
S(-specimen centre)) and boxes are cut from the tilt images (rlnMicrographName), contrast
inverted (flip_value, unless --no_ic), mean removed. RELION also multiplies them by the CTF and
dose weights and crops a soft circle; that is not simulated (real and simulated stacks correlate
at 0.6-0.8, tests/test_relion_real.py). subtomo writes
`Subtomograms/<tomo>/<n>_stack2d.mrcs` (tilts x crop x crop, float16 with --float16),
particles.star (general, optics, particles blocks, as subtomo.cpp writes them) and
optimisation_set.star (rlnTomoTomogramsFile still the input one, subtomo.cpp:442-465).
reconstruct_particle back-projects the boxes into the particle's frame (reference voxel r lies at
position + A r in the tomogram, A the RELION Euler matrix of rlnAngleRot/Tilt/Psi, the rotation the
projector applies, projector.cpp) and writes merged.mrc, and half1.mrc/half2.mrc only when the
particles have rlnRandomSubset (else the warning "joining all particles in half1"), with
data_/weight_<tag>.mrc and <tag>_full.mrc when cropping. Only 2D stacks (--stack2d) are simulated.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from .formats import Failure, faults

SUBTOMO_OPTIONS = {
    "--i": None, "--p": None, "--t": None, "--mot": None, "--b": "req", "--crop": "-1",
    "--bin": "1", "--SNR": "-1", "--min_frames": "1", "--max_dose": "-1", "--cone_angle": "10",
    "--cone_sig0": "2", "--taper": "5", "--env": "-1", "--j": "6", "--cutoff_fract": "0.01",
    "--o": "req", "--theme": None, "--pipeline_control": None, "--verb": None,
}  # fmt: skip
SUBTOMO_FLAGS = {
    "--stack2d", "--multi", "--cone_weight", "--no_circle_crop", "--circle_precrop",
    "--grid_precorr", "--whiten", "--no_center", "--no_ic", "--no_ctf", "--no_comb", "--ctf",
    "--div", "--nrm", "--dont_apply_offsets", "--apply_orientations", "--only_do_unfinished",
    "--float16", "--diag", "--real_subtomo", "--sum", "--no_writing",
}  # fmt: skip
RECONSTRUCT_OPTIONS = {
    "--i": None, "--p": None, "--t": None, "--mot": None, "--b": "req", "--crop": "-1",
    "--bin": "1", "--taper": "10", "--SNR": "-1", "--sym": "C1", "--nr_helical_asu": "1",
    "--helical_rise": "0", "--helical_twist": "0", "--mem": "-1", "--j": "6", "--j_in": "3",
    "--j_out": "2", "--cutoff_fract": "0.01", "--o": "req", "--theme": None,
    "--pipeline_control": None, "--verb": None,
}  # fmt: skip
RECONSTRUCT_FLAGS = {"--whiten", "--no_ctf", "--only_do_unfinished", "--no_backup",
                     "--no_circle_crop", "--no_recon"}  # fmt: skip


def parse(argv: list[str], options: dict, flags: set) -> dict:
    """RELION's IOParser: `--name value` / `--flag`; unknown options are only warned about."""
    values: dict = {k: v for k, v in options.items() if v not in (None, "req")}
    values.update({f: False for f in flags})
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in flags:
            values[token] = True
            i += 1
        elif token in options:
            if i + 1 >= len(argv):
                raise Failure(f"ERROR: Argument {token} has no value")
            values[token] = argv[i + 1]
            i += 2
        else:
            print(f"WARNING: Option {token}\tis not a valid RELION argument", file=sys.stderr)
            i += 1
    missing = [k for k, v in options.items() if v == "req" and k not in values]
    if missing:
        raise Failure(f"ERROR: Argument {missing[0]} not found\n"
                      "ERROR: Errors encountered on the command line (see above), exiting...")  # fmt: skip
    return values


def read_sets(o: dict) -> tuple[Path | None, Path, Path]:
    import starfile

    particles, tomograms = o.get("--p"), o.get("--t")
    optimisation = o.get("--i")
    if optimisation:
        try:
            block = starfile.read(optimisation, always_dict=True)
        except FileNotFoundError:
            raise Failure(f"ERROR: Unable to read {optimisation}") from None
        table = next(iter(block.values()))
        table = table if isinstance(table, dict) else table.iloc[0].to_dict()
        particles = particles or table.get("rlnTomoParticlesFile")
        tomograms = tomograms or table.get("rlnTomoTomogramsFile")
    if not tomograms:
        raise Failure("ERROR: No tomograms have been specified.")
    if not particles:
        raise Failure("ERROR: No particles have been specified.")
    return optimisation, Path(particles), Path(tomograms)


def load(particles_file: Path, tomograms_file: Path):
    import starfile

    try:
        tomos = starfile.read(tomograms_file, always_dict=True)["global"]
    except (FileNotFoundError, KeyError):
        raise Failure(f"ERROR: TomogramSet::read: unable to read {tomograms_file}") from None
    blocks = starfile.read(particles_file, always_dict=True)
    parts = blocks.get("particles")
    if parts is None or not hasattr(parts, "columns"):
        raise Failure(
            f"ERROR: ParticleSet::ParticleSet: there are no particles in {particles_file}"
        )
    for axis in "XYZ":
        if f"rlnCenteredCoordinate{axis}Angst" not in parts.columns:
            raise Failure("ERROR: Cannot find particle coordinates "
                          "(rlnCenteredCoordinateX/Y/ZAngst) in particle star file")  # fmt: skip
    known = set(tomos["rlnTomoName"].astype(str))
    unknown = sorted(set(parts["rlnTomoName"].astype(str)) - known)
    if unknown:
        raise Failure(f"ERROR: ParticleSet: tomogram {unknown[0]} not found in {tomograms_file}")
    return tomos, parts, blocks


class TiltSeries:
    """One tomogram's tilt images and projection matrices, as TomogramSet loads them."""

    def __init__(self, row):
        import starfile

        name = str(row["rlnTomoName"])
        tables = starfile.read(row["rlnTomoTiltSeriesStarFile"], always_dict=True)
        if name not in tables:
            raise Failure(
                f"ERROR: TomogramSet: no data_{name} in {row['rlnTomoTiltSeriesStarFile']}"
            )
        self.table = tables[name]
        self.pixel = float(row["rlnTomoTiltSeriesPixelSize"])
        self.size = [float(row[f"rlnTomoSize{a}"]) for a in "XYZ"]
        self.centre = np.array(self.size) / 2.0
        self.images = [_read_image(m) for m in self.table["rlnMicrographName"]]
        h, w = self.images[0].shape
        self.matrices = [self._matrix(r, w, h) for _, r in self.table.iterrows()]
        self.dose = self.table["rlnMicrographPreExposure"].to_numpy(dtype=float)

    def _matrix(self, r, w: int, h: int) -> np.ndarray:
        def rot(axis: int, deg: float) -> np.ndarray:
            c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
            m = np.eye(4)
            i, j = [(1, 2), (2, 0), (0, 1)][axis]
            m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
            return m

        def shift(v) -> np.ndarray:
            m = np.eye(4)
            m[:3, 3] = v
            return m

        s0 = shift([-int(s / 2) for s in self.size])
        r0 = rot(0, float(r.get("rlnTomoXTilt", 0.0)))
        r1, r2 = rot(1, float(r["rlnTomoYTilt"])), rot(2, float(r["rlnTomoZRot"]))
        s1 = shift([float(r["rlnTomoXShiftAngst"]) / self.pixel,
                    float(r["rlnTomoYShiftAngst"]) / self.pixel, 0])  # fmt: skip
        s2 = shift([int(w / 2), int(h / 2), 0])
        return s1 @ s2 @ r2 @ r1 @ r0 @ s0

    def project(self, points: np.ndarray) -> np.ndarray:
        """Unbinned tomogram pixel positions (n, 3) -> image positions (frames, n, 2)."""
        homo = np.c_[points, np.ones(len(points))]
        return np.stack([(m @ homo.T).T[:, :2] for m in self.matrices])


def _read_image(path: str) -> np.ndarray:
    import mrcfile

    try:
        with mrcfile.open(path, permissive=True) as mrc:
            data = np.asarray(mrc.data, dtype=np.float32)
    except FileNotFoundError:
        raise Failure(f"ERROR: Unable to open {path}") from None
    return data[0] if data.ndim == 3 else data


def sample(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    return map_coordinates(image, [xy[..., 1], xy[..., 0]], order=1, mode="constant")


def positions(parts, ts: TiltSeries) -> np.ndarray:
    centred = parts[[f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"]].to_numpy(dtype=float)
    return centred / ts.pixel + ts.centre


def visible(ts: TiltSeries, xy: np.ndarray, half: float) -> np.ndarray:
    h, w = ts.images[0].shape
    return (
        (xy[..., 0] - half >= 0)
        & (xy[..., 0] + half < w)
        & (xy[..., 1] - half >= 0)
        & (xy[..., 1] + half < h)
    )


def subtomo(argv: list[str]) -> int:
    import pandas as pd

    o = parse(argv, SUBTOMO_OPTIONS, SUBTOMO_FLAGS)
    if not o["--stack2d"]:
        raise Failure("only --stack2d (2D stacks) is simulated")
    box, crop, binning = int(o["--b"]), int(o["--crop"]), float(o["--bin"])
    crop = box if crop < 0 else crop
    min_frames, max_dose = int(o["--min_frames"]), float(o["--max_dose"])
    out = Path(o["--o"].rstrip("/") + "/")
    out.mkdir(parents=True, exist_ok=True)
    _, particles_file, tomograms_file = read_sets(o)
    tomos, parts, blocks = load(particles_file, tomograms_file)
    parts = parts.copy()
    if "rlnTomoParticleName" not in parts.columns:
        print(f"!The particles in {particles_file} do not have names (rlnTomoParticleName). "
              "They are being added now.")  # fmt: skip
        counters: dict[str, int] = {}
        names = []
        for tomo in parts["rlnTomoName"].astype(str):
            counters[tomo] = counters.get(tomo, 0) + 1
            names.append(f"{tomo}/{counters[tomo]}")
        parts["rlnTomoParticleName"] = names
    kept_rows, image_names, frames_seen = [], [], []
    for _, row in tomos.iterrows():
        name = str(row["rlnTomoName"])
        mine = parts[parts["rlnTomoName"].astype(str) == name]
        if mine.empty:
            continue
        faults(os.environ.get("CRBOOST_SIM_ITEM", name))
        ts = TiltSeries(row)
        # RELION bins by Fourier cropping (binned pixel i is unbinned pixel bin*i); ours pools
        # bin x bin blocks, whose pixel i is centred on bin*i + (bin-1)/2
        xy = (ts.project(positions(mine, ts)) - (binning - 1) / 2) / binning
        inside = visible(ts, xy, box * 0.5)
        if max_dose > 0:
            inside &= (ts.dose <= max_dose)[:, None]
        order = np.argsort(ts.dose)[:min_frames]
        grid = (np.indices((crop, crop)) - crop // 2).transpose(1, 2, 0)[..., ::-1]
        folder = out / "Subtomograms" / name
        folder.mkdir(parents=True, exist_ok=True)
        images = [_bin(im, binning) for im in ts.images]
        for k, (index, particle) in enumerate(mine.iterrows()):
            if not inside[order, k].all():
                continue
            stack = np.stack([sample(images[f], xy[f, k] + grid) for f in range(len(images))])
            stack -= stack.mean(axis=(1, 2), keepdims=True)
            stack *= inside[:, k][:, None, None] * (1.0 if o["--no_ic"] else -1.0)
            number = str(particle["rlnTomoParticleName"]).rsplit("/", 1)[-1]
            path = folder / f"{number}_stack2d.mrcs"
            _write(path, stack.astype(np.float16 if o["--float16"] else np.float32),
                   ts.pixel * binning)  # fmt: skip
            kept_rows.append(index)
            image_names.append(str(path))
            frames_seen.append("[" + ",".join(str(int(v)) for v in inside[:, k]) + "]")
    removed = len(parts) - len(kept_rows)
    if removed:
        print(f"WARNING: {removed} particles were removed because they were too close to the edge")
    table = parts.loc[kept_rows].copy()
    table["rlnTomoVisibleFrames"] = frames_seen
    table["rlnImageName"] = image_names
    for axis in "XYZ":
        table[f"rlnOrigin{axis}Angst"] = 0.0
    table["rlnOpticsGroup"] = 1
    first = tomos.iloc[0]
    optics = pd.DataFrame([{
        "rlnOpticsGroup": 1, "rlnOpticsGroupName": "opticsGroup1",
        "rlnSphericalAberration": float(first["rlnSphericalAberration"]),
        "rlnVoltage": float(first["rlnVoltage"]),
        "rlnTomoTiltSeriesPixelSize": float(first["rlnTomoTiltSeriesPixelSize"]),
        "rlnCtfDataAreCtfPremultiplied": 1, "rlnImageDimensionality": 2,
        "rlnTomoSubtomogramBinning": binning,
        "rlnImagePixelSize": float(first["rlnTomoTiltSeriesPixelSize"]) * binning,
        "rlnImageSize": crop, "rlnAmplitudeContrast": float(first["rlnAmplitudeContrast"])}])  # fmt: skip
    from ..relion.star import atomic_write, relion_text

    atomic_write(out / "particles.star", relion_text(
        {"general": {"rlnTomoSubTomosAre2DStacks": 1}, "optics": optics,
         "particles": table.reset_index(drop=True)}))  # fmt: skip
    atomic_write(out / "optimisation_set.star", relion_text({"": {
        "rlnTomoParticlesFile": str(out / "particles.star"),
        "rlnTomoTomogramsFile": str(tomograms_file)}}))  # fmt: skip
    (out / "note.txt").write_text(" ++++ Executing new job on (SIMULATED)\n ++++ with the "
                                  "following command(s): \nrelion_tomo_subtomo " + " ".join(argv) + "\n")  # fmt: skip
    print(f"Extracted {len(table)} particles")
    return 0


def _bin(image: np.ndarray, factor: float) -> np.ndarray:
    k = int(round(factor))
    if k <= 1:
        return image
    h, w = (image.shape[0] // k) * k, (image.shape[1] // k) * k
    return image[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def _write(path: Path, data: np.ndarray, pixel: float) -> None:
    """RELION labels what it writes "Relion <version>   <date>" (rwMRC.h); ours says SIMULATED."""
    import time

    import mrcfile

    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        mrc.voxel_size = pixel
        mrc.header.label[0] = f"Relion 5.0.1 (SIMULATED)   {time.strftime('%d-%b-%y  %H:%M:%S')}"
        mrc.header.nlabl = 1


def euler_matrix(rot: float, tilt: float, psi: float) -> np.ndarray:
    """RELION's A (Euler_angles2matrix): the transpose of the intrinsic ZYZ rotation."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("ZYZ", [rot, tilt, psi], degrees=True).as_matrix().T


def reconstruct_particle(argv: list[str]) -> int:
    o = parse(argv, RECONSTRUCT_OPTIONS, RECONSTRUCT_FLAGS)
    box, crop, binning = int(o["--b"]), int(o["--crop"]), float(o["--bin"])
    if o["--sym"].upper() != "C1":
        raise Failure("only --sym C1 is simulated")
    out = Path(o["--o"].rstrip("/") + "/")
    (out / "temp").mkdir(parents=True, exist_ok=True)
    _, particles_file, tomograms_file = read_sets(o)
    tomos, parts, _ = load(particles_file, tomograms_file)
    halves = "rlnRandomSubset" in parts.columns
    if not halves:
        print(f"WARNING: The input particles  in {particles_file} have no rlnRandomSubset to "
              "specify halfsets, joining all particles in half1")  # fmt: skip
    r = (np.indices((box, box, box)) - box // 2).reshape(3, -1).T[:, ::-1] * binning  # x, y, z
    sums = {1: np.zeros(len(r)), 2: np.zeros(len(r))}
    counts = {1: 0, 2: 0}
    for _, row in tomos.iterrows():
        mine = parts[parts["rlnTomoName"].astype(str) == str(row["rlnTomoName"])]
        if mine.empty:
            continue
        ts = TiltSeries(row)
        centres = positions(mine, ts)
        for k, (_, particle) in enumerate(mine.iterrows()):
            a = euler_matrix(
                *(float(particle.get(f"rlnAngle{n}", 0.0)) for n in ("Rot", "Tilt", "Psi"))
            )
            points = centres[k] + r @ a.T
            xy = ts.project(points)
            half = int(particle["rlnRandomSubset"]) if halves else 1
            sums[half] += np.mean([sample(im, xy[f]) for f, im in enumerate(ts.images)], axis=0)
            counts[half] += 1
    if counts[1] + counts[2] == 0:
        raise Failure("ERROR: no particles to reconstruct")
    pixel = float(tomos.iloc[0]["rlnTomoTiltSeriesPixelSize"]) * binning
    volumes = {"merged": (sums[1] + sums[2]) / (counts[1] + counts[2])}
    if halves:
        for h in (1, 2):
            volumes[f"half{h}"] = sums[h] / max(counts[h], 1)
    for tag, flat in volumes.items():
        # RELION's reference is dark-on-light inverted (flip_value): protein white
        volume = -flat.reshape(box, box, box).astype(np.float32)
        _write(out / f"data_{tag}.mrc", volume, pixel)
        _write(out / f"weight_{tag}.mrc", np.ones_like(volume), pixel)
        if 0 < crop < box:
            _write(out / f"{tag}_full.mrc", volume, pixel)
            lo = (box - crop) // 2
            volume = volume[lo : lo + crop, lo : lo + crop, lo : lo + crop]
        _write(out / f"{tag}.mrc", np.ascontiguousarray(volume), pixel)
    print(
        f"Reconstructed {counts[1] + counts[2]} particles" + (" in two half sets" if halves else "")
    )
    return 0
