"""The importmovies job end to end: RELION 5 import files, CryoBoost layout, skips and failure."""

from __future__ import annotations

import os
import re
import shutil

import pandas as pd
import pytest
import starfile
from conftest import copy_project, plain_snakemake_dry_run, reference, run_cli

from crboost.demo import DOSE_PER_TILT, write_tilt_series
from crboost.relion.pipeline import read_pipeline

pytestmark = pytest.mark.slow


def test_demo_import_matches_relion5(finished_demo):
    job = finished_demo / "Import" / "job001"
    ref_global = starfile.read(reference("relion", "tomobabel__Import__tilt_series.star"))
    ref_ts = starfile.read(reference("relion", "tomobabel__Import_tilt_series__TS_01.star"))

    glob = starfile.read(job / "tilt_series.star", always_dict=True)
    assert list(glob) == ["global"]
    table = glob["global"]
    assert list(table.columns) == list(ref_global.columns)
    assert list(table["rlnTomoName"]) == ["TS_01", "TS_02", "TS_03", "TS_04"]
    assert set(table["rlnTomoHand"]) == {-1}
    assert set(table["rlnMicrographOriginalPixelSize"]) == {2.7}

    for name, star in zip(table["rlnTomoName"], table["rlnTomoTiltSeriesStarFile"], strict=True):
        assert star == f"Import/job001/tilt_series/{name}.star"
        blocks = starfile.read(finished_demo / star, always_dict=True)
        assert list(blocks) == [name], "block must be data_<rlnTomoName> (RELION's C++ reader)"
        ts = blocks[name]
        assert list(ts.columns) == list(ref_ts.columns)
        assert len(ts) == 21
        # acquisition order (dose-symmetric): 0, 3, 6, -3, -6, ...; pre-exposure = dose before
        assert list(ts["rlnTomoNominalStageTiltAngle"].round())[:5] == [0, 3, 6, -3, -6]
        assert list(ts["rlnMicrographPreExposure"]) == [DOSE_PER_TILT * i for i in range(21)]
        for movie in ts["rlnMicrographMovieName"]:
            assert movie.startswith("frames/")
            assert os.path.isfile(finished_demo / movie), "frames/ link must resolve"
        mdoc = (finished_demo / "mdoc" / f"{name}.mdoc").read_text()
        subframes = [ln for ln in mdoc.splitlines() if ln.startswith("SubFramePath")]
        assert len(subframes) == 21 and all(" = frames/" in ln for ln in subframes)

    assert (job / "RELION_JOB_EXIT_SUCCESS").exists()
    nodes = starfile.read(job / "RELION_OUTPUT_NODES.star")
    assert list(nodes["rlnPipeLineNodeTypeLabel"]) == [
        "TomogramGroupMetadata.star.relion.tomo.import"
    ]
    pipeline = read_pipeline(finished_demo / "default_pipeline.star")
    process = pipeline.process_list()[0]
    assert (process.name, process.alias, process.status) == (
        "Import/job001/",
        "Import/import/",
        "Succeeded",
    )
    assert os.readlink(finished_demo / "Import" / "import") == "../Import/job001/"


def test_finished_project_has_nothing_to_do(finished_demo):
    proc = run_cli("run", str(finished_demo), "--", "-n")
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to be done" in proc.stdout + proc.stderr
    # plain snakemake from the repository root does the same
    proc = plain_snakemake_dry_run(finished_demo)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr


def test_dry_run_writes_nothing(demo_project):
    before = sorted(p.name for p in demo_project.rglob("*"))
    proc = run_cli("run", str(demo_project), "--", "-n")
    assert proc.returncode == 0
    assert "importmovies_tilt_series" in proc.stdout
    after = sorted(p.name for p in demo_project.rglob("*") if ".snakemake" not in p.parts)
    assert after == [p for p in before if p != ".snakemake"]
    assert not (demo_project / "default_pipeline.star").exists()


def test_short_and_incomplete_tilt_series_are_skipped(demo_project):
    raw = demo_project / "raw"
    write_tilt_series(
        raw,
        "short",
        seed=9,
        start=pd.Timestamp("2025-01-25").to_pydatetime(),
        angles=[0.0, 3.0, -3.0],
    )
    write_tilt_series(raw, "gap", seed=10, start=pd.Timestamp("2025-01-25").to_pydatetime())
    next(raw.glob("frames/gap_005_*.mrc")).unlink()
    proc = run_cli("run", str(demo_project))
    assert proc.returncode == 0, proc.stderr
    log = (demo_project / "Import" / "job001" / "run.out").read_text()
    assert "skipped gap: 1 of 21 movies not found (gap_005_" in log
    assert "skipped short: only 3 tilts" in log
    names = starfile.read(demo_project / "Import/job001/tilt_series.star")["rlnTomoName"]
    assert list(names) == ["TS_01", "TS_02", "TS_03"]
    tomograms = starfile.read(demo_project / "External/job006/tomograms.star")["rlnTomoName"]
    assert list(tomograms) == ["TS_01", "TS_02", "TS_03"]


def test_no_usable_tilt_series_fails_the_job_with_reason(tmp_path):
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "1", "--no-run", check=True)
    for movie in (project / "raw" / "frames").glob("TS_01_01*.mrc"):
        movie.unlink()
    proc = run_cli("run", str(project))
    assert proc.returncode != 0
    job = project / "Import" / "job001"
    assert not (job / "RELION_JOB_EXIT_SUCCESS").exists()
    reason = (job / "RELION_JOB_EXIT_FAILURE").read_text()
    assert "no usable tilt series" in reason and "TS_01" in reason
    assert read_pipeline(project / "default_pipeline.star").process_list()[0].status == "Failed"


def test_new_tilt_series_runs_only_itself(tmp_path, finished_demo):
    project = copy_project(finished_demo, tmp_path / "p")
    old = project / "Import/job001/tilt_series/TS_01.star"
    mtime = old.stat().st_mtime_ns
    write_tilt_series(
        project / "raw", "TS_05", seed=5, start=pd.Timestamp("2025-01-25").to_pydatetime()
    )
    proc = run_cli("run", str(project), "--", "-n")
    assert "importmovies_tilt_series" in proc.stdout
    per_ts = set(re.findall(r"wildcards:.*\bts=([^,\s]+)", proc.stdout))
    assert per_ts == {"TS_05"}, "only the new tilt series runs"
    proc = run_cli("run", str(project))
    assert proc.returncode == 0, proc.stderr
    assert old.stat().st_mtime_ns == mtime
    names = starfile.read(project / "Import/job001/tilt_series.star")["rlnTomoName"]
    assert list(names) == ["TS_01", "TS_02", "TS_03", "TS_04", "TS_05"]


def test_repointed_raw_data_reruns_nothing(tmp_path, finished_demo):
    project = copy_project(finished_demo, tmp_path / "p")
    moved = tmp_path / "elsewhere"
    shutil.move(project / "raw", moved)
    text = (project / "crboost.yaml").read_text()
    text = text.replace("raw/frames/*.mrc", f"{moved}/frames/*.mrc").replace(
        "raw/mdoc/*.mdoc", f"{moved}/mdoc/*.mdoc"
    )
    (project / "crboost.yaml").write_text(text)
    proc = run_cli("run", str(project), "--", "-n")
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to be done" in proc.stdout + proc.stderr
    star = project / "Import/job001/tilt_series/TS_01.star"
    mtime = star.stat().st_mtime_ns
    links = sorted((project / "frames").iterdir())
    assert links and not any(link.exists() for link in links), "links dangle after the move"
    proc = run_cli("run", str(project))
    assert proc.returncode == 0, proc.stderr
    assert star.stat().st_mtime_ns == mtime, "nothing re-ran"
    assert all(link.resolve().is_relative_to(moved) for link in links), "links follow the movies"


def test_tilt_series_skipped_later_are_named_where_the_user_looks(tmp_path, finished_demo):
    """An mdoc added without its movies changes no tilt series (nothing re-runs), but `run`,
    the import job's run.out and `status` name it, with the reason."""
    import json

    project = copy_project(finished_demo, tmp_path / "p")
    raw = project / "raw"
    write_tilt_series(raw, "TS_05", seed=5, start=pd.Timestamp("2025-01-25").to_pydatetime())
    next(raw.glob("frames/TS_05_003_*.mrc")).unlink()
    for i in range(5):  # per-movie mdocs next to the tilt-series mdocs: one line for them all
        (raw / "mdoc" / f"movie{i}.tif.mdoc").write_text("[FrameSet = 0]\nTiltAngle = 0\n")
    before = {p: p.stat().st_mtime_ns for p in (project / "External").rglob("*") if p.is_file()}
    proc = run_cli("run", str(project))
    assert proc.returncode == 0, proc.stderr
    reason = "TS_05: 1 of 21 movies not found (TS_05_003_"
    assert f"crboost: skipped {reason}" in proc.stderr
    assert "crboost: skipped 5 files that are not tilt series (per-movie, montage or override " \
           "mdocs): movie0, movie1, movie2, movie3, movie4" in proc.stderr  # fmt: skip
    assert "Nothing to be done" in proc.stdout + proc.stderr
    after = {p: p.stat().st_mtime_ns for p in (project / "External").rglob("*") if p.is_file()}
    assert after == before, "nothing re-ran"
    run_out = (project / "Import/job001/run.out").read_text()
    assert f"skipped {reason}" in run_out
    assert "skipped movie3: per-movie (FrameSet) mdoc, not a tilt series" in run_out
    table = run_cli("status", str(project), check=True).stdout
    assert f"skipped {reason}" in table
    data = json.loads(run_cli("status", str(project), "--json", check=True).stdout)
    assert data["skipped"]["TS_05"].startswith("1 of 21 movies not found")
    assert len(data["skipped"]) == 6
    proc = run_cli("run", str(project))  # said again, but run.out does not grow
    assert f"crboost: skipped {reason}" in proc.stderr
    assert (project / "Import/job001/run.out").read_text() == run_out
