"""No NaN, NA or empty number in any STAR file a run writes; names that would break STAR files
are made safe and run through every job."""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import pandas as pd
import pytest
import starfile
from conftest import run_cli

from crboost.demo import write_tilt_series
from crboost.relion.star import StarError, write_star

pytestmark = pytest.mark.slow

#: what starfile (pandas) reads back as missing, or a STAR reader cannot take
_MISSING_TEXT = {"", "nan", "NaN", "<NA>", "NA", "inf", "-inf", "None"}
#: columns whose values are text by design (RELION writes empty option values as "")
_TEXT_COLUMNS = {"rlnJobOptionValue", "rlnPipeLineProcessAlias"}


def bad_values(path: Path) -> list[str]:
    """Every NaN/NA/infinite value, and every empty or NaN-like text where a number belongs."""
    problems = []
    for block, table in starfile.read(path, always_dict=True).items():
        frame = pd.DataFrame([table]) if isinstance(table, dict) else table
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values):
                bad = [v for v in values if not math.isfinite(float(v))]
            elif column in _TEXT_COLUMNS:
                bad = [v for v in values if v is None or (isinstance(v, float) and v != v)]
            else:
                numbers = pd.to_numeric(values, errors="coerce")
                mixed = numbers.notna().any()
                bad = [
                    v
                    for v in values
                    if v is None
                    or (isinstance(v, float) and not math.isfinite(v))
                    or (mixed and str(v).strip() in _MISSING_TEXT)
                    or str(v).strip() in _MISSING_TEXT - {"", "None"}
                ]
            problems += [f"{path}: data_{block} {column}: {v!r}" for v in bad]
    return problems


def all_star_files(project: Path) -> list[Path]:
    return [p for p in project.rglob("*.star") if ".snakemake" not in p.parts]


def test_every_star_file_of_the_demo_holds_values_only(finished_demo):
    files = all_star_files(finished_demo)
    assert len(files) > 40
    problems = [problem for path in files for problem in bad_values(path)]
    assert problems == []


def test_the_checker_finds_nan_and_empty_numbers(tmp_path):
    path = tmp_path / "x.star"
    path.write_text("data_x\n\nloop_\n_rlnA #1\n_rlnB #2\n1.0 a\nnan b\n")
    assert bad_values(path) == [f"{path}: data_x rlnA: nan"]
    path.write_text('data_x\n\nloop_\n_rlnA #1\n_rlnB #2\n1.0 a\n"" b\n<NA> c\n')
    assert len(bad_values(path)) == 2 and all(" rlnA: " in p for p in bad_values(path))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), pd.NA, None, ""])
def test_the_star_writer_refuses_a_missing_value(tmp_path, value):
    table = pd.DataFrame(
        {"rlnTomoName": ["TS_01", "TS_02"], "rlnMicrographPreExposure": [0.0, 3.0]}
    )
    column = (
        "rlnTomoName" if isinstance(value, str) or value is None else "rlnMicrographPreExposure"
    )
    table[column] = table[column].astype(object)
    table.loc[1, column] = value
    with pytest.raises(StarError, match=f"data_TS {column} row 2 would be .*nothing written"):
        write_star(tmp_path / "x.star", {"TS": table})
    assert not (tmp_path / "x.star").exists()


def test_hostile_names_and_unknown_doses_run_through_with_values_only(tmp_path):
    """`_TS_01` (a row STAR readers take for a column label), `-x` (became `_x`) and an mdoc
    whose doses are all NaN (Tomo5's "unknown"), the dose then from the config."""
    project = tmp_path / "p"
    raw = tmp_path / "raw"
    start = datetime.datetime(2025, 1, 25)
    angles = [0.0, 3.0, -3.0, 6.0, -6.0]
    for i, name in enumerate(["_TS_01", "-x", "TS_nan_dose"]):
        write_tilt_series(raw, name, seed=i + 1, start=start, angles=angles)
    mdoc = raw / "mdoc" / "TS_nan_dose.mrc.mdoc"
    text = mdoc.read_text()
    for key in ("ExposureDose", "DoseRate"):
        text = "\n".join(f"{key} = NaN" if ln.startswith(key) else ln for ln in text.splitlines())
    text = text.replace("FrameDosesAndNumber = 0.75 4", "FrameDosesAndNumber = NaN -1")
    mdoc.write_text(text)
    out = run_cli("inspect", str(mdoc), "--movies", str(raw / "frames/*.mrc"))
    assert out.returncode == 1 and "no dose: give --dose-per-tilt" in out.stdout
    out = run_cli("init", str(project), "--movies", str(raw / "frames/*.mrc"),
                  "--mdocs", str(raw / "mdoc/*.mdoc"), "--set", "tools.simulate=true",
                  "--set", "acquisition.dose_per_tilt=2.5",
                  "--set", "pipeline.tiltseries.params.tomo_z=32",
                  "--set", "pipeline.align.params.angpix=5.4",
                  "--set", "pipeline.reconstruct.params.angpix=5.4")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "tilt-series name '_TS_01' made safe as 'TS_01'" in out.stdout
    assert "tilt-series name '-x' made safe as 'x'" in out.stdout
    out = run_cli("run", str(project))
    assert out.returncode == 0, out.stderr[-3000:]
    tomograms = starfile.read(project / "External/job006/tomograms.star")
    assert list(tomograms["rlnTomoName"]) == ["TS_01", "TS_nan_dose", "x"]
    nan_dose = starfile.read(project / "Import/job001/tilt_series/TS_nan_dose.star")
    assert list(nan_dose["rlnMicrographPreExposure"]) == [0.0, 2.5, 5.0, 7.5, 10.0]
    problems = [problem for path in all_star_files(project) for problem in bad_values(path)]
    assert problems == []
