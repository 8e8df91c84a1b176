"""curation.yaml: reading it (one-line errors), naming tilts by movie or angle, the edits of
`crboost exclude/include`, what leaves a job's items; the tiltFilter's rules; Warp's UseTilt."""

from __future__ import annotations

import runpy
import shutil

import pandas as pd
import pytest
import yaml
from conftest import REPO, reference, run_cli

from crboost.project.curation import (
    Curation,
    CurationError,
    Tilt,
    edit,
    read_curation,
    render,
    resolve,
    tilt_decisions,
    tilts_of,
    write_snapshot,
)
from crboost.project.load import load_project
from crboost.running.jobcontext import JobContext
from crboost.tools.use_tilt import write_used_tilts
from crboost.tools.warp import WarpFormatError, movie_stem, read_tilt_series_xml

TILTS = [Tilt("TS_01_000_0.0", 0.004), Tilt("TS_01_001_3.0", 3.001), Tilt("TS_01_002_-3.0", -3.0)]


def test_a_tilt_is_named_by_movie_or_by_angle():
    assert resolve("TS_01_001_3.0", TILTS, "x").movie == "TS_01_001_3.0"
    assert resolve("TS_01_001_3.0.eer", TILTS, "x").movie == "TS_01_001_3.0"
    assert resolve(-3, TILTS, "x").movie == "TS_01_002_-3.0"
    assert resolve(3.4, TILTS, "x").movie == "TS_01_001_3.0"  # within 0.5 degrees
    assert resolve("-3", TILTS, "x").movie == "TS_01_002_-3.0"  # a quoted angle
    with pytest.raises(CurationError, match=r"x = 4.0: no tilt at this angle \(tilts from -3.0"):
        resolve(4.0, TILTS, "x")
    with pytest.raises(CurationError, match="x = 'TS_01_009': no tilt has this movie name"):
        resolve("TS_01_009", TILTS, "x")
    twice = [*TILTS, Tilt("TS_01_003_0.0", 0.2)]
    with pytest.raises(CurationError, match="several tilts at this angle .*name the movie"):
        resolve(0, twice, "x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exclude_tilts: [1, 2]\n", "curation.yaml: exclude_tilts"),
        ("exclude_tilt_series: TS_01\n", "curation.yaml: exclude_tilt_series"),
        ("keep: {TS_01: [3]}\n", "keep: unknown key (allowed: exclude_tilt_series, exclude_til"),
        ("exclude_tilts: {TS_01: [true]}\n", "exclude_tilts.TS_01[0]"),
        ("exclude_tilts: {TS_01: [.nan]}\n", "exclude_tilts.TS_01[0] = nan: not an angle"),
        ("exclude_tilts: {TS_01: [3\n", "curation.yaml: line 2: not valid YAML"),
        ("- TS_01\n", "curation.yaml: expected a mapping of keys, got list"),
    ],
)
def test_a_broken_curation_file_is_one_line_naming_the_key(tmp_path, text, message):
    (tmp_path / "curation.yaml").write_text(text)
    with pytest.raises(CurationError) as err:
        read_curation(tmp_path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_empty_keys_and_duplicates_are_normalised(tmp_path):
    (tmp_path / "curation.yaml").write_text(
        "exclude_tilt_series:\nexclude_tilts:\n  TS_01: [3, 3.0, TS_01_000_0.0]\n  TS_02: []\n"
    )
    curation = read_curation(tmp_path)
    assert curation.exclude_tilt_series == ()
    assert curation.exclude_tilts == {"TS_01": (3.0, "TS_01_000_0.0")}
    # the per-item param does not depend on the order the user wrote
    other = Curation(exclude_tilts={"TS_01": ("TS_01_000_0.0", 3.0)})
    assert curation.entry_json("TS_01") == other.entry_json("TS_01")
    assert curation.entry_json("TS_02") == "{}"


def test_render_reads_back_and_quotes_what_yaml_would_misread():
    curation = Curation(("yes", "TS_04"), {"TS_01": ("0001", -27.0)}, {"TS_02": ("TS_02_a",)})
    text = render(curation, {"TS_02": {"TS_02_a": 30.0}})
    assert '"yes"' in text and 'TS_02_a"  # 30.0 degrees' in text and '- "0001"' in text
    assert Curation.from_data(yaml.safe_load(text)) == curation


def test_tilt_decisions_refuse_a_tilt_both_dropped_and_kept():
    curation = Curation(exclude_tilts={"TS_01": (3.0,)}, keep_tilts={"TS_01": ("TS_01_001_3.0",)})
    with pytest.raises(CurationError, match="TS_01_001_3.0 is in both exclude_tilts and keep"):
        tilt_decisions(curation, "TS_01", TILTS)


def test_exclude_and_include_edit_the_file(demo_project):
    known = {"TS_01", "TS_02", "TS_03"}
    angles = [t.angle for t in tilts_of(demo_project, "TS_02")]
    assert len(angles) == 21
    # an entry written by hand (an angle) stays as written when another tilt series is edited
    (demo_project / "curation.yaml").write_text("exclude_tilts:\n  TS_01: [-30]\n")
    message = edit(demo_project, "TS_02", [-27.0, "TS_02_020_-30.0.mrc"], "exclude", known)
    assert message == "TS_02: 2 tilt(s) excluded (-27.0, -30.0 degrees)"
    curation = read_curation(demo_project)
    assert curation.exclude_tilts == {"TS_01": (-30.0,),
                                      "TS_02": ("TS_02_019_-27.0", "TS_02_020_-30.0")}  # fmt: skip
    # including one moves it to the tilts to keep; excluding the tilt series keeps its tilts
    edit(demo_project, "TS_02", ["TS_02_019_-27.0"], "include", known)
    edit(demo_project, "TS_03", [], "exclude", known)
    curation = read_curation(demo_project)
    assert curation.exclude_tilts["TS_02"] == ("TS_02_020_-30.0",)
    assert curation.keep_tilts == {"TS_02": ("TS_02_019_-27.0",)}
    assert curation.exclude_tilt_series == ("TS_03",)
    assert "no change" in edit(demo_project, "TS_03", [], "exclude", known)
    edit(demo_project, "TS_03", [], "include", known)
    assert read_curation(demo_project).exclude_tilt_series == ()
    with pytest.raises(CurationError, match="'TS_9': not a tilt series of this project"):
        edit(demo_project, "TS_9", [], "exclude", known)


def test_cli_exclude_names_the_problem_in_one_line(demo_project):
    proc = run_cli("exclude", str(demo_project), "TS_01", "-28.6")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "crboost: TS_01 tilt = -28.6: no tilt at this angle (tilts from -30.0 to 30.0)"
    )
    assert not (demo_project / "curation.yaml").exists()
    proc = run_cli("exclude", str(demo_project), "TS_01", "-27", "0")
    assert proc.returncode == 0 and "TS_01: 2 tilt(s) excluded (-27.0, 0.0 degrees)" in proc.stdout


def test_excluded_tilt_series_leave_every_job_and_unknown_names_are_refused(demo_project):
    (demo_project / "curation.yaml").write_text("exclude_tilt_series: [TS_02]\n")
    project = load_project(demo_project / "crboost.yaml")
    assert all(project.items(job) == ["TS_01", "TS_03"] for job in project.jobs)
    # the drivers and cluster jobs use the decisions the run started with
    write_snapshot(demo_project, project.curation)
    (demo_project / "curation.yaml").write_text("exclude_tilt_series: [TS_03]\n")
    ctx = JobContext(root=demo_project, dir="External/job002", spec={})
    assert ctx.items() == ["TS_01", "TS_03"]
    remote = load_project(demo_project / "crboost.yaml", remote=True)
    assert remote.items(remote.jobs[0]) == ["TS_01", "TS_03"]
    (demo_project / "curation.yaml").write_text("exclude_tilt_series: [TS_9]\n")
    proc = run_cli("run", str(demo_project), "--", "-n")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "crboost: curation.yaml: 'TS_9' is not a tilt series of this project (it has TS_01, "
        "TS_02, TS_03)"
    )


# --- the tiltFilter's rules -------------------------------------------------------------------


def filter_driver() -> dict:
    return runpy.run_path(str(REPO / "drivers" / "tiltFilter.py"), run_name="test")


def rules(**given) -> dict:
    from crboost.jobs.tiltFilter import TiltFilterParams

    return TiltFilterParams(**given).model_dump()


def test_each_rule_drops_what_it_names_and_nothing_else():
    mod = filter_driver()
    table = pd.DataFrame({
        "rlnMicrographMovieName": [f"frames/m{i}.eer" for i in range(5)],
        "rlnTomoNominalStageTiltAngle": [0.0, 3.0, -3.0, 57.0, -60.0],
        "rlnCtfMaxResolution": [5.0, 12.0, 6.0, 7.0, 8.0],
        "rlnDefocusU": [40000.0, 41000.0, 15000.0, 40000.0, 40000.0],
        "rlnDefocusV": [39000.0, 40000.0, 14000.0, 39000.0, 39000.0],
        "rlnAccumMotionTotal": [1.0, 2.0, 3.0, 30.0, 1.0],
    })  # fmt: skip
    assert mod["rule_reasons"](table, rules(), {}) == [[], [], [], [], []]
    reasons = mod["rule_reasons"](table, rules(max_tilt_angle=58, max_ctf_resolution=10,
                                               min_defocus=2, max_motion=20), {})  # fmt: skip
    assert reasons[0] == []
    assert reasons[1] == ["CTF fit 12.0 A worse than 10 A"]
    assert reasons[2] == ["defocus 1.45 um below 2 um"]
    assert reasons[3] == ["motion 30.0 A > 20 A"]
    assert reasons[4] == ["|tilt| 60.0 > 58 degrees"]
    assert mod["rule_reasons"](table, rules(max_defocus=4.1), {})[1] == []
    assert mod["rule_reasons"](table, rules(max_defocus=4.0), {})[1] == [
        "defocus 4.05 um above 4 um"
    ]


def test_dark_tilts_follow_warps_min_intensity_rule():
    mod = filter_driver()
    angles = [0.0, 3.0, -3.0, 60.0, -60.0]
    table = pd.DataFrame({"rlnMicrographMovieName": [f"m{i}.eer" for i in range(5)],
                          "rlnTomoNominalStageTiltAngle": angles})  # fmt: skip
    # at 60 degrees cos = 0.5: 0.4 of the brightest passes a 0.7 limit (0.35), 0.3 does not
    intensity = {"m0": 10.0, "m1": 9.5, "m2": 9.8, "m3": 4.0, "m4": 3.0}
    dark = mod["dark_tilts"](table, intensity, 0.7)
    assert [bool(d) for d in dark] == [False, False, False, False, True]
    assert dark[4].startswith("dark: intensity 3 < 3.5")


def test_filter_params_refuse_an_empty_defocus_range():
    from crboost.errors import ConfigError
    from crboost.jobs.tiltFilter import TiltFilterParams

    with pytest.raises(ConfigError, match="max_defocus = 2 must be larger than min_defocus = 3"):
        TiltFilterParams.from_config({"min_defocus": 3, "max_defocus": 2}, None, "p")


# --- Warp's UseTilt ---------------------------------------------------------------------------


def test_use_tilt_is_the_only_change_to_a_real_warp_xml(tmp_path):
    source = tmp_path / "00254.xml"
    shutil.copy(reference("tools", "warp", "warpylib__00254.xml"), source)
    meta = read_tilt_series_xml(source)
    stems = [movie_stem(m) for m in meta.movie_paths]
    keep = set(stems) - {stems[0], stems[5]}
    dest = tmp_path / "out" / "00254.xml"
    use = write_used_tilts(source, dest, keep)
    assert use == [s in keep for s in stems] and use.count(False) == 2
    again = read_tilt_series_xml(dest)
    assert again.use_tilt == use and again.movie_paths == meta.movie_paths
    assert again.defocus == meta.defocus and again.angles == meta.angles
    before, after = source.read_bytes(), dest.read_bytes()
    assert before[:3] == after[:3]  # a BOM stays a BOM, no BOM stays none
    start = before.index(b"<UseTilt>")
    assert after[:start] == before[:start]
    tail = before[before.index(b"</UseTilt>") :]
    assert after.endswith(tail)


def test_use_tilt_needs_exactly_one_list(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text("<TiltSeries><MoviePath>a.mrc</MoviePath><Angles>0</Angles>"
                    "<Dose>0</Dose><AxisAngle>0</AxisAngle></TiltSeries>")  # fmt: skip
    with pytest.raises(WarpFormatError, match="expected one <UseTilt> element"):
        write_used_tilts(path, tmp_path / "y.xml", {"a"})
