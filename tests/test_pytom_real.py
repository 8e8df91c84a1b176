"""Opt-in: the REAL pytom-match-pick 0.14.0 on the CPU (tests/tools/cupy_shim stands in for
cupy), against the simulator on the same planted tomogram: both find the particles, and write
the same files with the same fields and columns. Needs pytom in its own environment
(CRBOOST_PYTOM_BIN, default /opt/crboost-tools/pytom/bin: `pip install --no-deps
pytom-match-pick==0.14.0` and its dependencies but cupy); skipped without it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import starfile
from conftest import REPO
from test_particle_tools import TRUTH, VOXEL, planted_tomogram, sim

PYTOM_BIN = Path(os.environ.get("CRBOOST_PYTOM_BIN", "/opt/crboost-tools/pytom/bin"))
SHIM = REPO / "tests" / "tools" / "cupy_shim"

pytestmark = pytest.mark.skipif(
    not (PYTOM_BIN / "pytom_match_template.py").exists(), reason=f"no pytom at {PYTOM_BIN}"
)

MATCH = ["-t", "particle.mrc", "-m", "particle_mask.mrc", "-v", "TS_01.mrc", "-d", ".",
         "--tilt-angles", "TS_01.tlt", "--angular-search", "30", "-g", "0"]  # fmt: skip
EXTRACT = ["-j", "TS_01_job.json", "-n", "3", "--particle-diameter", "50", "--relion5-compat"]


def real(program: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SHIM)}
    return subprocess.run([str(PYTOM_BIN / program), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)  # fmt: skip


def run_both(tmp_path: Path) -> dict[str, Path]:
    folders = {"real": tmp_path / "real", "simulated": tmp_path / "simulated"}
    for kind, folder in folders.items():
        folder.mkdir()
        planted_tomogram(folder)
        run = real if kind == "real" else (lambda p, *a, cwd: sim(p, *a, cwd=cwd))
        for program, args in (("pytom_match_template.py", MATCH),
                              ("pytom_extract_candidates.py", EXTRACT)):  # fmt: skip
            proc = run(program, *args, cwd=folder)
            assert proc.returncode == 0, f"{kind} {program}: {proc.stderr[-2000:]}"
    return folders


def test_real_pytom_and_the_simulator_agree(tmp_path):
    folders = run_both(tmp_path)
    jobs = {k: json.loads((f / "TS_01_job.json").read_text()) for k, f in folders.items()}
    assert set(jobs["simulated"]) == set(jobs["real"])
    assert set(jobs["simulated"]["ts_metadata"]) == set(jobs["real"]["ts_metadata"])
    for key in ("tomo_shape", "template_shape", "voxel_size", "n_rotations", "tomo_id"):
        assert jobs["simulated"][key] == jobs["real"][key], key
    assert (
        jobs["simulated"]["job_stats"]["search_space"] == jobs["real"]["job_stats"]["search_space"]
    )
    found = {}
    for kind, folder in folders.items():
        table = starfile.read(folder / "TS_01_particles.star", always_dict=True)["particles"]
        found[kind] = table
        centre = np.array(jobs[kind]["tomo_shape"]) / 2
        voxels = (
            table[[f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"]].to_numpy() / VOXEL + centre
        )
        for truth in TRUTH:
            # within a particle radius (25 A): the local normalisation under the mask pulls the
            # peak of this lopsided particle a few voxels, in pytom as in the simulator
            assert np.linalg.norm(voxels - np.array(truth), axis=1).min() <= 4.5, (kind, truth)
    assert list(found["simulated"].columns) == list(found["real"].columns)
