#!/usr/bin/env python
"""tsCtf driver: defocus handedness and CTF of one tilt series with WarpTools.

Per tilt series: the aligned tilt series' XML is copied from the upstream job into this job's
`warp_tiltseries/` (the upstream file is never touched), then, with --input_processing and
--output_processing both set to this job's folder: `ts_defocus_hand --check` (logged), the
handedness set (`--set_auto`, `--set_flip` or `--set_noflip`), and `ts_ctf`. The per-tilt
defocus (GridCTF) goes into rlnDefocusU/V/Angle and rlnCtfAstigmatism.
Job level: `ts_ctf_tilt_series.star`, with rlnTomoHand from the handedness Warp settled on.

By hand:  cd External/jobNNN && crboost driver tsCtf --ts TS_01 [--print-commands]
"""

from __future__ import annotations

import pandas as pd

from crboost.jobs.tsCtf import TsCtfParams as Params
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.tools.runner import ToolCall
from crboost.tools.warp import WarpFormatError, movie_stem, read_tilt_series_xml

PROCESSING = "warp_tiltseries"
HAND_FLAG = {"auto": "--set_auto", "flip": "--set_flip", "noflip": "--set_noflip"}


def commands(ctx: JobContext, ts: str) -> list[ToolCall]:
    p = ctx.params
    common = [
        "--settings", "warp_tiltseries.settings",
        "--input_data", f"tomostar/{ts}.tomostar",
        "--input_processing", PROCESSING,
        "--output_processing", PROCESSING,
    ]  # fmt: skip
    ctf = [
        "ts_ctf", *common,
        "--window", str(p["window"]),
        "--range_low", f"{p['range_low']:g}",
        "--range_high", f"{p['range_high']:g}",
        "--defocus_min", f"{p['defocus_min']:g}",
        "--defocus_max", f"{p['defocus_max']:g}",
        "--voltage", str(round(p["voltage"])),
        "--cs", f"{p['cs']:g}",
        "--amplitude", f"{p['amplitude_contrast']:g}",
        "--perdevice", str(p["perdevice"]),
    ]  # fmt: skip
    if p["fit_phase"]:
        ctf.append("--fit_phase")
    return [
        ToolCall("warptools", ("ts_defocus_hand", *common, "--check"), cwd=ctx.dir, item=ts),
        ToolCall(
            "warptools",
            ("ts_defocus_hand", *common, HAND_FLAG[p["defocus_hand"]]),
            cwd=ctx.dir,
            item=ts,
        ),  # fmt: skip
        ToolCall("warptools", tuple(ctf), cwd=ctx.dir, item=ts),
    ]


def run_tilt_series(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    driver.carry_tilt_series_state(ctx)
    driver.clear_previous(ctx, [ctx.path(PROCESSING, "powerspectrum", f"{ts}.mrc")])
    driver.copy_from_upstream(ctx, f"{PROCESSING}/{ts}.xml")
    if not driver.run_calls(ctx, commands(ctx, ts)):
        return
    driver.write_tilt_series(ctx, ts, collect(ctx, ts, table))


def collect(ctx: JobContext, ts: str, table: pd.DataFrame) -> pd.DataFrame:
    try:
        meta = read_tilt_series_xml(ctx.path(PROCESSING, f"{ts}.xml"))
    except WarpFormatError as e:
        raise DriverError(str(e)) from None
    if not meta.has_ctf:
        raise DriverError(f"ts_ctf wrote no per-tilt defocus into {ts}.xml (see the log)")
    index = {movie_stem(m): i for i, m in enumerate(meta.movie_paths)}
    stems = driver.movie_stems(table)
    absent = [s for s in stems if s not in index]
    if absent:
        raise DriverError(f"{ts}.xml has no CTF for {', '.join(absent[:3])}")
    out = table.copy()
    u, v, angle = [], [], []
    for stem in stems:
        i = index[stem]
        defocus, delta = meta.defocus[i], meta.defocus_delta.get(i, 0.0)
        u.append((defocus + delta) * 1e4)
        v.append((defocus - delta) * 1e4)
        angle.append(meta.defocus_angle.get(i, 0.0))
    out["rlnDefocusU"], out["rlnDefocusV"], out["rlnDefocusAngle"] = u, v, angle
    out["rlnCtfAstigmatism"] = [a - b for a, b in zip(u, v, strict=True)]
    return out


def gather(ctx: JobContext) -> None:
    def update(table: pd.DataFrame) -> pd.DataFrame:
        hands = []
        for ts in table["rlnTomoName"]:
            meta = read_tilt_series_xml(ctx.path(PROCESSING, f"{ts}.xml"))
            hands.append(-1 if meta.angles_inverted else 1)
        table["rlnTomoHand"] = hands
        return table

    driver.gather(ctx, Params.output_star, Params.output_node_label, update)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tilt_series, gather)
