"""Commands that only look never write into a finished project: every file of a finished demo
(tomograms and particles) keeps its checksum, its time stamp and its place after `status`,
`status --deep`, `report` (it writes report/ only), `serve` GETs, `inspect`, `run -- -n`, every
driver's `--print-commands` for every job type, step and tilt series, and `check`.

A rewrite with the same content is a change too: Snakemake compares time stamps, so a finished
job's file written again makes the jobs after it run again."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import threading
from pathlib import Path

import pytest
from conftest import copy_project, run_cli

from crboost.jobs import JOB_TYPES
from crboost.project.load import load_project
from crboost.report.server import make_server

pytestmark = pytest.mark.slow


#: Snakemake's own cache of file times, which every dry run saves for `--trust-io-cache`
#: (snakemake/dag.py) and the next real run drops: bookkeeping, not the project's
SNAKEMAKE_IO_CACHE = ".snakemake/iocache"


def fingerprint(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Every file and link under root: (sha256, mtime) of a file, the target of a link."""
    skip = (*skip, SNAKEMAKE_IO_CACHE)
    found: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel_folder, d)) not in skip]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = os.path.join(folder, name)
            rel = os.path.normpath(os.path.join(rel_folder, name))
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            else:
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                found[rel] = (digest, os.stat(path).st_mtime_ns)
    return found


def changes(before: dict, after: dict) -> list[str]:
    return sorted(
        [f"changed {p}" for p in before if p in after and before[p] != after[p]]
        + [f"removed {p}" for p in before if p not in after]
        + [f"added {p}" for p in after if p not in before]
    )


def print_commands_calls(project: Path) -> list[list[str]]:
    """`crboost driver T --job DIR ... --print-commands` for every job, every step it has
    (each item, --gather, --prepare, and RELION's whole-job call) and every tilt series."""
    loaded = load_project(project / "crboost.yaml", remote=True)
    calls = []
    for job in loaded.jobs:
        base = ["driver", job.type, "--job", job.dir]
        steps = [["--gather"], []]
        if job.cls.per_item():
            steps += [["--ts", ts] for ts in loaded.items(job)]
        if job.cls.prepare_output:
            steps.append(["--prepare"])
        calls += [[*base, *step, "--print-commands"] for step in steps]
    return calls


def get_every_page(project: Path) -> int:
    """GET the served pages and every file they link, the way a browser would; how many."""
    server = make_server(project, "127.0.0.1", 0, 0, token="read-only-test")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    headers = {"Cookie": f"crboost-token-{port}={server.token}"}
    seen, queue = set(), ["/", "/api/state"]
    try:
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            seen.add(path)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers=headers)
            reply = conn.getresponse()
            body = reply.read()
            conn.close()
            assert reply.status == 200, (path, reply.status)
            if "html" in reply.getheader("Content-Type", ""):
                for link in re.findall(rb'(?:href|src)="([^"#?]+)', body):
                    target = link.decode()
                    if target.startswith("/") and not target.startswith("//"):
                        queue.append(target)
                    elif "://" not in target:
                        queue.append(os.path.normpath(os.path.join(os.path.dirname(path),
                                                                   target)))  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    return len(seen)


@pytest.fixture(params=["tomograms", "particles"])
def finished(request, tmp_path):
    fixture = "finished_demo" if request.param == "tomograms" else "finished_particle_demo"
    return copy_project(request.getfixturevalue(fixture), tmp_path / "p")


def test_looking_at_a_finished_project_writes_nothing(finished):
    project = finished
    run_cli("report", str(project), check=True)  # so that report/ is there before the look
    before = fingerprint(project)
    mdocs = sorted(str(p) for p in (project / "raw" / "mdoc").glob("*.mdoc"))

    looks = [["status", str(project)], ["status", str(project), "--json"],
             ["status", str(project), "--deep"], ["inspect", *mdocs],
             ["run", str(project), "--", "-n"], ["check", str(project)]]  # fmt: skip
    for args in looks:
        proc = run_cli(*args)
        assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
        assert changes(before, fingerprint(project)) == [], args

    printed = print_commands_calls(project)
    types = {call[1] for call in printed}
    assert len(types) == len(load_project(project / "crboost.yaml", remote=True).jobs)
    for args in printed:
        proc = run_cli(*args, cwd=project)
        assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
        assert proc.stdout.startswith("# "), (args, proc.stdout)
        assert changes(before, fingerprint(project)) == [], args
        if JOB_TYPES[args[1]].tools and ("--ts" in args or not JOB_TYPES[args[1]].per_item()):
            # a step that runs a tool shows its command line
            assert "\n$ (cd " in proc.stdout, (args, proc.stdout)

    # the report rewrites report/ only; a page GET writes nothing at all
    run_cli("report", str(project), check=True)
    outside = {path: value for path, value in before.items() if not path.startswith("report/")}
    assert changes(outside, fingerprint(project, skip=("report",))) == []
    before = fingerprint(project)
    assert get_every_page(project) > 3
    assert changes(before, fingerprint(project)) == []


def same_place(line: str) -> str:
    return re.sub(r"\S*/\.crboost/simulator/", "PROJECT/.crboost/simulator/", line)


def test_print_commands_show_what_the_run_ran(finished_demo, tmp_path):
    """The printed command of a finished tilt series is the one its log shows the tool ran."""
    project = copy_project(finished_demo, tmp_path / "p")
    loaded = load_project(project / "crboost.yaml", remote=True)
    for job in loaded.jobs:
        if not JOB_TYPES[job.type].tools:
            continue
        proc = run_cli("driver", job.type, "--job", job.dir, "--ts", "TS_02",
                       "--print-commands", cwd=project, check=True)  # fmt: skip
        # the simulated WarpTools lies in the project, which ran elsewhere (a copy)
        shown = [same_place(ln) for ln in proc.stdout.splitlines() if ln.startswith("$ ")]
        log = (project / job.dir / "logs" / "TS_02.log").read_text()
        ran = [same_place(ln) for ln in log.splitlines() if ln.startswith("$ ")]
        assert shown, job.type
        for line in shown:
            # the run adds the leased GPUs and the work queue folder at the end
            assert any(r.startswith(line.rstrip(")")) for r in ran), (job.type, line, ran)


def test_print_commands_of_a_job_not_set_up_is_one_line(tmp_path):
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "1", "--no-run", check=True)
    proc = run_cli("driver", "tsCtf", "--job", "External/job005", "--ts", "TS_01",
                   "--print-commands", cwd=project)  # fmt: skip
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "never set up" in proc.stderr
    assert not (project / "External").exists()
    assert json.loads(run_cli("status", str(project), "--json", check=True).stdout)["jobs"]
