"""GPU ids as the tools want them: logical (0..n-1), never the values of CUDA_VISIBLE_DEVICES.

SLURM (and `crboost run`) expose the allocated GPUs through CUDA_VISIBLE_DEVICES, e.g. "2,3";
inside the process those are devices 0 and 1. pytom validates `-g` against the device count
(pytom io.py ParseGPUIndices), cryoCARE indexes TensorFlow's visible devices with `gpu_id`
(cryoCARE_predict.py set_gpu_id), so both take logical ids.
"""

from __future__ import annotations

import os


def logical_gpu_ids() -> list[int]:
    """0..n-1 for the n GPUs this process may use; [0] when nothing restricts them (the tool
    then uses the first device, or runs on the CPU where it can)."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return [0]
    ids = [v for v in value.split(",") if v.strip() and v.strip() != "NoDevFiles"]
    return list(range(len(ids))) or [0]
