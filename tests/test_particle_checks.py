"""What the particle jobs are given is checked before any tool runs: at `crboost init` and when
a run starts, each problem one line naming the key and the numbers."""

from __future__ import annotations

import datetime

import mrcfile
import yaml
from conftest import run_cli

from crboost.demo import dose_symmetric_angles, write_demo_data, write_template, write_tilt_series


def one_line_error(proc) -> str:
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("crboost:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return lines[0]


def init(tmp_path, template, mask, *extra):
    raw = tmp_path / "raw"
    return run_cli("init", str(tmp_path / "p"), "--movies", f"{raw}/frames/*.mrc",
                   "--mdocs", f"{raw}/mdoc/*.mdoc", "--template", str(template),
                   "--mask", str(mask), "--set", "pipeline.reconstruct.params.angpix=5.4",
                   "--set", "pipeline.tiltseries.params.tomo_z=64",
                   "--set", "pipeline.denoisetrain.params.subvolume_dimensions=12", *extra)  # fmt: skip


def test_init_refuses_a_template_at_another_voxel_size(tmp_path):
    write_demo_data(tmp_path, 1)
    template, mask = write_template(tmp_path / "t", 4.2)
    line = one_line_error(init(tmp_path, template, mask))
    assert "pipeline.match.params.template: voxel size 4.2 A" in line
    assert "the tomograms' is 5.4 A" in line
    assert not (tmp_path / "p" / "crboost.yaml").exists()


def test_init_refuses_a_dark_template_for_white_tomograms(tmp_path):
    write_demo_data(tmp_path, 1)
    template, mask = write_template(tmp_path / "t", 5.4, white=False)
    line = one_line_error(init(tmp_path, template, mask))
    assert "dark density, the tomograms white" in line and "--invert" in line


def test_init_needs_template_and_mask_together(tmp_path):
    write_demo_data(tmp_path, 1)
    template, _ = write_template(tmp_path / "t", 5.4)
    with mrcfile.open(template) as mrc:
        assert mrc.voxel_size.x == 5.4
    raw = tmp_path / "raw"
    proc = run_cli("init", str(tmp_path / "p"), "--movies", f"{raw}/frames/*.mrc",
                   "--mdocs", f"{raw}/mdoc/*.mdoc", "--template", str(template))  # fmt: skip
    assert "give both" in one_line_error(proc)


def test_init_and_run_stop_at_duplicate_tilt_angles(tmp_path):
    write_demo_data(tmp_path, 1)
    angles = [0.0, *dose_symmetric_angles(max_angle=30.0)]  # two tilts at 0 degrees
    write_tilt_series(tmp_path / "raw", "TS_02", seed=5,
                      start=datetime.datetime(2025, 1, 25), angles=angles)  # fmt: skip
    template, mask = write_template(tmp_path / "t", 5.4)
    line = one_line_error(init(tmp_path, template, mask))
    assert "tilt series TS_02" in line and "pytom #348" in line and "duplicate_tilts" in line
    # the same project, allowed at init, is refused at the start of the run, before any tool
    proc = init(
        tmp_path, template, mask, "--set", "pipeline.match.params.duplicate_tilts=drop_later"
    )
    assert proc.returncode == 0, proc.stderr
    config = tmp_path / "p" / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    data["tools"]["simulate"] = True
    match = next(j for j in data["pipeline"] if j["name"] == "match")
    match["params"]["duplicate_tilts"] = "stop"
    config.write_text(yaml.safe_dump(data))
    line = one_line_error(run_cli("run", str(tmp_path / "p")))
    assert "tilt series TS_02" in line and "pytom #348" in line
    assert not list((tmp_path / "p").glob("External/job00*/tilt_series/*.star")), "a tool ran"


def test_run_stops_when_tomograms_are_too_thin_for_the_cryocare_patch(tmp_path):
    project = tmp_path / "p"
    proc = run_cli("demo", str(project), "--tilt-series", "2", "--to", "particles", "--no-run")
    assert proc.returncode == 0, proc.stderr
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    train = next(j for j in data["pipeline"] if j["name"] == "denoisetrain")
    train["params"]["subvolume_dimensions"] = 16  # tomograms are 64 x 64 x 32 voxels
    config.write_text(yaml.safe_dump(data))
    line = one_line_error(run_cli("run", str(project)))
    assert (
        "pipeline.denoisetrain.params.subvolume_dimensions = 16" in line
        and "64x64x32" in line
        and "Z too" in line
    )
    assert not (project / "Import/job001/tilt_series").exists(), "a job ran"
