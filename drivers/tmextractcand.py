#!/usr/bin/env python
"""tmextractcand driver: candidates from one tomogram's template-matching scores.

Per tomogram: pytom's job JSON is copied from the matching job into `extract/<ts>/` with its
output_dir pointing there and the score/angle maps linked in (pytom writes next to them; the
matching job's files are never written), then `pytom_extract_candidates.py --relion5-compat`
with the particle DIAMETER (pytom keeps peaks diameter/2 apart) and the cut-off (pytom's
false-positive estimate or a fixed score). Checked after: the STAR file exists, names this
tomogram, and every candidate lies inside the tomogram. No candidate is not a failure.
Job level: `candidates.star` (block `particles`: centred coordinates in A from the tomogram
centre, RELION 5), `tomograms.star` (the upstream rows) and `optimisation_set.star`.

By hand:  cd External/jobNNN && crboost driver tmextractcand --ts TS_01 [--print-commands]
"""

from __future__ import annotations

import json
import os

import pandas as pd

from crboost import qc
from crboost.jobs.tmextractcand import TmExtractCandParams as Params
from crboost.qc.particles import candidates as candidates_picture
from crboost.relion.star import atomic_write, write_star
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.running.particles import read_particles, write_optimisation_set
from crboost.tools.runner import ToolCall

#: pytom fills rlnTomoTiltSeriesPixelSize with the TOMOGRAM's voxel size (extract.py); RELION
#: takes the tilt series' pixel size from tomograms.star, so the misleading column is dropped
DROPPED = ("rlnTomoTiltSeriesPixelSize",)


def staged(ctx: JobContext, ts: str, name: str = "") -> str:
    return str(ctx.path("extract", ts, name)) if name else str(ctx.path("extract", ts))


def stage(ctx: JobContext, ts: str) -> dict:
    source = ctx.root / str(ctx.input_dir) / "tm" / ts
    try:
        job = json.loads((source / f"{ts}_job.json").read_text())
    except FileNotFoundError:
        raise DriverError(
            f"{ctx.input_dir}/tm/{ts}/{ts}_job.json: missing (matching not done?)"
        ) from None
    folder = ctx.root / staged(ctx, ts)
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("_scores.mrc", "_angles.mrc"):
        link = folder / f"{ts}{suffix}"
        link.unlink(missing_ok=True)
        os.symlink(os.path.relpath(source / f"{ts}{suffix}", folder), link)
    job["output_dir"] = str(folder.resolve())
    atomic_write(folder / f"{ts}_job.json", json.dumps(job, indent=4))
    return job


def commands(ctx: JobContext, ts: str) -> list[ToolCall]:
    p = ctx.params
    args = [
        "pytom_extract_candidates.py",
        "-j", staged(ctx, ts, f"{ts}_job.json"),
        "-n", str(p["max_num_particles"]),
        "--particle-diameter", f"{p['particle_diameter']:g}",
        "--relion5-compat",
    ]  # fmt: skip
    if p["cutoff_method"] == "manual":
        args += ["-c", f"{p['cc_threshold']:g}"]
    else:
        args += ["--number-of-false-positives", f"{p['false_positives']:g}"]
    return [ToolCall("pytom", tuple(args), item=ts)]


def run_tomogram(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    result = staged(ctx, ts, f"{ts}_particles.star")
    driver.clear_previous(ctx, [ctx.path("extract", ts, f"{ts}_particles.star")])
    job = stage(ctx, ts)
    driver.run_calls(ctx, commands(ctx, ts))
    driver.check_files(ctx, [ctx.root / result], "pytom_extract_candidates.py")
    found = read_particles(ctx.root / result)
    check_candidates(found, ts, job, result)
    print(f"{ts}: {len(found)} candidate(s)")
    qc.safely(picture, ctx, ts, job, found)
    driver.write_tilt_series(ctx, ts, table)


def check_candidates(found: pd.DataFrame, ts: str, job: dict, where: str) -> None:
    if found.empty:
        return
    names = set(found["rlnTomoName"].astype(str))
    if names != {ts}:
        raise DriverError(f"{where}: candidates name tomogram(s) {sorted(names)}, not {ts}")
    half = [n * job["voxel_size"] / 2 for n in job["tomo_shape"]]
    for axis, limit in zip("XYZ", half, strict=True):
        values = found[f"rlnCenteredCoordinate{axis}Angst"].abs()
        if (values > limit + 1e-3).any():
            raise DriverError(f"{where}: candidates outside the tomogram along {axis} "
                              f"(|{values.max():.1f}| A > {limit:.1f} A)")  # fmt: skip


def picture(ctx: JobContext, ts: str, job: dict, found: pd.DataFrame) -> None:
    voxel = job["voxel_size"]
    centre = [n / 2 for n in job["tomo_shape"]]
    axes = [f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"]
    positions = found[axes].to_numpy() / voxel + centre if len(found) else []
    radius = ctx.params["particle_diameter"] / 2 / voxel
    candidates_picture(ctx.root / str(ctx.input_dir) / "tomograms" / f"{ts}.mrc", positions,
                       ctx.root / ctx.path("qc", f"{ts}_candidates.png"), radius)  # fmt: skip


def gather(ctx: JobContext) -> None:
    names = ctx.items()
    tables = []
    for ts in names:
        path = ctx.root / staged(ctx, ts, f"{ts}_particles.star")
        if not path.exists():
            raise DriverError(f"{staged(ctx, ts, f'{ts}_particles.star')}: missing")
        tables.append(read_particles(path))
    particles = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    particles = particles.drop(columns=[c for c in DROPPED if c in particles.columns])
    write_star(ctx.path("tomograms.star"), {"global": driver.gather_table(ctx)})
    write_star(ctx.path(Params.output_star), {"particles": particles})
    write_optimisation_set(ctx, ctx.path(Params.output_star), ctx.path("tomograms.star"))
    print(f"{len(particles)} candidate(s) in {len(names)} tomogram(s)")
    driver.finish(ctx, None, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tomogram, gather, planned={"item": commands})
