"""denoisepredict: each tomogram denoised with the upstream denoisetrain job's cryoCARE model."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import JobParams


class DenoisePredictParams(JobParams):
    type_name: ClassVar[str] = "denoisepredict"
    accepts: ClassVar[tuple[str, ...]] = ("denoisetrain",)
    output_star: ClassVar[str] = "tomograms.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.denoise"
    granularity: ClassVar[str] = "tomogram"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("denoisepredict", "cryocare_predict")
    default_resources: ClassVar[dict[str, int]] = {
        "gpus": 1,
        "cpus": 4,
        "mem_mb": 32000,
        "runtime": 60,
    }
    tools: ClassVar[tuple[str, ...]] = ("cryocare",)

    n_tiles: tuple[int, int, int] = Field(
        (4, 4, 4), description="Tiles per axis (Z, Y, X) the tomogram is cut into (GPU memory)."
    )
