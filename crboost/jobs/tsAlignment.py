"""tsAlignment: tilt-series alignment through WarpTools with AreTomo2, AreTomo3 or IMOD."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from .base import JobParams, synced_from_globals


class TsAlignmentParams(JobParams):
    type_name: ClassVar[str] = "tsAlignment"
    accepts: ClassVar[tuple[str, ...]] = ("tsImport",)
    output_star: ClassVar[str] = "aligned_tilt_series.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.aligntiltseries"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("ts_alignment", "tsalignment", "aligntilts")
    default_resources: ClassVar[dict[str, int]] = {
        "gpus": 1,
        "cpus": 4,
        "mem_mb": 16000,
        "runtime": 30,
    }
    qc: ClassVar[tuple[str, ...]] = ("alignment",)
    tools: ClassVar[tuple[str, ...]] = ("warptools", "aretomo2", "aretomo3")
    synced: ClassVar[dict[str, str]] = synced_from_globals("sample_thickness_nm", "tilt_axis")

    sample_thickness_nm: float
    tilt_axis: float

    program: Literal["aretomo2", "aretomo3", "imod"] = Field(
        "aretomo2",
        description="aretomo2, aretomo3 (WarpTools ts_aretomo/ts_aretomo3) or imod "
        "(ts_etomo_patches).",
    )
    angpix: float = Field(10.0, gt=0, le=100, description="Pixel size for alignment, A.")
    patches: str = Field(
        "",
        pattern=r"^(\d+x\d+)?$",
        description="AreTomo local patches, e.g. 4x4 ('' = none, also for AreTomo3).",
    )
    axis_iter: int = Field(
        1,
        ge=0,
        le=20,
        description="AreTomo: tilt-axis searches per tilt series before a final run with the "
        "axis fixed (0: keep the mdoc's axis; each adds one AreTomo run).",
    )
    imod_patch_size_nm: float = Field(200, gt=0, le=10000, description="IMOD: patch size, nm.")
    imod_axis_search: bool = Field(True, description="IMOD: search the tilt axis angle.")
    perdevice: int = Field(1, ge=1, le=16, description="Processes per GPU.")

    @model_validator(mode="before")
    @classmethod
    def _no_axis_batch(cls, data):
        if isinstance(data, dict) and "axis_batch" in data:
            raise ValueError(
                "axis_batch: no longer a setting: crboost aligns one tilt series per WarpTools "
                "call, so each tilt series refines its own axis (axis_iter); remove it"
            )
        return data
