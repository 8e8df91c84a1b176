"""Simulated WarpTools alignment verbs: ts_aretomo, ts_aretomo3 and ts_etomo_patches
(AreTomoTiltseries.cs, AreTomo3Tiltseries.cs, EtomoPatchTrackTiltseries.cs, WarpWorker.cs,
TiltSeries.ImportAlignments.cs).

Per tilt series: the tilt stack (tiltstack/<ts>/<ts>.st at --angpix, <ts>.rawtlt), the aligner
started as an external program found on the WarpTools environment's PATH (Warp checks
`--exe`/batchruntomo first: Helper.ExeutableIsOnPath), with Warp's own fixed arguments, then the
aligner's .xf/.tlt imported into the XML (AxisAngle, AxisOffsetX/Y, Angles; see geometry.py).
--axis_iter N runs the aligner N times searching the axis and once more with the series' mean
axis fixed; with --axis_iter 0 the axis is never refined (-TiltAxis a -1).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .formats import Failure
from .geometry import STACK_TRUTH_ENV, stack_truth, truth_of_movie
from .warp_common import Context, iterate, workers
from .warp_meta import TiltSeriesMeta, euler_z_of, load, make_stack, save


def on_path(executable: str) -> bool:
    """Helper.ExeutableIsOnPath: a file of that name in a PATH folder (an absolute name is
    itself)."""
    return any(
        os.path.isfile(os.path.join(d, executable))
        for d in os.environ.get("PATH", "").split(os.pathsep)
    )


def _run_external(program: str, args: list[str], cwd: Path, ts: TiltSeriesMeta) -> None:
    """WarpWorker starts the aligner with Process.Start (its exit status is not looked at)."""
    print(f"Executing {program} in {cwd} with arguments: {' '.join(args)}", flush=True)
    sections = [truth_of_movie(ts.raw_movie(t)) for t in range(ts.n) if ts.use_tilt[t]]
    env = {**os.environ, STACK_TRUTH_ENV: stack_truth(sections)}
    try:
        subprocess.run([program, *args], cwd=cwd, env=env, check=False)
    except OSError as e:
        print(f"Failed to start {program}: {e}")


def import_alignments(ts: TiltSeriesMeta, folder: Path, stack_pixel: float) -> None:
    """TiltSeries.ImportAlignments: the first <ts>.xf / <ts>_st.xf (and .tlt) found."""
    dirs = [folder, folder.parent, folder / f"{ts.name}_Imod", folder / f"{ts.name}_aligned_Imod",
            folder.parent / f"{ts.name}_Imod"]  # fmt: skip
    stems = [ts.name, f"{ts.name}_st"]
    xf = next((d / f"{s}.xf" for d in dirs for s in stems if (d / f"{s}.xf").exists()), None)
    if xf is None:
        raise Failure(f"Could not find {ts.name}.xf")
    rows = np.loadtxt(xf, ndmin=2)
    used = [t for t in range(ts.n) if ts.use_tilt[t]]
    if len(rows) != len(used):
        raise Failure(f"{len(used)} active tilts in series, but {len(rows)} lines in {xf}")
    for t, (a11, a12, a21, a22, dx, dy) in zip(used, rows, strict=True):
        ts.axis[t] = euler_z_of(a11, a12, a21, a22)
        # Shift = Rotation^T (-d) x pixel, Rotation = [[a11, a12], [a21, a22]]
        ts.offset_x[t] = float((a11 * -dx + a21 * -dy) * stack_pixel)
        ts.offset_y[t] = float((a12 * -dx + a22 * -dy) * stack_pixel)
    tlt = next((d / f"{s}.tlt" for d in dirs for s in stems if (d / f"{s}.tlt").exists()), None)
    if tlt is None:
        raise Failure(f"Could not find {ts.name}.tlt")
    angles = np.loadtxt(tlt, ndmin=2)[:, 0]
    if len(angles) == len(used) and any(angles):
        for t, a in zip(used, angles, strict=True):
            ts.angles[t] = float(a)


def _align(o: dict, run_aligner, validate) -> None:
    ctx = Context(o)
    pixel = ctx.pixel
    angpix = float(o["angpix"]) if o.get("angpix") is not None else pixel
    if angpix < pixel - 1e-6:
        raise Failure("--angpix can't be smaller than the binned pixel size of the original data")
    if float(o["min_fov"]) > 1 or float(o["min_fov"]) < 0:
        raise Failure("--min_fov must be a fraction between 0 and 1")
    validate()
    workers(ctx)
    series: dict[Path, TiltSeriesMeta] = {}
    stacks: dict[Path, float] = {}

    def mean_axis() -> float:
        vectors = [(math.cos(math.radians(np.mean(s.axis))), math.sin(math.radians(np.mean(s.axis))))
                   for s in series.values()] or [(1.0, 0.0)]  # fmt: skip
        v = np.mean(vectors, axis=0)
        return math.degrees(math.atan2(v[1], v[0]))

    for item in ctx.items:
        series[item] = load(ctx.input / f"{item.stem}.xml", item, ctx.data_dir(item))
    axis = float(o["axis"]) if o.get("axis") is not None else mean_axis()
    iterations = int(o.get("axis_iter", 0) or 0)
    for iteration in range(iterations + 1):
        last = iteration == iterations
        print(f"Current tilt axis angle: {axis:.3f} °")

        def process(item: Path, iteration=iteration, last=last, axis=axis) -> None:
            ts = series[item]
            folder = ctx.output / "tiltstack" / ts.name
            if iteration == 0:
                stacks[item] = make_stack(ts, folder, pixel, angpix)
            run_aligner(ts, folder, stacks[item], axis, not last)
            import_alignments(ts, folder, stacks[item])
            if last:
                save(ts, ctx.output / f"{ts.name}.xml")

        def failed(item: Path) -> None:
            ts = series[item]
            ts.unselected = True
            save(ts, ctx.output / f"{ts.name}.xml")

        iterate(ctx, process, failed)
        axis = mean_axis()
    if o.get("delete_intermediate"):
        for ts in series.values():
            shutil.rmtree(ctx.output / "tiltstack" / ts.name, ignore_errors=True)


def _check_exe(o: dict) -> None:
    if not on_path(o["exe"]):
        raise Failure(f"Executable '{o['exe']}' not found on PATH")


def ts_aretomo(o: dict) -> None:
    if o["patches"]:
        try:
            nx, ny = (int(v) for v in o["patches"].split("x"))
        except ValueError:
            raise Failure("Patch grid dimensions must be specified as XxY, e.g. 5x5") from None
    else:
        nx = ny = 0

    def run(ts, folder, stack_pixel, axis, search):
        alignz = round(int(o["alignz"]) / stack_pixel)
        args = ["-InMrc", f"{ts.name}.st", "-AngFile", f"{ts.name}.rawtlt", "-VolZ", "0",
                "-OutBin", "0", "-TiltAxis", f"{axis:g}", "0" if search else "-1", "-AlignZ",
                str(alignz), "-TiltCor", "1", "-OutImod", "1", "-DarkTol", "0", "-OutMrc",
                f"{ts.name}_aligned.mrc", "-Gpu", "0", "-Patch", str(nx), str(ny)]  # fmt: skip
        _run_external(o["exe"], args, folder, ts)

    def validate():
        if int(o["alignz"]) < 1:
            raise Failure("--alignz can't be lower than 1")
        _check_exe(o)

    _align(o, run, validate)


def ts_aretomo3(o: dict) -> None:
    text = o["patches"] or "4,4"  # AreTomo3Tiltseries.cs: empty means the default 4,4
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise Failure("--patches must be two integers separated by a comma, e.g. 4,4")
    px, py = (int(p) for p in parts)

    def run(ts, folder, stack_pixel, axis, search):
        alignz = round(int(o["alignz"]) / stack_pixel)
        args = ["-InPrefix", ts.name, "-InSuffix", ".st", "-OutDir", str(folder),
                "-TiltAxis", f"{axis:g}", "0" if search else "-1", "-AlignZ", str(alignz),
                "-AtPatch", str(px), str(py), "-VolZ", "0", "-ExtZ", "0", "-OutImod", "2",
                "-TiltCor", "1", "-Cmd", "1", "-Serial", "1", "-CorrCTF", "0", "0",
                "-DarkTol", "0", "-Gpu", "0"]  # fmt: skip
        _run_external(o["exe"], args, folder, ts)

    _align(o, run, lambda: _check_exe(o))


def ts_etomo_patches(o: dict) -> None:
    o = dict(o, axis=o.get("initial_axis"), axis_iter=1 if o["do_axis_search"] else 0)

    def run(ts, folder, stack_pixel, axis, search):
        size = int(float(o["patch_size"]) / stack_pixel)
        directive = "\n".join([
            "setupset.copyarg.userawtlt = 1", "setupset.copyarg.stackext = st",
            f"setupset.copyarg.rotation = {axis:g}", f"setupset.copyarg.pixel = {stack_pixel / 10:g}",
            "setupset.copyarg.dual = 0", "runtime.Fiducials.any.trackingMethod = 1",
            f"comparam.xcorr_pt.tiltxcorr.SizeOfPatchesXandY = {size},{size}",
            "comparam.xcorr_pt.tiltxcorr.OverlapOfPatchesXandY = 0.8,0.8",
            f"comparam.align.tiltalign.RotOption = {-1 if search else 0}",
        ])  # fmt: skip
        with tempfile.NamedTemporaryFile("w", suffix=".adoc", delete=False) as f:
            f.write(directive + "\n")
        try:
            args = ["-DirectiveFile", f.name, "-CurrentLocation", str(folder), "-RootName",
                    ts.name, "-EndingStep", "5"]  # fmt: skip
            print(f"Running 'batchruntomo {' '.join(args)}'")
            _run_external("batchruntomo", args, folder, ts)
            print("Running 'submfg align.com'")
            _run_external("submfg", ["align.com"], folder, ts)
        finally:
            os.unlink(f.name)

    def validate():
        if float(o["patch_size"]) <= 0:
            raise Failure("--patch_size must be a positive number")
        if not on_path("batchruntomo"):
            raise Failure("IMOD program batchruntomo not found on PATH")

    _align(o, run, validate)
