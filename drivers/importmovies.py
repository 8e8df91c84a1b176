#!/usr/bin/env python
"""importmovies driver: RELION 5 tilt-series import in pure Python.

Per tilt series (`--ts NAME`): link its movies into `frames/`, copy its mdoc into `mdoc/` with
SubFramePath pointing at the links and a DateTime in every section (synthetic ones in crboost's
acquisition order when the mdoc has none: WarpTools needs them), write
`<job>/tilt_series/<NAME>.star`.
Job level (`--gather`): write `<job>/tilt_series.star`, `RELION_OUTPUT_NODES.star` and the sentinel.

By hand, from the project directory or from inside the job directory:
    python drivers/importmovies.py --job Import/job001 --ts TS_01
    cd Import/job001 && python ../../path/to/drivers/importmovies.py --ts TS_01

Pre-exposure convention: rlnMicrographPreExposure is the dose received BEFORE each tilt (first
tilt 0), in acquisition order, from the mdoc's per-tilt doses (dose_source: mdoc; the config's
dose_per_tilt where a tilt has none) or dose_per_tilt for every tilt (dose_source: config). This
is what RELION 5 writes with a dose override and what Warp uses; RELION's no-override branch adds
each tilt's own dose too (relion#1188), which crboost does not copy.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from crboost.acquisition import frames
from crboost.acquisition.manifest import read_index, read_record
from crboost.acquisition.mdoc import read_mdoc_lines
from crboost.acquisition.mdoc_dates import format_mdoc_datetime
from crboost.acquisition.mdoc_values import setting_values
from crboost.jobs.importmovies import ImportMoviesParams as Params
from crboost.relion.star import atomic_write
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext


def import_tilt_series(ctx: JobContext, ts: str) -> None:
    params = ctx.params
    try:
        record = read_record(ctx.root, ts)
    except FileNotFoundError:
        raise DriverError(f"not in the project's tilt-series manifest ({ts})") from None
    tilts = record["tilts"]
    for tilt in tilts:
        link_movie(ctx.root, tilt["movie_path"], tilt["frames_name"])

    doses = [
        (t["dose"] if params["dose_source"] == "mdoc" and t["dose"] else params["dose_per_tilt"])
        for t in tilts
    ]
    pre_exposure = [sum(doses[:i]) for i in range(len(doses))]
    table = pd.DataFrame(
        {
            "rlnMicrographMovieName": [f"frames/{t['frames_name']}" for t in tilts],
            "rlnTomoTiltMovieFrameCount": [int(t["num_frames"]) for t in tilts],
            "rlnTomoNominalStageTiltAngle": [float(t["tilt_angle"]) for t in tilts],
            "rlnTomoNominalTiltAxisAngle": [float(params["tilt_axis"])] * len(tilts),
            "rlnMicrographPreExposure": pre_exposure,
        }
    )
    if all(t["target_defocus"] is not None for t in tilts):
        table["rlnTomoNominalDefocus"] = [float(t["target_defocus"]) for t in tilts]
    driver.write_tilt_series(ctx, ts, table)
    copy_mdoc(Path(record["mdoc"]), Path("mdoc") / f"{ts}.mdoc", tilts)
    print(f"{ts}: {len(tilts)} tilts, total dose {sum(doses):.1f} e/A^2")


def link_movie(root: Path, movie_path: str | None, frames_name: str) -> None:
    if movie_path is None or not os.path.exists(movie_path):
        raise DriverError(f"movie {movie_path or frames_name} not found")
    frames.link_movie(root, movie_path, frames_name)


def copy_mdoc(source: Path, dest: Path, tilts: list[dict]) -> None:
    """The mdoc with SubFramePath pointing at frames/ (and locale commas made points)."""
    try:
        lines = read_mdoc_lines(source, [])
    except Exception as e:
        raise DriverError(f"cannot read {source}: {e}") from None
    names = {t["sub_frame_path"]: t["frames_name"] for t in tilts}
    # DateTime in one unambiguous form (Warp reads dd-MMM-yy as SerialEM writes it; Tomo5's
    # yy-MMM-dd would be misread), in the same section order as the original. Warp's ts_import
    # needs one in every section ("No time stamp found") and orders doses by it: an mdoc without
    # any gets synthetic ones, a minute apart in crboost's acquisition order (by ZValue).
    times = {t["z_value"]: t["acquired"] for t in tilts}
    synthetic = not any(times.values())
    if synthetic:
        start = datetime(2000, 1, 1)
        times = {t["z_value"]: (start + timedelta(minutes=rank)).isoformat()
                 for rank, t in enumerate(tilts)}  # fmt: skip
    z_value = None
    out = []
    for line in lines:
        key, sep, value = line.partition("=")
        if line.startswith("[ZValue"):
            z_value = int(value.strip(" ]"))
            if synthetic and times.get(z_value):
                out.append(line)
                line = "DateTime = " + format_mdoc_datetime(datetime.fromisoformat(times[z_value]))
        elif sep and key.strip() == "SubFramePath" and value.strip() in names:
            line = f"SubFramePath = frames/{names[value.strip()]}"
        elif sep and key.strip() == "DateTime" and times.get(z_value):
            line = "DateTime = " + format_mdoc_datetime(datetime.fromisoformat(times[z_value]))
        out.append(line)
    dest.parent.mkdir(exist_ok=True)
    atomic_write(dest, "\n".join(out) + "\n")


def gather(ctx: JobContext) -> None:
    index = read_index(ctx.root)
    if index is None:
        raise DriverError("the tilt-series manifest .crboost/manifest.json is missing")
    names = ctx.items()
    for ts, reason in sorted(index.skipped.items()):
        print(f"skipped {ts}: {reason}")
    for line in index.unusable_lines(setting_values(ctx.config)):
        print(f"warning: {line}")
    if not names:
        listed = "; ".join(f"{k}: {v}" for k, v in index.skipped.items()) or "no mdocs"
        raise DriverError(f"no usable tilt series left ({listed})")
    missing = [ts for ts in names if not ctx.ts_star(ts).exists()]
    if missing:
        raise DriverError(f"per-tilt-series STAR files missing for {', '.join(missing)}")
    p = ctx.params
    table = pd.DataFrame(
        {
            "rlnTomoName": names,
            "rlnTomoTiltSeriesStarFile": [str(ctx.ts_star(ts)) for ts in names],
            "rlnVoltage": float(p["voltage"]),
            "rlnSphericalAberration": float(p["cs"]),
            "rlnAmplitudeContrast": float(p["amplitude_contrast"]),
            "rlnMicrographOriginalPixelSize": float(p["pixel_size"]),
            "rlnTomoHand": -1 if p["invert_defocus_hand"] else 1,
        }
    )
    if p["optics_group_name"]:
        table["rlnOpticsGroupName"] = p["optics_group_name"]
    print(f"imported {len(names)} tilt series; skipped {len(index.skipped)}")
    driver.finish(ctx, {"global": table}, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], import_tilt_series, gather)
