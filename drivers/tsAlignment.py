#!/usr/bin/env python
"""tsAlignment driver: tilt-series alignment with WarpTools and AreTomo2, AreTomo3 or IMOD.

Per tilt series: `WarpTools ts_aretomo` / `ts_aretomo3` / `ts_etomo_patches` on that tilt series
(--input_data tomostar/<ts>.tomostar) into this job's `warp_tiltseries/`, on one GPU, with its own
work queue where WarpTools has one. WarpTools starts AreTomo/IMOD from its own environment
(--exe: the name configured as tools.aretomo2/3.executable). With AreTomo3, patches '' means
`--patches 0,0` (WarpTools' own default is 4,4). Warp writes <ts>.xml even when the aligner
failed, so success is the aligner's own output: tiltstack/<ts>/<ts>.st.aln (AreTomo2),
tiltstack/<ts>/<ts>.aln (AreTomo3) or tiltstack/<ts>/<ts>.xf + .tlt (IMOD). The alignment goes into
rlnTomoXTilt/YTilt/ZRot/XShiftAngst/YShiftAngst (crboost/tools/alignment.py, conventions in
docs/conventions.md); tilts the aligner dropped are dropped. Job level: `aligned_tilt_series.star`.

By hand:  cd External/jobNNN && crboost driver tsAlignment --ts TS_01 [--print-commands]
"""

from __future__ import annotations

import pandas as pd

from crboost.jobs.tsAlignment import TsAlignmentParams as Params
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.tools.alignment import AlignmentError, from_aln, from_xf
from crboost.tools.runner import ToolCall
from crboost.tools.warp import WarpFormatError, movie_stem, read_tilt_series_xml, read_tomostar
from crboost.tools.warpenv import program_name

PROCESSING = "warp_tiltseries"


def commands(ctx: JobContext, ts: str) -> list[ToolCall]:
    p = ctx.params
    common = [
        "--settings", "warp_tiltseries.settings",
        "--input_data", f"tomostar/{ts}.tomostar",
        "--output_processing", PROCESSING,
        "--angpix", f"{p['angpix']:g}",
        "--perdevice", str(p["perdevice"]),
    ]  # fmt: skip
    alignz = str(int(round(p["sample_thickness_nm"] * 10)))
    if p["program"] == "imod":
        args = ["ts_etomo_patches", *common, "--patch_size", f"{p['imod_patch_size_nm'] * 10:g}"]
        if p["imod_axis_search"]:
            args.append("--do_axis_search")
    elif p["program"] == "aretomo2":
        args = ["ts_aretomo", *common, "--alignz", alignz, "--axis_iter", str(p["axis_iter"]),
                "--exe", program_name(ctx.config, "aretomo2")]  # fmt: skip
        if p["patches"]:
            args += ["--patches", p["patches"]]
    else:
        args = ["ts_aretomo3", *common, "--alignz", alignz, "--axis_iter", str(p["axis_iter"]),
                "--exe", program_name(ctx.config, "aretomo3"),
                "--patches", p["patches"].replace("x", ",") or "0,0"]  # fmt: skip
    return [ToolCall("warptools", tuple(args), cwd=ctx.dir, item=ts, gpus=1,
                     task_dir=f"{PROCESSING}/tasks/{ts}")]  # fmt: skip


def run_tilt_series(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    driver.carry_tilt_series_state(ctx)
    driver.clear_previous(
        ctx, [ctx.path(PROCESSING, f"{ts}.xml"), ctx.path(PROCESSING, "tiltstack", ts)]
    )
    try:
        driver.run_calls(ctx, commands(ctx, ts))
    except DriverError as e:
        missing = [str(f) for f in _results(ctx, ts) if not f.exists()]
        if missing:
            raise DriverError(f"alignment failed: {', '.join(missing)} missing ({e})",
                              e.stderr_tail, e.output) from None  # fmt: skip
        raise
    driver.write_tilt_series(ctx, ts, collect(ctx, ts, table))


def _results(ctx: JobContext, ts: str):
    """The aligner's own result files (what shows that it worked)."""
    stack_dir = ctx.path(PROCESSING, "tiltstack", ts)
    return {
        "aretomo2": [stack_dir / f"{ts}.st.aln"],
        "aretomo3": [stack_dir / f"{ts}.aln"],
        "imod": [stack_dir / f"{ts}.xf", stack_dir / f"{ts}.tlt"],
    }[ctx.params["program"]]


def collect(ctx: JobContext, ts: str, table: pd.DataFrame) -> pd.DataFrame:
    p = ctx.params
    folder = ctx.path(PROCESSING)
    try:
        meta = read_tilt_series_xml(folder / f"{ts}.xml")
    except WarpFormatError as e:
        raise DriverError(f"alignment failed: {e}") from None
    stack_dir = folder / "tiltstack" / ts
    result = _results(ctx, ts)
    if meta.unselected or not all(f.exists() for f in result):
        missing = ", ".join(str(f) for f in result if not f.exists()) or "(marked unselected)"
        raise DriverError(
            f"alignment failed: {missing} missing; WarpTools wrote {ts}.xml anyway (see the log)"
        )
    tomostar = read_tomostar(ctx.path("tomostar", f"{ts}.tomostar"))
    stems = [movie_stem(m) for m in tomostar["wrpMovieName"]]
    inverted = _angles_inverted(tomostar, table)
    stack_pixel = _stack_pixel(stack_dir / f"{ts}.st", p["angpix"])
    try:
        if p["program"] == "imod":
            rows = from_xf(result[0], result[1], stack_pixel, float(p["tilt_axis"]), inverted)
        else:
            rows = from_aln(result[0], stack_pixel, inverted, len(stems))
    except AlignmentError as e:
        raise DriverError(str(e)) from None
    by_stem = {stems[r.section]: r for r in rows if 0 <= r.section < len(stems)}
    out = table[[s in by_stem for s in driver.movie_stems(table)]].copy()
    aligned = [by_stem[s] for s in driver.movie_stems(out)]
    out["rlnTomoXTilt"] = [a.x_tilt for a in aligned]
    out["rlnTomoYTilt"] = [a.y_tilt for a in aligned]
    out["rlnTomoZRot"] = [a.z_rot for a in aligned]
    out["rlnTomoXShiftAngst"] = [a.x_shift_angst for a in aligned]
    out["rlnTomoYShiftAngst"] = [a.y_shift_angst for a in aligned]
    if len(out) < len(table):
        print(f"{ts}: the aligner dropped {len(table) - len(out)} tilt(s)")
    return out


def _angles_inverted(tomostar: pd.DataFrame, table: pd.DataFrame) -> bool:
    """Warp's ts_import inverts tilt angles unless --dont_invert: compare with the mdoc's."""
    nominal = dict(
        zip(driver.movie_stems(table), table["rlnTomoNominalStageTiltAngle"], strict=True)
    )
    score = 0.0
    for movie, angle in zip(tomostar["wrpMovieName"], tomostar["wrpAngleTilt"], strict=True):
        score += float(angle) * float(nominal.get(movie_stem(movie), 0.0))
    return score < 0


def _stack_pixel(stack, default: float) -> float:
    import mrcfile

    try:
        with mrcfile.open(stack, header_only=True, permissive=True) as mrc:
            size = float(mrc.voxel_size.x)
    except (OSError, ValueError):
        return float(default)
    return size if size > 0 else float(default)


def gather(ctx: JobContext) -> None:
    driver.gather(ctx, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tilt_series, gather, planned={"item": commands})
