"""True geometry: the demo's movies are projections of a known phantom (raw/phantom.json); the
simulated tools report that truth in their own conventions and crboost converts it into RELION's.
So the phantom must be found from crboost's RELION STAR files alone, with RELION 5's projection
model written out here independently of crboost (relion src/jaz/tomography/tomogram.cpp,
Tomogram::setProjectionMatrix; docs/conventions.md), and a wrong convention must lose it."""

from __future__ import annotations

import json
import math

import mrcfile
import numpy as np
import pytest
import starfile

from crboost.tools.warp import read_tilt_series_xml


def _rx(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def relion_projection(row, pixel: float, image_size, wrong: str = ""):
    """RELION 5: image px = S(image centre) S(shift / px) Rz(zrot) Ry(ytilt) Rx(xtilt) p, with p
    relative to the specimen centre. `wrong` swaps in a wrong convention, to show it matters."""
    xt, yt, zr = row["rlnTomoXTilt"], row["rlnTomoYTilt"], row["rlnTomoZRot"]
    sx, sy = row["rlnTomoXShiftAngst"], row["rlnTomoYShiftAngst"]
    if wrong == "shift sign":
        sx, sy = -sx, -sy
    if wrong == "axis sign":
        zr = -zr
    if wrong == "tilt sign (hand)":
        yt = -yt
    rotation = _rz(zr) @ _ry(yt) @ _rx(xt)
    centre = np.array([image_size[0] // 2, image_size[1] // 2], dtype=float)

    def project(point_angst: np.ndarray) -> np.ndarray:
        q = rotation @ point_angst
        return (q[:2] + np.array([sx, sy])) / pixel + centre

    return project


def _bilinear(image: np.ndarray, x: float, y: float) -> float:
    ny, nx = image.shape
    x, y = min(max(x, 0.0), nx - 1.001), min(max(y, 0.0), ny - 1.001)
    x0, y0 = int(x), int(y)
    fx, fy = x - x0, y - y0
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return float(top * (1 - fy) + bottom * fy)


def backproject(images, projections, point_angst: np.ndarray) -> float:
    """The back-projection at one specimen point: the mean over tilts of the normalised image
    at the point's projection."""
    values = []
    for image, project in zip(images, projections, strict=True):
        x, y = project(point_angst)
        values.append(_bilinear(image, x, y))
    return float(np.mean(values))


def _series(project_dir, ts):
    table = starfile.read(project_dir / f"External/job006/tilt_series/{ts}.star")
    images = []
    for name in table["rlnMicrographName"]:
        with mrcfile.open(project_dir / name, permissive=True) as mrc:
            data = np.asarray(mrc.data, dtype=float)
        images.append(data / np.median(data))
    return table, images


def _truth(project_dir):
    return json.loads((project_dir / "raw/phantom.json").read_text())["tilt_series"]


def _bead_contrast(project_dir, ts, wrong=""):
    truth = _truth(project_dir)[ts]
    table, images = _series(project_dir, ts)
    pixel = truth["pixel_size"]
    size = images[0].shape[::-1]
    projections = [relion_projection(row, pixel, size, wrong) for _, row in table.iterrows()]
    darkness = []
    for bead in truth["beads"]:
        p = np.array(bead["position"], dtype=float)
        darkness.append(1.0 - backproject(images, projections, p))
    return float(np.mean(darkness)), images, projections, truth


def test_the_phantom_is_found_from_the_star_files(finished_demo):
    for ts in ("TS_01", "TS_02"):
        contrast, images, projections, truth = _bead_contrast(finished_demo, ts)
        assert contrast > 0.25, f"{ts}: beads not found where the truth puts them ({contrast:.3f})"
        # the darkest back-projected point near each bead is the bead (within 1.5 px)
        pixel = truth["pixel_size"]
        steps = np.arange(-4, 5) * pixel
        for bead in truth["beads"][:3]:
            p = np.array(bead["position"], dtype=float)
            values = {(dx, dy, dz): backproject(images, projections, p + [dx, dy, dz])
                      for dx in steps for dy in steps for dz in steps[::2]}  # fmt: skip
            best = np.array(min(values, key=values.get))
            assert np.hypot(best[0], best[1]) <= 1.5 * pixel, (ts, bead, best)


@pytest.mark.parametrize("wrong", ["shift sign", "axis sign", "tilt sign (hand)"])
def test_a_wrong_convention_loses_the_phantom(finished_demo, wrong):
    right, *_ = _bead_contrast(finished_demo, "TS_01")
    contrast, *_ = _bead_contrast(finished_demo, "TS_01", wrong)
    assert contrast < 0.75 * right, (wrong, contrast, right)


def test_defocus_and_hand_are_the_truth(finished_demo):
    """rlnDefocusU/V = D +- Delta/2 (D6): U - V is Warp's DefocusDelta and the truth's; the hand
    (one per dataset, D8) is the truth's."""
    truths = _truth(finished_demo)
    tomograms = starfile.read(finished_demo / "External/job007/tomograms.star")
    decision = json.loads((finished_demo / "External/job005/defocus_hand.json").read_text())
    assert decision["tilt_series"] == len(truths)
    for _, tomo in tomograms.iterrows():
        truth = truths[tomo["rlnTomoName"]]
        assert tomo["rlnTomoHand"] == truth["hand"]
    assert decision["defocus_hand"] == ("flip" if truths["TS_01"]["hand"] == -1 else "noflip")
    for ts in ("TS_01", "TS_03"):
        table = starfile.read(finished_demo / f"External/job005/tilt_series/{ts}.star")
        meta = read_tilt_series_xml(finished_demo / f"External/job005/warp_tiltseries/{ts}.xml")
        index = {m.rsplit("/", 1)[-1].rsplit(".", 1)[0]: i for i, m in enumerate(meta.movie_paths)}
        by_movie = {t["movie"].rsplit(".", 1)[0]: t for t in truths[ts]["tilts"]}
        for _, row in table.iterrows():
            stem = row["rlnMicrographMovieName"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
            delta = meta.defocus_delta[index[stem]] * 1e4
            assert row["rlnDefocusU"] - row["rlnDefocusV"] == pytest.approx(delta, abs=1.0)
            assert row["rlnCtfAstigmatism"] == pytest.approx(delta, abs=1.0)
            tilt = by_movie[stem]
            assert row["rlnDefocusU"] - row["rlnDefocusV"] == pytest.approx(
                tilt["defocus_delta"] * 1e4, abs=60
            )
            mean = (row["rlnDefocusU"] + row["rlnDefocusV"]) / 2
            assert mean == pytest.approx(tilt["defocus"] * 1e4, abs=300)


def test_movie_defocus_u_minus_v_is_warps_delta(finished_demo):
    """D6 in fsMotionAndCtf: rlnDefocusU - rlnDefocusV = the movie XML's DefocusDelta."""
    from crboost.tools.warp import movie_stem, read_movie_xml

    table = starfile.read(finished_demo / "External/job002/tilt_series/TS_02.star")
    folder = finished_demo / "External/job002/warp_frameseries"
    for _, row in table.iterrows():
        meta = read_movie_xml(folder / f"{movie_stem(row['rlnMicrographMovieName'])}.xml")
        delta = meta.defocus_delta_um * 1e4
        assert delta != 0
        assert row["rlnDefocusU"] - row["rlnDefocusV"] == pytest.approx(delta, abs=1.0)
        mean = (row["rlnDefocusU"] + row["rlnDefocusV"]) / 2
        assert mean == pytest.approx(meta.defocus_um * 1e4, abs=1.0)


def test_the_tomograms_show_the_phantom(finished_demo):
    """ts_reconstruct back-projects the tilt images with the alignment: each bead is a peak
    (Warp inverts the contrast: dense is bright) where the truth puts it, in RELION's centring,
    and not at its mirror image in z."""
    truths = _truth(finished_demo)
    tomograms = starfile.read(finished_demo / "External/job007/tomograms.star")
    for _, tomo in tomograms.iterrows():
        with mrcfile.open(finished_demo / tomo["rlnTomoReconstructedTomogram"],
                          permissive=True) as mrc:  # fmt: skip
            volume, voxel = np.asarray(mrc.data, dtype=float), float(mrc.voxel_size.x)
        volume = (volume - volume.mean()) / volume.std()
        at = _sampler(volume, voxel)
        beads = truths[tomo["rlnTomoName"]]["beads"]
        assert min(at(*b["position"]) for b in beads) > 8, tomo["rlnTomoName"]
        right = np.mean([at(*b["position"]) for b in beads])
        mirrored = np.mean([at(x, y, -z) for x, y, z in (b["position"] for b in beads)])
        assert mirrored < 0.5 * right, (tomo["rlnTomoName"], mirrored, right)


def _sampler(volume: np.ndarray, voxel: float):
    nz, ny, nx = volume.shape

    def at(x: float, y: float, z: float) -> float:
        return volume[round(z / voxel) + nz // 2, round(y / voxel) + ny // 2,
                      round(x / voxel) + nx // 2]  # fmt: skip

    return at
