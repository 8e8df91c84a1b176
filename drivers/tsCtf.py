#!/usr/bin/env python
"""tsCtf driver: one defocus handedness for the dataset, then the CTF of each tilt series.

Prepare (once every tilt series is aligned): `WarpTools ts_defocus_hand --check` over all the
job's tilt series (the aligned XMLs read from the upstream job, saved into this job's
`hand_check/`, never upstream), its average correlation and the decision recorded in
`defocus_hand.json`: with defocus_hand: auto, 'flip' when the correlation is negative, else
'no flip' (Warp's own rule, DefocusHandTiltseries.cs); flip/noflip as configured (the check's
verdict is recorded next to it, and a disagreement printed). When tilt series are added later,
the check runs again over all of them but the earlier automatic decision is kept (a copy in
`hand_check/decision.json`): the tilt series done with it are not redone (the prepare output is
an `ancient` input of the items), and the dataset keeps one hand.
Per tilt series: the aligned tilt series' XML is copied from the upstream job into this job's
`warp_tiltseries/` (the upstream file is never touched), then, with --input_processing and
--output_processing both set to this job's folder: `ts_defocus_hand --set_flip` or
`--set_noflip` (the dataset's decision; the XML is checked for it afterwards) and `ts_ctf`. The
per-tilt defocus (GridCTF, DefocusDelta, DefocusAngle) goes into rlnDefocusU/V = D +- Delta/2,
rlnDefocusAngle and rlnCtfAstigmatism = Delta (Angstrom).
Job level: `ts_ctf_tilt_series.star`, with rlnTomoHand -1 for 'flip' (AreAnglesInverted), else 1.

By hand:  cd External/jobNNN && crboost driver tsCtf --ts TS_01 [--print-commands]
"""

from __future__ import annotations

import json
import re

import pandas as pd

from crboost.jobs.tsCtf import TsCtfParams as Params
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.tools.runner import ToolCall
from crboost.tools.warp import WarpFormatError, movie_stem, read_tilt_series_xml

PROCESSING = "warp_tiltseries"
HAND_FLAG = {"flip": "--set_flip", "noflip": "--set_noflip"}
CHECK_DIR = "hand_check"
#: the last decision, kept next to the evidence (the prepare output is re-made on each run)
DECISION = f"{CHECK_DIR}/decision.json"


def io_args(ts: str) -> list[str]:
    return [
        "--settings", "warp_tiltseries.settings",
        "--input_data", f"tomostar/{ts}.tomostar",
        "--input_processing", PROCESSING,
        "--output_processing", PROCESSING,
    ]  # fmt: skip


def commands(ctx: JobContext, ts: str, hand: str = "flip") -> list[ToolCall]:
    p = ctx.params
    ctf = [
        "ts_ctf", *io_args(ts),
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
        ToolCall(
            "warptools", ("ts_defocus_hand", *io_args(ts), HAND_FLAG[hand]), cwd=ctx.dir, item=ts
        ),  # fmt: skip
        ToolCall(
            "warptools",
            tuple(ctf),
            cwd=ctx.dir,
            item=ts,
            gpus=1,
            task_dir=f"{PROCESSING}/tasks/{ts}",
        ),  # fmt: skip
    ]


def check_command(ctx: JobContext, listing: str) -> ToolCall:
    args = ["ts_defocus_hand", "--settings", "warp_tiltseries.settings", "--input_data", listing,
            "--input_processing", ctx.rel(f"{ctx.input_dir}/{PROCESSING}"),
            "--output_processing", CHECK_DIR, "--check"]  # fmt: skip
    return ToolCall("warptools", tuple(args), cwd=ctx.dir)


def prepare(ctx: JobContext) -> dict:
    """The dataset's defocus handedness, with the evidence."""
    names = ctx.items()
    driver.carry_tilt_series_state(ctx)
    folder = ctx.root / ctx.path(CHECK_DIR)
    folder.mkdir(exist_ok=True)
    listing = f"{CHECK_DIR}/tilt_series.txt"
    (ctx.root / ctx.path(listing)).write_text("".join(f"tomostar/{ts}.tomostar\n" for ts in names))
    result = ctx.run(check_command(ctx, listing))
    found = re.search(r"Average correlation: (-?[0-9.]+)", result.stdout)
    if found is None:
        raise DriverError("ts_defocus_hand --check printed no average correlation (see the log)")
    correlation = float(found.group(1))
    measured = "flip" if correlation < 0 else "noflip"
    configured = ctx.params["defocus_hand"]
    decision = measured if configured == "auto" else configured
    kept = _kept_decision(ctx, names, configured)
    if kept and kept != measured:
        print(f"crboost: warning: ts_defocus_hand --check now says {measured} (average "
              f"correlation {correlation:.3f}); the dataset keeps {kept}, with which its tilt "
              "series were done (to decide again, delete this job's tilt_series/)", flush=True)  # fmt: skip
    decision = kept or decision
    summary = (
        f"{decision} (average correlation {correlation:.3f} over {len(names)} tilt series"
        + (f"; set by defocus_hand: {configured}" if configured != "auto" else "")
        + ("; kept from the earlier decision" if kept else "")
        + ")"
    )
    if configured != "auto" and configured != measured:
        print(f"crboost: warning: defocus_hand: {configured}, but ts_defocus_hand --check says "
              f"{measured} (average correlation {correlation:.3f})", flush=True)  # fmt: skip
    print(f"defocus hand: {summary}")
    result = {"defocus_hand": decision, "measured": measured, "average_correlation": correlation,
              "tilt_series": len(names), "configured": configured, "summary": summary,
              "status_line": f"defocus hand: {summary}"}  # fmt: skip
    (ctx.root / ctx.path(DECISION)).write_text(json.dumps(result, indent=1) + "\n")
    return result


def _kept_decision(ctx: JobContext, names: list[str], configured: str) -> str | None:
    """The earlier automatic decision, while tilt series done with it remain (a tilt series
    added later must not give the dataset two hands)."""
    try:
        previous = json.loads((ctx.root / ctx.path(DECISION)).read_text())
    except (OSError, ValueError):
        return None
    done = [ts for ts in names if (ctx.root / ctx.path("tilt_series", f"{ts}.star")).exists()]
    if configured == "auto" and previous.get("configured") == "auto" and done:
        return previous.get("defocus_hand")
    return None


def planned(ctx: JobContext, ts: str) -> list[ToolCall]:
    """What --print-commands shows for a tilt series: with the dataset's hand once decided."""
    try:
        hand = ctx.prepared()["defocus_hand"]
    except DriverError:
        hand = "flip"
        print(f"# the dataset's defocus hand is not decided yet (the prepare step decides it); "
              f"shown as {HAND_FLAG[hand]}", flush=True)  # fmt: skip
    return commands(ctx, ts, hand)


def planned_prepare(ctx: JobContext) -> list[ToolCall]:
    return [check_command(ctx, f"{CHECK_DIR}/tilt_series.txt")]


def run_tilt_series(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    hand = ctx.prepared()["defocus_hand"]
    driver.carry_tilt_series_state(ctx)
    driver.clear_previous(ctx, [ctx.path(PROCESSING, "powerspectrum", f"{ts}.mrc")])
    driver.copy_from_upstream(ctx, f"{PROCESSING}/{ts}.xml")
    set_hand, ctf = commands(ctx, ts, hand)
    ctx.run(set_hand)
    if _meta(ctx, ts).angles_inverted != (hand == "flip"):
        raise DriverError(f"ts_defocus_hand {HAND_FLAG[hand]} did not set the handedness of "
                          f"{ts}.xml (see the log)")  # fmt: skip
    driver.run_despite_settings_race(ctx, ctf, lambda: _has_ctf(ctx, ts))
    driver.write_tilt_series(ctx, ts, collect(ctx, ts, table))


def _meta(ctx: JobContext, ts: str):
    try:
        return read_tilt_series_xml(ctx.path(PROCESSING, f"{ts}.xml"))
    except WarpFormatError as e:
        raise DriverError(str(e)) from None


def _has_ctf(ctx: JobContext, ts: str) -> bool:
    try:
        return _meta(ctx, ts).has_ctf
    except DriverError:
        return False


def collect(ctx: JobContext, ts: str, table: pd.DataFrame) -> pd.DataFrame:
    meta = _meta(ctx, ts)
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
        u.append((defocus + delta / 2) * 1e4)
        v.append((defocus - delta / 2) * 1e4)
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
    driver.main(
        __doc__.splitlines()[1],
        run_tilt_series,
        gather,
        prepare,
        planned={"item": planned, "prepare": planned_prepare},
    )
