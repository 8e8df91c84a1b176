"""The chain from tomograms to an average with the tool simulator: files RELION and the tools
use, a tomogram failing template matching while the others go on, and the resume after it."""

from __future__ import annotations

import json

import mrcfile
import numpy as np
import pytest
import starfile
import yaml
from conftest import run_cli

from crboost.phantom import read_truth
from crboost.relion.pipeline import read_pipeline
from crboost.relion.validate import validate_project

pytestmark = pytest.mark.slow

JOBS = {
    "reconstruct": "External/job007",
    "denoisetrain": "External/job008",
    "denoise": "External/job009",
    "match": "External/job010",
    "candidates": "External/job011",
    "subtomo": "External/job012",
    "average": "External/job013",
}


def demo_project(tmp_path, count=3):
    """The demo's phantom, candidates by a manual cut-off (pytom's false-positive estimate keeps
    nothing on tomograms this small)."""
    project = tmp_path / "p"
    proc = run_cli("demo", str(project), "--tilt-series", str(count), "--to", "particles",
                   "--no-run")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    candidates = next(j for j in data["pipeline"] if j["name"] == "candidates")
    candidates["params"].update(cutoff_method="manual", cc_threshold=0.0)
    config.write_text(yaml.safe_dump(data))
    return project


def test_one_tomogram_failing_template_matching_then_resume(tmp_path):
    project = demo_project(tmp_path)
    proc = run_cli("run", str(project), "--", "--keep-going",
                   env={"CRBOOST_SIM_FAIL": "templatematching:TS_02"})  # fmt: skip
    assert proc.returncode != 0
    match, candidates = project / JOBS["match"], project / JOBS["candidates"]
    for ts in ("TS_01", "TS_03"):  # the others went on through matching and extraction
        assert (candidates / f"tilt_series/{ts}.star").exists()
    assert not (match / "tilt_series/TS_02.star").exists()
    assert "TS_02" in (match / "RELION_JOB_EXIT_FAILURE").read_text()
    jobs = {
        j["job"]: j for j in json.loads(run_cli("status", str(project), "--json").stdout)["jobs"]
    }
    assert jobs["match"]["status"] == "Failed"
    assert jobs["match"]["tilt_series"] == {"done": 2, "failed": 1, "total": 3, "excluded": 0}
    assert jobs["denoise"]["status"] == "Succeeded"
    done = match / "tm/TS_01/TS_01_scores.mrc"
    before = done.stat().st_mtime_ns

    proc = run_cli("run", str(project), "--", "-n")
    tasks = [ln for ln in proc.stdout.splitlines() if "wildcards:" in ln and "ts=" in ln]
    assert tasks and all(
        "ts=TS_02" in ln for ln in tasks if "templatematching" in ln or "job=job010" in ln
    )
    proc = run_cli("run", str(project))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert done.stat().st_mtime_ns == before, "TS_01 was matched again"
    statuses = {
        p.name: p.status for p in read_pipeline(project / "default_pipeline.star").process_list()
    }
    assert set(statuses.values()) == {"Succeeded"}
    check_outputs(project)
    assert validate_project(project) == []
    from test_star_values import all_star_files, bad_values

    assert [bad for path in all_star_files(project) for bad in bad_values(path)] == []
    template_change_reruns_matching(project)


def planned_rules(project) -> dict[str, int]:
    proc = run_cli("run", str(project), "--", "-n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("rule ") and line.rstrip().endswith(":"):
            name = line.split()[1].rstrip(":")
            counts[name] = counts.get(name, 0) + 1
    return counts


def template_change_reruns_matching(project):
    template = project / "templates/particle.mrc"
    data = template.read_bytes()
    template.write_bytes(data)  # same content, new time: nothing to do
    assert set(planned_rules(project)) <= {"all"}
    with mrcfile.open(template, mode="r+") as mrc:
        mrc.data[:] = mrc.data * 0.5 + 0.1
    planned = planned_rules(project)
    assert planned.get("templatematching_tilt_series") == 3, planned
    assert "denoisepredict_tilt_series" not in planned


def candidates_find_the_phantoms_particles(project, candidates, radius=65 / 2):
    """Every particle of the phantom (raw/phantom.json) has a candidate within a particle radius
    (the demo's diameter is 65 A), and each tomogram's best candidate is one of them."""
    truth = read_truth(project / "raw/phantom.json")
    columns = [f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"]
    for ts in ("TS_01", "TS_02", "TS_03"):
        found = candidates[candidates["rlnTomoName"] == ts]
        xyz = found[columns].to_numpy(float)
        true = np.array([p["position"] for p in truth[ts].particles], float)
        assert len(true) and len(xyz), ts
        nearest = np.linalg.norm(xyz[None, :, :] - true[:, None, :], axis=2).min(axis=1)
        assert (nearest < radius).all(), f"{ts}: nearest candidates {nearest.round(1)} A"
        best = xyz[found["rlnLCCmax"].to_numpy().argmax()]
        assert np.linalg.norm(true - best, axis=1).min() < radius, ts


def check_outputs(project):
    names = ["TS_01", "TS_02", "TS_03"]
    # RELION's naming of the half tomograms (relion-consumes.md F1)
    tomograms = starfile.read(project / JOBS["reconstruct"] / "tomograms.star")
    for ts, half1 in zip(names, tomograms["rlnTomoReconstructedTomogramHalf1"], strict=True):
        assert half1.endswith(f"tomograms/rec_{ts}_half1.mrc") and (project / half1).exists()
    # the denoised tomogram is added, the raw one kept
    denoised = starfile.read(project / JOBS["denoise"] / "tomograms.star")
    assert list(denoised["rlnTomoReconstructedTomogram"]) == list(
        tomograms["rlnTomoReconstructedTomogram"]
    )
    for path in denoised["rlnTomoReconstructedTomogramDenoised"]:
        with mrcfile.open(project / path) as mrc:
            assert mrc.data.shape == (32, 64, 64) and np.isfinite(mrc.data).all()
    # pytom's outputs are named after the tomogram link <rlnTomoName>.mrc
    assert (project / JOBS["match"] / "tm/TS_02/TS_02_job.json").exists()
    cand = starfile.read(project / JOBS["candidates"] / "candidates.star", always_dict=True)
    assert set(cand) == {"particles"}
    assert set(cand["particles"]["rlnTomoName"]) <= set(names)
    assert "rlnTomoTiltSeriesPixelSize" not in cand["particles"]
    candidates_find_the_phantoms_particles(project, cand["particles"])
    optset = starfile.read(project / JOBS["candidates"] / "optimisation_set.star")
    assert (project / optset["rlnTomoParticlesFile"]).exists()
    assert (project / optset["rlnTomoTomogramsFile"]).exists()
    # RELION's extraction: 2D stacks per tomogram, all in one particles.star
    extracted = starfile.read(project / JOBS["subtomo"] / "particles.star", always_dict=True)
    assert set(extracted) == {"general", "optics", "particles"}
    for name in extracted["particles"]["rlnImageName"]:
        with mrcfile.open(project / name) as mrc:
            assert mrc.data.dtype == np.float16 and mrc.data.shape[1:] == (10, 10)
    # the average, with half maps from the two random halves
    average = project / JOBS["average"]
    halves = starfile.read(average / "particles.star", always_dict=True)["particles"]
    assert set(halves["rlnRandomSubset"]) == {1, 2}
    for name in ("merged.mrc", "half1.mrc", "half2.mrc"):
        with mrcfile.open(average / name) as mrc:
            assert mrc.data.shape == (10, 10, 10) and mrc.data.std() > 0
    optset = starfile.read(average / "optimisation_set.star")
    assert optset["rlnTomoReferenceMap1File"].endswith("half1.mrc")
    check_pictures(project, cand["particles"])


def check_pictures(project, candidates):
    """What a person looks at: PNGs that decode, are not blank, and show the candidates."""
    from PIL import Image

    pictures = [project / JOBS["match"] / f"qc/{ts}_scores.png" for ts in ("TS_01", "TS_02")]
    pictures += [project / JOBS["average"] / "qc/average.png"]
    for path in pictures:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"))
        assert min(pixels.shape) >= 96 and pixels.std() > 5, path
    with Image.open(project / JOBS["candidates"] / "qc/TS_01_candidates.png") as image:
        rgb = np.asarray(image.convert("RGB")).astype(int)
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    assert (candidates["rlnTomoName"] == "TS_01").any() and red.sum() > 20
