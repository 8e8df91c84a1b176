"""denoisetrain and denoisepredict with the REAL cryoCARE 0.3.0, on CPU, in its own pinned
environment (CRBOOST_CRYOCARE_BIN, default /opt/crboost-tools/cryocare/bin; `.ci/run` installs it
there). The tilt series and tomograms come from the simulated WarpTools (`tools.simulate` lists
every other tool); cryoCARE's own programs train and predict for real.

Skipped when the environment is missing, except in CI (CRBOOST_REQUIRE_CRYOCARE=1), where a
missing cryoCARE fails the test.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import starfile
import yaml
from conftest import run_cli

pytestmark = pytest.mark.slow

CRYOCARE_BIN = Path(os.environ.get("CRBOOST_CRYOCARE_BIN", "/opt/crboost-tools/cryocare/bin"))


@pytest.fixture
def cryocare_bin() -> Path:
    if not (CRYOCARE_BIN / "cryoCARE_train.py").exists():
        message = f"cryoCARE 0.3.0 not installed at {CRYOCARE_BIN} (see .ci/run)"
        if os.environ.get("CRBOOST_REQUIRE_CRYOCARE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return CRYOCARE_BIN


def test_denoise_jobs_with_the_real_cryocare(tmp_path, cryocare_bin):
    project = tmp_path / "p"
    proc = run_cli("demo", str(project), "--tilt-series", "2", "--to", "particles", "--no-run")
    assert proc.returncode == 0, proc.stderr
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    data["tools"]["simulate"] = ["warptools", "aretomo2", "aretomo3", "pytom", "relion"]
    data["tools"]["cryocare"] = {"path": str(cryocare_bin)}
    train = next(j for j in data["pipeline"] if j["name"] == "denoisetrain")
    # tomograms of 64 x 64 x 32 voxels: patch 12 (8 leaves no room at cryoCARE's validation cut
    # along Y), a 2-level U-Net, one short epoch
    train["params"] = {"tomograms": ["TS_01"], "subvolume_dimensions": 12,
                       "number_training_subvolumes": 40, "epochs": 1, "steps_per_epoch": 4,
                       "batch_size": 4, "unet_n_depth": 2, "unet_n_first": 8}  # fmt: skip
    config.write_text(yaml.safe_dump(data))
    proc = run_cli("run", str(project), "--", "External/job009/RELION_JOB_EXIT_SUCCESS")
    assert proc.returncode == 0, proc.stderr[-4000:]

    train_dir, predict_dir = project / "External/job008", project / "External/job009"
    conf = json.loads((train_dir / "train_data_config.json").read_text())
    assert conf["even"] == ["External/job007/tomograms/rec_TS_01_half1.mrc"]
    assert json.loads((train_dir / "train_config.json").read_text())["gpu_id"] == [0]
    with tarfile.open(train_dir / "denoising_model.tar.gz") as tar:
        names = set(tar.getnames())
        assert {"denoising_model/norm.json", "denoising_model/config.json"} <= names
        weights = tar.getmember("denoising_model/weights_last.h5")
        assert weights.size > 10_000, "real Keras weights"
    table = starfile.read(predict_dir / "tomograms.star")
    assert list(table["rlnTomoName"]) == ["TS_01", "TS_02"]  # both predicted, one trained on
    for ts, path in zip(
        table["rlnTomoName"], table["rlnTomoReconstructedTomogramDenoised"], strict=True
    ):
        assert path == f"External/job009/tomograms/rec_{ts}.mrc"
        with mrcfile.open(project / path) as mrc:
            assert mrc.header.mode == 2 and mrc.data.shape == (32, 64, 64)
            assert np.isfinite(mrc.data).all() and mrc.data.std() > 0
            labels = b" ".join(bytes(x) for x in mrc.header.label)  # label 9; nlabl is the half's
            assert b"cryoCARE" in labels and b"SIMULATED" not in labels
