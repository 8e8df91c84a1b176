"""Tomograms as the jobs after tsReconstruct find them: by RELION's names, along the job chain.

Every job that makes tomograms names them as RELION's own jobs do, in its `tomograms/` folder:
tsReconstruct `rec_<ts>.mrc`, `rec_<ts>_half1.mrc`, `rec_<ts>_half2.mrc` (links to WarpTools'
files; relion_python_tomo_denoise only round-trips this naming, relion-consumes.md F1) and
denoisepredict `rec_<ts>.mrc` (the denoised one). A per-tomogram task finds the files of its
tomogram without the upstream job's tomograms.star (written only when all its tomograms are
done): it walks up the chain of jobs (each job dir's job_params.json names its input job) to the
nearest job of the type that makes the kind of volume it needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..project.load import PARAMS_FILE
from .jobcontext import DriverError, JobContext

FOLDER = "tomograms"
#: job type -> the volume kind its tomograms/rec_<ts>.mrc is
MAKERS = {"tsReconstruct": "raw", "denoisepredict": "denoised"}


def rec_name(ts: str, half: int | None = None) -> str:
    return f"rec_{ts}_half{half}.mrc" if half else f"rec_{ts}.mrc"


def chain(ctx: JobContext) -> list[tuple[str, str, dict]]:
    """The upstream jobs, nearest first: (dir, type, params)."""
    out = []
    spec = ctx.spec
    seen = set()
    while spec.get("input_dir") and spec["input_dir"] not in seen:
        seen.add(spec["input_dir"])
        path = ctx.root / spec["input_dir"] / PARAMS_FILE
        try:
            spec = json.loads(path.read_text())
        except FileNotFoundError:
            raise DriverError(
                f"{path.relative_to(ctx.root)}: missing (upstream job never set up)"
            ) from None
        out.append((spec["dir"], spec["type"], spec["params"]))
    return out


def upstream(ctx: JobContext, job_type: str) -> tuple[str, dict]:
    """The nearest upstream job of a type: (dir, params)."""
    for job_dir, kind, params in chain(ctx):
        if kind == job_type:
            return job_dir, params
    raise DriverError(f"no {job_type} job upstream of {ctx.dir}")


@dataclass(frozen=True)
class TomogramFiles:
    raw: Path
    half1: Path
    half2: Path
    denoised: Path | None
    angpix: float


def tomogram_files(ctx: JobContext, ts: str) -> TomogramFiles:
    """The volumes of one tomogram (project-relative), from the jobs upstream."""
    reconstruct, params = upstream(ctx, "tsReconstruct")
    denoised = None
    for job_dir, kind, _ in chain(ctx):
        if kind == "denoisepredict":
            denoised = Path(job_dir, FOLDER, rec_name(ts))
            break
        if kind == "tsReconstruct":
            break
    folder = Path(reconstruct, FOLDER)
    return TomogramFiles(folder / rec_name(ts), folder / rec_name(ts, 1), folder / rec_name(ts, 2),
                         denoised, float(params["angpix"]))  # fmt: skip


def volume_info(path: Path) -> tuple[tuple[int, int, int], float]:
    """(nx, ny, nz) and voxel size of an MRC file, from its header."""
    import mrcfile

    try:
        with mrcfile.open(path, header_only=True, permissive=True) as mrc:
            h = mrc.header
            return (int(h.nx), int(h.ny), int(h.nz)), float(mrc.voxel_size.x)
    except FileNotFoundError:
        raise DriverError(f"{path}: missing") from None
    except ValueError as e:
        raise DriverError(f"{path}: not an MRC file ({e})") from None


def link_into(ctx: JobContext, name: str, target: Path) -> Path:
    """`<job>/tomograms/<name>` -> target (a relative link, replaced atomically); returns it."""
    import os

    folder = ctx.root / ctx.dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / name
    text = os.path.relpath(ctx.root / target, folder)
    if not (link.is_symlink() and os.readlink(link) == text):
        tmp = folder / f".{name}.tmp{os.getpid()}"
        tmp.unlink(missing_ok=True)
        os.symlink(text, tmp)
        os.replace(tmp, link)
    return Path(ctx.dir, FOLDER, name)
