"""denoisetrain: one cryoCARE model trained on the even/odd half tomograms of the tomograms named
in its params (exact rlnTomoName; none named: all), as RELION's Denoise (train) job does it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import JobParams


class DenoiseTrainParams(JobParams):
    type_name: ClassVar[str] = "denoisetrain"
    accepts: ClassVar[tuple[str, ...]] = ("tsReconstruct",)
    output_star: ClassVar[str] = "tomograms.star"
    output_node_label: ClassVar[str] = "TomogramGroupMetadata.star.relion.tomo.denoise"
    extra_outputs: ClassVar[tuple[str, ...]] = ("denoising_model.tar.gz",)
    granularity: ClassVar[str] = "job"
    adopt_patterns: ClassVar[tuple[str, ...]] = ("denoisetrain", "cryocare_train")
    default_resources: ClassVar[dict[str, int]] = {
        "gpus": 1,
        "cpus": 4,
        "mem_mb": 32000,
        "runtime": 240,
    }
    tools: ClassVar[tuple[str, ...]] = ("cryocare",)

    tomograms: list[str] = Field(
        default_factory=list,
        description="Tomograms to train on, by exact rlnTomoName (none: all of them).",
    )
    number_training_subvolumes: int = Field(
        600, ge=10, le=100000, description="Subvolumes extracted per tomogram."
    )
    subvolume_dimensions: int = Field(
        64, ge=8, le=512, description="Subvolume (patch) edge, px; tomograms need > 2x in X, Y, Z."
    )
    split: float = Field(0.9, gt=0, lt=1, description="Fraction of subvolumes used for training.")
    epochs: int = Field(100, ge=1, le=10000, description="Training epochs.")
    steps_per_epoch: int = Field(200, ge=1, le=100000, description="Steps per epoch.")
    batch_size: int = Field(16, ge=1, le=1024, description="Batch size.")
    unet_kern_size: int = Field(3, ge=1, le=9, description="U-Net kernel size.")
    unet_n_depth: int = Field(3, ge=1, le=6, description="U-Net depth.")
    unet_n_first: int = Field(16, ge=1, le=256, description="U-Net filters in the first layer.")
    learning_rate: float = Field(0.0004, gt=0, le=1, description="Learning rate.")
