"""Simulated WarpTools alignment verbs: ts_aretomo, ts_aretomo3 and ts_etomo_patches, which
run AreTomo2/AreTomo3/IMOD as external programs (here their simulated stand-ins)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .formats import write_processed_items, write_xml
from .warp_common import Context, make_stack, tilt_series_input, tilt_series_xml


def _run_external(program: str, args: list[str], cwd: Path) -> int:
    """WarpTools runs AreTomo/IMOD as external programs; here, their simulated stand-ins."""
    print(f"Executing {program} in {cwd} with arguments: {' '.join(args)}")
    proc = subprocess.run([sys.executable, "-m", "crboost.simulator", program, *args], cwd=cwd)
    return proc.returncode


def _import_alignments(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """TiltSeries.ImportAlignments: find <name>.xf / .tlt in Warp's search order."""
    dirs = [folder, folder.parent, folder / f"{name}_Imod", folder / f"{name}_aligned_Imod",
            folder.parent / f"{name}_Imod"]  # fmt: skip
    stems = [name, f"{name}_st"]
    xf = next((d / f"{s}.xf" for d in dirs for s in stems if (d / f"{s}.xf").exists()), None)
    tlt = next((d / f"{s}.tlt" for d in dirs for s in stems if (d / f"{s}.tlt").exists()), None)
    if xf is None or tlt is None:
        print(f"\nFailed to import alignments:\nCould not find {name}.xf")
        return None
    return np.loadtxt(xf, ndmin=2), np.loadtxt(tlt, ndmin=2)[:, 0]


def _align(o: dict, runner) -> None:
    ctx = Context(o)
    done = []
    for item in ctx.items:
        name = item.stem
        table, averages = tilt_series_input(ctx, item)
        folder, stack_pixel = make_stack(
            ctx, name, table, averages, float(o["angpix"]) if o.get("angpix") else None
        )
        axis = float(o["axis"]) if o.get("axis") else float(table["wrpAxisAngle"].iloc[0])
        runner(o, folder, name, axis, stack_pixel)
        result = _import_alignments(folder, name)
        if result is None:
            write_xml(
                ctx.output / f"{name}.xml",
                tilt_series_xml(
                    table, averages, ctx.output, axis, [(0, 0)] * len(table), unselected=True
                ),
            )
            print(f"Failed to process {item}, marked as unselected")
            continue
        xf, _ = result
        rot = math.degrees(math.atan2(xf[0][2], xf[0][0]))
        offsets = [(-float(r[4]) * stack_pixel, -float(r[5]) * stack_pixel) for r in xf]
        write_xml(
            ctx.output / f"{name}.xml", tilt_series_xml(table, averages, ctx.output, rot, offsets)
        )
        done.append({"Path": item.name, "ProcessingStatus": 1})
        if o.get("delete_intermediate"):
            import shutil

            shutil.rmtree(folder)
    write_processed_items(ctx.output, done)


def ts_aretomo(o: dict) -> None:
    def run(o, folder, name, axis, stack_pixel):
        alignz = round(int(o["alignz"]) / stack_pixel)
        nx, ny = [int(v) for v in o["patches"].split("x")] if o.get("patches") else [0, 0]
        args = ["-InMrc", f"{name}.st", "-AngFile", f"{name}.rawtlt", "-VolZ", "0", "-OutBin", "0",
                "-TiltAxis", f"{axis}", "-1", "-AlignZ", str(alignz), "-TiltCor", "1", "-OutImod", "1",
                "-DarkTol", "0", "-OutMrc", f"{name}_aligned.mrc", "-Gpu", "0", "-Patch", str(nx), str(ny)]  # fmt: skip
        _run_external(_external_name(o["exe"], "AreTomo2"), args, folder)

    _align(o, run)


def ts_aretomo3(o: dict) -> None:
    def run(o, folder, name, axis, stack_pixel):
        alignz = round(int(o["alignz"]) / stack_pixel)
        px, py = [int(v) for v in o["patches"].split(",")]
        args = ["-InPrefix", name, "-InSuffix", ".st", "-OutDir", str(folder.resolve()),
                "-TiltAxis", f"{axis}", "-1", "-AlignZ", str(alignz), "-AtPatch", str(px), str(py),
                "-VolZ", "0", "-ExtZ", "0", "-OutImod", "2", "-TiltCor", "1", "-Cmd", "1",
                "-Serial", "1", "-CorrCTF", "0", "0", "-DarkTol", "0", "-Gpu", "0"]  # fmt: skip
        _run_external(_external_name(o["exe"], "AreTomo3"), args, folder)

    _align(o, run)


def ts_etomo_patches(o: dict) -> None:
    def run(o, folder, name, axis, stack_pixel):
        size = int(float(o["patch_size"]) / stack_pixel)
        directive = "\n".join([
            "setupset.copyarg.userawtlt = 1", "setupset.copyarg.stackext = st",
            f"setupset.copyarg.rotation = {axis}", f"setupset.copyarg.pixel = {stack_pixel / 10}",
            "setupset.copyarg.dual = 0", "runtime.Fiducials.any.trackingMethod = 1",
            f"comparam.xcorr_pt.tiltxcorr.SizeOfPatchesXandY = {size},{size}",
            "comparam.xcorr_pt.tiltxcorr.OverlapOfPatchesXandY = 0.8,0.8",
            f"comparam.align.tiltalign.RotOption = {-1 if o['do_axis_search'] else 0}",
        ])  # fmt: skip
        with tempfile.NamedTemporaryFile("w", suffix=".adoc", delete=False) as f:
            f.write(directive + "\n")
        try:
            if (
                _run_external(
                    "batchruntomo",
                    [
                        "-DirectiveFile",
                        f.name,
                        "-CurrentLocation",
                        str(folder),
                        "-RootName",
                        name,
                        "-EndingStep",
                        "5",
                    ],
                    folder,
                )
                == 0
            ):
                _run_external("submfg", ["align.com"], folder)
        finally:
            os.unlink(f.name)

    _align(o, run)


def _external_name(exe: str, default: str) -> str:
    base = os.path.basename(exe).lower()
    return "AreTomo3" if "aretomo3" in base else ("AreTomo2" if "aretomo" in base else default)
