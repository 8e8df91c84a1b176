"""Taking over an existing RELION / CryoBoost project: `crboost init` in a directory that already
holds default_pipeline.star.

Each pipeline job instance is matched to an existing process, in this order: an explicit
`adopt: {name: Dir/jobNNN/}`; the process whose alias is `<TypeDir>/<name>/`; a process of the same
job type (RELION type label, or for External jobs the `fn_exe` of its job.star) that reads the
output of the process adopted for the instance's input. The mapping is written into the config
(`adopt:`), so the job keeps its directory. An adopted job that finished (RELION_JOB_EXIT_SUCCESS
and its STAR file) is taken as done: crboost records its params in the job dir, dated before its
outputs, so Snakemake plans nothing for it. Other processes are never touched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..jobs import JOB_TYPES
from ..relion.jobstar import read_job_star
from ..relion.pipeline import Pipeline, Process, job_number

SUCCESS = "RELION_JOB_EXIT_SUCCESS"


def plan_adoption(
    root: Path, entries: list[dict], pipeline: Pipeline, explicit: dict[str, str]
) -> dict[str, str]:
    """{instance name: process dir} for the pipeline's instances that existing processes match."""
    processes = pipeline.process_list()
    claimed = {v.rstrip("/") + "/" for v in explicit.values()}
    edges = pipeline.tables["pipeline_input_edges"]
    inputs: dict[str, set[str]] = {}
    for node, proc in zip(edges.get("rlnPipeLineEdgeFromNode", []),
                          edges.get("rlnPipeLineEdgeProcess", []), strict=False):  # fmt: skip
        inputs.setdefault(proc, set()).add(node)
    mapping: dict[str, str] = {}
    adopted_by_name: dict[str, str] = {}
    previous_by_type: dict[str, str] = {}
    for entry in entries:
        name, type_name = entry["name"], entry["type"]
        cls = JOB_TYPES.get(type_name)
        if cls is None:
            continue
        if name in explicit:
            choice = explicit[name].rstrip("/") + "/"
        else:
            choice = _by_alias(processes, cls.type_dir, name, claimed) or _by_type(
                root, processes, cls, claimed, _upstream_output(entry, entries, adopted_by_name,
                                                               previous_by_type), inputs
            )  # fmt: skip
        if choice is None:
            continue
        claimed.add(choice)
        mapping[name] = choice
        adopted_by_name[name] = choice
        previous_by_type[type_name] = choice
    return {k: v for k, v in mapping.items() if k not in explicit}


def _by_alias(processes: list[Process], type_dir: str, name: str, claimed: set[str]) -> str | None:
    alias = f"{type_dir}/{name}/"
    return next((p.name for p in processes if p.alias == alias and p.name not in claimed), None)


def _by_type(root, processes, cls, claimed, upstream_output, inputs) -> str | None:
    candidates = [
        p for p in processes
        if p.name.startswith(cls.type_dir + "/") and p.name not in claimed
        and _matches(root, p, cls)
    ]  # fmt: skip
    if cls.accepts:
        if upstream_output is None:
            return None  # its input job was not adopted: it must run anew
        candidates = [p for p in candidates if upstream_output in inputs.get(p.name, set())]
    if not candidates:
        return None
    succeeded = [p for p in candidates if p.status == "Succeeded"] or candidates
    return max(succeeded, key=lambda p: job_number(p.name)).name


def _matches(root: Path, process: Process, cls) -> bool:
    label = process.type_label.lower()
    if any(pattern in label for pattern in cls.adopt_patterns):
        return True
    if not label.startswith("relion.external"):
        return False
    try:
        _, options = read_job_star(root / process.name / "job.star")
    except Exception:  # no or unreadable job.star: not recognisable
        return False
    fn_exe = options.get("fn_exe", "").lower()
    return any(pattern in fn_exe for pattern in cls.adopt_patterns)


def _upstream_output(entry, entries, adopted_by_name, previous_by_type) -> str | None:
    cls = JOB_TYPES[entry["type"]]
    upstream_dir = None
    if entry.get("input"):
        upstream_dir = adopted_by_name.get(entry["input"])
        upstream_type = next((e["type"] for e in entries if e["name"] == entry["input"]), None)
    else:
        for type_name in cls.accepts:
            if type_name in previous_by_type:
                upstream_dir, upstream_type = previous_by_type[type_name], type_name
                break
    if upstream_dir is None:
        return None
    return upstream_dir + JOB_TYPES[upstream_type].output_star


def mark_done(project) -> list[str]:
    """For adopted jobs that finished: record their params, dated before their outputs."""
    from ..relion.jobstar import write_job_star
    from ..resources import job_template
    from ..running.jobsetup import job_spec, job_star_values

    done = []
    for job in project.jobs:
        if job.name not in project.config.adopt:
            continue
        job_dir = project.root / job.dir
        outputs = [job_dir / SUCCESS, job_dir / job.cls.output_star]
        if not all(p.exists() for p in outputs):
            continue
        oldest = min(p.stat().st_mtime_ns for p in job_dir.rglob("*") if p.is_file())
        spec_path = job_dir / "job_params.json"
        spec_path.write_text(json.dumps(job_spec(job), indent=1, sort_keys=True) + "\n")
        written = [spec_path]
        if not (job_dir / "job.star").exists():
            write_job_star(
                job_dir / "job.star", job_template(job.type), job_star_values(project, job)
            )
            written.append(job_dir / "job.star")
        for path in written:
            os.utime(path, ns=(oldest - 1_000_000_000, oldest - 1_000_000_000))
        done.append(job.dir)
    return done
