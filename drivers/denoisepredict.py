#!/usr/bin/env python
"""denoisepredict driver: one tomogram denoised with the upstream job's cryoCARE model.

Per tomogram: checks its half tomograms, writes `cryocare/predict_<ts>.json` (explicit even/odd
lists, JSON booleans, gpu_id: logical ids), runs cryoCARE_predict.py into `cryocare/<ts>/`,
checks the result (shape of the halves, finite, not constant) and moves it to RELION's name,
`tomograms/rec_<ts>.mrc`. Job level: `tomograms.star` = the upstream rows with
rlnTomoReconstructedTomogramDenoised added (rlnTomoReconstructedTomogram is kept).

By hand:  cd External/jobNNN && crboost driver denoisepredict --ts TS_01 [--print-commands]
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from crboost.jobs.denoisepredict import DenoisePredictParams as Params
from crboost.relion.star import atomic_write
from crboost.running import driver
from crboost.running.driver import DriverError, JobContext
from crboost.running.tomograms import FOLDER, rec_name, tomogram_files
from crboost.tools.gpus import logical_gpu_ids
from crboost.tools.inputchecks import check_halves
from crboost.tools.runner import ToolCall

MODEL = "denoising_model.tar.gz"


def config(ctx: JobContext, ts: str) -> dict:
    files = tomogram_files(ctx, ts)
    return {
        "path": str(ctx.root / str(ctx.input_dir) / MODEL),
        "even": [str(files.half1)],
        "odd": [str(files.half2)],
        "n_tiles": list(ctx.params["n_tiles"]),
        "output": str(ctx.path("cryocare", ts)),
        "overwrite": True,
        "gpu_id": logical_gpu_ids(),
    }


def commands(ctx: JobContext, ts: str) -> list[ToolCall]:
    conf = ctx.path("cryocare", f"predict_{ts}.json")
    return [ToolCall("cryocare", ("cryoCARE_predict.py", "--conf", str(conf)), item=ts)]


def run_tomogram(ctx: JobContext, ts: str) -> None:
    table = driver.read_tilt_series(ctx.upstream_ts_star(ts), ts)
    files = tomogram_files(ctx, ts)
    shape = check_halves(ctx.root / files.half1, ctx.root / files.half2, f"tomogram {ts}")
    if isinstance(shape, str):
        raise DriverError(shape)
    if not (ctx.root / str(ctx.input_dir) / MODEL).is_file():
        raise DriverError(f"{ctx.input_dir}/{MODEL}: missing (denoisetrain not done?)")
    result = ctx.path(FOLDER, rec_name(ts))
    written = ctx.path("cryocare", ts, files.half1.name)
    driver.clear_previous(ctx, [result, ctx.path("cryocare", ts)])
    (ctx.root / ctx.path("cryocare")).mkdir(exist_ok=True)
    atomic_write(ctx.path("cryocare", f"predict_{ts}.json"), json.dumps(config(ctx, ts), indent=1))
    driver.run_calls(ctx, commands(ctx, ts))
    check_denoised(ctx, written, shape)
    (ctx.root / ctx.path(FOLDER)).mkdir(exist_ok=True)
    os.replace(ctx.root / written, ctx.root / result)
    driver.write_tilt_series(ctx, ts, table)


def check_denoised(ctx: JobContext, path, shape) -> None:
    import mrcfile

    driver.check_files(ctx, [ctx.root / path], "cryoCARE_predict.py")
    with mrcfile.open(ctx.root / path, permissive=True) as mrc:
        data = np.asarray(mrc.data, dtype=np.float32)
    if data.shape[::-1] != tuple(shape):
        raise DriverError(f"{path}: {data.shape[::-1]} voxels, the halves {tuple(shape)}")
    if not np.isfinite(data).all() or float(data.std()) == 0.0:
        raise DriverError(f"{path}: empty or not finite (cryoCARE issue #16: try more n_tiles)")


def gather(ctx: JobContext) -> None:
    def update(table: pd.DataFrame) -> pd.DataFrame:
        table["rlnTomoReconstructedTomogramDenoised"] = [
            str(ctx.path(FOLDER, rec_name(ts))) for ts in table["rlnTomoName"]
        ]
        return table

    driver.gather(ctx, Params.output_star, Params.output_node_label, update)


if __name__ == "__main__":
    driver.main(__doc__.splitlines()[1], run_tomogram, gather, planned={"item": commands})
