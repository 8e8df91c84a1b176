#!/usr/bin/env python
"""reconstructParticle driver: the average of all extracted particles, with half maps.

Whole job: the particles of the upstream extraction get rlnRandomSubset 1/2 (a seeded random
split; without it RELION joins all particles in half1 and writes no half maps), written to
`particles.star`; relion_tomo_reconstruct_particle writes merged.mrc, half1.mrc, half2.mrc,
each checked (exists, finite, not constant). Job level: `optimisation_set.star` naming the
particles, the tomograms and the half maps (rlnTomoReferenceMap1File/2File) for refinement.

By hand:  cd External/jobNNN && crboost driver reconstructParticle [--print-commands]
"""

from __future__ import annotations

import os

import numpy as np
import starfile

from crboost import qc
from crboost.jobs.reconstructParticle import ReconstructParticleParams as Params
from crboost.qc.particles import central_slices
from crboost.relion.star import atomic_write, relion_text
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.running.particles import read_optimisation_set, write_optimisation_set
from crboost.tools.runner import ToolCall

MAPS = ("merged.mrc", "half1.mrc", "half2.mrc")


def threads() -> int:
    value = os.environ.get("SLURM_CPUS_PER_TASK")
    return int(value) if value and value.isdigit() else max(1, len(os.sched_getaffinity(0)))


def commands(ctx: JobContext) -> list[ToolCall]:
    p = ctx.params
    args = [
        "relion_tomo_reconstruct_particle",
        "--i", str(ctx.path("input_optimisation_set.star")),
        "--o", ctx.dir + "/",
        "--b", str(p["box_size"]),
        "--crop", str(p["crop_size"]),
        "--bin", f"{p['binning']:g}",
        "--sym", p["symmetry"],
        "--SNR", f"{p['snr']:g}",
        "--j", str(threads()),
        "--theme", "classic",
    ]  # fmt: skip
    return [ToolCall("relion", tuple(args))]


def split_halves(ctx: JobContext, tomograms: str) -> int:
    sets = read_optimisation_set(ctx.root / str(ctx.input_dir) / "optimisation_set.star")
    blocks = starfile.read(ctx.root / sets["rlnTomoParticlesFile"], always_dict=True)
    particles = blocks.get("particles")
    if particles is None or len(particles) == 0:
        raise DriverError(f"{sets['rlnTomoParticlesFile']}: no particles to average")
    order = np.random.default_rng(ctx.params["seed"]).permutation(len(particles))
    subset = np.empty(len(particles), dtype=int)
    subset[order] = np.arange(len(particles)) % 2 + 1
    particles = particles.copy()
    particles["rlnRandomSubset"] = subset
    blocks["particles"] = particles
    atomic_write(ctx.path("particles.star"), relion_text(blocks))
    atomic_write(ctx.path("input_optimisation_set.star"), relion_text({"": {
        "rlnTomoParticlesFile": str(ctx.path("particles.star")),
        "rlnTomoTomogramsFile": tomograms}}))  # fmt: skip
    return len(particles)


def check_maps(ctx: JobContext) -> None:
    import mrcfile

    paths = [ctx.root / ctx.path(m) for m in MAPS]
    driver.check_files(ctx, paths, "relion_tomo_reconstruct_particle")
    for path in paths:
        with mrcfile.open(path, permissive=True) as mrc:
            data = np.asarray(mrc.data, dtype=np.float32)
        if not np.isfinite(data).all() or float(data.std()) == 0.0:
            raise DriverError(f"{path.relative_to(ctx.root)}: empty or not finite")


def average(ctx: JobContext) -> None:
    sets = read_optimisation_set(ctx.root / str(ctx.input_dir) / "optimisation_set.star")
    count = split_halves(ctx, sets["rlnTomoTomogramsFile"])
    driver.clear_previous(ctx, [ctx.path(m) for m in MAPS])
    print(f"{count} particles in two half sets")
    driver.run_calls(ctx, commands(ctx))
    check_maps(ctx)
    qc.safely(
        central_slices, ctx.root / ctx.path("merged.mrc"), ctx.root / ctx.path("qc", "average.png")
    )
    write_optimisation_set(ctx, ctx.path("particles.star"), sets["rlnTomoTomogramsFile"], {
        "rlnTomoReferenceMap1File": str(ctx.path("half1.mrc")),
        "rlnTomoReferenceMap2File": str(ctx.path("half2.mrc"))})  # fmt: skip
    driver.finish(ctx, None, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], None, average, planned={"job": commands})
