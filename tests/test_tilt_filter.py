"""Curation end to end: excluded tilts reach every later step (the STAR files, Warp's UseTilt
in what ts_reconstruct reads) and re-run only their tilt series from the filter on; an excluded
tilt series is "excluded", never "failed", and does not block a job; the filter's rules; what
`crboost run` shows in a terminal while this happens."""

from __future__ import annotations

import html
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import starfile
import yaml
from conftest import copy_project, run_cli

from crboost.demo import DEMO_SETTINGS, write_demo_data
from crboost.project.init import init_project
from crboost.tools.warp import movie_stem, read_tilt_series_xml

pytestmark = pytest.mark.slow

FILTER, RECONSTRUCT = "External/job006", "External/job007"
#: bookkeeping that changes with any run (Snakemake's records, crboost's run state, the report)
BOOKKEEPING = (".snakemake/", ".crboost/", "report/", "default_pipeline.star",
               ".pipeline_has_changed", ".gui_projectdir", "curation.yaml")  # fmt: skip


def file_times(project: Path) -> dict[str, int]:
    return {
        str(p.relative_to(project)): p.lstat().st_mtime_ns
        for p in project.rglob("*")
        if not p.is_dir() or p.is_symlink()
    }


def planned(proc: subprocess.CompletedProcess) -> tuple[set[str], set[str]]:
    rules = set(re.findall(r"^\s*(?:local)?rule (\w+):", proc.stdout, re.M))
    return rules, set(re.findall(r"wildcards:.*\bts=([^,\s]+)", proc.stdout))


def test_excluding_two_tilts_reruns_only_that_tilt_series_and_reaches_the_tools(
    tmp_path, finished_demo
):
    project = copy_project(finished_demo, tmp_path / "p")
    before = file_times(project)
    proc = run_cli("exclude", str(project), "TS_02", "-27", "TS_02_020_-30.0")
    assert proc.returncode == 0, proc.stderr
    gone = {"TS_02_019_-27.0", "TS_02_020_-30.0"}

    status = json.loads(run_cli("status", str(project), "--json").stdout)
    assert status["curation_pending"] == [
        f"TS_02: tilt decisions changed: filter ({FILTER}) re-runs it, and what depends on it"
    ]
    proc = run_cli("run", str(project), "--", "-n")
    assert proc.returncode == 0, proc.stderr
    rules, items = planned(proc)
    assert rules == {"tiltFilter_tilt_series", "tiltFilter", "tsReconstruct_tilt_series",
                     "tsReconstruct", "all"}  # fmt: skip
    assert items == {"TS_02"}
    assert "Params have changed since last execution" in proc.stdout
    assert "crboost: curation.yaml: TS_02: tilt decisions changed" in proc.stderr

    proc = run_cli("run", str(project))
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = file_times(project)
    changed = {p for p in after if before.get(p) != after[p]}
    for path in changed:
        if path.startswith(BOOKKEEPING):
            continue
        # RELION's node links name the job they belong to: .Nodes/<node type>/<job>/<file>
        job_path = re.sub(r"^\.Nodes/[^/]+/", "", path)
        assert job_path.startswith((FILTER, RECONSTRUCT)), f"{path} was touched"
        names = set(re.findall(r"TS_0\d", path))
        assert names <= {"TS_02"}, f"{path} of another tilt series was touched"
    assert f"{RECONSTRUCT}/tilt_series/TS_02.star" in changed
    assert f"{RECONSTRUCT}/tilt_series/TS_01.star" not in changed

    # what ts_reconstruct was given: the filter's copy of the XML, with the two tilts unused
    log = (project / RECONSTRUCT / "logs" / "TS_02.log").read_text()
    assert "ts_reconstruct" in log and "--input_processing ../job006/warp_tiltseries" in log
    meta = read_tilt_series_xml(project / FILTER / "warp_tiltseries" / "TS_02.xml")
    unused = {
        movie_stem(m) for m, use in zip(meta.movie_paths, meta.use_tilt, strict=True) if not use
    }
    assert unused == gone and len(meta.use_tilt) == 21
    other = read_tilt_series_xml(project / FILTER / "warp_tiltseries" / "TS_01.xml")
    assert all(other.use_tilt)
    # every later list of angles, defocus and doses
    table = starfile.read(project / RECONSTRUCT / "tilt_series" / "TS_02.star")
    movies = {Path(m).stem for m in table["rlnMicrographMovieName"]}
    assert len(table) == 19 and not movies & gone
    assert {"rlnTomoNominalStageTiltAngle", "rlnDefocusU", "rlnMicrographPreExposure"} <= set(
        table.columns
    )
    upstream = starfile.read(project / "External/job005/tilt_series/TS_02.star")
    doses = dict(
        zip(upstream["rlnMicrographMovieName"], upstream["rlnMicrographPreExposure"], strict=True)
    )
    assert all(doses[m] == d for m, d in zip(table["rlnMicrographMovieName"],
                                            table["rlnMicrographPreExposure"], strict=True))  # fmt: skip
    tomograms = starfile.read(project / RECONSTRUCT / "tomograms.star")
    row = tomograms[tomograms["rlnTomoName"] == "TS_02"].iloc[0]
    assert row["rlnTomoTiltSeriesStarFile"] == f"{RECONSTRUCT}/tilt_series/TS_02.star"
    decisions = json.loads((project / FILTER / "decisions" / "TS_02.json").read_text())
    dropped = {t["movie"]: t["reasons"] for t in decisions["tilts"] if not t["kept"]}
    assert dropped == {m: ["excluded in curation.yaml"] for m in gone}
    status = json.loads(run_cli("status", str(project), "--json").stdout)
    assert status["curation_pending"] == []
    jobs = {j["job"]: j for j in status["jobs"]}
    assert sorted(t["angle"] for t in jobs["filter"]["tilts_dropped"]["TS_02"]) == pytest.approx(
        [-30, -27], abs=0.1
    )


# --- a small project with a failing tilt series, run in a terminal ------------------------------


def small_demo(project: Path, **filter_params) -> Path:
    """3 tilt series of 5 tilts (0, +-3, +-6 degrees), initialised, not run."""
    raw = write_demo_data(project, 3, max_angle=6)
    init_project(project, movies=str(raw / "frames" / "*.mrc"),
                 mdocs=str(raw / "mdoc" / "*.mdoc"), sets=DEMO_SETTINGS)  # fmt: skip
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    for job in data["pipeline"]:
        if job["type"] == "tiltFilter":
            job["params"] = filter_params
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


def run_in_terminal(args: list[str], env: dict, timeout: float = 600) -> tuple[int, str]:
    """`crboost ARGS` with a terminal as its output (a pseudo-terminal); returns (status, what
    the terminal received)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "crboost.cli", *args], stdout=follower,
                            stderr=follower, env={**os.environ, **env, "COLUMNS": "200"})  # fmt: skip
    os.close(follower)
    chunks, deadline = [], time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the program ended
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


@pytest.fixture(scope="module")
def failed_in_terminal(tmp_path_factory):
    project = small_demo(tmp_path_factory.mktemp("failing") / "p", max_tilt_angle=4, min_tilts=3)
    status, screen = run_in_terminal(
        ["run", str(project), "--", "--keep-going"], {"CRBOOST_SIM_FAIL": "tsAlignment:TS_02"}
    )
    return project, status, screen


def test_the_terminal_shows_progress_and_one_line_per_failure(failed_in_terminal):
    project, status, screen = failed_in_terminal
    assert status != 0
    assert "\x1b[" in screen, "the block is redrawn in place on a terminal"
    failures = [ln for ln in screen.splitlines() if "crboost: FAILED" in ln]
    assert len(failures) == 1, screen[-3000:]
    assert "FAILED align TS_02: alignment failed:" in failures[0]
    assert failures[0].endswith("(log: External/job004/logs/TS_02.log)")
    assert re.search(r"align +tsAlignment +\[#+\.*\] +2/3 +1 failed", screen)
    assert "Building DAG of jobs" not in screen, "Snakemake's log goes to the file"
    logs = list((project / ".crboost" / "logs").glob("run-*.log"))
    assert len(logs) == 1 and "Building DAG of jobs" in logs[0].read_text()
    assert f"full log {logs[0].relative_to(project)}" in screen
    report = (project / "report" / "index.html").read_text()  # refreshed as the jobs ended
    assert "<h2>Failures</h2>" in report and "align &middot; TS_02</b>: alignment failed" in report
    assert 'href="../External/job004/logs/TS_02.log"' in report
    tail = (project / "External/job004/logs/TS_02.log").read_text().splitlines()[-1]
    assert html.escape(tail) in report, "the log's tail is shown"
    assert '<td class="st-failed"' in report


def test_a_failing_tilt_series_excluded_is_excluded_and_no_longer_blocks(
    tmp_path, failed_in_terminal
):
    project = copy_project(failed_in_terminal[0], tmp_path / "p")
    jobs = {
        j["job"]: j for j in json.loads(run_cli("status", str(project), "--json").stdout)["jobs"]
    }
    assert jobs["align"]["status"] == "Failed"
    assert run_cli("exclude", str(project), "TS_02").returncode == 0
    # the simulator would still fail TS_02's alignment: it is never asked again
    proc = run_cli("run", str(project), "--verbose", env={"CRBOOST_SIM_FAIL": "tsAlignment:TS_02"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Building DAG of jobs" in proc.stderr, "--verbose shows Snakemake's log"
    status = json.loads(run_cli("status", str(project), "--json").stdout)
    assert status["excluded"] == ["TS_02"]
    for job in status["jobs"]:
        assert job["status"] == "Succeeded", job
        assert job["tilt_series"] == {"done": 2, "failed": 0, "total": 2, "excluded": 1}
    tomograms = starfile.read(project / RECONSTRUCT / "tomograms.star")
    assert list(tomograms["rlnTomoName"]) == ["TS_01", "TS_03"]
    table = run_cli("status", str(project)).stdout
    assert "excluded (curation.yaml): TS_02" in table and "failed" not in table
    # the filter's rule dropped the +-6 degree tilts (max_tilt_angle 4), with the reason
    decisions = json.loads((project / FILTER / "decisions" / "TS_01.json").read_text())
    dropped = {round(t["angle"]): t["reasons"] for t in decisions["tilts"] if not t["kept"]}
    assert dropped == {6: ["|tilt| 6.0 > 4 degrees"], -6: ["|tilt| 6.0 > 4 degrees"]}
    assert len(starfile.read(project / RECONSTRUCT / "tilt_series" / "TS_01.star")) == 3

    # too few tilts left: the tilt series fails, and the message says what to do
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    next(j for j in data["pipeline"] if j["type"] == "tiltFilter")["params"]["min_tilts"] = 4
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    proc = run_cli("run", str(project))
    assert proc.returncode != 0
    failure = (project / FILTER / "RELION_JOB_EXIT_FAILURE").read_text()
    assert ("tilt series TS_01: 3 of 5 tilts left after filtering (min_tilts 4): exclude the "
            "tilt series (crboost exclude PROJECT TS_01) or relax the rules") in failure  # fmt: skip
