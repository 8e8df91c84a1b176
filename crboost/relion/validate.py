"""Check a project against the rules RELION 5 applies when it reads it (pipeliner.cpp, see the
notes in docs/architecture.md). Returns a list of problems; empty means RELION can read it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .pipeline import (
    INPUT_EDGE_COLUMNS,
    NODE_COLUMNS,
    OUTPUT_EDGE_COLUMNS,
    PIPELINE_FILE,
    PROCESS_COLUMNS,
    STATUSES,
    job_number,
    read_pipeline,
)

_PROCESS_NAME = re.compile(r"^[A-Za-z0-9]+/job\d{3,}/$")
_ALIAS_FORBIDDEN = re.compile(r'[*?()"\\|#<>&%{}$]')
_BLOCK_ORDER = [
    "pipeline_general",
    "pipeline_processes",
    "pipeline_nodes",
    "pipeline_input_edges",
    "pipeline_output_edges",
]


def validate_pipeline_text(text: str) -> list[str]:
    """Layout rules of default_pipeline.star."""
    problems = []
    if "\r" in text:
        problems.append("CRLF line endings (fatal for RELION)")
    lines = text.split("\n")
    blocks = [(i, ln[5:].strip()) for i, ln in enumerate(lines) if ln.startswith("data_")]
    names = [b for _, b in blocks]
    if names != [b for b in _BLOCK_ORDER if b in names] or "pipeline_general" not in names:
        problems.append(f"blocks {names} not in RELION's order {_BLOCK_ORDER}")
    for i, name in blocks:
        before = [ln for ln in lines[max(0, i - 3) : i] if ln.strip()]
        if not before or before[-1].strip() != "# version 50001":
            problems.append(f"data_{name}: not preceded by '# version 50001'")
    in_loop = False
    rows = 0
    for number, line in enumerate(lines, 1):
        if line.startswith("loop_"):
            in_loop, rows = True, 0
            continue
        if in_loop:
            if line.startswith("_"):
                continue
            if line.strip() == "":
                if rows == 0:
                    problems.append(f"line {number}: empty table written (RELION omits them)")
                in_loop = False
                continue
            rows += 1
            if line != line.rstrip("\n") or "\t\t" in line:
                problems.append(f"line {number}: malformed row")
    return problems


def validate_project(root: str | Path) -> list[str]:
    """Everything RELION checks when it opens the project, plus crboost's own invariants."""
    root = Path(root)
    problems: list[str] = []
    path = root / PIPELINE_FILE
    if not path.exists():
        return [f"{PIPELINE_FILE} missing"]
    if not (root / ".gui_projectdir").exists():
        problems.append(".gui_projectdir missing: the RELION GUI would not take this as a project")
    problems += validate_pipeline_text(path.read_text())
    pipeline = read_pipeline(path)
    tables = pipeline.tables
    for block, columns in (
        ("pipeline_processes", PROCESS_COLUMNS),
        ("pipeline_nodes", NODE_COLUMNS),
        ("pipeline_input_edges", INPUT_EDGE_COLUMNS),
        ("pipeline_output_edges", OUTPUT_EDGE_COLUMNS),
    ):
        if len(tables[block]) and list(tables[block].columns) != columns:
            problems.append(f"{block}: columns {list(tables[block].columns)} != {columns}")

    processes = pipeline.process_list()
    names = [p.name for p in processes]
    if len(set(names)) != len(names):
        problems.append("duplicate process names")
    aliases = [p.alias for p in processes if p.alias != "None"]
    if len(set(aliases)) != len(aliases):
        problems.append("duplicate aliases")
    highest = 0
    for p in processes:
        if not _PROCESS_NAME.match(p.name):
            problems.append(f"{p.name}: not <Dir>/jobNNN/")
        highest = max(highest, job_number(p.name))
        if p.status not in STATUSES:
            problems.append(f"{p.name}: status {p.status!r} not one of {STATUSES}")
        if p.alias != "None":
            problems += _alias_problems(root, p.name, p.alias)
        if p.status == "Succeeded" and not (root / p.name / "RELION_JOB_EXIT_SUCCESS").exists():
            if (root / p.name).is_dir():
                problems.append(f"{p.name}: Succeeded but no RELION_JOB_EXIT_SUCCESS")
    if pipeline.counter <= highest:
        problems.append(f"_rlnPipeLineJobCounter {pipeline.counter} <= highest job {highest}")

    nodes = (
        set(tables["pipeline_nodes"]["rlnPipeLineNodeName"])
        if len(tables["pipeline_nodes"])
        else set()
    )
    if len(tables["pipeline_nodes"]):
        for label, depth in zip(
            tables["pipeline_nodes"]["rlnPipeLineNodeTypeLabel"],
            tables["pipeline_nodes"].get("rlnPipeLineNodeTypeLabelDepth", []),
            strict=False,
        ):
            if not str(depth).isdigit():
                problems.append(f"node label {label}: depth {depth!r} not an integer")
    known = set(names)
    for block, node_col, proc_col in (
        ("pipeline_input_edges", "rlnPipeLineEdgeFromNode", "rlnPipeLineEdgeProcess"),
        ("pipeline_output_edges", "rlnPipeLineEdgeToNode", "rlnPipeLineEdgeProcess"),
    ):
        table = tables[block]
        for node, proc in zip(table.get(node_col, []), table.get(proc_col, []), strict=False):
            if node not in nodes:
                problems.append(f"{block}: edge to unknown node {node}")
            if proc not in known:
                problems.append(f"{block}: edge to unknown process {proc}")
    for p in processes:
        job_star = root / p.name / "job.star"
        if job_star.exists():
            problems += [f"{job_star.relative_to(root)}: {m}" for m in validate_job_star(job_star)]
    return problems


def validate_job_star(path: Path) -> list[str]:
    from .jobstar import read_job_star

    problems = []
    text = path.read_text()
    if text.count("# version 50001") < 2:
        problems.append("'# version 50001' missing before a block")
    job, options = read_job_star(path)
    for key in ("rlnJobTypeLabel", "rlnJobIsContinue", "rlnJobIsTomo"):
        if key not in job:
            problems.append(f"data_job lacks _{key}")
    for key in ("rlnJobIsContinue", "rlnJobIsTomo"):
        if str(job.get(key, "0")) not in ("0", "1"):
            problems.append(f"_{key} must be 0 or 1")
    if list(options) != sorted(options):
        problems.append("job options not sorted by name")
    return problems


def _alias_problems(root: Path, name: str, alias: str) -> list[str]:
    problems = []
    type_dir = name.split("/")[0]
    if not alias.startswith(type_dir + "/") or not alias.endswith("/") or alias.count("/") != 2:
        return [f"{name}: alias {alias!r} is not {type_dir}/<alias>/"]
    short = alias.split("/")[1]
    if len(short) < 2 or short.startswith("job") or _ALIAS_FORBIDDEN.search(short) or " " in short:
        problems.append(f"{name}: alias {alias!r} breaks RELION's alias rules")
    link = root / alias.rstrip("/")
    if (root / name).is_dir():
        if not link.is_symlink():
            problems.append(f"{name}: alias link {link.relative_to(root)} missing")
        elif os.path.realpath(link) != os.path.realpath(root / name):
            problems.append(f"{name}: alias link points to {os.readlink(link)}")
    return problems
