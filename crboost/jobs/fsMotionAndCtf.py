"""fsMotionAndCtf: WarpTools frame-series motion correction and CTF, per tilt series."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import JobParams, nyquist_limit, ordered, resolution_default, synced_from_globals

_GRID = r"^\d+x\d+x\d+$"


class FsMotionAndCtfParams(JobParams):
    type_name: ClassVar[str] = "fsMotionAndCtf"
    accepts: ClassVar[tuple[str, ...]] = ("importmovies",)
    output_star: ClassVar[str] = "fs_motion_and_ctf.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.motioncorr"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("fs_motion_and_ctf", "fsmotionandctf")
    default_resources: ClassVar[dict[str, int]] = {
        "gpus": 1,
        "cpus": 4,
        "mem_mb": 16000,
        "runtime": 30,
    }
    qc: ClassVar[tuple[str, ...]] = ("thumbnails", "motion", "ctf")
    tools: ClassVar[tuple[str, ...]] = ("warptools",)
    synced: ClassVar[dict[str, str]] = synced_from_globals(
        "pixel_size",
        "voltage",
        "cs",
        "amplitude_contrast",
        "dose_per_tilt",
        "eer_ngroups",
        "gain_reference",
        "gain_flip_x",
        "gain_flip_y",
        "gain_transpose",
    )

    pixel_size: float
    voltage: float
    cs: float
    amplitude_contrast: float
    dose_per_tilt: float
    eer_ngroups: int | None
    gain_reference: str | None
    gain_flip_x: bool
    gain_flip_y: bool
    gain_transpose: bool

    m_range_min: float = Field(500, gt=0, le=10000, description="Motion: low resolution limit, A.")
    m_range_max: float = Field(10, gt=0, le=1000, description="Motion: high resolution limit, A.")
    m_bfac: float = Field(-500, ge=-100000, le=0, description="Motion: B-factor, A^2.")
    m_grid: str = Field("1x1x3", pattern=_GRID, description="Motion model grid XxYxT.")
    c_window: int = Field(512, ge=64, le=4096, description="CTF: window size, px.")
    c_range_min: float = Field(30, gt=0, le=1000, description="CTF: low resolution limit, A.")
    c_range_max: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="CTF: high resolution limit, A (null: max(6, 2.1 x pixel size); at least "
        "2 x pixel size: Warp refuses to fit beyond Nyquist).",
    )
    c_defocus_min: float = Field(1.1, ge=0, le=100, description="CTF: minimum defocus, um.")
    c_defocus_max: float = Field(8.0, gt=0, le=100, description="CTF: maximum defocus, um.")
    c_grid: str = Field("2x2x1", pattern=_GRID, description="CTF model grid XxYxT.")
    c_fit_phase: bool = Field(False, description="CTF: fit phase shift (phase plate).")
    c_use_sum: bool = Field(False, description="CTF: fit on the frame sum.")
    out_average_halves: bool = Field(True, description="Write even/odd averages (for denoising).")
    out_skip_first: int = Field(0, ge=0, le=100000, description="Frames to skip at the start.")
    out_skip_last: int = Field(0, ge=0, le=100000, description="Frames to skip at the end.")
    perdevice: int = Field(1, ge=1, le=16, description="Processes per GPU.")

    _default_limit = resolution_default("c_range_max")
    _nyquist = nyquist_limit("c_range_max", strict=False)
    _ordered = ordered(
        ("m_range_min", "m_range_max", "resolution limits"),
        ("c_range_min", "c_range_max", "resolution limits"),
        ("c_defocus_max", "c_defocus_min", "defocus limits"),
    )
