"""The simulated pytom and cryoCARE programs compute on their inputs as the real ones would:
planted particles are found where they are, pytom's duplicate-angle failure is reproduced, and
cryoCARE refuses what it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import starfile

from crboost.demo import write_template
from crboost.phantom import particle_map
from crboost.simulator.pytom_angles import get_angle_list

VOXEL = 5.4
TRUTH = [(10, 12, 14), (30, 25, 16), (20, 30, 10)]  # voxel x, y, z of each particle's centre
SHAPE = (32, 40, 48)  # z, y, x


def sim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crboost.simulator", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True)  # fmt: skip


def planted_tomogram(folder: Path, angles=range(-30, 31, 3)) -> None:
    rng = np.random.default_rng(1)
    tomo = rng.normal(0, 0.3, SHAPE).astype(np.float32)
    for x, y, z in TRUTH:
        tomo[z - 6 : z + 6, y - 6 : y + 6, x - 6 : x + 6] += particle_map(12, VOXEL)
    with mrcfile.new(folder / "TS_01.mrc") as mrc:
        mrc.set_data(tomo)
        mrc.voxel_size = VOXEL
    write_template(folder, VOXEL)
    (folder / "TS_01.tlt").write_text("".join(f"{a}\n" for a in angles))


def match(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return sim("pytom_match_template.py", "-t", "particle.mrc", "-m", "particle_mask.mrc",
               "-v", "TS_01.mrc", "-d", ".", "--tilt-angles", "TS_01.tlt",
               "--angular-search", "30", "-g", "0", *extra, cwd=folder)  # fmt: skip


def test_angle_list_is_pytoms():
    """pytom 0.14 at 30 degrees: healpix nside 2 (48 directions) x 12 in-plane angles."""
    angles = get_angle_list(30)
    assert len(angles) == 576 and angles == sorted(angles)
    assert len(get_angle_list(30, symmetry=2)) < 576


def test_matcher_and_extraction_find_planted_particles(tmp_path):
    planted_tomogram(tmp_path)
    proc = match(tmp_path)
    assert proc.returncode == 0, proc.stderr
    job = json.loads((tmp_path / "TS_01_job.json").read_text())
    assert job["tomo_shape"] == [48, 40, 32] and job["n_rotations"] == 576
    assert np.isfinite(job["job_stats"]["std"])
    with mrcfile.open(tmp_path / "TS_01_scores.mrc") as mrc:
        assert mrc.data.shape == SHAPE and mrc.voxel_size.x == pytest.approx(VOXEL)
    proc = sim("pytom_extract_candidates.py", "-j", "TS_01_job.json", "-n", "3",
               "--particle-diameter", "50", "--relion5-compat", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    found = starfile.read(tmp_path / "TS_01_particles.star", always_dict=True)["particles"]
    assert set(found["rlnTomoName"]) == {"TS_01"}
    centre = np.array([48, 40, 32]) / 2
    voxels = found[[f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"]].to_numpy() / VOXEL + centre
    for truth in TRUTH:
        distance = np.linalg.norm(voxels - np.array(truth), axis=1).min()
        assert distance <= 2.5, f"no candidate near {truth}: {voxels}"


def test_duplicate_tilt_angles_give_nan_statistics_and_exit_0(tmp_path):
    """pytom #348: with --per-tilt-weighting, two tilts at one angle -> scores -inf, std NaN,
    and the program still exits 0; the extraction then refuses the job."""
    planted_tomogram(tmp_path, angles=[0, 0, 3, -3, 6, -6])
    proc = match(tmp_path, "--per-tilt-weighting")
    assert proc.returncode == 0
    stats = json.loads((tmp_path / "TS_01_job.json").read_text())["job_stats"]
    assert np.isnan(stats["std"])
    proc = sim("pytom_extract_candidates.py", "-j", "TS_01_job.json", "-n", "3",
               "--particle-diameter", "50", cwd=tmp_path)  # fmt: skip
    assert proc.returncode != 0 and "job stat 'variance' is NaN" in proc.stderr


@pytest.mark.parametrize(
    "change, message",
    [
        ({"voxel": 4.2}, "Voxel size could not be assigned"),
        ({"gpu": "1"}, "gpu indices should be between 0 and 0"),
    ],
)
def test_matcher_refuses_what_pytom_refuses(tmp_path, change, message):
    planted_tomogram(tmp_path)
    if "voxel" in change:
        with mrcfile.open(tmp_path / "particle.mrc", mode="r+") as mrc:
            mrc.voxel_size = change["voxel"]
    args = ["pytom_match_template.py", "-t", "particle.mrc", "-m", "particle_mask.mrc", "-v",
            "TS_01.mrc", "--tilt-angles", "TS_01.tlt", "--angular-search", "30",
            "-g", change.get("gpu", "0")]  # fmt: skip
    proc = sim(*args, cwd=tmp_path)
    assert proc.returncode != 0 and message in proc.stderr
    assert not (tmp_path / "TS_01_scores.mrc").exists()


def halves(folder: Path, shape=(20, 40, 40)) -> None:
    rng = np.random.default_rng(2)
    for name in ("even.mrc", "odd.mrc"):
        with mrcfile.new(folder / name) as mrc:
            mrc.set_data(rng.normal(0, 1, shape).astype(np.float32))
            mrc.voxel_size = VOXEL


def test_cryocare_refuses_a_patch_too_large_for_z(tmp_path):
    """CryoCAREDataModule asserts every dimension > 2 x patch: Z = 20 fails a patch of 10."""
    halves(tmp_path)
    proc = extract_train_data(tmp_path, patch=10, samples=10)
    assert proc.returncode != 0 and "AssertionError" in proc.stderr
    proc = extract_train_data(tmp_path, patch=8, samples=10)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "train_data" / "train_data.npz").exists()


def extract_train_data(folder: Path, patch: int, samples: int):
    """The simulated cryoCARE_extract_train_data.py on even.mrc/odd.mrc in `folder`."""
    conf = {"even": ["even.mrc"], "odd": ["odd.mrc"], "patch_shape": [patch] * 3,
            "num_slices": samples, "split": 0.9, "tilt_axis": "Y", "n_normalization_samples": 5,
            "path": "train_data", "overwrite": True}  # fmt: skip
    (folder / "c.json").write_text(json.dumps(conf))
    return sim("cryoCARE_extract_train_data.py", "--conf", "c.json", cwd=folder)


def test_cryocare_predict_without_gpu_id_fails_as_cryocare_does(tmp_path):
    halves(tmp_path)
    conf = {"path": "missing.tar.gz", "even": ["even.mrc"], "odd": ["odd.mrc"],
            "n_tiles": [1, 1, 1], "output": "out", "overwrite": True}  # fmt: skip
    (tmp_path / "p.json").write_text(json.dumps(conf))
    proc = sim("cryoCARE_predict.py", "--conf", "p.json", cwd=tmp_path)
    assert proc.returncode != 0 and "UnboundLocalError" in proc.stderr


def test_a_picture_never_fails_a_job(capsys):
    from crboost import qc

    def broken():
        raise ValueError("no data")

    qc.safely(broken)
    assert "QC picture not made: ValueError: no data" in capsys.readouterr().err


def test_half_tomogram_checks(tmp_path):
    from crboost.tools.inputchecks import check_halves, check_patch

    halves(tmp_path)
    even, odd = tmp_path / "even.mrc", tmp_path / "odd.mrc"
    assert check_halves(even, odd, "tomogram TS_01") == (40, 40, 20)
    assert "no such file" in check_halves(even, tmp_path / "x.mrc", "tomogram TS_01")
    with mrcfile.new(odd, overwrite=True) as mrc:
        mrc.set_data(np.zeros((20, 40, 40), np.float32))
    assert "is constant (all 0)" in check_halves(even, odd, "tomogram TS_01")
    with mrcfile.new(odd, overwrite=True) as mrc:
        mrc.set_data(np.ones((20, 40, 41), np.float32))
    assert "differ in shape (40x40x20 and 41x40x20 px)" in check_halves(even, odd, "tomogram TS_01")
    assert check_patch((40, 40, 20), 9, "x", "is") is None
    assert "use at most 9" in check_patch((40, 40, 20), 10, "x", "is")
    # cryoCARE's validation cut along Y: 64 px and a patch of 8 leave no room (low >= high)
    assert "low >= high" in check_patch((64, 64, 32), 8, "x", "is")
    assert check_patch((64, 64, 32), 12, "x", "is") is None


def test_cryocare_fails_where_its_validation_cut_leaves_no_room(tmp_path):
    """64 px along the tilt axis Y, patch 8, split 0.9, 40 samples: cryoCARE 0.3.0 cuts at 56 and
    np.random.randint(56, 56, size=4) raises (run here with the real cryoCARE: exit 1, the same
    line); the run-start check says so before the tool runs."""
    halves(tmp_path, shape=(32, 64, 64))
    proc = extract_train_data(tmp_path, patch=8, samples=40)
    assert proc.returncode != 0 and "low >= high" in proc.stderr
    assert extract_train_data(tmp_path, patch=12, samples=40).returncode == 0
