"""Which GPUs a tool call uses: the ones its task was given, as the tool must name them.

Device ids are logical: inside a process whose CUDA_VISIBLE_DEVICES is "2,3" those are 0 and 1.
pytom validates `-g` against the device count (pytom io.py ParseGPUIndices), cryoCARE indexes
TensorFlow's visible devices with `gpu_id` (cryoCARE_predict.py set_gpu_id), and WarpTools uses
every GPU it can see unless told --device_list (DistributedOptions.cs GetWorkers: a
one-tilt-series call then starts on GPU 0, fs_motion_and_ctf starts a worker on every GPU). So:
- on SLURM (or whenever CUDA_VISIBLE_DEVICES is set) the task's GPUs are the allocation: the
  tool gets --device_list 0..n-1;
- running locally (nothing set), a WarpTools call leases free GPUs of this machine (a lock file
  per GPU, shared by every crboost run of this user on it), the tool sees only those
  (CUDA_VISIBLE_DEVICES) and gets --device_list 0..n-1; `crboost run` caps the GPU tasks running
  at once at the machine's GPU count (Snakemake --resources gpu=N).
The simulator's machine has CRBOOST_SIM_GPUS GPUs (default 2), one such machine per project (its
locks under the project's .crboost/simulator/, so simultaneous demo projects do not queue for
each other's simulated GPUs).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

#: the GPU lease lock files of this machine (one per GPU)
LOCK_DIR = Path(os.environ.get("CRBOOST_GPU_LOCKS", f"/tmp/crboost-gpus-{os.getuid()}"))


def visible_count(simulated: bool) -> int:
    """How many GPUs tasks started here can use: the CUDA_VISIBLE_DEVICES ones, else the
    machine's."""
    given = allocated()
    return len(given) if given is not None else len(machine_gpus(simulated))


def logical_gpu_ids() -> list[int]:
    """0..n-1 for the n GPUs this process may use; [0] when nothing restricts them."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return [0]
    ids = [v for v in value.split(",") if v.strip() and v.strip() != "NoDevFiles"]
    return list(range(len(ids))) or [0]


def allocated() -> list[str] | None:
    """The GPUs set for this process (CUDA_VISIBLE_DEVICES), or None when nothing is set."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip() and v.strip() != "NoDevFiles"]


@lru_cache(maxsize=2)
def machine_gpus(simulated: bool = False) -> list[str]:
    """This machine's GPU ids (nvidia-smi), or the simulator's."""
    if simulated:
        return [str(i) for i in range(int(os.environ.get("CRBOOST_SIM_GPUS", "2")))]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [ln.strip() for ln in out.stdout.splitlines() if ln.strip().isdigit()]


class NoGpu(Exception):
    pass


@contextmanager
def lease(count: int, simulated: bool, wait: float = 5.0, lock_dir: Path | None = None):
    """Yield (CUDA_VISIBLE_DEVICES value or None to keep the process's, logical ids) for a call
    that needs `count` GPUs; locally the GPUs stay leased until the call ends."""
    if count <= 0:
        yield None, []
        return
    given = allocated()
    if given is not None:
        if not given:
            raise NoGpu("CUDA_VISIBLE_DEVICES names no GPU")
        yield None, list(range(min(count, len(given))))
        return
    gpus = machine_gpus(simulated)
    if not gpus:
        raise NoGpu("no GPU on this machine (nvidia-smi lists none)")
    count = min(count, len(gpus))
    folder = lock_dir or LOCK_DIR / ("simulated" if simulated else "machine")
    folder.mkdir(parents=True, exist_ok=True)
    held: list[tuple[str, object]] = []
    try:
        while len(held) < count:
            for gpu in gpus:
                if len(held) == count or any(g == gpu for g, _ in held):
                    continue
                handle = open(folder / f"gpu{gpu}.lock", "w")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held.append((gpu, handle))
                except OSError:
                    handle.close()
            if len(held) < count:
                time.sleep(wait)
        yield ",".join(g for g, _ in held), list(range(count))
    finally:
        for _, handle in held:
            handle.close()
