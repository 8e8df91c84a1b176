"""Malformed input, table-driven: mdoc values, configs, command-line arguments and names.

Each case must end in ONE line on stderr naming the file or key and the problem (no
traceback), exit status 1 (2 for command-line usage), and nothing written: `init` creates no
project, `run` changes no file of the project. Odd but possible values are warnings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import copy_project, run_cli

from crboost.acquisition.names import star_problem
from crboost.cli import main
from crboost.demo import DEMO_SETTINGS, write_demo_data
from crboost.project.init import init_project

# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """One small demo tilt series (5 tilts): raw/frames/*.mrc and raw/mdoc/TS_01.mrc.mdoc."""
    return write_demo_data(tmp_path_factory.mktemp("raw"), 1, max_angle=6)


@pytest.fixture(scope="module")
def project(tmp_path_factory, raw) -> Path:
    """An initialised project (not run) on its own copy of the data."""
    root = tmp_path_factory.mktemp("proj") / "p"
    shutil.copytree(raw, root / "raw")
    init_project(root, movies=str(root / "raw/frames/*.mrc"),
                 mdocs=str(root / "raw/mdoc/*.mdoc"), sets=DEMO_SETTINGS)  # fmt: skip
    return root


def set_key(text: str, key: str, value: str, first_only: bool = False) -> str:
    """Every `key = ...` line (or only the first one inside a section) set to `value`."""
    lines, done, in_sections = text.splitlines(), False, False
    for i, line in enumerate(lines):
        in_sections = in_sections or line.startswith("[ZValue")
        if line.split("=")[0].strip() == key and not (first_only and (done or not in_sections)):
            lines[i] = f"{key} = {value}"
            done = True
    return "\n".join(lines) + "\n"


def cli(capsys, *args: str) -> tuple[int, str]:
    """crboost in this process (as fast as a function call); (exit status, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as e:  # argparse
        status = e.code
    return status, capsys.readouterr().err


def cli_out(capsys, *args: str) -> tuple[int, str, str]:
    """crboost in this process; (exit status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as e:  # argparse
        status = e.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    return lines[0]


def tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_mtime_ns for p in root.rglob("*")}


# --- mdoc values ---------------------------------------------------------------------------

NOT_A_DOSE = "a dose per tilt must be > 0 and <= 100 e/A^2"
MDOC_CASES = {
    "dose negative": (lambda t: set_key(t, "ExposureDose", "-3"), ["ExposureDose = -3", NOT_A_DOSE]),
    "dose infinite": (lambda t: set_key(t, "ExposureDose", "inf"), ["ExposureDose = inf", "finite"]),
    "dose absurd": (lambda t: set_key(t, "ExposureDose", "1e9"), ["ExposureDose = 1e+09", NOT_A_DOSE]),
    "frame doses negative": (
        lambda t: set_key(set_key(t, "ExposureDose", "0"), "FrameDosesAndNumber", "-0.75 4"),
        ["FrameDosesAndNumber = -0.75 4, in total = -3", NOT_A_DOSE],
    ),
    "dose rate absurd": (
        lambda t: set_key(set_key(set_key(t, "ExposureDose", "0"), "FrameDosesAndNumber", "0 4"),
                          "DoseRate", "1e5"),  # fmt: skip
        ["DoseRate*ExposureTime/pixel size^2", NOT_A_DOSE],
    ),
    "dose rate negative": (
        lambda t: set_key(set_key(set_key(t, "ExposureDose", "0"), "FrameDosesAndNumber", "0 4"),
                          "DoseRate", "-5"),  # fmt: skip
        ["DoseRate = -5", "a dose rate must be >= 0"],
    ),
    "exposure time negative": (
        lambda t: set_key(set_key(set_key(t, "ExposureDose", "0"), "FrameDosesAndNumber", "0 4"),
                          "ExposureTime", "-1.2"),  # fmt: skip
        ["ExposureTime = -1.2", "an exposure time must be > 0"],
    ),
    "no dose at all (NaN, as Tomo5 writes)": (
        lambda t: set_key(set_key(set_key(t, "ExposureDose", "NaN"), "DoseRate", "NaN"),
                          "FrameDosesAndNumber", "NaN -1"),  # fmt: skip
        ["acquisition.dose_per_tilt: not found in the mdocs", "--set acquisition.dose_per_tilt"],
    ),
    "pixel size zero": (lambda t: set_key(t, "PixelSpacing", "0"), ["PixelSpacing = 0", "a pixel size must be > 0 and <= 50 A/px"]),
    "pixel size negative": (lambda t: set_key(t, "PixelSpacing", "-1.35"), ["PixelSpacing = -1.35", "A/px"]),
    "pixel size absurd": (lambda t: set_key(t, "PixelSpacing", "1e12"), ["PixelSpacing = 1e+12", "<= 50 A/px"]),
    "pixel size in one section": (
        lambda t: set_key(t, "PixelSpacing", "270", first_only=True),
        ["[ZValue = 0] PixelSpacing = 270", "<= 50 A/px"],
    ),
    "pixel size unknown": (lambda t: set_key(t, "PixelSpacing", "NaN"), ["microscope.pixel_size: not found in the mdocs"]),
    "voltage negative": (lambda t: set_key(t, "Voltage", "-300"), ["Voltage = -300", "an acceleration voltage must be > 0 and <= 1000 kV"]),
    "voltage absurd": (lambda t: set_key(t, "Voltage", "3e5"), ["Voltage = 300000", "kV"]),
    "voltage infinite": (lambda t: set_key(t, "Voltage", "inf"), ["Voltage = inf", "finite"]),
    "binning zero": (lambda t: set_key(t, "Binning", "0"), ["Binning = 0", "a camera binning must be > 0"]),
    "tilt angle 720.5": (
        lambda t: set_key(t, "TiltAngle", "720.5", first_only=True),
        ["[ZValue = 0] TiltAngle = 720.5", "a tilt angle must be >= -90 and <= 90 degrees"],
    ),
    "tilt angle NaN": (lambda t: set_key(t, "TiltAngle", "NaN", first_only=True), ["TiltAngle = nan", "finite"]),
    "tilt angle infinite": (lambda t: set_key(t, "TiltAngle", "-inf", first_only=True), ["TiltAngle = -inf", "finite"]),
    "tilt axis absurd": (
        lambda t: t.replace("Tilt axis angle = 85.3", "Tilt axis angle = 99999"),
        ["tilt axis (SerialEM title) = 99999", "<= 360 degrees"],
    ),
    "duplicate ZValue": (lambda t: t.replace("[ZValue = 1]", "[ZValue = 0]"), ["ZValue 0 appears more than once"]),
    "ZValue not a number": (lambda t: t.replace("[ZValue = 1]", "[ZValue = one]"), ["[ZValue = one]"]),
    "date that does not exist": (
        lambda t: set_key(t, "DateTime", "30-Feb-25 20:02:40", first_only=True),
        ["[ZValue = 0]", "day is out of range"],
    ),
    "date that is not a date": (lambda t: set_key(t, "DateTime", "yesterday"), ["unrecognised DateTime 'yesterday'"]),
    "no tilt angle": (lambda t: t.replace("TiltAngle = ", "TiltAngel = ", 1), ["ZValue 0 lack TiltAngle"]),
    "no movie": (lambda t: set_key(t, "SubFramePath", "", first_only=True), ["has no SubFramePath"]),
    "truncated": (lambda t: t[: t.rindex("DateTime")], ["truncated", "still being written"]),
    "empty": (lambda t: "", ["empty file"]),
    "binary": (lambda t: "\x00\x01\x02\xff" * 100, ["no [ZValue = ...] sections"]),
    "not key = value": (lambda t: t.replace("TiltAngle = ", "TiltAngle == ", 1), ["TiltAngle"]),
    "two movies the same": (
        lambda t: set_key(t, "SubFramePath", "D:\\x\\TS_01_000_0.0.mrc"),
        ["several tilts name the same movie: TS_01_000_0.0.mrc"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MDOC_CASES))
def test_bad_mdoc_stops_init_with_one_line(tmp_path, raw, capsys, case):
    change, expected = MDOC_CASES[case]
    data = tmp_path / "data"
    (data / "mdoc").mkdir(parents=True)
    (data / "frames").symlink_to(raw / "frames")
    mdoc = data / "mdoc" / "TS_01.mrc.mdoc"
    mdoc.write_text(change((raw / "mdoc" / "TS_01.mrc.mdoc").read_text()))
    project = tmp_path / "p"
    status, err = cli(capsys, "init", str(project), "--movies", f"{data}/frames/*.mrc",
                      "--mdocs", f"{data}/mdoc/*.mdoc")  # fmt: skip
    line = one_line(err)
    assert status == 1, line
    for text in expected:
        assert text in line, line
    assert str(mdoc) in line, "names the file"
    assert not project.exists(), "nothing written"


@pytest.mark.slow
def test_a_bad_mdoc_added_to_a_project_stops_the_run_and_loses_nothing(
    tmp_path, finished_demo, capsys
):
    project = copy_project(finished_demo, tmp_path / "p")
    before = tree(project)
    source = (project / "raw/mdoc/TS_01.mrc.mdoc").read_text()
    (project / "raw/mdoc/TS_09.mrc.mdoc").write_text(set_key(source, "ExposureDose", "nan0"))
    status, err = cli(capsys, "run", str(project))
    assert status == 1 and "TS_09.mrc.mdoc" in one_line(err)
    (project / "raw/mdoc/TS_09.mrc.mdoc").write_text(set_key(source, "TiltAngle", "720.5", True))
    status, err = cli(capsys, "run", str(project))
    assert status == 1 and "TiltAngle = 720.5" in one_line(err)
    after = tree(project)
    assert {k: v for k, v in after.items() if not k.startswith("raw")} == {
        k: v for k, v in before.items() if not k.startswith("raw")
    }


# --- mdoc values present but not usable -----------------------------------------------------
#
# Per key crboost reads, a value that is there but not usable (NaN: Tomo5's "unknown"; empty;
# infinite; a unit or other text; impossible) either stops the tilt series (one line naming the
# file, the section, the key and the value) or is replaced: one warning line naming the file,
# the sections, the key, the value and what replaces it, in inspect, init and a project's run.


@dataclass(frozen=True)
class Refused:
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Replaced:
    head: str  # `KEY = VALUE in WHERE: problem`
    instead: str | None = None  # the mdoc's own replacement...
    setting: str | None = None  # ...or the project's config value
    given: str | None = None  # init: --set value (None: inferred from the other tilts)
    shown: str | None = None  # the project's value as the warning shows it
    dose_left: bool = True  # inspect: a dose remains (else: not usable, no dose)

    def for_project(self, shown: str | None = None) -> str:
        if self.instead:
            return self.instead
        some = " for these tilts" if self.head.split(" in ", 1)[1].startswith("[ZValue") else ""
        return f"the project's {self.setting} = {shown or self.shown} is used{some}"


#: how inspect says to give a value the mdoc does not have (no project there)
GIVE = {
    "microscope.pixel_size": ("pixel size", "--set microscope.pixel_size=A"),
    "microscope.voltage": ("voltage", "--set microscope.voltage=KV"),
    "acquisition.tilt_axis": ("tilt axis", "--set acquisition.tilt_axis=DEGREES"),
    "acquisition.dose_per_tilt": ("dose", "--set acquisition.dose_per_tilt=E"),
    "acquisition.detector_size": ("detector size", "--set acquisition.detector_size=[X,Y]"),
}


def in_header(key: str, value: str):
    def change(text: str) -> str:
        head, sep, rest = text.partition("[ZValue")
        return set_key(head, key, value).rstrip("\n") + "\n" + sep + rest

    return change


def everywhere(key: str, value: str):
    return lambda t: set_key(t, key, value)


def first(key: str, value: str):
    return lambda t: set_key(t, key, value, first_only=True)


def without(*keys: str):
    return lambda t: "".join(
        ln for ln in t.splitlines(True) if ln.split("=")[0].strip() not in keys
    )


def both(*changes):
    def change(text: str) -> str:
        for c in changes:
            text = c(text)
        return text

    return change


NO_TITLE_AXIS = lambda t: t.replace("Tilt axis angle = 85.3", "Tilt axis (none)")  # noqa: E731
TITLE_AXIS = lambda v: lambda t: t.replace("Tilt axis angle = 85.3", f"Tilt axis angle = {v}")  # noqa: E731
NO_EXPOSURE_DOSE = everywhere("ExposureDose", "0")  # SerialEM without a dose calibration
NO_FRAME_DOSES = both(NO_EXPOSURE_DOSE, everywhere("FrameDosesAndNumber", "0 4"))
PIXEL = "microscope.pixel_size"
DOSE = "acquisition.dose_per_tilt"

UNUSABLE_CASES = {
    # PixelSpacing (header and sections)
    "PixelSpacing NaN": (everywhere("PixelSpacing", "NaN"), Replaced(
        "PixelSpacing = NaN in the header and every section: not a number",
        setting=PIXEL, given="2.5", shown="2.5 A/px")),
    "PixelSpacing empty": (everywhere("PixelSpacing", ""), Replaced(
        "PixelSpacing is empty in the header and every section",
        setting=PIXEL, given="2.5", shown="2.5 A/px")),
    "PixelSpacing NaN in the header": (in_header("PixelSpacing", "NaN"), Replaced(
        "PixelSpacing = NaN in the header: not a number",
        instead="the sections' PixelSpacing = 2.7 A is used")),
    "PixelSpacing NaN in a section": (first("PixelSpacing", "NaN"), Replaced(
        "PixelSpacing = NaN in [ZValue = 0]: not a number",
        instead="the header's PixelSpacing = 2.7 A is used")),
    "PixelSpacing infinite": (everywhere("PixelSpacing", "inf"), Refused(
        ("PixelSpacing = inf in the header: a pixel size must be a finite number (A/px)",))),
    "PixelSpacing with a unit": (in_header("PixelSpacing", "2.7A"), Refused(
        ("PixelSpacing = 2.7A in the header: not a number",))),
    "PixelSpacing with a unit in a section": (first("PixelSpacing", "2.7 A"), Refused(
        ("[ZValue = 0] PixelSpacing = 2.7 A: not a number",))),
    # Binning
    "Binning NaN": (everywhere("Binning", "NaN"), Replaced(
        "Binning = NaN in every section: not a number",
        instead="a binning of 1 is assumed (movie pixel size = PixelSpacing): check it")),
    "Binning NaN in a section": (first("Binning", "NaN"), Replaced(
        "Binning = NaN in [ZValue = 0]: not a number",
        instead="the other sections' binning 1 is used")),
    "Binning empty": (everywhere("Binning", ""), Replaced(
        "Binning is empty in every section",
        instead="a binning of 1 is assumed (movie pixel size = PixelSpacing): check it")),
    "Binning infinite": (everywhere("Binning", "inf"), Refused(
        ("[ZValue = 0] Binning = inf: a camera binning must be a finite number",))),
    "Binning negative": (everywhere("Binning", "-2"), Refused(
        ("[ZValue = 0] Binning = -2: a camera binning must be > 0",))),
    "Binning with a unit": (everywhere("Binning", "2x"), Refused(
        ("[ZValue = 0] Binning = 2x: not a number",))),
    # Voltage (header; the demo's sections have none)
    "Voltage NaN": (everywhere("Voltage", "NaN"), Replaced(
        "Voltage = NaN in the header: not a number",
        setting="microscope.voltage", given="200", shown="200 kV")),
    "Voltage empty": (everywhere("Voltage", ""), Replaced(
        "Voltage is empty in the header",
        setting="microscope.voltage", given="200", shown="200 kV")),
    "Voltage infinite": (everywhere("Voltage", "inf"), Refused(
        ("Voltage = inf in the header: an acceleration voltage must be a finite number (kV)",))),
    "Voltage with a unit": (everywhere("Voltage", "300kV"), Refused(
        ("Voltage = 300kV in the header: not a number",))),
    # TiltAngle: a tilt without its angle is refused
    "TiltAngle empty": (first("TiltAngle", ""), Refused(
        ("[ZValue = 0] TiltAngle is empty: a tilt angle is needed",))),
    "TiltAngle with a unit": (first("TiltAngle", "-6deg"), Refused(
        ("[ZValue = 0] TiltAngle = -6deg: not a number",))),
    # tilt axis: the title, else RotationAngle
    "tilt axis NaN in the title": (TITLE_AXIS("NaN"), Replaced(
        "Tilt axis angle = NaN in the title: not a number",
        instead="the tilt axis is taken from RotationAngle: 85.3 degrees")),
    "tilt axis with a unit in the title": (TITLE_AXIS("85.3deg"), Refused(
        ("Tilt axis angle = 85.3deg in the title: not a number",))),
    "tilt axis infinite in the title": (TITLE_AXIS("inf"), Refused(
        ("Tilt axis angle = inf in the title: a tilt-axis angle must be a finite number",))),
    "RotationAngle NaN": (both(NO_TITLE_AXIS, everywhere("RotationAngle", "NaN")), Replaced(
        "RotationAngle = NaN in every section: not a number",
        setting="acquisition.tilt_axis", given="-95", shown="-95 degrees")),
    "RotationAngle NaN in a section": (both(NO_TITLE_AXIS, first("RotationAngle", "NaN")), Replaced(
        "RotationAngle = NaN in [ZValue = 0]: not a number",
        instead="the other sections' RotationAngle gives the tilt axis, 85.3 degrees")),
    "RotationAngle infinite": (both(NO_TITLE_AXIS, first("RotationAngle", "inf")), Refused(
        ("[ZValue = 0] RotationAngle = inf: an image rotation angle must be a finite number",))),
    "RotationAngle with a unit": (first("RotationAngle", "175.3deg"), Refused(
        ("[ZValue = 0] RotationAngle = 175.3deg: not a number",))),
    # the dose: ExposureDose, else FrameDosesAndNumber, else DoseRate*ExposureTime/pixel^2
    "ExposureDose NaN": (everywhere("ExposureDose", "NaN"), Replaced(
        "ExposureDose = NaN in every section: not a number",
        instead="the dose is taken from FrameDosesAndNumber")),
    "ExposureDose NaN in a section": (first("ExposureDose", "NaN"), Replaced(
        "ExposureDose = NaN in [ZValue = 0]: not a number",
        instead="the dose is taken from FrameDosesAndNumber")),
    "ExposureDose empty": (everywhere("ExposureDose", ""), Replaced(
        "ExposureDose is empty in every section",
        instead="the dose is taken from FrameDosesAndNumber")),
    "ExposureDose with a unit": (first("ExposureDose", "3e/A2"), Refused(
        ("[ZValue = 0] ExposureDose = 3e/A2: not a number",))),
    "FrameDosesAndNumber NaN -1 (Tomo5)": (both(NO_EXPOSURE_DOSE, everywhere(
        "FrameDosesAndNumber", "NaN -1")), Replaced(
        "FrameDosesAndNumber = NaN -1 in every section: not a number",
        instead="the dose is taken from DoseRate*ExposureTime")),
    "FrameDosesAndNumber NaN": (both(NO_EXPOSURE_DOSE, first("FrameDosesAndNumber", "NaN")), Replaced(
        "FrameDosesAndNumber = NaN in [ZValue = 0]: not a number",
        instead="the dose is taken from DoseRate*ExposureTime")),
    "FrameDosesAndNumber infinite": (both(NO_EXPOSURE_DOSE, first("FrameDosesAndNumber", "inf 4")), Refused(
        ("[ZValue = 0] FrameDosesAndNumber = inf 4, in total = inf", "finite"))),
    "FrameDosesAndNumber not pairs": (first("FrameDosesAndNumber", "0.75"), Refused(
        ("[ZValue = 0] FrameDosesAndNumber = 0.75: not pairs of a dose and a frame count",))),
    "FrameDosesAndNumber with a unit": (first("FrameDosesAndNumber", "0.75e 4"), Refused(
        ("[ZValue = 0] FrameDosesAndNumber = 0.75e 4: not pairs of a dose and a frame count",))),
    "ExposureDose and DoseRate NaN, no FrameDosesAndNumber (the issue)": (both(
        everywhere("ExposureDose", "NaN"), everywhere("DoseRate", "NaN"),
        without("FrameDosesAndNumber")), Replaced(
        "ExposureDose = NaN, DoseRate = NaN in every section: not a number",
        setting=DOSE, given="2", shown="2 e/A^2", dose_left=False)),
    "every dose NaN (Tomo5)": (both(
        everywhere("ExposureDose", "NaN"), everywhere("DoseRate", "NaN"),
        everywhere("FrameDosesAndNumber", "NaN -1")), Replaced(
        "ExposureDose = NaN, FrameDosesAndNumber = NaN -1, DoseRate = NaN in every section: not a number",
        setting=DOSE, given="2", shown="2 e/A^2", dose_left=False)),
    "no dose in one section": (both(
        first("ExposureDose", "NaN"), first("DoseRate", "NaN"), without("FrameDosesAndNumber")), Replaced(
        "ExposureDose = NaN, DoseRate = NaN in [ZValue = 0]: not a number",
        setting=DOSE, shown="3 e/A^2")),
    "ExposureTime NaN": (both(NO_FRAME_DOSES, everywhere("ExposureTime", "NaN")), Replaced(
        "ExposureTime = NaN in every section: not a number",
        setting=DOSE, given="2", shown="2 e/A^2", dose_left=False)),
    "DoseRate infinite": (both(NO_FRAME_DOSES, first("DoseRate", "inf")), Refused(
        ("[ZValue = 0] DoseRate = inf", "a dose rate must be a finite number"))),
    "DoseRate with a unit": (first("DoseRate", "18e/px/s"), Refused(
        ("[ZValue = 0] DoseRate = 18e/px/s: not a number",))),
    "ExposureTime infinite": (both(NO_FRAME_DOSES, first("ExposureTime", "inf")), Refused(
        ("[ZValue = 0] ExposureTime = inf", "an exposure time must be a finite number"))),
    "ExposureTime with a unit": (first("ExposureTime", "1.2s"), Refused(
        ("[ZValue = 0] ExposureTime = 1.2s: not a number",))),
    # NumSubFrames: the other tilts' count
    "NumSubFrames NaN": (first("NumSubFrames", "NaN"), Replaced(
        "NumSubFrames = NaN in [ZValue = 0]: not a number",
        instead="4 frames are assumed (the other tilts' count)")),
    "NumSubFrames 0": (first("NumSubFrames", "0"), Replaced(
        "NumSubFrames = 0 in [ZValue = 0]: not a frame count",
        instead="4 frames are assumed (the other tilts' count)")),
    "NumSubFrames empty": (everywhere("NumSubFrames", ""), Replaced(
        "NumSubFrames is empty in every section", instead="1 frame is assumed")),
    "NumSubFrames infinite": (first("NumSubFrames", "inf"), Refused(
        ("[ZValue = 0] NumSubFrames = inf: not a whole number",))),
    "NumSubFrames not whole": (first("NumSubFrames", "4.5"), Refused(
        ("[ZValue = 0] NumSubFrames = 4.5: not a whole number",))),
    # TargetDefocus: only the nominal defocus of the tilt-series STAR file
    "TargetDefocus NaN": (first("TargetDefocus", "NaN"), Replaced(
        "TargetDefocus = NaN in [ZValue = 0]: not a number",
        instead="the tilt series gets no nominal defocus (rlnTomoNominalDefocus)")),
    "TargetDefocus infinite": (first("TargetDefocus", "-inf"), Refused(
        ("[ZValue = 0] TargetDefocus = -inf: a target defocus must be a finite number (um)",))),
    "TargetDefocus absurd": (first("TargetDefocus", "-4000"), Refused(
        ("[ZValue = 0] TargetDefocus = -4000: a target defocus must be >= -100 and <= 100 um",))),
    "TargetDefocus with a unit": (first("TargetDefocus", "-4um"), Refused(
        ("[ZValue = 0] TargetDefocus = -4um: not a number",))),
    # DateTime: the acquisition order
    "DateTime empty": (first("DateTime", ""), Refused(
        ("[ZValue = 0] DateTime is empty: a time stamp is needed",
         "leave out every DateTime line"))),
    "DateTime NaN": (first("DateTime", "NaN"), Refused(
        ("[ZValue = 0]: unrecognised DateTime 'NaN'",))),
    # ImageSize: the detector size
    "ImageSize NaN": (everywhere("ImageSize", "NaN NaN"), Replaced(
        "ImageSize = NaN NaN in the header: not a number",
        setting="acquisition.detector_size", given="[256,256]", shown="256x256 px")),
    "ImageSize zero": (everywhere("ImageSize", "0 128"), Refused(
        ("ImageSize = 0 128 in the header: an image size must be > 0 px",))),
    "ImageSize infinite": (everywhere("ImageSize", "inf inf"), Refused(
        ("ImageSize = inf inf in the header: not a whole number",))),
    "ImageSize with a unit": (everywhere("ImageSize", "128x128"), Refused(
        ("ImageSize = 128x128 in the header: not a whole number",))),
    # SubFramePath, ZValue
    "SubFramePath NaN": (first("SubFramePath", "NaN"), Refused(
        ("[ZValue = 0] SubFramePath = NaN: not a file path",))),
    "SubFramePath a folder": (first("SubFramePath", "X:\\serialEM\\demo\\"), Refused(
        ("[ZValue = 0] SubFramePath = X:\\serialEM\\demo\\: names a folder, not a movie file",))),
    "ZValue NaN": (lambda t: t.replace("[ZValue = 1]", "[ZValue = NaN]"), Refused(
        ("[ZValue = NaN] ZValue = NaN: not a whole number",))),
}  # fmt: skip


def _mdoc_dir(tmp_path: Path, raw: Path, case: str) -> tuple[Path, Path]:
    change, _ = UNUSABLE_CASES[case]
    data = tmp_path / "data"
    (data / "mdoc").mkdir(parents=True)
    (data / "frames").symlink_to(raw / "frames")
    mdoc = data / "mdoc" / "TS_01.mrc.mdoc"
    mdoc.write_text(change((raw / "mdoc" / "TS_01.mrc.mdoc").read_text()))
    return data, mdoc


def test_every_mdoc_key_crboost_reads_has_cases():
    from crboost.acquisition.mdoc_keys import HEADER_KEYS, SECTION_KEYS

    read = set(HEADER_KEYS + SECTION_KEYS) - {"ImageFile", "Version", "T"}  # text, not values
    covered = {k for k in read for case in UNUSABLE_CASES if case.startswith(k)}
    assert covered == read, f"no case for {sorted(read - covered)}"


@pytest.mark.parametrize("case", list(UNUSABLE_CASES))
def test_unusable_mdoc_value_in_inspect(tmp_path, raw, capsys, case):
    data, mdoc = _mdoc_dir(tmp_path, raw, case)
    status, out, _ = cli_out(capsys, "inspect", str(mdoc), "--movies", f"{data}/frames/*.mrc",
                             "--json")  # fmt: skip
    report = json.loads(out)
    entry = report["tilt_series"][0]
    outcome = UNUSABLE_CASES[case][1]
    if isinstance(outcome, Refused):
        assert status == 1 and not entry["usable"], entry
        assert entry["error"].startswith(f"{mdoc}: "), entry["error"]
        for text in outcome.texts:
            assert text in entry["error"], entry["error"]
        return
    if outcome.instead:
        said = outcome.instead
    elif outcome.head.split(" in ", 1)[1].startswith("[ZValue"):
        said = f"these tilts get the project's {outcome.setting} (crboost init: {GIVE[outcome.setting][1]})"
    else:
        what, how = GIVE[outcome.setting]
        said = f"no {what} from this mdoc: give it to crboost init with {how}"
    assert f"{mdoc}: {outcome.head}; {said}" in entry["warnings"], entry["warnings"]
    assert entry["usable"] == outcome.dose_left and status == (0 if outcome.dose_left else 1)
    if outcome.setting == PIXEL:  # not "usable with pixel size None" without a word
        assert entry["pixel_size"] is None
        assert report["inferred"]["sources"]["pixel_size"] == (
            "not in the mdocs: give crboost init --set microscope.pixel_size=A"
        )


@pytest.mark.parametrize("case", list(UNUSABLE_CASES))
def test_unusable_mdoc_value_in_init(tmp_path, raw, capsys, case):
    data, mdoc = _mdoc_dir(tmp_path, raw, case)
    project = tmp_path / "p"
    args = ["init", str(project), "--movies", f"{data}/frames/*.mrc", "--mdocs", str(mdoc)]
    status, out, err = cli_out(capsys, *args)
    outcome = UNUSABLE_CASES[case][1]
    if isinstance(outcome, Refused):
        line = one_line(err)
        assert status == 1 and line.startswith(f"crboost: {mdoc}: "), line
        for text in outcome.texts:
            assert text in line, line
        assert not project.exists(), "nothing written"
        return
    if outcome.given is not None:  # no mdoc gives the value: init says which and why
        line = one_line(err)
        assert status == 1 and not project.exists()
        assert line == (f"crboost: {outcome.setting}: not found in the mdocs ({mdoc}: "
                        f"{outcome.head}); give it with --set {outcome.setting}=VALUE")  # fmt: skip
        status, out, err = cli_out(capsys, *args, "--set", f"{outcome.setting}={outcome.given}")
    assert status == 0 and not err, err
    assert f"  warning: {mdoc}: {outcome.head}; {outcome.for_project()}\n" in out, out


#: the project fixture's values, as the warnings show them
PROJECT_VALUES = {
    PIXEL: "2.7 A/px",
    "microscope.voltage": "300 kV",
    "acquisition.tilt_axis": "85.3 degrees",
    DOSE: "3 e/A^2",
    "acquisition.detector_size": "128x128 px",
}


def add_tilt_series(root: Path, name: str, change) -> Path:
    """A copy of the project's TS_01 under another name (its own movies), changed."""
    mdoc = root / "raw" / "mdoc" / f"{name}.mrc.mdoc"
    mdoc.write_text(
        change((root / "raw/mdoc/TS_01.mrc.mdoc").read_text()).replace("TS_01_", f"{name}_")
    )
    for movie in (root / "raw" / "frames").glob("TS_01_*"):
        shutil.copy(movie, movie.with_name(movie.name.replace("TS_01_", f"{name}_")))
    return mdoc


@pytest.mark.parametrize("case", list(UNUSABLE_CASES))
def test_unusable_mdoc_value_added_to_a_project(tmp_path, project, capsys, case):
    """What `crboost run` does first (load the project, say what is skipped or replaced), and
    what `crboost status` and the import job's run.out say, without running the pipeline."""
    from crboost.running.hooks import note_skipped
    from crboost.running.launcher import print_skipped
    from crboost.running.runplan import RunPlan

    root = copy_project(project, tmp_path / "p")
    add_tilt_series(root, "TS_09", UNUSABLE_CASES[case][0])
    outcome = UNUSABLE_CASES[case][1]
    if isinstance(outcome, Refused):
        before = tree(root)
        status, err = cli(capsys, "run", str(root))
        line = one_line(err)
        assert status == 1 and "TS_09.mrc.mdoc: " in line, line
        for text in outcome.texts:
            assert text in line, line
        assert tree(root) == before, "nothing written"
        return
    plan = RunPlan.prepare(root, "local", [])  # as crboost run reads the project
    loaded = plan.project
    assert "TS_09" in loaded.tilt_series
    said = f"TS_09.mrc.mdoc: {outcome.head}; {outcome.for_project(PROJECT_VALUES.get(outcome.setting))}"
    print_skipped(plan)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if said in ln]
    assert len(lines) == 1 and lines[0].startswith("crboost: warning: "), err
    loaded.manifest.write(root)  # as a real run does before Snakemake starts
    status, out, _ = cli_out(capsys, "status", str(root))
    assert status == 0 and len([ln for ln in out.splitlines() if said in ln]) == 1, out
    run_out = root / loaded.of_type("importmovies")[0].dir / "run.out"  # an import that ran
    run_out.parent.mkdir(parents=True)
    run_out.write_text("imported 1 tilt series; skipped 0\n")
    note_skipped(loaded)
    assert len([ln for ln in run_out.read_text().splitlines() if said in ln]) == 1


def test_keys_crboost_does_not_read_stop_nothing(tmp_path, raw):
    from crboost.acquisition.mdoc import read_tilt_series_mdoc

    mdoc = tmp_path / "TS_01.mrc.mdoc"
    text = (raw / "mdoc" / "TS_01.mrc.mdoc").read_text()
    mdoc.write_text(set_key(set_key(text, "Magnification", "lots"), "MagIndex", "NaN"))
    read = read_tilt_series_mdoc(mdoc)
    assert read.unusable == [] and len(read.tilts) == 5


ODD_CASES = {
    "dose high": (lambda t: set_key(t, "ExposureDose", "15"), "a dose per tilt of 15 e/A^2 is unusual"),
    "pixel size large": (lambda t: set_key(t, "PixelSpacing", "17"), "a pixel size of 17 A/px is unusual"),
    "voltage low": (lambda t: set_key(t, "Voltage", "30"), "an acceleration voltage of 30 kV is unusual"),
    "clock in 1970": (lambda t: re.sub(r"-25 ", "-1970 ", t), "time stamps from 1970"),
    "clock in the future": (lambda t: re.sub(r"-25 ", "-99 ", t), "time stamps in the future"),
    "same time stamp": (lambda t: re.sub(r"DateTime = .*", "DateTime = 24-Jan-25 20:02:40", t), "5 tilts share their time stamp"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ODD_CASES))
def test_odd_but_possible_values_are_warnings(tmp_path, raw, case):
    change, warning = ODD_CASES[case]
    mdoc = tmp_path / "TS_01.mrc.mdoc"
    mdoc.write_text(change((raw / "mdoc" / "TS_01.mrc.mdoc").read_text()))
    out = run_cli("inspect", str(mdoc), "--movies", str(raw / "frames" / "*.mrc"), "--json")
    assert out.returncode == 0, out.stderr
    entry = yaml.safe_load(out.stdout)["tilt_series"][0]
    assert entry["usable"] and any(warning in w for w in entry["warnings"]), entry["warnings"]


# --- config values -------------------------------------------------------------------------

CONFIG_CASES = {
    "pixel size NaN": ("microscope.pixel_size", ".nan", "microscope.pixel_size = nan: must be"),
    "pixel size text nan": ("microscope.pixel_size", "nan", "microscope.pixel_size = 'nan'"),
    "pixel size infinite": ("microscope.pixel_size", ".inf", "microscope.pixel_size = inf: must be <= 50 (Pixel size of the movies, A/px)"),
    "pixel size zero": ("microscope.pixel_size", "0", "microscope.pixel_size = 0: must be > 0 (Pixel size of the movies, A/px)"),
    "pixel size absurd": ("microscope.pixel_size", "1.0e+12", "must be <= 50 (Pixel size of the movies, A/px)"),
    "pixel size 1e12 (YAML text)": ("microscope.pixel_size", "1e12", "microscope.pixel_size = '1e12': must be of type number (YAML reads 1e12 as text; write 1000000000000.0)"),
    "voltage negative": ("microscope.voltage", "-300", "microscope.voltage = -300: must be > 0 (Acceleration voltage, kV)"),
    "cs NaN": ("microscope.cs", ".nan", "microscope.cs = nan"),
    "amplitude contrast 2": ("microscope.amplitude_contrast", "2", "microscope.amplitude_contrast = 2: must be <= 1"),
    "dose NaN": ("acquisition.dose_per_tilt", ".nan", "acquisition.dose_per_tilt = nan"),
    "dose zero": ("acquisition.dose_per_tilt", "0", "acquisition.dose_per_tilt = 0: must be > 0 (Electron dose per tilt image, e/A^2)"),
    "dose negative": ("acquisition.dose_per_tilt", "-1", "acquisition.dose_per_tilt = -1: must be > 0"),
    "dose absurd": ("acquisition.dose_per_tilt", "1.0e+9", "must be <= 100 (Electron dose per tilt image, e/A^2)"),
    "tilt axis 720": ("acquisition.tilt_axis", "720", "acquisition.tilt_axis = 720: must be <= 360"),
    "tilt axis NaN": ("acquisition.tilt_axis", ".nan", "acquisition.tilt_axis = nan"),
    "detector size zero": ("acquisition.detector_size", "[0, 4096]", "acquisition.detector_size"),
    "detector size infinite": ("acquisition.detector_size", "[4096, .inf]", "acquisition.detector_size[1] = inf"),
    "thickness negative": ("acquisition.sample_thickness_nm", "-5", "acquisition.sample_thickness_nm = -5: must be > 0"),
    "min tilts zero": ("data.min_tilts", "0", "data.min_tilts = 0: must be >= 1"),
    "prefix with a space": ("data.tilt_series_prefix", "'a b'", "data.tilt_series_prefix = 'a b': must match"),
    "prefix starting with _": ("data.tilt_series_prefix", "_p", "data.tilt_series_prefix = '_p'"),
    "cpus zero": ("resources.default.cpus", "0", "resources.default.cpus = 0: must be >= 1"),
    "job name with a quote": ("pipeline[1].name", "\"it's\"", "pipeline[1].name = \"it's\": contains a quote (')"),
    "job name with a double quote": ("pipeline[1].name", "'a\"b'", "must not contain '\"'"),
    "job name starting with _": ("pipeline[1].name", "_motion", "pipeline[1].name = '_motion': starts with '_'"),
    "job name starting with -": ("pipeline[1].name", "-motion", "starts with '-'"),
    "job name starting with ;": ("pipeline[1].name", "';motion'", "starts with ';'"),
    "job name starting with #": ("pipeline[1].name", "'#motion'", "must not contain '#'"),
    "job name starting with $": ("pipeline[1].name", "'$motion'", "must not contain '$'"),
    "job name data_": ("pipeline[1].name", "data_motion", "starts with the STAR keyword 'data_'"),
    "job name LOOP_": ("pipeline[1].name", "LOOP_motion", "starts with the STAR keyword 'loop_'"),
    "job name save_": ("pipeline[1].name", "save_x", "STAR keyword 'save_'"),
    "job name with a space": ("pipeline[1].name", "'my motion'", "must not contain ' '"),
    "job name with a tab": ("pipeline[1].name", "\"my\\tmotion\"", "must not contain '\\t'"),
    "job name job007": ("pipeline[1].name", "job007", "must not start with 'job'"),
    "job name used twice": ("pipeline[1].name", "import", "pipeline[1].name = 'import': used by an earlier job"),
    "ctf limits reversed": ("pipeline[4].params", "{range_low: 5, range_high: 8}", "pipeline[4].params: range_low = 5 must be larger than range_high = 8 (resolution limits)"),
    "ctf limit NaN": ("pipeline[4].params", "{range_high: .nan}", "pipeline[4].params.range_high = nan"),
    "defocus limits reversed": ("pipeline[1].params", "{c_defocus_min: 9}", "c_defocus_max = 8 must be larger than c_defocus_min = 9"),
    "optics group starting with _": ("pipeline[0].params", "{optics_group_name: _og}", "optics_group_name = '_og': starts with '_'"),
    "optics group a number": ("pipeline[0].params", "{optics_group_name: '1'}", "optics_group_name = '1': reads as a number"),
    "alignment pixel size infinite": ("pipeline[3].params", "{angpix: .inf}", "pipeline[3].params.angpix = inf"),
    "unknown key": ("microscope.pixelsize", "1", "microscope.pixelsize: unknown key"),
    "pipeline empty": ("pipeline", "[]", "pipeline"),
}  # fmt: skip


def _set_config(data: dict, key: str, value) -> None:
    node: object = data
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config_value_is_one_line_and_changes_nothing(tmp_path, project, capsys, case):
    key, value, expected = CONFIG_CASES[case]
    root = copy_project(project, tmp_path / "p")
    config = root / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    _set_config(data, key, yaml.safe_load(value))
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    before = tree(root)
    status, err = cli(capsys, "run", str(root))
    line = one_line(err)
    assert status == 1 and expected in line, line
    assert line.startswith("crboost: crboost.yaml: ")
    assert tree(root) == before, "nothing written"


def test_bad_yaml_is_one_line(tmp_path, project, capsys):
    root = copy_project(project, tmp_path / "p")
    (root / "crboost.yaml").write_text("data: [unclosed\n")
    status, err = cli(capsys, "status", str(root))
    assert status == 1 and "not valid YAML" in one_line(err)


# --- command-line arguments ----------------------------------------------------------------

ARG_CASES = {
    "dose -1": (["inspect", "{mdoc}", "--dose-per-tilt", "-1"], 2, "argument --dose-per-tilt: -1: a dose per tilt must be > 0 and <= 100 e/A^2"),
    "dose nan": (["inspect", "{mdoc}", "--dose-per-tilt", "nan"], 2, "nan: a dose per tilt must be a finite number (e/A^2)"),
    "dose inf": (["inspect", "{mdoc}", "--dose-per-tilt", "inf"], 2, "inf: a dose per tilt must be a finite number"),
    "dose 0": (["inspect", "{mdoc}", "--dose-per-tilt", "0"], 2, "0: a dose per tilt must be > 0"),
    "dose text": (["inspect", "{mdoc}", "--dose-per-tilt", "three"], 2, "three: a dose per tilt must be a number"),
    "dose absurd": (["inspect", "{mdoc}", "--dose-per-tilt", "1e9"], 2, "1e9: a dose per tilt must be > 0 and <= 100"),
    "set dose nan": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--set", "acquisition.dose_per_tilt=nan"], 1, "--set acquisition.dose_per_tilt = nan: a dose per tilt must be a finite number"),
    "set dose -1": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--set", "acquisition.dose_per_tilt=-1"], 1, "--set acquisition.dose_per_tilt = -1: a dose per tilt must be > 0"),
    "set dose .inf": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--set", "acquisition.dose_per_tilt=.inf"], 1, "--set acquisition.dose_per_tilt = inf"),
    "set pixel size absurd": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--set", "microscope.pixel_size=1.0e+12"], 1, "microscope.pixel_size = 1000000000000.0: must be <= 50"),
    "set pixel size nan": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--set", "microscope.pixel_size=.nan"], 1, "microscope.pixel_size = nan"),
    "set without =": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--set", "microscope.pixel_size"], 1, "--set 'microscope.pixel_size': expected KEY=VALUE"),
    "set unknown job": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--set", "pipeline.nojob.params.x=1"], 1, "no pipeline job named 'nojob'"),
    "set job name": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--set", "pipeline.motion.name=data_x"], 1, "STAR keyword 'data_'"),
    "init on a file": (["init", "{file}", "--movies", "{movies}", "--mdocs", "{mdoc}"], 1, "exists and is not a directory"),
    "init under a file": (["init", "{file}/p", "--movies", "{movies}", "--mdocs", "{mdoc}"], 1, "exists and is not a directory"),
    "init movies match nothing": (["init", "{new}", "--movies", "/nonexistent/*.eer", "--mdocs", "{mdoc}"], 1, "data.movies = '/nonexistent/*.eer': matches no file"),
    "init no gain": (["init", "{new}", "--movies", "{movies}", "--mdocs", "{mdoc}", "--gain", "/nonexistent.gain"], 1, "--gain /nonexistent.gain: no such file"),
    "run on a file": (["run", "{file}"], 1, "exists and is not a directory"),
    "run no project": (["run", "{new}"], 1, "no such project directory"),
    "status on a file": (["status", "{file}"], 1, "exists and is not a directory"),
    "demo on a file": (["demo", "{file}"], 1, "exists and is not a directory"),
    "demo zero tilt series": (["demo", "{new}", "--tilt-series", "0"], 2, "argument --tilt-series: 0: must be 1 to 1000"),
    "demo too many": (["demo", "{new}", "--tilt-series", "100000"], 2, "100000: must be 1 to 1000"),
    "demo tilt series text": (["demo", "{new}", "--tilt-series", "four"], 2, "four: not a whole number"),
    "unknown command": (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    "unknown option": (["run", "{new}", "--frobnicate"], 2, "unrecognized arguments: --frobnicate"),
    "missing arguments": (["init"], 2, "the following arguments are required"),
    "bad profile": (["run", "{project}", "--profile", "nosuchprofile"], 1, "--profile nosuchprofile: no"),
    "bad leftovers": (["run", "{project}", "--leftovers", "kill"], 2, "argument --leftovers: invalid choice"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ARG_CASES))
def test_bad_command_line_is_one_line(tmp_path, raw, project, capsys, case):
    args, code, expected = ARG_CASES[case]
    afile = tmp_path / "afile"
    afile.write_text("not a project\n")
    values = {
        "mdoc": str(raw / "mdoc" / "TS_01.mrc.mdoc"),
        "movies": str(raw / "frames" / "*.mrc"),
        "new": str(tmp_path / "new"),
        "file": str(afile),
        "project": str(project),
    }
    before = tree(project)
    status, err = cli(capsys, *(a.format(**values) for a in args))
    line = one_line(err)
    assert status == code and expected in line, line
    assert not (tmp_path / "new").exists() and afile.read_text() == "not a project\n"
    assert tree(project) == before


def test_wrong_snakemake_flag_is_snakemakes_error_line(project):
    out = run_cli("run", str(project), "--", "--no-such-flag")
    assert out.returncode == 2
    # the progress line (every 5 s) may come first when Snakemake starts slowly on a busy machine
    err = "".join(
        ln for ln in out.stderr.splitlines(True) if not ln.startswith("crboost progress:")
    )
    line = one_line(err)
    assert "unrecognized arguments: --no-such-flag" in line and "snakemake" in line


def test_snakemake_output_is_relayed_as_it_comes():
    import io
    import threading
    import time

    from crboost.running.launcher import relay_stderr

    read, write = os.pipe()
    out, usage = io.StringIO(), []
    relay = threading.Thread(target=relay_stderr, args=(os.fdopen(read), out, usage))
    relay.start()
    os.write(write, b"Building DAG of jobs...\n")
    deadline = time.time() + 10
    while "Building DAG" not in out.getvalue():
        assert time.time() < deadline, "a line is relayed before Snakemake ends"
        time.sleep(0.01)
    os.write(write, b"usage: only at the start means a usage error\n")
    os.close(write)
    relay.join(timeout=10)
    assert out.getvalue().count("\n") == 2 and usage == []


def test_missing_tool_is_found_before_any_work(tmp_path, project):
    root = copy_project(project, tmp_path / "p")
    config = root / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    data["tools"]["simulate"] = False
    data["tools"]["warptools"] = {"container": str(tmp_path / "warp_2.0.sif")}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    before = tree(root)
    out = run_cli("run", str(root))
    line = one_line(out.stderr)
    assert out.returncode == 1
    assert f"tools.warptools.container = '{tmp_path}/warp_2.0.sif': no such image file" in line
    assert "needed by motion, tiltseries, align, ctf, reconstruct" in line
    assert tree(root) == before, "nothing ran"
    data["tools"]["warptools"] = {"executable": "/opt/warp/bin/WarpTools"}
    data["tools"]["aretomo2"] = {"executable": "NoAreTomoHere"}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    line = one_line(run_cli("run", str(root)).stderr)
    assert "tools.warptools.executable = '/opt/warp/bin/WarpTools': no such executable file" in line
    assert "tools.aretomo2.executable = 'NoAreTomoHere': not found on PATH (needed by align" in line
    # a dry run says so and goes on
    out = run_cli("run", str(root), "--", "-n")
    assert out.returncode == 0 and "crboost: warning: tools.warptools.executable" in out.stderr


# --- names ---------------------------------------------------------------------------------

NAME_CASES = {
    "_TS_01.mrc.mdoc": "TS_01",
    "-x.mdoc": "x",
    "#hash.mdoc": "hash",
    ";semi.mdoc": "semi",
    "$dollar.mdoc": "dollar",
    "it's.mdoc": "it_s",
    'say "hi".mdoc': "say__hi_",
    "tab\there.mdoc": "tab_here",
    "data_TS.mdoc": "TS_data_TS",
    "Loop_3.mdoc": "TS_Loop_3",
    "save_x.mdoc": "TS_save_x",
    "stop_.mdoc": "TS_stop_",
    "GLOBAL_1.mdoc": "TS_GLOBAL_1",
    "01.mdoc": "TS_01",
    "1e5.mdoc": "TS_1e5",
    "nan.mdoc": "TS_nan",
    "inf.mdoc": "TS_inf",
    "NA.mdoc": "TS_NA",
    "__-x.mrc.mdoc": "x",
}


@pytest.mark.parametrize("file_name", list(NAME_CASES))
def test_tilt_series_names_are_made_star_safe_with_a_message(tmp_path, raw, capsys, file_name):
    data = tmp_path / "data"
    (data / "mdoc").mkdir(parents=True)
    (data / "frames").symlink_to(raw / "frames")
    (data / "mdoc" / file_name).write_text((raw / "mdoc" / "TS_01.mrc.mdoc").read_text())
    status = main(["init", str(tmp_path / "p"), "--movies", f"{data}/frames/*.mrc",
                   "--mdocs", f"{data}/mdoc/*.mdoc"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    name = NAME_CASES[file_name]
    assert star_problem(name) is None
    assert f"made safe as {name!r}" in out
    names = os.listdir(tmp_path / "p" / ".crboost" / "tilt_series")
    assert names == [f"{name}.json"]


NAME_CLASHES = {
    "same after making safe": (
        ["_TS_01.mrc.mdoc", "TS_01.mrc.mdoc"],
        "both give tilt series 'TS_01'",
    ),
    "same ignoring case": (["ts_01.mdoc", "TS_01.mdoc"], "(the same name ignoring case)"),
    "number and prefixed": (["01.mdoc", "TS_01.mdoc"], "both give tilt series 'TS_01'"),
}


@pytest.mark.parametrize("case", list(NAME_CLASHES))
def test_two_mdocs_giving_one_name_are_refused(tmp_path, raw, capsys, case):
    files, expected = NAME_CLASHES[case]
    data = tmp_path / "data"
    (data / "mdoc").mkdir(parents=True)
    (data / "frames").symlink_to(raw / "frames")
    for name in files:
        (data / "mdoc" / name).write_text((raw / "mdoc" / "TS_01.mrc.mdoc").read_text())
    status, err = cli(capsys, "init", str(tmp_path / "p"), "--movies", f"{data}/frames/*.mrc",
                      "--mdocs", f"{data}/mdoc/*.mdoc")  # fmt: skip
    line = one_line(err)
    assert status == 1 and expected in line and "rename one" in line, line
    assert not (tmp_path / "p").exists()


# --- globs ---------------------------------------------------------------------------------


def test_symlink_loops_under_a_glob_do_not_hang(tmp_path, raw, capsys):
    data = tmp_path / "data"
    shutil.copytree(raw, data)
    (data / "mdoc" / "up").symlink_to("..")  # two loops in one folder: glob takes hours
    (data / "mdoc" / "self").symlink_to(".")
    (data / "frames" / "self").symlink_to(".")
    status = main(["init", str(tmp_path / "p"), "--movies", f"{data}/**/*.mrc",
                   "--mdocs", f"{data}/**/*.mdoc"])  # fmt: skip
    capsys.readouterr()
    assert status == 0
    manifest = yaml.safe_load((tmp_path / "p" / ".crboost" / "manifest.json").read_text())
    assert list(manifest["tilt_series"]) == ["TS_01"]


def test_a_glob_that_explodes_stops_with_a_message(tmp_path):
    from crboost.acquisition.globbing import GlobTooLarge, glob_files

    for i in range(30):
        (tmp_path / f"d{i}" / "e").mkdir(parents=True)
        (tmp_path / f"d{i}" / "e" / "f.mdoc").touch()
    assert len(glob_files(tmp_path, "**/*.mdoc")) == 30
    with pytest.raises(GlobTooLarge, match="searches more than 20 directories"):
        glob_files(tmp_path, "**/*.mdoc", max_directories=20)
    with pytest.raises(GlobTooLarge, match="matches more than 10 files"):
        glob_files(tmp_path, "*/e/*.mdoc", max_files=10)


def test_pipeline_values_that_would_not_read_back_are_refused(tmp_path):
    """A quote in an alias (RELION allows `'`) comes back as `"` from STAR readers: crboost would
    lose that job. Such a file is refused when read, and never written."""
    from crboost.errors import CrboostError
    from crboost.relion.pipeline import PIPELINE_FILE, Pipeline, read_pipeline, write_pipeline

    pipeline = Pipeline.empty()
    pipeline.add_process("External/job002/", "External/it's/", "relion.external", "Scheduled")
    with pytest.raises(CrboostError, match="not written: .*holds a single quote"):
        write_pipeline(tmp_path, pipeline)
    assert os.listdir(tmp_path) == []
    relion = pipeline.to_text()  # what RELION itself would write
    (tmp_path / PIPELINE_FILE).write_text(relion)
    with pytest.raises(CrboostError, match='"External/it\'s/" holds a single quote'):
        read_pipeline(tmp_path / PIPELINE_FILE)
    assert (tmp_path / PIPELINE_FILE).read_text() == relion
    pipeline = Pipeline.empty()
    pipeline.add_process("External/job003/", "External/with space/", "relion.external", "Failed")
    write_pipeline(tmp_path, pipeline)  # quoted as RELION quotes it: reads back the same
    assert read_pipeline(tmp_path / PIPELINE_FILE).find("External/job003/").alias == (
        "External/with space/"
    )
