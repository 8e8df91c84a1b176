"""The demo's specimen: a known 3D phantom, imaged with a known geometry (the truth).

Each demo tilt series images its own phantom: a few dense beads (gold-like, dark in the images)
and a few copies of an asymmetric "particle" (three Gaussian blobs in an L), at known positions
and orientations, in a slab around the tomogram's centre. The tilt images are projections of
the phantom in RELION 5's model (relion src/jaz/tomography/tomogram.cpp,
Tomogram::setProjectionMatrix), with the truth's values:

    image position (px) = ( Rz(z_rot) Ry(tilt) p + shift ) / pixel_size + int(size / 2)

p in Angstrom relative to the tomogram's centre (RELION's rlnCenteredCoordinate*Angst), Rz/Ry
right-handed rotations, `tilt` the stage tilt the mdoc reports (RELION's rlnTomoYTilt), `z_rot`
the tilt-axis angle (rlnTomoZRot), `shift` the per-tilt specimen shift (rlnTomoX/YShiftAngst).
Every object is a sum of isotropic 3D Gaussians, so each projects to 2D Gaussians exactly.

The truth is written next to the raw data (`raw/phantom.json`, with the phantom volumes and the
particle map as MRC, see write_truth) and is what crboost's SIMULATOR reports, each tool in its
own convention (docs/conventions.md); tests reconstruct from crboost's STAR files and look for
the phantom where the truth puts it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

TRUTH_FILE = "phantom.json"
FORMAT = 1
#: The particle: (z, y, x) offset in Angstrom, sigma in Angstrom, weight (its density).
PARTICLE_BLOBS = (((0.0, 0.0, 0.0), 14.0, 1.0), ((0.0, 0.0, 16.0), 9.0, 0.8),
                  ((0.0, 14.0, 0.0), 7.0, 0.6))  # fmt: skip
#: Darkening of the projection at a bead's centre, and per unit of particle density (at the
#: centre of a blob of sigma 1 A; scaled by sigma, as a line integral is).
BEAD_CONTRAST = 0.55
PARTICLE_CONTRAST = 0.012
#: Electrons per pixel per frame of the simulated camera (the counts in the movies).
COUNTS_PER_FRAME = 30.0


@dataclass
class TiltTruth:
    """One tilt image: what was physically done (RELION's conventions, see the module)."""

    movie: str
    order: int  # acquisition order, 0 first
    tilt: float  # degrees, = rlnTomoYTilt
    z_rot: float  # degrees, = rlnTomoZRot
    shift: tuple[float, float]  # Angstrom, = rlnTomoX/YShiftAngst
    defocus: float  # micrometres, underfocus positive, at the image centre
    defocus_delta: float  # micrometres: U - V (Warp's DefocusDelta)
    defocus_angle: float  # degrees (Warp's DefocusAngle = rlnDefocusAngle)


@dataclass
class TiltSeriesTruth:
    name: str
    pixel_size: float
    image_size: tuple[int, int]  # x, y pixels
    tilt_axis_nominal: float  # what the mdoc says
    tilt_axis: float  # the true one (= every tilt's z_rot)
    hand: int  # defocus handedness: RELION's rlnTomoHand (+1: defocus grows with depth)
    beads: list[dict] = field(default_factory=list)  # {position: [x,y,z] A, sigma: A}
    particles: list[dict] = field(default_factory=list)  # {position, angles, rotation}
    tilts: list[TiltTruth] = field(default_factory=list)

    def tilt_of(self, movie: str) -> TiltTruth | None:
        return next((t for t in self.tilts if t.movie == movie), None)

    def gaussians(self) -> list[tuple[np.ndarray, float, float]]:
        """Every Gaussian of the phantom: (centre xyz in A, sigma in A, projected darkening)."""
        out = [(np.array(b["position"]), b["sigma"], BEAD_CONTRAST) for b in self.beads]
        for p in self.particles:
            rotation = np.array(p["rotation"])
            for (z, y, x), sigma, weight in PARTICLE_BLOBS:
                centre = np.array(p["position"]) + rotation @ np.array([x, y, z])
                out.append((centre, sigma, PARTICLE_CONTRAST * weight * sigma))
        return out


def rot_z(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def rot_y(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def relion_euler(rot: float, tilt: float, psi: float) -> np.ndarray:
    """RELION's Euler_angles2matrix (src/euler.cpp): ZYZ, the matrix A with which a particle's
    density is the reference's at A x."""
    a, b, g = (math.radians(v) for v in (rot, tilt, psi))
    ca, sa, cb, sb, cg, sg = (
        math.cos(a),
        math.sin(a),
        math.cos(b),
        math.sin(b),
        math.cos(g),
        math.sin(g),
    )
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    return np.array([[cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
                     [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
                     [sc, ss, cb]])  # fmt: skip


def project(point: np.ndarray, tilt: TiltTruth, pixel_size: float, size: tuple[int, int]):
    """Image position (x, y) in pixels and depth (A, along the beam) of a specimen point."""
    q = rot_z(tilt.z_rot) @ rot_y(tilt.tilt) @ point
    x = (q[0] + tilt.shift[0]) / pixel_size + size[0] // 2
    y = (q[1] + tilt.shift[1]) / pixel_size + size[1] // 2
    return x, y, q[2]


def render_tilt(truth: TiltSeriesTruth, tilt: TiltTruth) -> np.ndarray:
    """The expected intensity (1 = empty) of one tilt image, (y, x)."""
    nx, ny = truth.image_size
    darkening = np.zeros((ny, nx))
    for centre, sigma, amplitude in truth.gaussians():
        x, y, _ = project(centre, tilt, truth.pixel_size, truth.image_size)
        _add_gaussian(darkening, (y, x), sigma / truth.pixel_size, amplitude)
    return np.clip(1.0 - darkening, 0.02, None)


def render_volume(truth: TiltSeriesTruth, shape_zyx: tuple[int, int, int], voxel: float):
    """The phantom's density on a grid centred like RELION's tomograms (int(n/2)), scaled so
    that its line integrals are the projections' darkening."""
    out = np.zeros(shape_zyx, dtype=np.float64)
    centre_index = np.array([n // 2 for n in shape_zyx], dtype=float)
    for centre, sigma, amplitude in truth.gaussians():
        where = centre_index + np.array(centre[::-1]) / voxel
        height = amplitude / (sigma * math.sqrt(2 * math.pi)) * voxel
        _add_gaussian(out, tuple(where), sigma / voxel, height)
    return out.astype(np.float32)


def _add_gaussian(grid: np.ndarray, centre: tuple[float, ...], sigma: float, height: float):
    """Add height * exp(-r^2 / 2 sigma^2) around centre (array index order), within 4 sigma."""
    reach = 4 * sigma
    lows = [max(0, int(math.floor(c - reach))) for c in centre]
    highs = [min(n, int(math.ceil(c + reach)) + 1) for c, n in zip(centre, grid.shape, strict=True)]
    if any(lo >= hi for lo, hi in zip(lows, highs, strict=True)):
        return
    axes = np.ogrid[tuple(slice(lo, hi) for lo, hi in zip(lows, highs, strict=True))]
    r2 = sum((a - c) ** 2 for a, c in zip(axes, centre, strict=True))
    grid[tuple(slice(lo, hi) for lo, hi in zip(lows, highs, strict=True))] += height * np.exp(
        -r2 / (2 * sigma * sigma)
    )


def particle_map(box: int, voxel: float) -> np.ndarray:
    """The particle as a reference map, white on 0, (z, y, x), centred at box // 2."""
    grid = (np.indices((box, box, box)) - box // 2) * voxel
    out = np.zeros((box, box, box), dtype=np.float32)
    for (z, y, x), sigma, weight in PARTICLE_BLOBS:
        r2 = (grid[0] - z) ** 2 + (grid[1] - y) ** 2 + (grid[2] - x) ** 2
        out += weight * np.exp(-r2 / (2 * sigma**2)).astype(np.float32)
    return out


def make_truth(name: str, seed: int, pixel_size: float, image_size: tuple[int, int],
               tilt_axis: float, movies: list[tuple[str, int, float]], hand: int = -1
               ) -> TiltSeriesTruth:  # fmt: skip
    """A phantom and an acquisition for one tilt series. movies: (file name, acquisition order,
    stage tilt angle as the mdoc says it)."""
    rng = np.random.default_rng(1000 + seed)
    half_fov = min(image_size) * pixel_size / 2
    slab = 45.0  # objects lie within +-slab A of the tomogram's central plane
    placed: list[np.ndarray] = []

    def place(spacing: float, margin: float) -> np.ndarray:
        for _ in range(1000):
            p = np.array([rng.uniform(-1, 1) * (half_fov - margin),
                          rng.uniform(-1, 1) * (half_fov - margin), rng.uniform(-slab, slab)])  # fmt: skip
            if all(np.linalg.norm(p - q) >= spacing for q in placed):
                placed.append(p)
                return p
        raise RuntimeError("phantom: no room for another object")

    truth = TiltSeriesTruth(name, pixel_size, tuple(image_size), tilt_axis,
                            round(tilt_axis + float(rng.uniform(-1.5, 1.5)), 3), hand)  # fmt: skip
    for _ in range(3):
        angles = [float(rng.uniform(-180, 180)), float(np.degrees(np.arccos(rng.uniform(-1, 1)))),
                  float(rng.uniform(-180, 180))]  # fmt: skip
        rotation = relion_euler(*angles).T  # world offset of a reference feature b: A^T b
        truth.particles.append({"position": place(95.0, 60.0).round(2).tolist(),
                                "angles": [round(a, 3) for a in angles],
                                "rotation": rotation.round(6).tolist()})  # fmt: skip
    for _ in range(6):
        truth.beads.append({"position": place(40.0, 45.0).round(2).tolist(), "sigma": 5.0})
    base = float(rng.uniform(2.8, 4.2))
    delta0, angle0 = float(rng.uniform(0.05, 0.15)), float(rng.uniform(-80, 80))
    n = len(movies)
    for movie, order, angle in movies:
        shift = rng.normal(0, 4 * pixel_size, 2) if order else np.zeros(2)
        truth.tilts.append(TiltTruth(
            movie=movie, order=order, tilt=float(angle), z_rot=truth.tilt_axis,
            shift=(round(float(shift[0]), 3), round(float(shift[1]), 3)),
            defocus=round(base + 0.1 * order / max(1, n - 1) + float(rng.normal(0, 0.02)), 4),
            defocus_delta=round(delta0 + float(rng.normal(0, 0.005)), 4),
            defocus_angle=round(angle0 + float(rng.normal(0, 2)), 2),
        ))  # fmt: skip
    return truth


def local_defocus(truth: TiltSeriesTruth, tilt: TiltTruth, x: float, y: float) -> float:
    """Defocus (um) at image position (x, y) px of the specimen's central plane: the centre's
    plus hand x depth (RELION Tomogram::getCtf: defocus grows with depth when the hand is +1)."""
    nx, ny = truth.image_size
    u = np.array([(x - nx // 2) * truth.pixel_size - tilt.shift[0],
                  (y - ny // 2) * truth.pixel_size - tilt.shift[1], 0.0])  # fmt: skip
    # the point p = (px, py, 0) of the central plane that lands at u
    r = rot_z(tilt.z_rot) @ rot_y(tilt.tilt)
    a = r[:2, :2]
    p = np.linalg.solve(a, u[:2])
    depth = float((r @ np.array([p[0], p[1], 0.0]))[2])
    return tilt.defocus + truth.hand * 1e-4 * depth


# --- the truth file -------------------------------------------------------------------------------


def write_truth(raw: Path, old: dict[str, TiltSeriesTruth], new: list[TiltSeriesTruth],
                voxel: float, shape_zyx) -> Path:  # fmt: skip
    """raw/phantom.json (the old tilt series' truth and the new ones'), raw/phantom/<ts>.mrc
    for the new ones (each phantom at `voxel` A, RELION's centring) and raw/particle.mrc (the
    particle at `voxel`, 24 voxels)."""
    import mrcfile

    (raw / "phantom").mkdir(parents=True, exist_ok=True)
    for truth in new:
        with mrcfile.new(raw / "phantom" / f"{truth.name}.mrc", overwrite=True) as mrc:
            mrc.set_data(render_volume(truth, shape_zyx, voxel))
            mrc.voxel_size = voxel
    with mrcfile.new(raw / "particle.mrc", overwrite=True) as mrc:
        mrc.set_data(particle_map(24, voxel))
        mrc.voxel_size = voxel
    series = {**old, **{t.name: t for t in new}}
    data = {
        "format": FORMAT,
        "conventions": "docs/conventions.md of crboost; positions in Angstrom from the "
        "tomogram's centre (RELION rlnCenteredCoordinate*Angst); tilt/z_rot/shift are "
        "RELION's rlnTomoYTilt/rlnTomoZRot/rlnTomoX/YShiftAngst; a particle is the reference "
        "(particle.mrc, particle_blobs) rotated by `rotation` (= RELION Euler(angles)^T)",
        "volumes": {"voxel_size": voxel, "shape_zyx": list(shape_zyx)},
        "particle_blobs": [list(b) for b in PARTICLE_BLOBS],
        "tilt_series": {name: asdict(t) for name, t in sorted(series.items())},
    }
    path = raw / TRUTH_FILE
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def read_truth(path: str | Path) -> dict[str, TiltSeriesTruth]:
    data = json.loads(Path(path).read_text())
    out = {}
    for name, t in data["tilt_series"].items():
        tilts = [TiltTruth(**{**x, "shift": tuple(x["shift"])}) for x in t.pop("tilts")]
        out[name] = TiltSeriesTruth(**{**t, "image_size": tuple(t["image_size"]), "tilts": tilts})
    return out
