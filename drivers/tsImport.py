#!/usr/bin/env python
"""tsImport driver: WarpTools ts_import of one tilt series (mdoc + frame series -> .tomostar).

Per tilt series: `WarpTools ts_import --pattern <ts>.mdoc` into this job's `tomostar/`, and once
per job `create_settings` for the tilt series (`warp_tiltseries.settings`, with the tomogram
dimensions). The tilt series' STAR keeps the tilts Warp kept.
Job level: `ts_import.star`.

By hand:  cd External/jobNNN && crboost driver tsImport --ts TS_01 [--print-commands]
"""

from __future__ import annotations

from crboost.jobs.tsImport import TsImportParams as Params
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.tools.runner import ToolCall
from crboost.tools.warp import WarpFormatError, movie_stem, read_tomostar

SETTINGS = "warp_tiltseries.settings"


def create_settings(ctx: JobContext, output: str) -> ToolCall:
    p = ctx.params
    x, y = p["detector_size"]
    args = [
        "create_settings",
        "--folder_data", "tomostar",
        "--extension", "*.tomostar",
        "--folder_processing", "warp_tiltseries",
        "--output", output,
        "--angpix", f"{p['pixel_size']:g}",
        "--exposure", f"{p['dose_per_tilt']:g}",
        "--tomo_dimensions", f"{x}x{y}x{p['tomo_z']}",
    ]  # fmt: skip
    return ToolCall("warptools", tuple(args), cwd=ctx.dir)


def commands(ctx: JobContext, ts: str) -> list[ToolCall]:
    p = ctx.params
    args = [
        "ts_import",
        "--mdocs", ctx.rel("mdoc"),
        "--pattern", f"{ts}.mdoc",
        "--frameseries", ctx.rel(f"{ctx.input_dir}/warp_frameseries"),
        "--tilt_exposure", f"{p['dose_per_tilt']:g}",
        "--override_axis", f"{p['tilt_axis']:g}",
        "--min_intensity", f"{p['min_intensity']:g}",
        "--output", "tomostar",
    ]  # fmt: skip
    if p["dont_invert"]:
        args.append("--dont_invert")
    return [ToolCall("warptools", tuple(args), cwd=ctx.dir, item=ts)]


def run_tilt_series(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    if not (ctx.root / "mdoc" / f"{ts}.mdoc").exists():
        raise DriverError(f"mdoc/{ts}.mdoc missing (made by the import job)")
    driver.ensure_made(ctx, SETTINGS, lambda out: create_settings(ctx, out))
    driver.clear_previous(ctx, [ctx.path("tomostar", f"{ts}.tomostar")])
    if not driver.run_calls(ctx, commands(ctx, ts)):
        return
    try:
        tomostar = read_tomostar(ctx.path("tomostar", f"{ts}.tomostar"))
    except WarpFormatError:
        raise DriverError(f"ts_import wrote no tomostar/{ts}.tomostar (see the log)") from None
    kept = {movie_stem(m) for m in tomostar["wrpMovieName"]}
    out = table[[s in kept for s in driver.movie_stems(table)]]
    dropped = len(table) - len(out)
    if dropped:
        print(f"{ts}: Warp excluded {dropped} tilt(s)")
    driver.write_tilt_series(ctx, ts, out)


def gather(ctx: JobContext) -> None:
    driver.gather(ctx, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tilt_series, gather)
