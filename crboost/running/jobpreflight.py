"""Checks of the particle jobs' inputs when a run starts, before any tool of the run runs.

From the config, the manifest and the template files alone (the tomograms may not exist yet):
the tomograms' shape is what tsReconstruct will make of tsImport's tomogram dimensions. A
problem stops the run with one line per problem (crboost/tools/inputchecks.py says what is
checked and why); the drivers check the same again on the real files before their tool runs.
Only jobs with work in the run are checked.
"""

from __future__ import annotations

from pathlib import Path

from ..acquisition.manifest import read_record
from ..errors import CrboostError
from ..project.load import Job, Project
from ..tools.inputchecks import check_patch, check_template, duplicate_message, duplicate_tilts


def upstream_of_type(job: Job, job_type: str) -> Job | None:
    node = job.upstream
    while node is not None and node.type != job_type:
        node = node.upstream
    return node


def planned_tomogram_shape(job: Job) -> tuple[tuple[int, int, int], float] | None:
    """(nx, ny, nz) and voxel size of the tomograms the job's tsReconstruct makes, as WarpTools
    makes them (dimensions at the tilt series' pixel size, scaled and rounded to even)."""
    reconstruct = upstream_of_type(job, "tsReconstruct")
    imported = upstream_of_type(reconstruct, "tsImport") if reconstruct else None
    if reconstruct is None or imported is None:
        return None
    p = imported.params
    angpix = float(reconstruct.params.angpix)
    dims = [*p.detector_size, p.tomo_z]
    shape = tuple(max(2, int(round(d * p.pixel_size / angpix / 2)) * 2) for d in dims)
    return shape, angpix


def problems_of(project: Project, job: Job) -> list[str]:
    where = f"pipeline.{job.name}.params"
    planned = planned_tomogram_shape(job)
    reconstruct = upstream_of_type(job, "tsReconstruct")
    out = []
    if job.type == "denoisetrain":
        if reconstruct is not None and not reconstruct.params.halfmap_frames:
            out.append(f"{where}: denoisetrain needs half tomograms; set halfmap_frames: true in job "
                       f"{reconstruct.name!r}")  # fmt: skip
        names = set(project.items(job))
        unknown = [n for n in job.params.tomograms if n not in names]
        if unknown:
            out.append(f"{where}: tomograms {', '.join(unknown)}: no such tomogram")
        if planned is not None:
            problem = check_patch(planned[0], job.params.subvolume_dimensions, where,
                                  "the tomograms will be", job.params.split)  # fmt: skip
            if problem:
                out.append(problem)
    elif job.type == "templatematching":
        root = project.root
        template, mask = (_path(root, job.params.template), _path(root, job.params.mask))
        white = None if reconstruct is None else not reconstruct.params.dont_invert
        shape, angpix = planned if planned else (None, None)
        if angpix is None and reconstruct is not None:
            angpix = float(reconstruct.params.angpix)
        if angpix is not None:
            out += check_template(template, mask, angpix, shape, white, where)
        if job.params.duplicate_tilts == "stop":
            for ts in project.items(job):
                record = project.manifest.records.get(ts) or read_record(root, ts)
                angles = [t["tilt_angle"] for t in record["tilts"]]
                pairs = duplicate_tilts(angles)
                if pairs:
                    out.append(duplicate_message(ts, angles, pairs, where))
                    break
    return out


def _path(root: Path, value: str) -> Path:
    return Path(value) if Path(value).is_absolute() else root / value


def check_planned_jobs(project: Project, planned_dirs: set[str] | None) -> None:
    problems = []
    for job in project.jobs:
        if planned_dirs is not None and job.dir not in planned_dirs:
            continue
        problems += problems_of(project, job)
    if problems:
        raise CrboostError("\n".join(problems))
