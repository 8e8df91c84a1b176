#!/usr/bin/env python
"""tiltFilter driver: keep the good tilts of one tilt series, by rules and by the user's word.

Per tilt series: each tilt of the upstream STAR file is judged by the job's rules (|tilt
angle|, CTF fit resolution, defocus range, accumulated motion, dark or empty image from the
tomostar's wrpAverageIntensity, as Warp's ts_import judges it); then the user's decisions in
curation.yaml (as the run started: .crboost/curation.json) drop or keep tilts whatever the
rules say. Written: `decisions/<ts>.json` (every tilt, kept or not, and why), this job's copy of
the Warp XML `warp_tiltseries/<ts>.xml` with UseTilt False for the dropped tilts (what
ts_reconstruct downstream reads), and last `tilt_series/<ts>.star` with the kept tilts only.
Job level: `selected_tilt_series.star`.

By hand:  cd External/jobNNN && crboost driver tiltFilter --ts TS_01
"""

from __future__ import annotations

import json
import math

import pandas as pd

from crboost.jobs.tiltFilter import TiltFilterParams as Params
from crboost.project.curation import CurationError, run_curation, tilt_decisions, tilts_of
from crboost.relion.star import atomic_write
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.tools.use_tilt import write_used_tilts
from crboost.tools.warp import WarpFormatError, movie_stem, read_tomostar

PROCESSING = "warp_tiltseries"
ANGLE = "rlnTomoNominalStageTiltAngle"


def rule_reasons(table: pd.DataFrame, p: dict, intensity: dict[str, float]) -> list[list[str]]:
    """Why the rules drop each tilt (an empty list: they keep it)."""
    stems = driver.movie_stems(table)
    reasons: list[list[str]] = [[] for _ in stems]
    for i, (_, row) in enumerate(table.iterrows()):
        angle = float(row[ANGLE])
        if abs(angle) > p["max_tilt_angle"]:
            reasons[i].append(f"|tilt| {abs(angle):.1f} > {p['max_tilt_angle']:g} degrees")
        res = row.get("rlnCtfMaxResolution")
        if p["max_ctf_resolution"] and res is not None and float(res) > p["max_ctf_resolution"]:
            reasons[i].append(
                f"CTF fit {float(res):.1f} A worse than {p['max_ctf_resolution']:g} A"
            )
        if "rlnDefocusU" in row and "rlnDefocusV" in row:
            defocus = (float(row["rlnDefocusU"]) + float(row["rlnDefocusV"])) / 2e4
            if p["min_defocus"] and defocus < p["min_defocus"]:
                reasons[i].append(f"defocus {defocus:.2f} um below {p['min_defocus']:g} um")
            if p["max_defocus"] and defocus > p["max_defocus"]:
                reasons[i].append(f"defocus {defocus:.2f} um above {p['max_defocus']:g} um")
        motion = row.get("rlnAccumMotionTotal")
        if p["max_motion"] and motion is not None and float(motion) > p["max_motion"]:
            reasons[i].append(f"motion {float(motion):.1f} A > {p['max_motion']:g} A")
    if p["min_intensity"]:
        for i, why in enumerate(dark_tilts(table, intensity, p["min_intensity"])):
            if why:
                reasons[i].append(why)
    return reasons


def dark_tilts(table: pd.DataFrame, intensity: dict[str, float], fraction: float) -> list[str]:
    """Warp ts_import's --min_intensity rule, per tilt: a tilt is dark (or empty) when its
    average intensity is below fraction x cos(angle) x the brightest of the 10 lowest tilts."""
    stems = driver.movie_stems(table)
    angles = [float(a) for a in table[ANGLE]]
    known = [(abs(a), intensity[s]) for s, a in zip(stems, angles, strict=True) if s in intensity]
    if not known:
        return ["" for _ in stems]
    reference = max(v for _, v in sorted(known)[:10])
    out = []
    for stem, angle in zip(stems, angles, strict=True):
        value = intensity.get(stem)
        limit = fraction * math.cos(math.radians(angle)) * reference * 0.999
        dark = value is not None and reference > 0 and value < limit
        out.append(f"dark: intensity {value:.3g} < {limit:.3g}" if dark else "")
    return out


def tomostar_intensity(ctx: JobContext, ts: str) -> dict[str, float]:
    path = ctx.path("tomostar", f"{ts}.tomostar")
    try:
        table = read_tomostar(path)
    except WarpFormatError as e:
        raise DriverError(str(e)) from None
    if "wrpAverageIntensity" not in table.columns:
        raise DriverError(f"{path}: no _wrpAverageIntensity column (needed by min_intensity)")
    return {
        movie_stem(m): float(v)
        for m, v in zip(table["wrpMovieName"], table["wrpAverageIntensity"], strict=True)
    }


def run_tilt_series(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    driver.carry_tilt_series_state(ctx)
    try:
        drop, keep = tilt_decisions(run_curation(ctx.root), ts, tilts_of(ctx.root, ts))
    except CurationError as e:
        raise DriverError(str(e)) from None
    p = ctx.params
    intensity = tomostar_intensity(ctx, ts) if p["min_intensity"] else {}
    stems = driver.movie_stems(table)
    tilts = []
    for stem, angle, reasons in zip(stems, table[ANGLE], rule_reasons(table, p, intensity),
                                    strict=True):  # fmt: skip
        if stem in drop:
            reasons = ["excluded in curation.yaml", *reasons]
        kept = stem in keep or stem not in drop and not reasons
        note = "kept by curation.yaml" if stem in keep and reasons else ""
        tilts.append({"movie": stem, "angle": float(angle), "kept": kept, "reasons": reasons,
                      **({"note": note} if note else {})})  # fmt: skip
    earlier = sorted((drop | keep) - set(stems))
    for stem in earlier:
        print(f"{ts}: {stem} is named in curation.yaml but was left out before this job")
    kept = [t["movie"] for t in tilts if t["kept"]]
    write_decisions(ctx, ts, tilts, earlier)
    dropped = [t for t in tilts if not t["kept"]]
    for t in dropped:
        print(f"{ts}: dropped {t['movie']} ({t['angle']:.1f} degrees): {'; '.join(t['reasons'])}")
    print(f"{ts}: kept {len(kept)} of {len(tilts)} tilts")
    if len(kept) < p["min_tilts"]:
        raise DriverError(
            f"{len(kept)} of {len(tilts)} tilts left after filtering (min_tilts "
            f"{p['min_tilts']}): exclude the tilt series (crboost exclude PROJECT {ts}) or "
            "relax the rules"
        )
    source = ctx.root / str(ctx.input_dir) / PROCESSING / f"{ts}.xml"
    try:
        write_used_tilts(source, ctx.root / ctx.path(PROCESSING, f"{ts}.xml"), set(kept))
    except WarpFormatError as e:
        raise DriverError(str(e)) from None
    driver.write_tilt_series(ctx, ts, table[[s in set(kept) for s in stems]])


def write_decisions(ctx: JobContext, ts: str, tilts: list[dict], earlier: list[str]) -> None:
    """Every tilt and why it was dropped, with the decisions applied (status and the report
    compare them with curation.yaml to show what would change)."""
    record = {
        "tilt_series": ts,
        "curation": run_curation(ctx.root).entry(ts),
        "kept": sum(t["kept"] for t in tilts),
        "total": len(tilts),
        "tilts": tilts,
        "left_out_before": earlier,
    }
    path = ctx.root / ctx.path("decisions", f"{ts}.json")
    path.parent.mkdir(exist_ok=True)
    atomic_write(path, json.dumps(record, indent=1) + "\n")


def gather(ctx: JobContext) -> None:
    for ts in ctx.items():
        try:
            record = json.loads((ctx.root / ctx.path("decisions", f"{ts}.json")).read_text())
        except (OSError, ValueError):
            continue
        print(f"{ts}: kept {record['kept']} of {record['total']} tilts")
    driver.gather(ctx, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tilt_series, gather)
