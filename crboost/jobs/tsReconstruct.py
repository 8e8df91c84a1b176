"""tsReconstruct: WarpTools tomogram reconstruction (with even/odd half maps), per tilt series."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import JobParams, synced_from_globals


class TsReconstructParams(JobParams):
    type_name: ClassVar[str] = "tsReconstruct"
    accepts: ClassVar[tuple[str, ...]] = ("tiltFilter", "tsCtf", "tsAlignment")
    output_star: ClassVar[str] = "tomograms.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.reconstruct"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("ts_reconstruct", "tsreconstruct")
    default_resources: ClassVar[dict[str, int]] = {
        "gpus": 1,
        "cpus": 4,
        "mem_mb": 32000,
        "runtime": 30,
    }
    qc: ClassVar[tuple[str, ...]] = ("tomogram",)
    tomogram_file: ClassVar[str] = "warp_tiltseries/reconstruction/{ts}_{angpix:.2f}Apx.mrc"
    tools: ClassVar[tuple[str, ...]] = ("warptools",)
    synced: ClassVar[dict[str, str]] = synced_from_globals("pixel_size")

    pixel_size: float

    angpix: float = Field(10.0, gt=0, le=100, description="Tomogram pixel size, A.")
    halfmap_frames: bool = Field(True, description="Also reconstruct even/odd frame half maps.")
    deconv: bool = Field(True, description="Also write a deconvolved tomogram.")
    dont_invert: bool = Field(False, description="Do not invert contrast.")
    perdevice: int = Field(1, ge=1, le=16, description="Processes per GPU.")

    def check_upstream(self, chain: list[tuple[str, JobParams]]) -> str | None:
        """--halfmap_frames reads the frame series' even/odd averages (ReconstructTiltseries.cs
        checks for them): the motion job must have written them."""
        if not self.halfmap_frames:
            return None
        motion = next(((n, p) for n, p in chain if p.type_name == "fsMotionAndCtf"), None)
        if motion is not None and not motion[1].out_average_halves:
            return (
                f"halfmap_frames: true needs even/odd frame averages, but job '{motion[0]}' "
                "(fsMotionAndCtf) has out_average_halves: false; set one of them"
            )
        return None
