"""The exact command lines of the particle jobs, as the real programs' argument parsers take them
(pytom entry_points.py, cryoCARE scripts, RELION's tomography programs), and the forms of the
tools made of several programs: container, directory, simulator."""

from __future__ import annotations

import json
import sys

import pytest
from test_commands import BASE_CONFIG, argv, context, driver_module

from crboost.project.config import ProjectConfig
from crboost.tools.runner import ToolCall, ToolRunner


def chain(tmp_path, ctx, reconstruct_params=None):
    """job_params.json of the jobs upstream: job004 is the tsReconstruct."""
    folder = tmp_path / "External/job004"
    folder.mkdir(parents=True)
    params = {"angpix": 5.4, "dont_invert": False, **(reconstruct_params or {})}
    spec = {"dir": "External/job004", "type": "tsReconstruct", "input_dir": None, "params": params}
    (folder / "job_params.json").write_text(json.dumps(spec))


def test_template_matching(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")  # SLURM's physical ids -> logical 0 1
    mod = driver_module("templatematching")
    params = {"template": "templates/t.mrc", "mask": "/abs/m.mrc", "symmetry": 6,
              "volume_split": [2, 2, 1], "low_pass": 20}  # fmt: skip
    ctx = context(tmp_path, "templatematching", params)
    inputs = {"tlt": "X/TS_01.tlt", "defocus": "X/TS_01_defocus.txt", "dose": "X/TS_01_dose.txt"}
    [call] = mod["commands"](ctx, "TS_01", inputs)
    assert call.item == "TS_01"
    assert argv(call) == [
        "pytom", "pytom_match_template.py", "-t", f"{tmp_path}/templates/t.mrc",
        "-m", "/abs/m.mrc", "-v", "External/job005/tomograms/TS_01.mrc",
        "-d", "External/job005/tm/TS_01", "--tilt-angles", "X/TS_01.tlt",
        "--per-tilt-weighting", "--angular-search", "12",
        "--dose-accumulation", "X/TS_01_dose.txt", "--defocus", "X/TS_01_defocus.txt",
        "--voltage", "300", "--spherical-aberration", "2.7", "--amplitude-contrast", "0.1",
        "--z-axis-rotational-symmetry", "6", "-s", "2", "2", "1", "--low-pass", "20",
        "-g", "0", "1",
    ]  # fmt: skip


def test_candidate_extraction_passes_the_diameter(tmp_path):
    mod = driver_module("tmextractcand")
    ctx = context(tmp_path, "tmextractcand", {"particle_diameter": 250})
    [call] = mod["commands"](ctx, "TS_01")
    assert argv(call) == [
        "pytom", "pytom_extract_candidates.py", "-j", "External/job005/extract/TS_01/TS_01_job.json",
        "-n", "1500", "--particle-diameter", "250", "--relion5-compat",
        "--number-of-false-positives", "1",
    ]  # fmt: skip
    ctx = context(tmp_path, "tmextractcand", {"cutoff_method": "manual", "cc_threshold": 0.2})
    assert argv(mod["commands"](ctx, "TS_01")[0])[-2:] == ["-c", "0.2"]


def test_denoise_configs(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    mod = driver_module("denoisetrain")
    ctx = context(tmp_path, "denoisetrain", {"tomograms": ["TS_01"]})
    chain(tmp_path, ctx)
    data, train = mod["configs"](ctx, ["TS_01"])
    assert data == {
        "even": ["External/job004/tomograms/rec_TS_01_half1.mrc"],
        "odd": ["External/job004/tomograms/rec_TS_01_half2.mrc"],
        "patch_shape": [64, 64, 64], "num_slices": 600, "split": 0.9, "tilt_axis": "Y",
        "n_normalization_samples": 60, "path": "External/job005/train_data", "overwrite": True,
    }  # fmt: skip
    assert train["gpu_id"] == [0] and train["model_name"] == "denoising_model"
    assert train["path"] == "External/job005" and train["overwrite"] is True
    assert [argv(c)[1] for c in mod["commands"](ctx)] == [
        "cryoCARE_extract_train_data.py", "cryoCARE_train.py"]  # fmt: skip
    predict = driver_module("denoisepredict")
    ctx = context(tmp_path, "denoisepredict", {"n_tiles": [2, 2, 1]})
    conf = predict["config"](ctx, "TS_01")
    assert conf["even"] == ["External/job004/tomograms/rec_TS_01_half1.mrc"]
    assert conf["n_tiles"] == [2, 2, 1] and conf["gpu_id"] == [0] and conf["overwrite"] is True


def test_relion_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "8")
    mod = driver_module("subtomoExtraction")
    ctx = context(tmp_path, "subtomoExtraction", {"box_size": 128, "crop_size": 96, "binning": 2})
    [call] = mod["commands"](ctx, "TS_01")
    assert argv(call) == [
        "relion", "relion_tomo_subtomo", "--i", "External/job005/tomo/TS_01/input_optimisation_set.star",
        "--o", "External/job005/tomo/TS_01/", "--b", "128", "--crop", "96", "--bin", "2",
        "--min_frames", "1", "--max_dose", "-1", "--stack2d", "--j", "8", "--theme", "classic",
        "--float16",
    ]  # fmt: skip
    mod = driver_module("reconstructParticle")
    ctx = context(tmp_path, "reconstructParticle", {"symmetry": "C6"})
    [call] = mod["commands"](ctx)
    assert argv(call) == [
        "relion", "relion_tomo_reconstruct_particle", "--i",
        "External/job005/input_optimisation_set.star", "--o", "External/job005/", "--b", "384",
        "--crop", "224", "--bin", "1", "--sym", "C6", "--SNR", "-1", "--j", "8",
        "--theme", "classic",
    ]  # fmt: skip


def runner(tmp_path, tools) -> ToolRunner:
    config = {**BASE_CONFIG, "tools": tools}
    return ToolRunner(ProjectConfig.model_validate(config), tmp_path, "denoisetrain")


def test_forms_of_tools_with_several_programs(tmp_path):
    call = ToolCall("cryocare", ("cryoCARE_train.py", "--conf", "c.json"))
    assert runner(tmp_path, {"cryocare": {"path": "/opt/cc/bin"}}).argv(call) == [
        "/opt/cc/bin/cryoCARE_train.py", "--conf", "c.json"]  # fmt: skip
    assert runner(tmp_path, {}).argv(call) == ["cryoCARE_train.py", "--conf", "c.json"]
    form = runner(tmp_path, {"cryocare": {"container": "/sif/cc.sif"}}).argv(call)
    assert form[:2] == ["apptainer", "exec"] and form[-4:] == [
        "/sif/cc.sif", "cryoCARE_train.py", "--conf", "c.json"]  # fmt: skip
    simulated = runner(tmp_path, {"simulate": ["cryocare"]}).argv(call)
    assert simulated == [sys.executable, "-m", "crboost.simulator", "cryoCARE_train.py",
                         "--conf", "c.json"]  # fmt: skip
    warp = ToolCall("warptools", ("ts_ctf",))
    assert runner(tmp_path, {"simulate": ["cryocare"]}).argv(warp) == ["WarpTools", "ts_ctf"]
    with pytest.raises(ValueError, match="must name one of its programs"):
        ToolCall("pytom", ("rm", "-rf"))


def test_tools_with_several_programs_take_no_executable():
    from crboost.errors import ConfigError
    from crboost.project.config import parse_config

    with pytest.raises(ConfigError, match=r"tools.pytom.*give the directory holding them as path"):
        parse_config({**BASE_CONFIG, "tools": {"pytom": {"executable": "pytom_match_template.py"}}})


def test_preflight_finds_missing_programs_of_multi_program_tools(tmp_path):
    """Before a run starts: a tool's programs directory without its programs is one line."""
    import yaml
    from conftest import run_cli

    project = tmp_path / "p"
    proc = run_cli("demo", str(project), "--tilt-series", "1", "--to", "particles", "--no-run")
    assert proc.returncode == 0, proc.stderr
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    data["tools"]["simulate"] = ["warptools", "aretomo2", "aretomo3", "relion", "pytom"]
    data["tools"]["cryocare"] = {"path": str(tmp_path / "nowhere")}
    config.write_text(yaml.safe_dump(data))
    proc = run_cli("run", str(project))
    assert proc.returncode != 0
    assert (f"tools.cryocare.path = '{tmp_path}/nowhere': no cryoCARE_extract_train_data.py "
            "there (needed by denoisetrain, denoise") in proc.stderr  # fmt: skip
    assert not (project / "Import/job001/tilt_series").exists()
