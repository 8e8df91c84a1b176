#!/usr/bin/env python
"""tsReconstruct driver: a tomogram (and even/odd half tomograms) of one tilt series.

Per tilt series: `WarpTools ts_reconstruct` reading the upstream job's metadata
(--input_processing, read only) and writing into this job's `warp_tiltseries/` (one GPU, its own
work queue where WarpTools has one):
reconstruction/<ts>_<angpix>Apx.mrc, reconstruction/even|odd/ (with halfmap_frames), deconv/.
Each tomogram is also linked under RELION's names, `tomograms/rec_<ts>.mrc` and
`rec_<ts>_half1.mrc`/`_half2.mrc` (RELION's Denoise job only round-trips these names,
relion-consumes.md F1; crboost's later jobs find tomograms by them, crboost/running/tomograms.py).
Job level: `tomograms.star` (rlnTomoReconstructedTomogram, ...Half1/Half2 -> those links,
rlnTomoSizeX/Y/Z in unbinned pixels, rlnTomoTomogramBinning), RELION 5's reconstruct layout.

By hand:  cd External/jobNNN && crboost driver tsReconstruct --ts TS_01 [--print-commands]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crboost.jobs.tsReconstruct import TsReconstructParams as Params
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.running.tomograms import link_into, rec_name
from crboost.tools.runner import ToolCall

PROCESSING = "warp_tiltseries"


def tomogram(ctx: JobContext, ts: str, half: str = "") -> str:
    name = f"{ts}_{ctx.params['angpix']:.2f}Apx.mrc"
    parts = [PROCESSING, "reconstruction", *([half] if half else []), name]
    return str(ctx.path(*parts))


def commands(ctx: JobContext, ts: str) -> list[ToolCall]:
    p = ctx.params
    args = [
        "ts_reconstruct",
        "--settings", "warp_tiltseries.settings",
        "--input_data", f"tomostar/{ts}.tomostar",
        "--input_processing", ctx.rel(f"{ctx.input_dir}/{PROCESSING}"),
        "--output_processing", PROCESSING,
        "--angpix", f"{p['angpix']:g}",
        "--perdevice", str(p["perdevice"]),
    ]  # fmt: skip
    for flag in ("halfmap_frames", "deconv", "dont_invert"):
        if p[flag]:
            args.append(f"--{flag}")
    return [ToolCall("warptools", tuple(args), cwd=ctx.dir, item=ts, gpus=1,
                     task_dir=f"{PROCESSING}/tasks/{ts}")]  # fmt: skip


def run_tilt_series(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    driver.carry_tilt_series_state(ctx)
    driver.clear_previous(
        ctx,
        [Path(tomogram(ctx, ts, half)) for half in ("", "even", "odd", "deconv")]
        + [ctx.path("tomograms", rec_name(ts, half)) for half in (None, 1, 2)],
    )
    driver.run_calls(ctx, commands(ctx, ts))
    expected = [tomogram(ctx, ts)]
    if ctx.params["halfmap_frames"]:
        expected += [tomogram(ctx, ts, "even"), tomogram(ctx, ts, "odd")]
    driver.check_files(ctx, [ctx.root / e for e in expected], "ts_reconstruct")
    link_into(ctx, rec_name(ts), Path(tomogram(ctx, ts)))
    if ctx.params["halfmap_frames"]:
        link_into(ctx, rec_name(ts, 1), Path(tomogram(ctx, ts, "even")))
        link_into(ctx, rec_name(ts, 2), Path(tomogram(ctx, ts, "odd")))
    driver.write_tilt_series(ctx, ts, table)


def gather(ctx: JobContext) -> None:
    import mrcfile

    p = ctx.params

    def update(table: pd.DataFrame) -> pd.DataFrame:
        pixel = table.get("rlnTomoTiltSeriesPixelSize", pd.Series([p["pixel_size"]] * len(table)))
        binning = [p["angpix"] / float(px) for px in pixel]
        sizes = []
        for ts, factor in zip(table["rlnTomoName"], binning, strict=True):
            path = ctx.root / tomogram(ctx, ts)
            try:
                with mrcfile.open(path, header_only=True, permissive=True) as mrc:
                    nx, ny, nz = int(mrc.header.nx), int(mrc.header.ny), int(mrc.header.nz)
            except (OSError, ValueError):
                raise DriverError(f"{tomogram(ctx, ts)}: missing or not an MRC file") from None
            sizes.append([round(n * factor) for n in (nx, ny, nz)])
        table["rlnTomoTomogramBinning"] = binning
        table["rlnTomoSizeX"] = [s[0] for s in sizes]
        table["rlnTomoSizeY"] = [s[1] for s in sizes]
        table["rlnTomoSizeZ"] = [s[2] for s in sizes]
        names = list(table["rlnTomoName"])
        table["rlnTomoReconstructedTomogram"] = [
            str(ctx.path("tomograms", rec_name(ts))) for ts in names
        ]
        if p["halfmap_frames"]:
            for half in (1, 2):
                table[f"rlnTomoReconstructedTomogramHalf{half}"] = [
                    str(ctx.path("tomograms", rec_name(ts, half))) for ts in names
                ]
        return table

    driver.gather(ctx, Params.output_star, Params.output_node_label, update)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tilt_series, gather, planned={"item": commands})
