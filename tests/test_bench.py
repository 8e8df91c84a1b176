"""The benchmarks run: `bench/run.py --quick` at the smallest sizes prints every measure with
its ratio (no timing asserted: targets live in the benchmark's own table)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MEASURES = [
    "plan, 3 TS", "parse per cluster job, 3 TS", "status, 3 TS", "makespan, 2 TS, 2 cores",
    "makespan, job by job", "first tomogram, 2 TS, 2 cores",
    "reading walk, dry run", "reading walk, run", "driver start to tool start",
]  # fmt: skip
WALKS = [m for m in MEASURES if m.startswith("reading walk")]


def test_quick_benchmark_runs_and_reports_every_ratio(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--sizes", "3",
         "--makespan-ts", "2", "--delay", "0.2", "--driver-runs", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ")]
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in table}
    for measure in MEASURES:
        assert measure in rows, f"{measure} missing from\n{proc.stdout}"
        crboost = rows[measure][0]
        if measure in WALKS:
            assert re.fullmatch(r"\d+ climbs back", crboost), rows[measure]
            continue
        assert re.fullmatch(r"\d+\.\d+ s", crboost) and float(crboost[:-2]) > 0, rows[measure]
    for measure in [m for m in MEASURES[:-1] if m not in WALKS]:  # these have a ratio
        assert re.fullmatch(r"\d+\.\d+x( faster| sooner)?", rows[measure][2]), rows[measure]
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert [r[0] for r in saved["rows"]] == MEASURES
