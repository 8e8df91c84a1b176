"""The plan of a Snakemake dry run, job for job: rule, wildcards, inputs, outputs, log,
benchmark, threads/resources and shell command, with nothing that varies between runs.

Used by tests/test_rules.py to check that the rules generated from the job-type registry plan
exactly what the hand-written rule files planned, and that a project finished before that change
re-runs nothing after it. tests/data/recorded_plans.json was first made by running this file
with the code before that change (commit 7924e6d, `git archive 7924e6d | tar -x -C /tmp/base`):

    python tests/dryrun_plan.py --repo /tmp/base > tests/data/recorded_plans.json

and matched job for job. Re-recorded with issue 12 (`python tests/dryrun_plan.py >
tests/data/recorded_plans.json`), whose changes to the plan are intended: tsCtf's prepare step
(`tsCtf_prepare`, one defocus handedness for the dataset, `defocus_hand.json` an input of every
tsCtf item) and new job params (fit limits that follow the pixel size, `axis_iter` 1, no
`axis_batch`, `defocus_hand` without `auto` per tilt series), which re-run tsAlignment onwards in
projects finished before issue 12.

It holds the dry-run plans of VARIANTS (demo data from that checkout's own generator) and what
Snakemake recorded for each output of a finished 4-tilt-series demo run with that code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

#: The projects whose plans are recorded: the demo as `crboost demo` writes it, and a variant
#: with what makes rules take other shapes (a second instance of a type with other resources,
#: batching, a node size).
VARIANTS = ("demo", "variant")

_FIELDS = ("input", "output", "log", "benchmark", "wildcards", "resources", "threads")


def make_project(repo: Path, folder: Path, variant: str) -> Path:
    project = folder / variant
    env = {**os.environ, "PYTHONPATH": str(repo)}
    subprocess.run(
        [sys.executable, "-m", "crboost.cli", "demo", str(project), "--tilt-series", "3",
         "--no-run"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    # the recorded plans predate the tiltFilter job in the default pipeline
    data["pipeline"] = [job for job in data["pipeline"] if job["type"] != "tiltFilter"]
    if variant == "variant":
        data["resources"]["node"] = {"cpus": 8, "mem_mb": 64000, "gpus": 2}
        data["resources"]["tsCtf"] = {"group_size": 2, "gpus": 1}
        data["pipeline"].append(
            {
                "name": "reconstruct_bin4",
                "type": "tsReconstruct",
                "input": "ctf",
                "params": {"angpix": 10.8},
                "resources": {"mem_mb": 2000, "runtime": 20},
            }
        )
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return project


def dry_run_plan(repo: Path, project: Path) -> list[dict]:
    """Every job of `snakemake -n -p` on the project, sorted by rule and wildcards."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--profile", "profiles/local",
         "--configfile", str(project / "crboost.yaml")],
        cwd=repo, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return parse_plan(proc.stdout + proc.stderr)


def parse_plan(text: str) -> list[dict]:
    jobs = []
    group = None
    for chunk in re.split(r"\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\]", text):
        header = re.match(r"\s*Group job (\S+)", chunk)
        if header:
            group = header.group(1)
            continue
        head = re.search(r"^\s*(?:local)?rule (\S+):$", chunk, re.M)
        if head is None:
            continue
        job: dict = {"rule": head.group(1)}
        if group:
            job["group"], group = group, None
        for field in _FIELDS:
            match = re.search(rf"^\s+{field}: (.*)$", chunk, re.M)
            if match is None:
                continue
            items = [v.strip() for v in match.group(1).split(", ")]
            if field == "resources":
                items = [v for v in items if not v.startswith("tmpdir=")]
            job[field] = sorted(items) if field in ("input", "output") else items
        shell = re.search(r"^Shell command: (.*)$", chunk, re.M)
        if shell:
            job["shell"] = shell.group(1)
        jobs.append(job)
    return sorted(jobs, key=lambda j: (j["rule"], j.get("wildcards", []), j.get("output", [])))


def plans(repo: Path) -> dict[str, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        return {v: dry_run_plan(repo, make_project(repo, Path(tmp), v)) for v in VARIANTS}


def recorded_metadata(project: Path) -> dict[str, dict]:
    """What Snakemake recorded about each output of a finished run and compares on the next one
    (rerun triggers params and input): {output: {rule, params, input}}."""
    import base64

    folder = project / ".snakemake" / "metadata"
    out = {}
    for path in sorted(folder.iterdir()):
        name = base64.urlsafe_b64decode(path.name.encode()).decode()
        record = json.loads(path.read_text())
        out[name] = {
            "rule": record["rule"],
            "params": record["params"],
            "input": sorted(record["input"]),
        }
    return out


def finished_demo_metadata(repo: Path) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "demo"
        env = {**os.environ, "PYTHONPATH": str(repo)}
        subprocess.run([sys.executable, "-m", "crboost.cli", "demo", str(project),
                        "--tilt-series", "4"], env=env, check=True, capture_output=True)  # fmt: skip
        return recorded_metadata(project)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]))
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    recorded = {"plans": plans(repo), "metadata_demo4": finished_demo_metadata(repo)}
    print(json.dumps(recorded, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
