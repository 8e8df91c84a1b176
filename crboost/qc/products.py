"""The QC products, by name, and the per-tilt values they are made from.

A job type lists the products it makes in its params model (`qc`, crboost/jobs/base.py); each
is made from the tilt series' STAR file the job just wrote (and, for "tomogram", the job's
tomogram, `tomogram_file`) into `<job>/qc/<ts>/`, described by `<job>/qc/<ts>/qc.json`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from . import images
from .plots import plot_rows

THUMBNAIL = 128  # px per tilt in the montage
SLICE = 512  # px of a tomogram slice's long side

#: per-tilt values shown by the report, from the RELION columns the jobs write
COLUMNS = {
    "angle": "rlnTomoNominalStageTiltAngle",
    "dose": "rlnMicrographPreExposure",
    "motion": "rlnAccumMotionTotal",
    "defocus_u": "rlnDefocusU",
    "defocus_v": "rlnDefocusV",
    "astigmatism": "rlnCtfAstigmatism",
    "ctf_resolution": "rlnCtfMaxResolution",
    "x_shift": "rlnTomoXShiftAngst",
    "y_shift": "rlnTomoYShiftAngst",
    "x_tilt": "rlnTomoXTilt",
    "y_tilt": "rlnTomoYTilt",
    "z_rot": "rlnTomoZRot",
}


def tilt_values(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Per tilt: its movie (Warp item name) and the values of COLUMNS it has."""
    rows = []
    for _, row in table.iterrows():
        entry: dict[str, Any] = {"movie": Path(str(row["rlnMicrographMovieName"])).stem}
        for key, column in COLUMNS.items():
            if column in row.index:
                entry[key] = round(float(row[column]), 4)
        rows.append(entry)
    return rows


def _series(tilts: list[dict], key: str, scale: float = 1.0) -> list[float | None]:
    return [t[key] * scale if key in t else None for t in tilts]


def thumbnails(ctx, ts: str, tilts: list[dict], folder: Path) -> dict:
    """The motion-corrected average of every tilt, in tilt order, one montage."""
    table = ctx.table
    if "rlnMicrographName" not in table.columns:
        raise ValueError("no rlnMicrographName (motion-corrected averages) in the STAR file")
    order = sorted(range(len(tilts)), key=lambda i: tilts[i].get("angle", 0.0))
    pictures = [images.read_image(ctx.root / table["rlnMicrographName"].iloc[i], THUMBNAIL)
                for i in order]  # fmt: skip
    labels = [f"{tilts[i].get('angle', 0.0):.0f}" for i in order]
    picture, cells = images.montage(pictures, labels, THUMBNAIL)
    images.save_png(folder / "thumbnails.png", picture)
    return {
        "file": "thumbnails.png",
        "cell": THUMBNAIL,
        "width": int(picture.shape[1]),
        "height": int(picture.shape[0]),
        "cells": {tilts[i]["movie"]: list(cells[k]) for k, i in enumerate(order)},
    }


def motion(ctx, ts: str, tilts: list[dict], folder: Path) -> dict:
    plot_rows(folder / "motion.png", _series(tilts, "angle"), [
        {"label": "accumulated\nmotion (A)", "series": {"motion": _series(tilts, "motion")}},
        {"label": "dose before\ntilt (e/A^2)", "series": {"dose": _series(tilts, "dose")}},
    ], f"{ts}: motion (job {ctx.name})")  # fmt: skip
    return {"file": "motion.png"}


def ctf(ctx, ts: str, tilts: list[dict], folder: Path) -> dict:
    plot_rows(folder / "ctf.png", _series(tilts, "angle"), [
        {"label": "defocus (um)", "series": {"U": _series(tilts, "defocus_u", 1e-4),
                                             "V": _series(tilts, "defocus_v", 1e-4)}},
        {"label": "astigmatism\n(A)", "series": {"U-V": _series(tilts, "astigmatism")}},
        {"label": "CTF fit\nresolution (A)", "series": {"fit": _series(tilts, "ctf_resolution")}},
    ], f"{ts}: CTF (job {ctx.name})")  # fmt: skip
    return {"file": "ctf.png"}


def alignment(ctx, ts: str, tilts: list[dict], folder: Path) -> dict:
    y_change = [None if y is None or a is None else y - a
                for y, a in zip(_series(tilts, "y_tilt"), _series(tilts, "angle"), strict=True)]  # fmt: skip
    residual = imod_residuals(ctx, ts, tilts)
    rows = [
        {"label": "shift (A)", "series": {"X": _series(tilts, "x_shift"),
                                          "Y": _series(tilts, "y_shift")}},
        {"label": "angle change\n(degrees)", "series": {"tilt - nominal": y_change,
                                                        "x tilt": _series(tilts, "x_tilt")}},
        {"label": "tilt axis\n(degrees)", "series": {"z rot": _series(tilts, "z_rot")}},
    ]  # fmt: skip
    if residual:
        rows.append({"label": "mean residual\n(px)", "series": {"IMOD": residual}})
    plot_rows(folder / "alignment.png", _series(tilts, "angle"), rows,
              f"{ts}: alignment (job {ctx.name})")  # fmt: skip
    return {"file": "alignment.png", "residual": bool(residual)}


def tomogram(ctx, ts: str, tilts: list[dict], folder: Path) -> dict:
    """Central XY and XZ slices of the job's tomogram of the tilt series."""
    from ..jobs import JOB_TYPES

    pattern = JOB_TYPES[ctx.type].tomogram_file
    if not pattern:
        raise ValueError(f"job type {ctx.type} declares no tomogram_file")
    path = ctx.root / ctx.path(pattern.format(ts=ts, **ctx.params))
    xy, xz, voxel = images.central_slices(path, SLICE)
    factor = max(1, -(-256 // max(xy.shape)))  # small tomograms: both slices enlarged alike
    for name, picture in (("tomogram_xy.png", xy), ("tomogram_xz.png", xz)):
        images.save_png(folder / name, images.enlarge(images.stretch(picture), 0, factor))
    return {"files": ["tomogram_xy.png", "tomogram_xz.png"], "tomogram": str(ctx.path(
        pattern.format(ts=ts, **ctx.params))), "voxel_size": voxel, "enlarged": factor}  # fmt: skip


PRODUCTS: dict[str, Callable[[Any, str, list[dict], Path], dict]] = {
    "thumbnails": thumbnails,
    "motion": motion,
    "ctf": ctf,
    "alignment": alignment,
    "tomogram": tomogram,
}


# --- IMOD's per-view residuals ---------------------------------------------------------------

#: tiltalign's solution table (IMOD flib/tiltalign, the `mapalfstart.gt.mapalfend` and fixed-
#: rotation branches): a header naming the columns, then one row per view, "mean resid" last
_RESID_HEADER = re.compile(r"^\s*view\s+.*\bmean resid\s*$")


def read_imod_residuals(path: str | Path) -> dict[int, float]:
    """{view (1-based, as in the stack): mean residual in pixels} from the last solution table
    of a tiltalign log (align.log, or taSolution.log made from it)."""
    lines = Path(path).read_text(errors="replace").splitlines()
    found: dict[int, float] = {}
    for i, line in enumerate(lines):
        if not _RESID_HEADER.match(line):
            continue
        found = {}
        for row in lines[i + 1 :]:
            parts = row.split()
            if not parts or not parts[0].isdigit():
                break
            found[int(parts[0])] = float(parts[-1])
    return found


def imod_residuals(ctx, ts: str, tilts: list[dict]) -> list[float | None]:
    """The residual of each tilt, where the job ran IMOD (its stack is in tomostar order)."""
    from ..tools.warp import movie_stem, read_tomostar

    folder = ctx.root / ctx.path("warp_tiltseries", "tiltstack", ts)
    log = next((p for p in (folder / "align.log", folder / "taSolution.log") if p.exists()), None)
    if log is None:
        return []
    residuals = read_imod_residuals(log)
    if not residuals:
        return []
    stems = [movie_stem(m) for m in read_tomostar(ctx.root / ctx.path(
        "tomostar", f"{ts}.tomostar"))["wrpMovieName"]]  # fmt: skip
    by_movie = {stem: residuals.get(i + 1) for i, stem in enumerate(stems)}
    return [by_movie.get(t["movie"]) for t in tilts]
