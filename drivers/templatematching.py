#!/usr/bin/env python
"""templatematching driver: pytom_match_template.py on one tomogram.

Per tomogram: the searched volume (denoised if there is one, else the raw tomogram; param
`volume`) is linked as `tomograms/<ts>.mrc`, since pytom names its outputs after the file's stem;
its tilt angles (rlnTomoNominalStageTiltAngle), defocus (mean of rlnDefocusU/V, um) and
pre-exposure doses go into text files in angle order, from the tilt-series STAR of the upstream
job (the tilts it kept). Checked first: template and mask against the tomogram (voxel size, box,
contrast), duplicate tilt angles. Run into `tm/<ts>/`; checked after: scores, angles and job JSON
exist, the job statistics are finite (pytom exits 0 with NaN ones, pytom #348).
Job level: `tomograms.star` (the upstream rows).

By hand:  cd External/jobNNN && crboost driver templatematching --ts TS_01 [--print-commands]
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from crboost import qc
from crboost.jobs.templatematching import TemplateMatchingParams as Params
from crboost.qc.particles import score_map
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.running.tomograms import link_into, tomogram_files, upstream, volume_info
from crboost.tools.gpus import logical_gpu_ids
from crboost.tools.inputchecks import check_template, duplicate_message, duplicate_tilts
from crboost.tools.runner import ToolCall

ANGLE, DOSE = "rlnTomoNominalStageTiltAngle", "rlnMicrographPreExposure"


def volume(ctx: JobContext, ts: str) -> Path:
    files = tomogram_files(ctx, ts)
    choice = ctx.params["volume"]
    if choice == "denoised" and files.denoised is None:
        raise DriverError("params volume = denoised: no denoisepredict job upstream")
    if choice == "raw" or (choice == "auto" and files.denoised is None):
        return files.raw
    return files.denoised


def project_path(ctx: JobContext, path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else ctx.root / path


def tilts(ctx: JobContext, ts: str):
    """The tilt table in angle order, duplicates checked (and dropped if asked)."""
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    missing = [c for c in (ANGLE, DOSE, "rlnDefocusU", "rlnDefocusV") if c not in table.columns]
    if missing:
        raise DriverError(f"{ctx.upstream_ts_star(ts)}: no {', '.join(missing)}")
    ordered = table.sort_values(ANGLE, kind="stable").reset_index(drop=True)
    angles = [float(a) for a in ordered[ANGLE]]
    pairs = duplicate_tilts(angles)
    if pairs and ctx.params["duplicate_tilts"] == "stop":
        raise DriverError(duplicate_message(ts, angles, pairs, "templatematching"))
    if pairs:
        doses = ordered[DOSE].to_numpy(dtype=float)
        later = {b if doses[b] >= doses[a] else a for a, b in pairs}
        print(f"leaving {len(later)} later-acquired duplicate tilt(s) out of the weighting")
        ordered = ordered.drop(index=sorted(later)).reset_index(drop=True)
    return table, ordered


def input_files(ctx: JobContext, ts: str) -> dict[str, Path]:
    """pytom's text inputs of a tomogram (project-relative)."""
    folder = ctx.path("tm", ts)
    return {
        "tlt": folder / f"{ts}.tlt",
        "defocus": folder / f"{ts}_defocus.txt",
        "dose": folder / f"{ts}_dose.txt",
    }


def write_inputs(ctx: JobContext, ts: str, ordered) -> dict[str, Path]:
    files = input_files(ctx, ts)
    (ctx.root / files["tlt"]).parent.mkdir(parents=True, exist_ok=True)
    defocus_um = (ordered["rlnDefocusU"] + ordered["rlnDefocusV"]) / 2 / 1e4
    for key, values, fmt in (("tlt", ordered[ANGLE], "{:.3f}"), ("defocus", defocus_um, "{:.4f}"),
                             ("dose", ordered[DOSE], "{:.3f}")):  # fmt: skip
        (ctx.root / files[key]).write_text("".join(fmt.format(float(v)) + "\n" for v in values))
    return files


def planned(ctx: JobContext, ts: str) -> list[ToolCall]:
    return commands(ctx, ts, input_files(ctx, ts))


def commands(ctx: JobContext, ts: str, inputs: dict[str, Path]) -> list[ToolCall]:
    p = ctx.params
    args = [
        "pytom_match_template.py",
        "-t", str(project_path(ctx, p["template"])),
        "-m", str(project_path(ctx, p["mask"])),
        "-v", str(ctx.path("tomograms", f"{ts}.mrc")),
        "-d", str(ctx.path("tm", ts)),
        "--tilt-angles", str(inputs["tlt"]),
        "--per-tilt-weighting",
        "--angular-search", f"{p['angular_search']:g}",
    ]  # fmt: skip
    if p["dose_weighting"]:
        args += ["--dose-accumulation", str(inputs["dose"])]
    if p["ctf_weighting"]:
        args += ["--defocus", str(inputs["defocus"]), "--voltage", f"{p['voltage']:g}",
                 "--spherical-aberration", f"{p['cs']:g}",
                 "--amplitude-contrast", f"{p['amplitude_contrast']:g}"]  # fmt: skip
    if p["symmetry"] > 1:
        args += ["--z-axis-rotational-symmetry", str(p["symmetry"])]
    if tuple(p["volume_split"]) != (1, 1, 1):
        args += ["-s", *(str(v) for v in p["volume_split"])]
    for flag in ("non_spherical_mask", "spectral_whitening", "random_phase_correction"):
        if p[flag]:
            args.append("--" + flag.replace("_", "-"))
    for key in ("low_pass", "high_pass"):
        if p[key] is not None:
            args += ["--" + key.replace("_", "-"), f"{p[key]:g}"]
    args += ["-g", *(str(g) for g in logical_gpu_ids())]
    return [ToolCall("pytom", tuple(args), item=ts)]


def white_density(ctx: JobContext) -> bool:
    """Warp inverts the contrast unless dont_invert: white density by default."""
    return not upstream(ctx, "tsReconstruct")[1].get("dont_invert", False)


def run_tomogram(ctx: JobContext, ts: str) -> None:
    table, ordered = tilts(ctx, ts)
    source = volume(ctx, ts)
    shape, voxel = volume_info(ctx.root / source)
    p = ctx.params
    problems = check_template(project_path(ctx, p["template"]), project_path(ctx, p["mask"]),
                              voxel, shape, white_density(ctx), "templatematching")  # fmt: skip
    if problems:
        raise DriverError(problems[0])
    outputs = [ctx.path("tm", ts, f"{ts}{suffix}") for suffix in ("_scores.mrc", "_angles.mrc",
                                                                  "_job.json")]  # fmt: skip
    driver.clear_previous(ctx, outputs)
    link_into(ctx, f"{ts}.mrc", source)
    inputs = write_inputs(ctx, ts, ordered)
    driver.run_calls(ctx, commands(ctx, ts, inputs))
    driver.check_files(ctx, [ctx.root / o for o in outputs], "pytom_match_template.py")
    check_result(ctx, ts, outputs)
    qc.safely(score_map, ctx.root / outputs[0], ctx.root / ctx.path("qc", f"{ts}_scores.png"))
    driver.write_tilt_series(ctx, ts, table)


def check_result(ctx: JobContext, ts: str, outputs) -> None:
    import mrcfile

    job = json.loads((ctx.root / outputs[2]).read_text())
    stats = job.get("job_stats") or {}
    bad = [k for k in ("variance", "std") if not _finite(stats.get(k))]
    if bad:
        raise DriverError(f"pytom_match_template.py: job statistics {', '.join(bad)} are NaN "
                          f"(all scores -inf?) in {outputs[2]}; duplicate tilt angles (pytom "
                          "#348)? Its exit status was 0")  # fmt: skip
    with mrcfile.open(ctx.root / outputs[0], permissive=True) as mrc:
        scores = np.asarray(mrc.data, dtype=np.float32)
    if not np.isfinite(scores).any():
        raise DriverError(f"{outputs[0]}: no finite score")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def gather(ctx: JobContext) -> None:
    driver.gather(ctx, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tomogram, gather, planned={"item": planned})
