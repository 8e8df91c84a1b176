"""`crboost check --profile slurm` looks for a tool that exists only on the compute nodes
(`nodes_only`) in a small job on a node of the real one-node Slurm, with the tool's modules
loaded there (Debian's environment-modules), and names the node and what it found."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import run_cli
from test_slurm import cluster  # noqa: F401  (skips, or fails in CI, without a cluster)
from test_tool_placement import RELION_BIN, edit_config, module_path, needs_modules

pytestmark = [pytest.mark.slurm, needs_modules]

FAST = ["--", "--slurm-init-seconds-before-status-checks", "1"]


@pytest.mark.skipif(not (RELION_BIN / "relion_tomo_subtomo").exists(), reason="no RELION 5")
def test_check_looks_for_a_nodes_only_tool_on_a_node(tmp_path, monkeypatch):
    project = tmp_path / "p"
    run_cli("demo", str(project), "--tilt-series", "1", "--to", "particles", "--no-run",
            check=True)  # fmt: skip
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    data["resources"] = {"default": {"cpus": 1, "mem_mb": 500, "runtime": 10}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    edit_config(project, simulate=["warptools", "cryocare", "pytom"],
                relion={"modules": ["crboost-test/relion5"], "nodes_only": True})  # fmt: skip
    # the module exists on the "nodes" (its MODULEPATH reaches the job through sbatch's
    # environment); this host's PATH has no RELION
    monkeypatch.setenv("MODULEPATH", module_path(tmp_path, "crboost-test/relion5", RELION_BIN))
    proc = run_cli("check", str(project), "--profile", "slurm", *FAST)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if "tools.relion" in ln)
    assert line.startswith("ok: tools.relion on node ")
    assert "found after module load crboost-test/relion5" in line
    probe = json.loads((project / ".crboost/check/relion.json").read_text())
    assert probe["missing"] == [] and probe["host"] in line
    log = (project / ".crboost/check/snakemake.log").read_text()
    assert "has been submitted with SLURM jobid" in log, log[-2000:]

    edit_config(project, relion={"modules": ["crboost-test/relion6"], "nodes_only": True})
    proc = run_cli("check", str(project), "--profile", "slurm", *FAST)
    assert proc.returncode == 1
    [problem] = [ln for ln in proc.stdout.splitlines() if ln.startswith("problem:")]
    assert "tools.relion on node " in problem
    assert "module load crboost-test/relion6 failed" in problem
    assert "(needed by subtomo, average)" in problem
