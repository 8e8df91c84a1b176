"""tsCtf: WarpTools tilt-series CTF (ts_defocus_hand, then ts_ctf), per tilt series."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .base import JobParams, nyquist_limit, ordered, resolution_default, synced_from_globals


class TsCtfParams(JobParams):
    type_name: ClassVar[str] = "tsCtf"
    accepts: ClassVar[tuple[str, ...]] = ("tsAlignment", "tiltFilter")
    output_star: ClassVar[str] = "ts_ctf_tilt_series.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.ctffind"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("ts_ctf", "tsctf")
    default_resources: ClassVar[dict[str, int]] = {
        "gpus": 1,
        "cpus": 4,
        "mem_mb": 16000,
        "runtime": 20,
    }
    qc: ClassVar[tuple[str, ...]] = ("ctf",)
    tools: ClassVar[tuple[str, ...]] = ("warptools",)
    synced: ClassVar[dict[str, str]] = synced_from_globals(
        "pixel_size", "voltage", "cs", "amplitude_contrast"
    )
    #: one defocus handedness for the whole dataset, decided once all tilt series are aligned
    prepare_output: ClassVar[str | None] = "defocus_hand.json"
    #: a tilt series added later gets the dataset's recorded hand; the others are not redone
    prepare_keeps_done_items: ClassVar[bool] = True

    pixel_size: float
    voltage: float
    cs: float
    amplitude_contrast: float

    defocus_hand: Literal["auto", "flip", "noflip"] = Field(
        "auto",
        description="Defocus handedness of the dataset: auto (from ts_defocus_hand --check over "
        "all tilt series), flip, noflip.",
    )
    window: int = Field(512, ge=64, le=4096, description="Window size, px.")
    range_low: float = Field(30, gt=0, le=1000, description="Low resolution limit, A.")
    range_high: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="High resolution limit, A (null: max(6, 2.1 x pixel size); more than "
        "2 x pixel size: Warp refuses to fit at Nyquist).",
    )
    defocus_min: float = Field(1.1, ge=0, le=100, description="Minimum defocus, um.")
    defocus_max: float = Field(8.0, gt=0, le=100, description="Maximum defocus, um.")
    fit_phase: bool = Field(False, description="Fit phase shift (phase plate).")
    perdevice: int = Field(1, ge=1, le=16, description="Processes per GPU.")

    _default_limit = resolution_default("range_high")
    _nyquist = nyquist_limit("range_high", strict=True)
    _ordered = ordered(
        ("range_low", "range_high", "resolution limits"),
        ("defocus_max", "defocus_min", "defocus limits"),
    )
