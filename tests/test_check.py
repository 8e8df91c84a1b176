"""`crboost check PROJECT`: passes on the demo, and names the problem, one line each, on broken
set-ups: missing image, tool not in the image, unbound data path, no GPU for a GPU job.

apptainer is not installed here. The container path is tested with a FAKE `apptainer` (written
below, clearly not the real one): it records its argv, reads the "image" (a KEY=VALUE text file:
PATH = the folder of programs inside it, USER_BIND = no for a site that refuses user binds),
and runs the inner command on this machine with --cleanenv's empty environment, the image's
PATH and the --env values; an inner `ls -d` sees only the bound paths, as in a container."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

FAKE_APPTAINER = r'''#!PYTHON
"""FAKE apptainer for crboost's tests (not the real one): see tests/test_check.py."""
import json, os, shlex, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_APPTAINER_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
assert args[0] == "exec", args
i, binds, env, clean = 1, [], {}, False
while args[i].startswith("-"):
    if args[i] in ("-B", "--bind"):
        binds.append(args[i + 1]); i += 2
    elif args[i] == "--env":
        key, _, value = args[i + 1].partition("="); env[key] = value; i += 2
    else:
        clean |= args[i] == "--cleanenv"; i += 1
image, command = args[i], args[i + 1:]
if not os.path.isfile(image):
    sys.exit(f"FATAL:   could not open image {image}: failed to retrieve path")
conf = dict(line.split("=", 1) for line in open(image).read().split() if "=" in line)
if conf.get("USER_BIND") == "no":
    binds = []
path = conf.get("PATH", "") + ":/usr/bin:/bin"
if "PREPEND_PATH" in env:
    path = env.pop("PREPEND_PATH") + ":" + path
base = {} if clean else dict(os.environ)
base.update(env, PATH=path, HOME=os.environ.get("HOME", "/root"))
if command[:2] == ["sh", "-c"] and command[2].startswith("ls -d "):
    status = 0
    for p in shlex.split(command[2])[2:]:
        if any(p == b or p.startswith(b.rstrip("/") + "/") for b in binds) and os.path.exists(p):
            print(p)
        else:
            print(f"ls: cannot access '{p}': No such file or directory", file=sys.stderr)
            status = 2
    sys.exit(status)
sys.exit(subprocess.run(command, env=base).returncode)
'''


def _shim(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def container_project(demo_project, tmp_path):
    """The demo project, with WarpTools in a (fake) container image."""
    fake = tmp_path / "bin/apptainer"
    fake.parent.mkdir()
    fake.write_text(FAKE_APPTAINER.replace("PYTHON", sys.executable))
    fake.chmod(0o755)
    inside = tmp_path / "image_root/bin"
    inside.mkdir(parents=True)
    sim = f'exec "{sys.executable}" -m crboost.simulator'
    _shim(inside, "WarpTools", f'{sim} WarpTools "$@"')
    _shim(inside, "AreTomo2", f'{sim} AreTomo2 "$@"')
    _shim(inside, "nvidia-smi", 'echo "GPU 0: FAKE (UUID: GPU-0)"')
    image = tmp_path / "warp.sif"
    image.write_text(f"PATH={inside}\n")
    path = demo_project / "crboost.yaml"
    data = yaml.safe_load(path.read_text())
    data["tools"] = {"simulate": False, "warptools": {"container": str(image)}}
    path.write_text(yaml.safe_dump(data))
    return demo_project, image, inside, tmp_path / "apptainer.log"


def check(project, log=None, *args):
    env = None
    if log:  # the fake apptainer first on PATH
        env = {"FAKE_APPTAINER_LOG": str(log),
               "PATH": f"{log.parent / 'bin'}:{os.environ['PATH']}"}  # fmt: skip
    proc = run_cli("check", str(project), *args, env=env)
    problems = [ln for ln in proc.stdout.splitlines() if ln.startswith("problem: ")]
    return proc, problems


def test_check_passes_on_the_demo(demo_project):
    proc, problems = check(demo_project)
    assert proc.returncode == 0 and problems == [], proc.stdout + proc.stderr
    assert "ok: WarpTools (SIMULATOR): version 2.0.0" in proc.stdout
    assert "ok: AreTomo2 in WarpTools' environment" in proc.stdout


def test_check_passes_in_a_good_container(container_project):
    project, image, _inside, log = container_project
    proc, problems = check(project, log)
    assert proc.returncode == 0 and problems == [], proc.stdout + proc.stderr
    assert f"ok: WarpTools in {image}: version 2.0.0" in proc.stdout
    assert f"ok: AreTomo2 in WarpTools' environment in {image}" in proc.stdout
    assert "ok: 1 GPU(s) visible" in proc.stdout
    calls = [json.loads(ln) for ln in log.read_text().splitlines()]
    assert all(c[:3] == ["exec", "--nv", "--cleanenv"] for c in calls)


def test_missing_image(container_project):
    project, image, _inside, log = container_project
    image.unlink()
    proc, problems = check(project, log)
    assert proc.returncode == 1
    assert problems == [f"problem: tools.warptools.container = '{image}': no such image file "
                        "(needed by motion, tiltseries, align, ctf, reconstruct)"], proc.stdout  # fmt: skip


def test_aretomo_not_in_the_image(container_project):
    project, image, inside, log = container_project
    (inside / "AreTomo2").unlink()
    proc, problems = check(project, log)
    assert proc.returncode == 1
    assert problems == [f"problem: tools.aretomo2.executable: AreTomo2 is not on the PATH of "
                        f"WarpTools' environment in {image} (WarpTools starts it for align)"]  # fmt: skip


def test_imod_not_in_the_image(container_project):
    project, image, _inside, log = container_project
    path = project / "crboost.yaml"
    data = yaml.safe_load(path.read_text())
    for job in data["pipeline"]:
        if job["type"] == "tsAlignment":
            job.setdefault("params", {})["program"] = "imod"
    path.write_text(yaml.safe_dump(data))
    proc, problems = check(project, log)
    assert any(
        p.startswith("problem: tools.imod.dir: batchruntomo is not on the PATH") for p in problems
    )


def test_unbound_data_path(container_project):
    """A site whose apptainer refuses user binds: the movies are not visible inside."""
    project, image, _inside, log = container_project
    image.write_text(image.read_text() + "USER_BIND=no\n")
    proc, problems = check(project, log)
    assert proc.returncode == 1
    assert len(problems) == 1 and problems[0].startswith(f"problem: {project.resolve()}/raw/frames")
    assert f"not visible inside {image}" in problems[0]


def test_no_gpu_for_gpu_jobs(container_project):
    project, image, inside, log = container_project
    (inside / "nvidia-smi").unlink()
    proc, problems = check(project, log)
    assert problems == [f"problem: no GPU visible in {image} (nvidia-smi), but motion, align, "
                        "ctf, reconstruct need one"], proc.stdout  # fmt: skip


def test_other_live_run_and_unknown_partition(demo_project, tmp_path):
    path = demo_project / "crboost.yaml"
    data = yaml.safe_load(path.read_text())
    data["resources"]["default"]["partition"] = "nosuchpartition"
    path.write_text(yaml.safe_dump(data))
    sinfo = tmp_path / "bin/sinfo"
    sinfo.parent.mkdir()
    sinfo.write_text("#!/bin/sh\necho 'gpu|a100'\necho 'cpu|(null)'\n")
    sinfo.chmod(0o755)
    proc = run_cli("check", str(demo_project), "--profile", "slurm",
                   env={"PATH": f"{sinfo.parent}:{os.environ['PATH']}"})  # fmt: skip
    assert proc.returncode == 1
    assert "problem: resources: partition 'nosuchpartition'" in proc.stdout
    assert "sinfo lists cpu, gpu" in proc.stdout
