#!/usr/bin/env python
"""tsImport driver: WarpTools ts_import of one tilt series (mdoc + frame series -> .tomostar).

Per tilt series: a folder `frameseries/<ts>/` of links to this tilt series' frame series in the
motion job (their XML, averages, even/odd halves, power spectra), so that `WarpTools ts_import
--pattern <ts>.mdoc --frameseries frameseries/<ts>` parses only its own XMLs (it parses every XML
of the folder it is given); `create_settings` for the tilt series once per job
(`warp_tiltseries.settings`, with the tomogram dimensions). Warp gives each tilt the dose
rank-in-DateTime x --tilt_exposure; the .tomostar's wrpDose is then set to the STAR's
rlnMicrographPreExposure (the mdoc's doses), so Warp weights with the same doses RELION sees.
The tilt series' STAR keeps the tilts Warp kept. Job level: `ts_import.star`.

By hand:  cd External/jobNNN && crboost driver tsImport --ts TS_01 [--print-commands]
"""

from __future__ import annotations

import os
import re
import shutil

from crboost.jobs.tsImport import TsImportParams as Params
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.tools.runner import ToolCall
from crboost.tools.warp import WarpFormatError, movie_stem, read_tomostar, set_tomostar_doses

SETTINGS = "warp_tiltseries.settings"
#: what of a frame series ts_import and the later tilt-series commands read, by folder
FRAME_SERIES_FILES = ("", "average", "average/even", "average/odd", "powerspectrum")


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
        "--frameseries", f"frameseries/{ts}",
        "--tilt_exposure", f"{p['dose_per_tilt']:g}",
        "--override_axis", f"{p['tilt_axis']:g}",
        "--min_intensity", f"{p['min_intensity']:g}",
        "--output", "tomostar",
    ]  # fmt: skip
    if p["dont_invert"]:
        args.append("--dont_invert")
    return [ToolCall("warptools", tuple(args), cwd=ctx.dir, item=ts)]


def link_frame_series(ctx: JobContext, ts: str, stems: list[str]) -> None:
    """frameseries/<ts>/ with relative links to this tilt series' frame-series files."""
    folder = ctx.root / ctx.path("frameseries", ts)
    if folder.exists():
        shutil.rmtree(folder)
    source = ctx.root / str(ctx.input_dir) / "warp_frameseries"
    for sub in FRAME_SERIES_FILES:
        for stem in stems:
            name = f"{stem}.xml" if not sub else f"{stem}.mrc"
            target = source / sub / name
            if not target.exists():
                continue
            link = folder / sub / name
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(target, link.parent), link)


def planned(ctx: JobContext, ts: str) -> list[ToolCall]:
    """What --print-commands shows for a tilt series (the settings only while not made)."""
    settings = [] if ctx.path(SETTINGS).exists() else [create_settings(ctx, SETTINGS)]
    return settings + commands(ctx, ts)


def run_tilt_series(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    if not (ctx.root / "mdoc" / f"{ts}.mdoc").exists():
        raise DriverError(f"mdoc/{ts}.mdoc missing (made by the import job)")
    driver.ensure_made(ctx, SETTINGS, lambda out: create_settings(ctx, out))
    driver.clear_previous(ctx, [ctx.path("tomostar", f"{ts}.tomostar")])
    link_frame_series(ctx, ts, driver.movie_stems(table))
    output = ""
    for call in commands(ctx, ts):
        result = ctx.run(call)
        output += result.stdout + result.stderr
    path = ctx.path("tomostar", f"{ts}.tomostar")
    try:
        tomostar = read_tomostar(path)
    except WarpFormatError:
        why = re.findall(r"Failed to parse [^:]*: (.*)", output) or ["see the log"]
        raise DriverError(f"ts_import wrote no tomostar/{ts}.tomostar: {why[-1]}") from None
    doses = dict(zip(driver.movie_stems(table), table["rlnMicrographPreExposure"], strict=True))
    try:
        set_tomostar_doses(
            path, {s: float(doses[s]) for s in map(movie_stem, tomostar["wrpMovieName"])}
        )
    except (KeyError, WarpFormatError) as e:
        raise DriverError(f"tomostar/{ts}.tomostar: cannot set the doses: {e}") from None
    kept = {movie_stem(m) for m in tomostar["wrpMovieName"]}
    out = table[[s in kept for s in driver.movie_stems(table)]]
    dropped = len(table) - len(out)
    if dropped:
        print(f"{ts}: Warp excluded {dropped} tilt(s)")
    driver.write_tilt_series(ctx, ts, out)


def gather(ctx: JobContext) -> None:
    driver.gather(ctx, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tilt_series, gather, planned={"item": planned})
