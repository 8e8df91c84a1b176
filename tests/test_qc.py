"""QC pictures: every tilt series of the demo gets its thumbnails, motion/CTF/alignment plots and
tomogram slices, each a PNG that decodes and is not blank; a picture that cannot be made never
fails a job; IMOD's per-view residuals are read from tiltalign's own table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import copy_project
from PIL import Image

from crboost.jobs import JOB_TYPES, JobParams
from crboost.jobs.base import QC_PRODUCTS
from crboost.qc.products import PRODUCTS, read_imod_residuals
from crboost.running.driver import quality_pictures
from crboost.running.jobcontext import JobContext

#: job dir -> the pictures its qc/<ts>/ must hold
EXPECTED = {
    "External/job002": ["thumbnails.png", "motion.png", "ctf.png"],
    "External/job004": ["alignment.png"],
    "External/job005": ["ctf.png"],
    "External/job007": ["tomogram_xy.png", "tomogram_xz.png"],
}


def not_blank(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        image.load()  # decodes every pixel
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.size > 1000, f"{path}: {pixels.shape}"
    assert pixels.std() > 5 and len(np.unique(pixels)) > 16, f"{path} is blank"
    return pixels


@pytest.mark.slow
def test_every_tilt_series_of_the_demo_has_every_picture(finished_demo):
    for ts in ("TS_01", "TS_02", "TS_03", "TS_04"):
        for job_dir, names in EXPECTED.items():
            folder = finished_demo / job_dir / "qc" / ts
            record = json.loads((folder / "qc.json").read_text())
            assert record["problems"] == {}, record["problems"]
            for name in names:
                not_blank(folder / name)
    montage = json.loads((finished_demo / "External/job002/qc/TS_01/qc.json").read_text())
    cells = montage["products"]["thumbnails"]["cells"]
    assert len(cells) == 21
    # in tilt order: the first cell holds the lowest angle, the last the highest
    by_angle = sorted(montage["tilts"], key=lambda t: t["angle"])
    assert cells[by_angle[0]["movie"]][:2] == [0, 0]
    # cells are (x, y, width, height), filled row by row
    last = max(cells.values(), key=lambda cell: (cell[1], cell[0]))
    assert last == cells[by_angle[-1]["movie"]]
    xy = not_blank(finished_demo / "External/job007/qc/TS_01/tomogram_xy.png")
    xz = not_blank(finished_demo / "External/job007/qc/TS_01/tomogram_xz.png")
    assert xy.shape[1] == xz.shape[1] and xz.shape[0] < xy.shape[0], "XZ is the thin side"


@pytest.mark.slow
def test_a_picture_that_cannot_be_made_never_fails_the_job(tmp_path, finished_demo, capsys):
    project = copy_project(finished_demo, tmp_path / "p")
    spec = json.loads((project / "External/job002/job_params.json").read_text())
    ctx = JobContext(root=project, dir="External/job002", spec=spec)
    average = next((project / "External/job002/warp_frameseries/average").glob("TS_01_000*.mrc"))
    average.write_bytes(b"not an MRC file")
    quality_pictures(ctx, "TS_01")
    record = json.loads((project / "External/job002/qc/TS_01/qc.json").read_text())
    assert set(record["problems"]) == {"thumbnails"}
    assert set(record["products"]) == {"motion", "ctf"}, "the other pictures were made"
    assert "QC thumbnails of TS_01 not made" in capsys.readouterr().err
    # even where nothing can be written, the job's result stands
    folder = project / "External/job002/qc"
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()
    folder.write_text("a file where the folder should be")
    quality_pictures(ctx, "TS_01")
    assert "QC pictures of TS_01 not made" in capsys.readouterr().err
    assert (project / "External/job002/tilt_series/TS_01.star").exists()


def tiltalign_table(rows: list[tuple], fixed_rotation: bool = False) -> str:
    """tiltalign's solution table, written with its Fortran formats (IMOD flib/tiltalign)."""
    if fixed_rotation:
        head = " view     tilt    deltilt     mag      dmag      skew     X-tilt   mean resid"
        body = [f"{v:4d}{t:10.1f}{d:10.2f}{m:10.4f}{dm:10.4f}{s:10.2f}{x:10.2f}{r:10.2f}"
                for v, t, d, m, dm, s, x, r in rows]  # fmt: skip
    else:
        head = " view   rotation    tilt    deltilt     mag      dmag      skew    mean resid"
        body = [f"{v:4d}{ro:10.1f}{t:10.1f}{d:10.2f}{m:10.4f}{dm:10.4f}{s:10.2f}{r:10.2f}"
                for v, ro, t, d, m, dm, s, r in rows]  # fmt: skip
    return "\n".join(["", head, *body, ""])


def test_imod_residuals_come_from_the_last_solution_table(tmp_path):
    log = tmp_path / "align.log"
    first = tiltalign_table([(1, -85.3, -6.0, 0.01, 1.0, 0.0, 0.0, 9.99)])
    last = tiltalign_table(
        [
            (1, -6.0, 0.02, 1.0012, 0.0003, 0.01, 0.1, 0.41),
            (2, -3.0, 0.0, 1.0, 0.0, 0.0, 0.1, 0.38),
        ],
        fixed_rotation=True,
    )
    log.write_text("Residual error mean and sd:    0.900    0.400\n" + first + "\n" + last)
    assert read_imod_residuals(log) == {1: 0.41, 2: 0.38}
    (tmp_path / "empty.log").write_text("Residual error mean and sd:    0.900    0.400\n")
    assert read_imod_residuals(tmp_path / "empty.log") == {}


def test_qc_declarations_are_checked():
    assert set(PRODUCTS) == set(QC_PRODUCTS)
    assert JOB_TYPES["tsReconstruct"].tomogram_file and "tomogram" in JOB_TYPES["tsReconstruct"].qc

    class NoTomogram(JobParams):
        type_name: ClassVar[str] = "noTomogram"
        output_star: ClassVar[str] = "out.star"
        output_node_label: ClassVar[str] = "x"
        qc: ClassVar[tuple[str, ...]] = ("tomogram",)

    with pytest.raises(TypeError, match="the tomogram QC product needs tomogram_file"):
        NoTomogram.check_declaration()

    class Unknown(JobParams):
        type_name: ClassVar[str] = "unknownQc"
        output_star: ClassVar[str] = "out.star"
        output_node_label: ClassVar[str] = "x"
        qc: ClassVar[tuple[str, ...]] = ("histogram",)

    with pytest.raises(TypeError, match="qc \\('histogram',\\)"):
        Unknown.check_declaration()
