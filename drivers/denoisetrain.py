#!/usr/bin/env python
"""denoisetrain driver: one cryoCARE model from the half tomograms of the named tomograms.

Whole job: checks the half tomograms (present, same shape, not constant, every dimension > 2 x
patch), writes cryoCARE's two configs as RELION's wrapper does (train_data_config.json,
train_config.json, always with gpu_id: logical ids), runs cryoCARE_extract_train_data.py and
cryoCARE_train.py, and checks the model (denoising_model.tar.gz with norm.json). Then
`tomograms.star`: the upstream rows of every tomogram, and a copy of each tilt series' STAR.

By hand:  cd External/jobNNN && crboost driver denoisetrain [--print-commands]
"""

from __future__ import annotations

import json
import math
import tarfile

from crboost.jobs.denoisetrain import DenoiseTrainParams as Params
from crboost.relion.star import atomic_write
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.running.tomograms import tomogram_files, upstream
from crboost.tools.gpus import logical_gpu_ids
from crboost.tools.inputchecks import check_halves, check_patch
from crboost.tools.runner import ToolCall

MODEL = "denoising_model"


def training_names(ctx: JobContext) -> list[str]:
    items = ctx.items()
    wanted = ctx.params["tomograms"] or items
    unknown = [n for n in wanted if n not in items]
    if unknown:
        raise DriverError(f"params tomograms: {', '.join(unknown)} not among the tomograms "
                          f"({', '.join(items[:5])}{' ...' if len(items) > 5 else ''})")  # fmt: skip
    return list(wanted)


def configs(ctx: JobContext, names: list[str]) -> tuple[dict, dict]:
    p = ctx.params
    files = [tomogram_files(ctx, ts) for ts in names]
    n = p["number_training_subvolumes"]
    data = {
        "even": [str(f.half1) for f in files],
        "odd": [str(f.half2) for f in files],
        "patch_shape": [p["subvolume_dimensions"]] * 3,
        "num_slices": n,
        "split": p["split"],
        "tilt_axis": "Y",
        "n_normalization_samples": max(1, round(0.1 * n)),
        "path": str(ctx.path("train_data")),
        "overwrite": True,
    }
    train = {
        "train_data": str(ctx.path("train_data")),
        "epochs": p["epochs"],
        "steps_per_epoch": p["steps_per_epoch"],
        "batch_size": p["batch_size"],
        "unet_kern_size": p["unet_kern_size"],
        "unet_n_depth": p["unet_n_depth"],
        "unet_n_first": p["unet_n_first"],
        "learning_rate": p["learning_rate"],
        "model_name": MODEL,
        "path": ctx.dir,
        "overwrite": True,
        "gpu_id": logical_gpu_ids(),
    }
    return data, train


def commands(ctx: JobContext) -> list[ToolCall]:
    return [
        ToolCall("cryocare", ("cryoCARE_extract_train_data.py", "--conf",
                              str(ctx.path("train_data_config.json")))),
        ToolCall("cryocare", ("cryoCARE_train.py", "--conf", str(ctx.path("train_config.json")))),
    ]  # fmt: skip


def preflight(ctx: JobContext, names: list[str]) -> None:
    patch = ctx.params["subvolume_dimensions"]
    for ts in names:
        files = tomogram_files(ctx, ts)
        shape = check_halves(ctx.root / files.half1, ctx.root / files.half2, f"tomogram {ts}")
        if isinstance(shape, str):
            raise DriverError(shape)
        problem = check_patch(
            shape, patch, "denoisetrain", f"tomogram {ts} is", ctx.params["split"]
        )
        if problem:
            raise DriverError(problem)


def check_model(ctx: JobContext) -> None:
    path = ctx.root / ctx.path(f"{MODEL}.tar.gz")
    try:
        with tarfile.open(path, "r:gz") as tar:
            norm = json.load(tar.extractfile(f"{MODEL}/norm.json"))
    except (FileNotFoundError, tarfile.TarError, KeyError, AttributeError, ValueError):
        raise DriverError(f"cryoCARE_train.py wrote no usable {ctx.path(MODEL + '.tar.gz')} "
                          "(see the log)") from None  # fmt: skip
    if not all(math.isfinite(norm.get(k, math.nan)) for k in ("mean", "std")) or norm["std"] <= 0:
        raise DriverError(f"{MODEL}.tar.gz: normalisation {norm} is not usable")


def train(ctx: JobContext) -> None:
    names = training_names(ctx)
    preflight(ctx, names)
    if upstream(ctx, "tsReconstruct")[1].get("deconv"):
        print("warning: the reconstruction job has deconv: true; WarpTools then also deconvolves "
              "the half tomograms, which hurts denoising (warp issue #506)")  # fmt: skip
    data, train_config = configs(ctx, names)
    atomic_write(ctx.path("train_data_config.json"), json.dumps(data, indent=1) + "\n")
    atomic_write(ctx.path("train_config.json"), json.dumps(train_config, indent=1) + "\n")
    driver.clear_previous(
        ctx, [ctx.path(f"{MODEL}.tar.gz"), ctx.path(MODEL), ctx.path("train_data")]
    )
    driver.run_calls(ctx, commands(ctx))
    check_model(ctx)
    for ts in ctx.items():
        driver.write_tilt_series(ctx, ts, driver.read_tilt_series(ctx.upstream_ts_star(ts), ts))
    driver.gather(ctx, Params.output_star, Params.output_node_label)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], None, train, planned={"job": commands})
