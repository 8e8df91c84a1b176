"""`crboost status --deep`: what Snakemake would run, per job directory, and why."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ..project.config import CONFIG_NAME
from ..resources import profile_dir, snakefile


def planned_work(project: Path) -> dict[str, dict]:
    """{job dir: {"tasks": n, "reasons": [...]}} from a Snakemake dry run."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(snakefile()),
           "--profile", str(profile_dir("local")), "--configfile", str(project / CONFIG_NAME)]  # fmt: skip
    out = subprocess.run(cmd, cwd=project, capture_output=True, text=True).stdout
    planned: dict[str, dict] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        outputs = re.search(r"^\s+output: (.+)$", block, re.M)
        reason = re.search(r"^\s+reason: (.+)$", block, re.M)
        if not outputs:
            continue
        match = re.match(r"((?:Import|External)/job\d+)/", outputs.group(1))
        if not match:
            continue
        entry = planned.setdefault(match.group(1), {"tasks": 0, "reasons": []})
        entry["tasks"] += 1
        why = reason.group(1).split(":")[0] if reason else "unknown"
        if why not in entry["reasons"]:
            entry["reasons"].append(why)
    return planned
