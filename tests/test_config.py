"""Project config: generated schema in sync, and bad input -> one line naming the key, no
traceback, nothing written."""

from __future__ import annotations

import os

import pytest
import yaml
from conftest import REPO, plain_snakemake_dry_run, reference, run_cli

from crboost.errors import ConfigError
from crboost.project.configfile import EXAMPLE, EXAMPLE_NOTES, key_reference, render_config
from crboost.project.load import load_project
from crboost.project.schema import schema_text
from crboost.project.schema_check import checked_before, record_checked


def snapshot(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_committed_schema_matches_the_models():
    committed = (REPO / "workflow" / "schemas" / "config.schema.yaml").read_text()
    assert committed == schema_text(), (
        "run: python -m crboost.project.schema > workflow/schemas/config.schema.yaml"
    )


def test_config_readme_lists_every_key():
    readme = (REPO / "config" / "README.md").read_text()
    assert key_reference() in readme, (
        "regenerate the key table: python -m crboost.project.configfile"
    )


def test_config_template_is_current():
    assert (REPO / "config" / "config.yaml").read_text() == render_config(EXAMPLE, EXAMPLE_NOTES)


def test_written_config_reads_back_identically(demo_project):
    text = (demo_project / "crboost.yaml").read_text()
    data = yaml.safe_load(text)
    assert render_config(data).replace("  # inferred", "").count("\n") > 40
    assert yaml.safe_load(render_config(data)) == yaml.safe_load(text)


def _edit(project, change):
    path = project / "crboost.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def _bad_run(project, change, *expected):
    _edit(project, change)
    before = snapshot(project)
    proc = run_cli("run", str(project))
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    for word in expected:
        assert word in err, err
    assert snapshot(project) == before, "a failed validation must not write anything"
    return err


def test_negative_pixel_size(demo_project):
    _bad_run(
        demo_project,
        lambda d: d["microscope"].update(pixel_size=-1.0),
        "microscope.pixel_size",
        "-1.0",
        "> 0",
    )


def test_unknown_job_type(demo_project):
    _bad_run(
        demo_project,
        lambda d: d["pipeline"][0].update(type="motioncor9"),
        "pipeline[0].type",
        "motioncor9",
        "importmovies",
    )


def test_unknown_key_lists_allowed(demo_project):
    _bad_run(
        demo_project,
        lambda d: d["acquisition"].update(dose=3),
        "acquisition.dose",
        "unknown key",
        "dose_per_tilt",
    )


def test_glob_matching_nothing(demo_project):
    _bad_run(
        demo_project,
        lambda d: d["data"].update(mdocs="nowhere/*.mdoc"),
        "data.mdocs",
        "nowhere/*.mdoc",
        "matches no file",
    )


def test_synced_param_set_per_job(demo_project):
    _bad_run(
        demo_project,
        lambda d: d["pipeline"][0].update(params={"tilt_axis": 3}),
        "pipeline[0].params.tilt_axis",
        "acquisition.tilt_axis",
    )


def test_bad_job_name(demo_project):
    _bad_run(
        demo_project, lambda d: d["pipeline"][0].update(name="my job"), "pipeline[0].name", "my job"
    )


def test_invalid_yaml(demo_project):
    (demo_project / "crboost.yaml").write_text("data: [unclosed\n")
    proc = run_cli("run", str(demo_project))
    assert (
        proc.returncode == 1 and "not valid YAML" in proc.stderr and "Traceback" not in proc.stderr
    )


def test_plain_snakemake_reports_the_same_error(demo_project):
    _edit(demo_project, lambda d: d["microscope"].update(pixel_size=-1.0))
    proc = plain_snakemake_dry_run(demo_project)
    assert proc.returncode != 0
    assert "microscope.pixel_size = -1.0: must be > 0" in proc.stderr + proc.stdout


def test_cluster_jobs_skip_the_schema_check_only_for_the_config_the_run_checked(demo_project):
    """A load with remote=True (a cluster job) checks the config against the schema unless the
    main process checked this very config when the run started (hooks.on_start keeps its
    digest): a config edited since is checked again, and refused as on the submitting host."""
    config = demo_project / "crboost.yaml"
    edited = yaml.safe_load(config.read_text())
    edited["resources"]["default"]["cpus"] = "2"  # the models take it (as 2), the schema not
    refused = "resources.default.cpus = '2': must be of type integer"
    with pytest.raises(ConfigError, match=refused):
        load_project(config, edited, remote=True)  # no run has started: checked
    main = load_project(config)  # the main process of a run
    assert main.schema_checked and not checked_before(demo_project, main.schema_checked)
    record_checked(demo_project, main.schema_checked)  # what on_start does
    assert load_project(config, remote=True).schema_checked is None  # not checked again
    with pytest.raises(ConfigError, match=refused):
        load_project(config, edited, remote=True)  # edited after the run started: checked
    # the same values in another key order are the same config; another type is not
    reordered = dict(reversed(list(yaml.safe_load(config.read_text()).items())))
    assert load_project(config, reordered, remote=True).schema_checked is None
    retyped = yaml.safe_load(config.read_text())
    retyped["microscope"]["voltage"] = int(retyped["microscope"]["voltage"])
    assert load_project(config, retyped, remote=True).schema_checked is not None


def test_init_errors_write_nothing(tmp_path):
    project = tmp_path / "p"
    mdocs = reference("mdoc")
    cases = [
        (
            ["--movies", str(tmp_path / "none/*.tif"), "--mdocs", str(mdocs / "mdoctools*.mdoc")],
            "data.movies",
        ),
        (
            ["--movies", str(tmp_path / "*.tif"), "--mdocs", str(tmp_path / "x/*.mdoc")],
            "data.mdocs",
        ),
    ]
    for args, key in cases:
        proc = run_cli("init", str(project), *args)
        assert proc.returncode == 1 and key in proc.stderr and "Traceback" not in proc.stderr
        assert not (project / "crboost.yaml").exists()


def test_init_set_overrides_and_bad_set(tmp_path, demo_project):
    raw = demo_project / "raw"
    project = tmp_path / "p2"
    proc = run_cli(
        "init",
        str(project),
        "--movies",
        str(raw / "frames/*.mrc"),
        "--mdocs",
        str(raw / "mdoc/*.mdoc"),
        "--set",
        "microscope.pixel_size=-2",
    )
    assert proc.returncode == 1 and "microscope.pixel_size = -2" in proc.stderr
    assert not project.exists() or not (project / "crboost.yaml").exists()
    proc = run_cli(
        "init",
        str(project),
        "--movies",
        str(raw / "frames/*.mrc"),
        "--mdocs",
        str(raw / "mdoc/*.mdoc"),
        "--set",
        "microscope.cs=2.0",
        "--set",
        "pipeline.import.params.optics_group_name=og2",
    )
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load((project / "crboost.yaml").read_text())
    assert data["microscope"]["cs"] == 2.0
    assert data["pipeline"][0]["params"] == {"optics_group_name": "og2"}
    assert data["microscope"]["pixel_size"] == 2.7
    assert os.path.isfile(project / ".crboost" / "manifest.json")
    proc = run_cli("init", str(project), "--movies", "x", "--mdocs", "y")
    assert proc.returncode == 1 and "exists already" in proc.stderr


def test_init_needs_a_dose_when_mdocs_have_none(tmp_path):
    src = reference("mdoc", "mdocfile__tilt_series.mdoc")
    data = tmp_path / "data"
    data.mkdir()
    text = src.read_text()
    (data / "TS_01.mdoc").write_text(text)
    for line in text.splitlines():
        if line.startswith("SubFramePath"):
            (data / line.split("\\")[-1]).write_bytes(b"")
    args = [
        "init",
        str(tmp_path / "p"),
        "--movies",
        str(data / "*.mrc"),
        "--mdocs",
        str(data / "*.mdoc"),
    ]
    proc = run_cli(*args)
    assert proc.returncode == 1
    assert "acquisition.dose_per_tilt" in proc.stderr and "--set" in proc.stderr
    assert not (tmp_path / "p" / "crboost.yaml").exists()
    proc = run_cli(*args, "--set", "acquisition.dose_per_tilt=3", "--set", "microscope.voltage=300")
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load((tmp_path / "p" / "crboost.yaml").read_text())
    assert data["acquisition"]["dose_per_tilt"] == 3
