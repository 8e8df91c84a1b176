#!/usr/bin/env python
"""fsMotionAndCtf driver: WarpTools motion correction and CTF of one tilt series' movies.

Per tilt series (`--ts NAME`): `WarpTools fs_motion_and_ctf` on that tilt series' movies only
(--input_data), in this job's own `warp_frameseries/` (settings made once by create_settings),
on one GPU (--device_list) with its own work queue (--task_dir, where WarpTools has one);
then the tilt series' STAR gets the averages (+ even/odd), power spectra and the CTF fit:
rlnDefocusU/V = Defocus +- DefocusDelta / 2 (Warp's CTF model, CTF.cs), rlnCtfAstigmatism =
DefocusDelta, rlnDefocusAngle = DefocusAngle (Angstrom; Warp writes micrometres).
Job level (`--gather`): `fs_motion_and_ctf.star`, with rlnTomoTiltSeriesPixelSize.

By hand:  cd External/jobNNN && crboost driver fsMotionAndCtf --ts TS_01 [--print-commands]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crboost.jobs.fsMotionAndCtf import FsMotionAndCtfParams as Params
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.tools.runner import ToolCall
from crboost.tools.warp import WarpFormatError, read_movie_xml

SETTINGS = "warp_frameseries.settings"
PROCESSING = "warp_frameseries"


def create_settings(ctx: JobContext, output: str) -> ToolCall:
    p = ctx.params
    extension = "*" + (Path(ctx.config.data.movies).suffix or ".tif")
    args = [
        "create_settings",
        "--folder_data", ctx.rel("frames"),
        "--extension", extension,
        "--folder_processing", PROCESSING,
        "--output", output,
        "--angpix", f"{p['pixel_size']:g}",
        "--exposure", f"{p['dose_per_tilt']:g}",
    ]  # fmt: skip
    if p["eer_ngroups"] and extension == "*.eer":
        args += ["--eer_ngroups", str(p["eer_ngroups"])]  # positive: number of groups
    if p["gain_reference"]:
        gain = Path(p["gain_reference"])
        args += ["--gain_path", str(gain if gain.is_absolute() else ctx.root / gain)]
        for flag in ("gain_flip_x", "gain_flip_y", "gain_transpose"):
            if p[flag]:
                args.append(f"--{flag}")
    return ToolCall("warptools", tuple(args), cwd=ctx.dir)


def commands(ctx: JobContext, ts: str, table: pd.DataFrame) -> list[ToolCall]:
    p = ctx.params
    movies = [ctx.rel(m) for m in table["rlnMicrographMovieName"]]
    args = [
        "fs_motion_and_ctf",
        "--settings", SETTINGS,
        "--input_data", *movies,
        "--m_range_min", f"{p['m_range_min']:g}",
        "--m_range_max", f"{p['m_range_max']:g}",
        "--m_bfac", f"{p['m_bfac']:g}",
        "--m_grid", p["m_grid"],
        "--c_window", str(p["c_window"]),
        "--c_range_min", f"{p['c_range_min']:g}",
        "--c_range_max", f"{p['c_range_max']:g}",
        "--c_defocus_min", f"{p['c_defocus_min']:g}",
        "--c_defocus_max", f"{p['c_defocus_max']:g}",
        "--c_voltage", str(round(p["voltage"])),
        "--c_cs", f"{p['cs']:g}",
        "--c_amplitude", f"{p['amplitude_contrast']:g}",
        "--c_grid", p["c_grid"],
        "--out_averages",
        "--out_skip_first", str(p["out_skip_first"]),
        "--out_skip_last", str(p["out_skip_last"]),
        "--perdevice", str(p["perdevice"]),
    ]  # fmt: skip
    for flag in ("out_average_halves", "c_fit_phase", "c_use_sum"):
        if p[flag]:
            args.append(f"--{flag}")
    return [ToolCall("warptools", tuple(args), cwd=ctx.dir, item=ts, gpus=1,
                     task_dir=f"{PROCESSING}/tasks/{ts}")]  # fmt: skip


def planned(ctx: JobContext, ts: str) -> list[ToolCall]:
    """What --print-commands shows for a tilt series (the settings only while not made)."""
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    settings = [] if ctx.path(SETTINGS).exists() else [create_settings(ctx, SETTINGS)]
    return settings + commands(ctx, ts, table)


def run_tilt_series(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    driver.ensure_made(ctx, SETTINGS, lambda out: create_settings(ctx, out))
    folder = ctx.path(PROCESSING)
    driver.clear_previous(ctx, [
        path
        for s in driver.movie_stems(table)
        for path in (folder / f"{s}.xml", folder / "average" / f"{s}.mrc",
                     folder / "average" / "even" / f"{s}.mrc", folder / "average" / "odd" / f"{s}.mrc",
                     folder / "powerspectrum" / f"{s}.mrc")
    ])  # fmt: skip
    [call] = commands(ctx, ts, table)
    driver.run_despite_settings_race(ctx, call, lambda: _complete(ctx, table))
    driver.write_tilt_series(ctx, ts, collect(ctx, table))


def _complete(ctx: JobContext, table: pd.DataFrame) -> bool:
    try:
        collect(ctx, table)
    except DriverError:
        return False
    return True


def collect(ctx: JobContext, table: pd.DataFrame) -> pd.DataFrame:
    folder = ctx.path(PROCESSING)
    halves = ctx.params["out_average_halves"]
    stems = driver.movie_stems(table)
    expected = [folder / f"{s}.xml" for s in stems] + [
        folder / "average" / f"{s}.mrc" for s in stems
    ]
    expected += [folder / "powerspectrum" / f"{s}.mrc" for s in stems]
    if halves:
        expected += [folder / "average" / h / f"{s}.mrc" for s in stems for h in ("even", "odd")]
    driver.check_files(ctx, expected, "fs_motion_and_ctf")
    out = table.copy()
    out["rlnMicrographName"] = [str(folder / "average" / f"{s}.mrc") for s in stems]
    if halves:
        out["rlnMicrographNameEven"] = [
            str(folder / "average" / "even" / f"{s}.mrc") for s in stems
        ]
        out["rlnMicrographNameOdd"] = [str(folder / "average" / "odd" / f"{s}.mrc") for s in stems]
    out["rlnCtfPowerSpectrum"] = [str(folder / "powerspectrum" / f"{s}.mrc") for s in stems]
    rows = []
    for stem in stems:
        try:
            meta = read_movie_xml(folder / f"{stem}.xml")
        except WarpFormatError as e:
            raise DriverError(str(e)) from None
        if meta.unselected:
            raise DriverError(f"{stem}: Warp marked the movie unselected (see the log)")
        u = (meta.defocus_um + meta.defocus_delta_um / 2) * 1e4
        v = (meta.defocus_um - meta.defocus_delta_um / 2) * 1e4
        rows.append((meta.mean_frame_movement, u, v, meta.defocus_angle, u - v, meta.resolution))
    cols = ["rlnAccumMotionTotal", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle",
            "rlnCtfAstigmatism", "rlnCtfMaxResolution"]  # fmt: skip
    for i, col in enumerate(cols):
        out[col] = [r[i] if r[i] is not None else 0.0 for r in rows]
    return out


def gather(ctx: JobContext) -> None:
    def update(table: pd.DataFrame) -> pd.DataFrame:
        table["rlnTomoTiltSeriesPixelSize"] = float(ctx.params["pixel_size"])
        return table

    driver.gather(ctx, Params.output_star, Params.output_node_label, update)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tilt_series, gather, planned={"item": planned})
