"""templatematching: pytom-match-pick's pytom_match_template.py on each tomogram."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from .base import JobParams, synced_from_globals


def template_digest(project: Any, job: Any, item: str) -> str:
    """The template's and mask's contents (a changed file re-runs the matching, a copied
    project does not: no times, no paths)."""
    paths = [Path(p) if Path(p).is_absolute() else project.root / p
             for p in (job.params.template, job.params.mask)]  # fmt: skip
    return "+".join(_digest(str(p), *_stat(p)) for p in paths)


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime: int) -> str:
    if size < 0:
        return "missing"
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


class TemplateMatchingParams(JobParams):
    type_name: ClassVar[str] = "templatematching"
    accepts: ClassVar[tuple[str, ...]] = ("denoisepredict", "tsReconstruct")
    output_star: ClassVar[str] = "tomograms.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion"
    granularity: ClassVar[str] = "tomogram"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("templatematching", "match_template")
    default_resources: ClassVar[dict[str, int]] = {
        "gpus": 1,
        "cpus": 4,
        "mem_mb": 32000,
        "runtime": 120,
    }
    tools: ClassVar[tuple[str, ...]] = ("pytom",)
    item_params: ClassVar[dict] = {"template_files": template_digest}
    synced: ClassVar[dict[str, str]] = synced_from_globals("voltage", "cs", "amplitude_contrast")

    voltage: float
    cs: float
    amplitude_contrast: float

    template: str = Field(
        description="Template MRC (project-relative or absolute): the tomograms' voxel size "
        "and contrast, no CTF applied."
    )
    mask: str = Field(description="Mask MRC, same box as the template.")
    volume: Literal["auto", "denoised", "raw"] = Field(
        "auto", description="Tomogram searched: auto (denoised if there is one), denoised, raw."
    )
    angular_search: float = Field(12.0, gt=0, le=90, description="Angular increment, degrees.")
    symmetry: int = Field(1, ge=1, le=100, description="Rotational symmetry about the template Z axis (Cn).")  # fmt: skip
    non_spherical_mask: bool = Field(False, description="The mask is not spherical (about 2x slower).")  # fmt: skip
    ctf_weighting: bool = Field(True, description="CTF weighting with the per-tilt defocus.")
    dose_weighting: bool = Field(True, description="Dose weighting with the per-tilt dose.")
    spectral_whitening: bool = Field(False, description="Spectral whitening.")
    random_phase_correction: bool = Field(False, description="Random-phase correction (STOPGAP).")
    low_pass: float | None = Field(None, gt=0, description="Low-pass filter, A.")
    high_pass: float | None = Field(None, gt=0, description="High-pass filter, A.")
    volume_split: tuple[int, int, int] = Field(
        (1, 1, 1), description="Split the tomogram into x y z parts (GPU memory)."
    )
    duplicate_tilts: Literal["stop", "drop_later"] = Field(
        "stop",
        description="Tilts at the same angle (pytom #348): stop, or leave the later-acquired one "
        "out of the weighting.",
    )
