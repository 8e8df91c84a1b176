#!/usr/bin/env python
"""subtomoExtraction driver: RELION's relion_tomo_subtomo on one tomogram's candidates.

Per tomogram (after the whole candidates job: RELION needs its tomograms.star rows): the
tomogram's candidates and row go into `tomo/<ts>/input_*.star`, and relion_tomo_subtomo writes
2D stacks into `tomo/<ts>/Subtomograms/<ts>/<n>_stack2d.mrcs` with its particles.star there.
Per tomogram rather than one RELION call: a tomogram failing leaves the others done and resumes
alone, tasks spread over nodes, and RELION's names (<tomo>/<n>, numbered per tomogram) are the
same either way. A tomogram without candidates runs nothing. Checked after: particles.star
exists, every stack exists, and not every candidate was dropped as too close to the edge (pytom
#254: inconsistent centre, pixel size or box).
Job level: `particles.star` (general, optics, particles: the tomograms' tables merged) and
`optimisation_set.star`.

By hand:  cd External/jobNNN && crboost driver subtomoExtraction --ts TS_01 [--print-commands]
"""

from __future__ import annotations

import os

import pandas as pd
import starfile

from crboost.jobs.subtomoExtraction import SubtomoExtractionParams as Params
from crboost.relion.star import atomic_write, relion_text, write_star
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.running.particles import read_optimisation_set, read_particles, write_optimisation_set
from crboost.tools.runner import ToolCall


def threads() -> int:
    value = os.environ.get("SLURM_CPUS_PER_TASK")
    return int(value) if value and value.isdigit() else max(1, len(os.sched_getaffinity(0)))


def inputs(ctx: JobContext) -> dict[str, str]:
    return read_optimisation_set(ctx.root / str(ctx.input_dir) / "optimisation_set.star")


def folder(ctx: JobContext, ts: str, name: str = "") -> str:
    return str(ctx.path("tomo", ts, name)) if name else str(ctx.path("tomo", ts)) + "/"


def commands(ctx: JobContext, ts: str) -> list[ToolCall]:
    p = ctx.params
    args = [
        "relion_tomo_subtomo",
        "--i", folder(ctx, ts, "input_optimisation_set.star"),
        "--o", folder(ctx, ts),
        "--b", str(p["box_size"]),
        "--crop", str(p["crop_size"]),
        "--bin", f"{p['binning']:g}",
        "--min_frames", str(p["min_frames"]),
        "--max_dose", f"{p['max_dose']:g}",
        "--stack2d",
        "--j", str(threads()),
        "--theme", "classic",
    ]  # fmt: skip
    if p["float16"]:
        args.append("--float16")
    return [ToolCall("relion", tuple(args), item=ts)]


def run_tomogram(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    sets = inputs(ctx)
    candidates = read_particles(ctx.root / sets["rlnTomoParticlesFile"])
    mine = (
        candidates[candidates["rlnTomoName"].astype(str) == ts] if len(candidates) else candidates
    )
    driver.clear_previous(ctx, [ctx.path("tomo", ts)])
    if mine.empty:
        print(f"{ts}: no candidates, nothing to extract")
        driver.write_tilt_series(ctx, ts, table)
        return
    tomograms = starfile.read(ctx.root / sets["rlnTomoTomogramsFile"], always_dict=True)["global"]
    row = tomograms[tomograms["rlnTomoName"].astype(str) == ts]
    if row.empty:
        raise DriverError(f"{sets['rlnTomoTomogramsFile']}: no row for {ts}")
    (ctx.root / folder(ctx, ts)).mkdir(parents=True, exist_ok=True)
    write_star(folder(ctx, ts, "input_particles.star"), {"particles": mine.reset_index(drop=True)})
    write_star(folder(ctx, ts, "input_tomograms.star"), {"global": row.reset_index(drop=True)})
    atomic_write(folder(ctx, ts, "input_optimisation_set.star"), relion_text({"": {
        "rlnTomoParticlesFile": folder(ctx, ts, "input_particles.star"),
        "rlnTomoTomogramsFile": folder(ctx, ts, "input_tomograms.star")}}))  # fmt: skip
    driver.run_calls(ctx, commands(ctx, ts))
    result = folder(ctx, ts, "particles.star")
    driver.check_files(ctx, [ctx.root / result], "relion_tomo_subtomo")
    extracted = read_particles(ctx.root / result)
    if extracted.empty:
        raise DriverError(f"relion_tomo_subtomo dropped all {len(mine)} candidates of {ts} as too "
                          "close to the edge of the tilt images (box too large, or coordinates, "
                          "pixel size or binning inconsistent; pytom #254)")  # fmt: skip
    missing = [n for n in extracted["rlnImageName"] if not (ctx.root / str(n)).exists()]
    driver.check_files(ctx, [ctx.root / m for m in missing], "relion_tomo_subtomo")
    if len(extracted) < len(mine):
        print(f"{ts}: {len(mine) - len(extracted)} of {len(mine)} candidates too close to the edge")
    driver.write_tilt_series(ctx, ts, table)


def gather(ctx: JobContext) -> None:
    optics, tables = None, []
    for ts in ctx.items():
        if not ctx.ts_star(ts).exists():
            raise DriverError(f"per-tomogram results missing for {ts}")
        path = ctx.root / folder(ctx, ts, "particles.star")
        if not path.exists():
            continue  # no candidates in this tomogram
        blocks = starfile.read(path, always_dict=True)
        if optics is None:
            optics = blocks["optics"]
        elif not blocks["optics"].equals(optics):
            raise DriverError(f"{path}: optics differ from the other tomograms'")
        tables.append(blocks["particles"])
    particles = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if optics is None:
        optics = pd.DataFrame()
    atomic_write(ctx.path(Params.output_star), relion_text({
        "general": {"rlnTomoSubTomosAre2DStacks": 1}, "optics": optics, "particles": particles}))  # fmt: skip
    write_optimisation_set(ctx, ctx.path(Params.output_star),
                           inputs(ctx)["rlnTomoTomogramsFile"])  # fmt: skip
    print(f"{len(particles)} particle(s) extracted")
    driver.finish(ctx, None, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tomogram, gather, planned={"item": commands})
