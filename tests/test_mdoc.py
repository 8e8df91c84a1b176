"""mdoc parsing and inference against every real file in ../shared/reference/mdoc/ and the quirks
listed in the notes (each test builds the quirk from a real file)."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from conftest import reference, run_cli

from crboost.acquisition.mdoc import read_tilt_series_mdoc
from crboost.acquisition.mdoc_dates import parse_mdoc_datetime
from crboost.acquisition.names import movie_basename, tilt_series_name
from crboost.errors import MdocError

MDOC = "mdoc"


def inspect_json(*paths, extra=()):
    proc = run_cli("inspect", "--json", *map(str, paths), *extra)
    return proc, json.loads(proc.stdout)


def test_serialem_k2_binned_without_dose_or_voltage():
    path = reference(MDOC, "mdocfile__tilt_series.mdoc")
    proc, report = inspect_json(path)
    ts = report["tilt_series"][0]
    assert proc.returncode == 1, "no dose anywhere: not usable without --dose-per-tilt"
    assert ts["name"] == "mdocfile__tilt_series"
    assert ts["tilts"] == 41
    assert ts["tilt_axis"] == 85.3
    assert ts["pixel_size"] == pytest.approx(5.4 / 4)
    assert ts["voltage"] is None
    assert ts["detector_size"] == [924 * 4, 958 * 4]
    assert ts["dose_per_tilt"] is None and "no dose" in ts["error"]
    assert any("binned x4" in w for w in ts["warnings"])
    assert ts["first_movie"] == "TS_01_000_0.0.mrc", "Windows D:\\ path reduced to the file name"

    proc, report = inspect_json(path, extra=("--dose-per-tilt", "3"))
    assert proc.returncode == 0
    ts = report["tilt_series"][0]
    assert ts["usable"] and ts["dose_per_tilt"] == 3 and ts["total_dose"] == 123
    assert report["inferred"]["dose_per_tilt"] == 3
    assert report["inferred"]["voltage"] is None


def test_serialem_falcon_unc_path_dose_from_dose_rate():
    path = reference(MDOC, "murfey__test.mdoc")
    proc, report = inspect_json(path)
    assert proc.returncode == 0
    ts = report["tilt_series"][0]
    assert ts["tilts"] == 11
    assert ts["pixel_size"] == 1.94 and ts["voltage"] == 300 and ts["tilt_axis"] == 83.8
    # ExposureDose 0 and FrameDosesAndNumber "0 7 0 3": dose = DoseRate*ExposureTime/pixel^2
    mdoc = read_tilt_series_mdoc(path)
    first = next(t for t in mdoc.tilts if t.z_value == 0)
    assert first.dose == pytest.approx(5.45454 * 1.49179 / 1.94**2)
    assert first.dose_source == "DoseRate*ExposureTime"
    assert first.movie == "chrom_07_ts_010_167_000_-0.0.mrc"
    assert ts["detector_size"] == [4096, 4096]
    assert report["inferred"]["eer"] is False and report["inferred"]["eer_ngroups"] is None


def test_tomo5_eer_tilt_axis_convention_and_dates():
    path = reference(MDOC, "cryoboost__Position_12.mdoc")
    proc, report = inspect_json(path)
    assert proc.returncode == 0
    ts = report["tilt_series"][0]
    inf = report["inferred"]
    assert ts["software"] == "Tomo5" and inf["acquisition_software"] == "Tomo5"
    # title TiltAxisAngle = -174.23, RotationAngle = -84.23: -TiltAxisAngle - 90 = 84.23
    assert ts["tilt_axis"] == pytest.approx(84.23)
    assert ts["pixel_size"] == 2.95 and ts["dose_per_tilt"] == 2.07 and ts["tilts"] == 6
    assert inf["eer"] is True
    assert inf["eer_ngroups"] == round(2.07 / 0.3)
    mdoc = read_tilt_series_mdoc(path)
    # Tomo5 writes yy-MMM-dd: 22-Feb-04 is 4 February 2022
    assert mdoc.tilts[0].acquired == datetime(2022, 2, 4, 23, 2, 5)
    assert mdoc.ordered_by == "DateTime"


def test_dose_symmetric_k3_sorted_by_datetime_not_zvalue():
    path = reference(MDOC, "mdoctools__example.mdoc")
    mdoc = read_tilt_series_mdoc(path)
    assert len(mdoc.tilts) == 41
    times = [t.acquired for t in mdoc.tilts]
    assert times == sorted(times)
    assert [t.z_value for t in mdoc.tilts] != sorted(t.z_value for t in mdoc.tilts)
    assert abs(mdoc.tilts[0].tilt_angle) < 1, "dose-symmetric: acquisition starts at 0 deg"
    assert mdoc.tilt_axis == 76.9 and mdoc.pixel_size == 2.674
    assert mdoc.detector_size == (5760, 4092)
    assert mdoc.tilts[0].dose == pytest.approx(4.190062033969038)


def test_frame_set_mdoc_is_rejected_naming_the_file():
    path = reference(MDOC, "mdocfile__frame_set_single.mdoc")
    proc, report = inspect_json(path)
    assert proc.returncode == 1
    err = report["tilt_series"][0]["error"]
    assert str(path) in err and "FrameSet" in err


def test_incomplete_mdoc_is_rejected():
    path = reference(MDOC, "cryoetportal__foo-TS_run1.mdoc")
    with pytest.raises(MdocError) as e:
        read_tilt_series_mdoc(path)
    assert e.value.kind == "incomplete"
    assert str(path) in str(e.value) and "DateTime" in str(e.value)


def test_every_reference_mdoc_is_read_or_rejected_clearly():
    files = sorted(reference(MDOC).glob("*.mdoc"))
    assert len(files) >= 6
    proc, report = inspect_json(*files)
    assert proc.returncode == 0
    for entry in report["tilt_series"]:
        assert entry["usable"] or (entry["error"] and entry["mdoc"] in entry["error"])
    assert report["usable"] == 3  # murfey, Position_12, mdoctools (the K2 file has no dose)


def test_human_readable_inspect(capsys):
    proc = run_cli("inspect", str(reference(MDOC, "mdoctools__example.mdoc")))
    assert proc.returncode == 0
    assert "mdoctools__example" in proc.stdout and "41" in proc.stdout
    assert "tilt_axis" in proc.stdout and "76.9" in proc.stdout


# --- quirks built from real files -------------------------------------------------------------


def _variant(tmp_path, source: str, name: str, transform) -> str:
    text = reference(MDOC, source).read_bytes().decode()
    path = tmp_path / name
    path.write_bytes(transform(text).encode())
    return str(path)


def test_crlf_and_locale_commas(tmp_path):
    def commas(text):
        return re.sub(
            r"(?m)^(TiltAngle|ExposureDose|PixelSpacing) = (-?\d+)\.(\d+)", r"\1 = \2,\3", text
        )

    path = _variant(
        tmp_path, "mdoctools__example.mdoc", "comma.mdoc", lambda t: commas(t).replace("\n", "\r\n")
    )
    mdoc = read_tilt_series_mdoc(path)
    assert mdoc.pixel_size == 2.674
    assert mdoc.tilts[0].dose == pytest.approx(4.190062033969038)
    assert any("decimal commas" in w for w in mdoc.warnings)


def test_missing_datetime_orders_by_zvalue_and_says_so(tmp_path):
    path = _variant(
        tmp_path,
        "mdoctools__example.mdoc",
        "notime.mdoc",
        lambda t: re.sub(r"(?m)^DateTime = .*\n", "", t),
    )
    mdoc = read_tilt_series_mdoc(path)
    assert mdoc.ordered_by == "ZValue"
    assert [t.z_value for t in mdoc.tilts] == list(range(41))
    assert any("ZValue" in w for w in mdoc.warnings)


def test_truncated_mdoc_still_being_written(tmp_path):
    def cut(text):
        last = text.rindex("[ZValue")
        return text[: text.index("PriorRecordDose", last)]

    path = _variant(tmp_path, "mdoctools__example.mdoc", "partial.mdoc", cut)
    with pytest.raises(MdocError) as e:
        read_tilt_series_mdoc(path)
    assert "truncated" in str(e.value) and "partial.mdoc" in str(e.value)
    assert e.value.kind == "incomplete"


def test_garbage_value_names_file_and_section(tmp_path):
    path = _variant(
        tmp_path,
        "murfey__test.mdoc",
        "bad.mdoc",
        lambda t: t.replace("TiltAngle = 2.98863", "TiltAngle = abc"),
    )
    with pytest.raises(MdocError) as e:
        read_tilt_series_mdoc(path)
    assert (
        "bad.mdoc" in str(e.value) and "TiltAngle" in str(e.value) and "ZValue = 1" in str(e.value)
    )


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.mdoc"
    empty.write_text("\n\n")
    with pytest.raises(MdocError, match="empty.mdoc: empty"):
        read_tilt_series_mdoc(empty)
    with pytest.raises(MdocError, match="nope.mdoc: no such file"):
        read_tilt_series_mdoc(tmp_path / "nope.mdoc")


def test_duplicate_zero_tilts_are_kept_and_flagged(tmp_path):
    # dose-symmetric schemes may start with two images at 0 deg
    path = _variant(
        tmp_path,
        "mdoctools__example.mdoc",
        "dup.mdoc",
        lambda t: t.replace("TiltAngle = 3.00163", "TiltAngle = 0.0012", 1),
    )
    mdoc = read_tilt_series_mdoc(path)
    assert len(mdoc.tilts) == 41
    assert any("nearly the same angle" in w for w in mdoc.warnings)


def test_names_and_paths():
    assert tilt_series_name("/x/TS_01.mrc.mdoc") == ("TS_01", None)
    assert tilt_series_name("a/Position_1.2.mdoc")[0] == "Position_1_2"
    assert tilt_series_name("TS_01.mdoc", prefix="s2") == ("s2_TS_01", None)
    name, warning = tilt_series_name("/d/my TS;$(rm -rf x).mdoc")
    assert re.fullmatch(r"[A-Za-z0-9_+-]+", name) and warning
    assert movie_basename(r"\\192.168.10.81\share\\dir\f.mrc") == "f.mrc"
    assert movie_basename(r"D:\DATA\x\TS_01_000_0.0.mrc") == "TS_01_000_0.0.mrc"
    assert movie_basename("data/tilts/frames//a.eer") == "a.eer"


@pytest.mark.parametrize(
    "text,software,expected",
    [
        ("30-Nov-15  15:21:38", "SerialEM", datetime(2015, 11, 30, 15, 21, 38)),
        ("22-Feb-04  23:02:05", "Tomo5", datetime(2022, 2, 4, 23, 2, 5)),
        ("04-Feb-2022 23:02:05", "Tomo5", datetime(2022, 2, 4, 23, 2, 5)),
        ("2022-Feb-04 23:02:05", "unknown", datetime(2022, 2, 4, 23, 2, 5)),
    ],
)
def test_dates(text, software, expected):
    assert parse_mdoc_datetime(text, software) == expected
