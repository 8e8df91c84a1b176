"""Opt-in: subtomoExtraction and reconstructParticle with the REAL RELION 5 programs
(relion_tomo_subtomo, relion_tomo_reconstruct_particle), on the files the particle chain writes.
RELION has no package: build it from source (CPU, no GUI) and point CRBOOST_RELION_BIN at its
bin/ (default /opt/crboost-tools/relion/bin); skipped without it.

One project runs the simulated chain up to the candidates; a copy of it goes on with the real
RELION, the original with the simulated one. Both must keep the same particles, cut the same 2D
stacks (RELION's pixels, not only its names) and average to the same map, whose centre is the
phantom's particle: so our STAR files mean to RELION what they mean to us, and the simulator
does what RELION does.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import starfile
import yaml
from conftest import copy_project, run_cli
from test_particle_pipeline import JOBS
from test_particle_pipeline import demo_project as particle_demo

from crboost.phantom import read_truth

RELION_BIN = Path(os.environ.get("CRBOOST_RELION_BIN", "/opt/crboost-tools/relion/bin"))
PROGRAMS = ("relion_tomo_subtomo", "relion_tomo_reconstruct_particle")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(shutil.which(p, path=str(RELION_BIN)) for p in PROGRAMS),
        reason=f"no RELION 5 tomo programs in {RELION_BIN}",
    ),
]


def with_tools(project: Path, real_relion: bool) -> None:
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    simulated = ["warptools", "aretomo2", "aretomo3", "cryocare", "pytom"]
    data["tools"]["simulate"] = simulated if real_relion else [*simulated, "relion"]
    if real_relion:
        data["tools"]["relion"] = {"path": str(RELION_BIN)}
    config.write_text(yaml.safe_dump(data))


def run_to(project: Path, job: str) -> None:
    proc = run_cli("run", str(project), "--", f"{job}/RELION_JOB_EXIT_SUCCESS")
    assert proc.returncode == 0, proc.stderr[-4000:]


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(float).ravel(), b.astype(float).ravel()
    return float(np.corrcoef(a - a.mean(), b - b.mean())[0, 1])


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    simulated = particle_demo(tmp_path_factory.mktemp("relion"), count=2)
    with_tools(simulated, real_relion=False)
    run_to(simulated, JOBS["candidates"])
    real = copy_project(simulated, simulated.parent / "real")
    with_tools(real, real_relion=True)
    for project in (simulated, real):
        run_to(project, JOBS["average"])
    return {"simulated": simulated, "real": real}


def best_shift(real: np.ndarray, simulated: np.ndarray) -> tuple[float, tuple[float, float]]:
    """The shift of the simulated stack (in binned pixels, quarter steps) that matches the real
    one best, and the correlation there (inside the circle RELION keeps)."""
    from scipy.ndimage import shift

    n = real.shape[-1]
    yy, xx = np.indices((n, n)) - (n - 1) / 2
    inside = np.hypot(yy, xx) < n / 2 - 1
    found = []
    for dy in np.arange(-1.5, 1.51, 0.25):
        for dx in np.arange(-1.5, 1.51, 0.25):
            moved = shift(simulated, (0, dy, dx), order=3, mode="nearest")
            found.append((correlation(real[:, inside], moved[:, inside]), (dy, dx)))
    return max(found)


def test_real_relion_extracts_the_same_particles_at_the_same_places(projects):
    tables = {
        name: starfile.read(p / JOBS["subtomo"] / "particles.star", always_dict=True)
        for name, p in projects.items()
    }
    real, simulated = tables["real"]["particles"], tables["simulated"]["particles"]
    assert len(real) > 0
    assert list(real["rlnImageName"]) == list(simulated["rlnImageName"])
    assert tables["real"]["general"]["rlnTomoSubTomosAre2DStacks"] == 1
    for name in real["rlnImageName"]:
        with (
            mrcfile.open(projects["real"] / name) as a,
            mrcfile.open(projects["simulated"] / name) as b,
        ):
            assert bytes(a.header.label[0]).startswith(b"Relion "), "RELION wrote this stack"
            assert b"SIMULATED" not in bytes(a.header.label[0])
            assert b"SIMULATED" in bytes(b.header.label[0]), "the simulator says what it is"
            assert a.data.dtype == np.float16 and a.data.shape == b.data.shape
            assert np.isfinite(a.data).all()
            # the same patches of the tilt images, the same contrast (RELION's CTF
            # premultiplication is not simulated: hence no more than ~0.8)
            score, (dy, dx) = best_shift(a.data.astype(float), b.data.astype(float))
            assert score > 0.5, (name, score)
            assert abs(dy) <= 0.5 and abs(dx) <= 0.5, (name, dy, dx)


def test_real_relion_centres_the_phantoms_particles(projects):
    """Where a candidate is one of the phantom's particles, RELION's stack shows it in the middle:
    bright (contrast inverted) at the centre of the average over tilts, dark around."""
    truth = read_truth(projects["real"] / "raw/phantom.json")
    table = starfile.read(projects["real"] / JOBS["subtomo"] / "particles.star", always_dict=True)
    columns = [f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"]
    checked = 0
    for _, particle in table["particles"].iterrows():
        true = np.array([p["position"] for p in truth[particle["rlnTomoName"]].particles])
        if np.linalg.norm(true - particle[columns].to_numpy(float), axis=1).min() > 65 / 2:
            continue
        with mrcfile.open(projects["real"] / particle["rlnImageName"]) as mrc:
            mean = mrc.data.astype(float).mean(axis=0)
        n = mean.shape[0]
        radius = np.hypot(*(np.indices(mean.shape) - (n - 1) / 2))
        centre, ring = mean[radius < 1.5].mean(), mean[(radius >= 2.5) & (radius < 4)].mean()
        assert centre > 3 * abs(ring) > 0, (particle["rlnImageName"], centre, ring)
        checked += 1
    assert checked >= 4, "the candidates found the phantom's particles"


def test_real_relion_averages_with_half_maps(projects):
    average = projects["real"] / JOBS["average"]
    for name in ("merged.mrc", "half1.mrc", "half2.mrc"):
        with mrcfile.open(average / name) as mrc:
            assert b"SIMULATED" not in bytes(mrc.header.label[0])
            assert mrc.data.shape == (10, 10, 10)
            assert np.isfinite(mrc.data).all() and mrc.data.std() > 0
    optset = starfile.read(average / "optimisation_set.star")
    assert optset["rlnTomoReferenceMap1File"].endswith("half1.mrc")
