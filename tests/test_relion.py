"""The RELION adapter: pipeline and job.star files read and written like RELION, the lock, the
validator, job directory allocation."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import time

import pytest
from conftest import REFERENCE, pipeline_rows, reference

from crboost.errors import CrboostError
from crboost.relion.jobstar import read_job_star, render_job_star
from crboost.relion.lock import LOCK_DIR, LOCK_FILE, pipeline_lock, updating_pipeline
from crboost.relion.pipeline import job_number, read_pipeline
from crboost.relion.validate import validate_pipeline_text, validate_project

PIPELINES = sorted((REFERENCE / "relion").glob("*pipeline*.star"))
JOB_STARS = sorted((REFERENCE / "relion").glob("*job.star"))


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_every_reference_pipeline_survives_an_append(tmp_path, path):
    assert PIPELINES, "no reference pipelines found"
    shutil.copy(path, tmp_path / "default_pipeline.star")
    before = pipeline_rows(tmp_path / "default_pipeline.star")
    old = read_pipeline(tmp_path / "default_pipeline.star")
    highest = max(job_number(p.name) for p in old.process_list())
    with updating_pipeline(tmp_path) as pipeline:
        new = f"External/job{pipeline.next_number:03d}/"
        pipeline.add_process(new, "External/crboost_test/", "relion.external", "Scheduled")
        pipeline.add_node(
            f"{new}tomograms.star", "TomogramGroupMetadata.star.relion.tomo.reconstruct"
        )
        pipeline.add_edge("pipeline_output_edges", new, f"{new}tomograms.star")
    after = pipeline_rows(tmp_path / "default_pipeline.star")
    for block, rows in before.items():
        assert after[block][: len(rows)] == rows, f"{block}: original rows changed"
    names = [r["rlnPipeLineProcessName"] for r in after["pipeline_processes"]]
    assert names[-1] == new and new not in names[:-1]
    reread = read_pipeline(tmp_path / "default_pipeline.star")
    assert reread.counter > max(highest, job_number(new))
    assert reread.counter >= old.counter
    assert reread.find(new).status == "Scheduled"


@pytest.mark.parametrize(
    "path", [p for p in PIPELINES if "version 50001" in p.read_text()], ids=lambda p: p.name
)
def test_relion5_pipelines_are_written_byte_for_byte(path):
    if path.name.startswith("himena"):
        pytest.skip("hand-edited fixture, not RELION output")
    assert read_pipeline(path).to_text() == path.read_text()


@pytest.mark.parametrize("path", JOB_STARS, ids=lambda p: p.name)
def test_every_reference_job_star_reads_and_writes_back(tmp_path, path):
    job, options = read_job_star(path)
    assert "rlnJobTypeLabel" in job or "rlnJobType" in job
    written = tmp_path / "job.star"
    written.write_text(render_job_star(path, {}))
    job2, options2 = read_job_star(written)
    assert (
        options2 == {k: ("" if v == '""' else v) for k, v in options.items()} or options2 == options
    )
    assert str(job2["rlnJobTypeLabel"]) == str(job.get("rlnJobTypeLabel", "relion.external"))


def test_relion5_job_stars_byte_for_byte():
    for path in JOB_STARS:
        if path.name.startswith("cetsrelion") and "MotionCorr" not in path.name:
            assert render_job_star(path, {}) == path.read_text(), path.name


def test_finished_demo_passes_the_validator(finished_demo):
    assert validate_project(finished_demo) == []


def test_validator_catches_broken_pipelines(tmp_path, finished_demo):
    text = (finished_demo / "default_pipeline.star").read_text()
    assert validate_pipeline_text(text) == []
    assert validate_pipeline_text(text.replace("# version 50001\n", "", 1))
    assert validate_pipeline_text(text.replace("\n", "\r\n"))
    project = tmp_path / "p"
    shutil.copytree(finished_demo, project, symlinks=True)
    path = project / "default_pipeline.star"
    path.write_text(text.replace("Succeeded", "Done"))
    assert any("status" in p for p in validate_project(project))
    path.write_text(re.sub(r"(_rlnPipeLineJobCounter\s+)\d+", r"\g<1>1", text))
    assert any("Counter" in p for p in validate_project(project))
    path.write_text(text)
    os.unlink(project / "Import" / "import")
    assert any("alias link" in p for p in validate_project(project))


# --- concurrency ---------------------------------------------------------------------------


def _writer(root, index, barrier):
    barrier.wait()
    with updating_pipeline(root, timeout=300) as pipeline:
        pipeline.add_process(f"External/job{100 + index:03d}/", None, "relion.external", "Running")
    with updating_pipeline(root, timeout=300) as pipeline:
        pipeline.set_status(f"External/job{100 + index:03d}/", "Succeeded")


def _reader(root, stop, report):
    """Read the pipeline while it is being written; every version must be valid."""
    path = root / "default_pipeline.star"
    problems, reads = [], 0
    while not stop.is_set():
        text = path.read_text()
        reads += 1
        problems += validate_pipeline_text(text)
        try:
            read_pipeline(path)
        except CrboostError as e:
            problems.append(str(e))
    report.write_text(f"{reads}\n" + "\n".join(problems))


@pytest.mark.parametrize("trial", range(4))
def test_50_concurrent_writers_lose_nothing(tmp_path, trial):
    root = tmp_path
    shutil.copy(
        reference("relion", "cetsrelion__default_pipeline.star"), root / "default_pipeline.star"
    )
    ctx = multiprocessing.get_context("fork")  # no threads in this process: forking is safe
    barrier = ctx.Barrier(50)
    stop = ctx.Event()
    report = tmp_path / "reader.txt"
    reader = ctx.Process(target=_reader, args=(root, stop, report))
    reader.start()
    workers = [ctx.Process(target=_writer, args=(root, i, barrier)) for i in range(50)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    stop.set()
    reader.join(timeout=60)
    assert all(w.exitcode == 0 for w in workers)
    reads, *problems = report.read_text().split("\n")
    assert int(reads) > 10, "the reader must have seen the file change"
    assert [p for p in problems if p] == []
    pipeline = read_pipeline(root / "default_pipeline.star")
    statuses = {p.name: p.status for p in pipeline.process_list()}
    for i in range(50):
        assert statuses[f"External/job{100 + i:03d}/"] == "Succeeded"
    assert len(statuses) == 80 + 50
    assert pipeline.counter == 150
    assert not (root / LOCK_DIR).exists()
    assert (root / ".pipeline_has_changed").exists()


# --- the lock --------------------------------------------------------------------------------


def test_lock_of_a_dead_process_is_cleared(tmp_path):
    lock = tmp_path / LOCK_DIR
    lock.mkdir()
    proc = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    proc.start()
    proc.join()
    (lock / LOCK_FILE).write_text(
        f'{{"host": "{os.uname().nodename}", "pid": {proc.pid}, "since": 0}}'
    )
    with pipeline_lock(tmp_path, timeout=2):
        assert lock.exists()
    assert not lock.exists()


def test_lock_of_a_live_process_is_reported_not_broken(tmp_path):
    lock = tmp_path / LOCK_DIR
    lock.mkdir()
    since = time.time() - 3600
    (lock / LOCK_FILE).write_text(
        f'{{"host": "{os.uname().nodename}", "pid": {os.getppid()}, "since": {since}}}'
    )
    with pytest.raises(CrboostError) as e:
        with pipeline_lock(tmp_path, timeout=0.5, report_after=60):
            pass
    message = str(e.value)
    assert f"pid {os.getppid()}" in message and "looks stale" in message
    assert time.strftime("%Y-%m-%d", time.localtime(since)) in message
    assert lock.exists(), "a live owner's lock must stay"


def test_relion_lock_without_owner_is_reported(tmp_path):
    (tmp_path / LOCK_DIR).mkdir()
    with pytest.raises(CrboostError, match="left no owner file"):
        with pipeline_lock(tmp_path, timeout=0.3):
            pass
    assert (tmp_path / LOCK_DIR).exists()
