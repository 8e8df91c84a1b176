"""Simulated cryoCARE 0.3.0 (juglab/cryoCARE_pip @f34597d): cryoCARE_extract_train_data.py,
cryoCARE_train.py, cryoCARE_predict.py.

Each reads `--conf FILE` (argparse, nothing else) and the JSON keys the real script reads, fails
where it fails (a KeyError for a missing key; the bare AssertionError of
CryoCAREDataModule when a tomogram dimension is not > 2 x patch, Z included; halves of different
shapes; an existing output directory without "overwrite"; predict without "gpu_id" on a machine
without a GPU: UnboundLocalError, cryoCARE_predict.py set_gpu_id) and writes its files at its
paths: train_data.npz/val_data.npz; <path>/<model_name>/{config.json, weights_best.h5,
weights_last.h5, history.dat, norm.json} and <path>/<model_name>.tar.gz; predict:
<output>/<basename(even)>, float32 (mode 2) with the even half's header. The "network" is a
Gaussian filter of the mean of the two halves: denoised data that keep the tomogram's geometry.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from .formats import Failure, faults


def _config(argv: list[str], prog: str) -> dict:
    parser = argparse.ArgumentParser(prog=f"{prog} (SIMULATED)")
    parser.add_argument("--conf")
    args = parser.parse_args(argv)
    if args.conf is None:
        raise Failure("TypeError: expected str, bytes or os.PathLike object, not NoneType")
    try:
        return json.loads(Path(args.conf).read_text())
    except FileNotFoundError:
        raise Failure(f"FileNotFoundError: No such file or directory: '{args.conf}'") from None


def _key(config: dict, key: str):
    if key not in config:
        raise Failure(f"KeyError: '{key}'")
    return config[key]


def _shape(path: str) -> tuple[int, ...]:
    import mrcfile

    try:
        with mrcfile.mmap(path, mode="r", permissive=True) as mrc:
            return tuple(mrc.data.shape)
    except FileNotFoundError:
        raise Failure(f"FileNotFoundError: No such file or directory: '{path}'") from None


def _make_dir(path: str, config: dict) -> None:
    try:
        os.makedirs(path)
    except OSError:
        if config.get("overwrite"):
            os.makedirs(path, exist_ok=True)
        else:
            print("Output directory already exists. Please choose a new output directory or set "
                  "'overwrite' to 'true' in your configuration file.")  # fmt: skip
            raise SystemExit(1) from None


def _validation_cut(n: int, patch: int, validation_fraction: float, samples: int) -> None:
    """CryoCARE_DataModule.__compute_extraction_shapes__ then create_random_coords along the tilt
    axis: np.random.randint(low, high, size) with low >= high fails unless size is 0 (e.g. 64 px,
    patch 8, split 0.9, 40 samples; checked against cryoCARE 0.3.0)."""
    val_cut_off = int(n * (1 - validation_fraction)) - 1
    if (n - val_cut_off) < patch or val_cut_off < patch:
        val_cut_off = n - patch - 1
    train = int(samples * (1 - validation_fraction))
    val = int(samples * validation_fraction)
    for low, high, size in ((0, val_cut_off - patch, train), (val_cut_off, n - patch, val)):
        if low >= high and size > 0:
            raise Failure("ValueError: low >= high")


def extract_train_data(argv: list[str]) -> int:
    config = _config(argv, "cryoCARE_extract_train_data.py")
    odd, even = _key(config, "odd"), _key(config, "even")
    n = int(_key(config, "num_slices"))
    split = float(_key(config, "split"))
    patch = [int(p) for p in _key(config, "patch_shape")]
    axis = _key(config, "tilt_axis")
    _key(config, "n_normalization_samples")
    if axis not in ("Z", "Y", "X"):
        raise Failure(f"ValueError: '{axis}' is not in list")
    faults(os.environ.get("CRBOOST_SIM_ITEM", ""))
    samples = []
    for e, o in zip(even, odd, strict=False):
        se, so = _shape(e), _shape(o)
        if se != so:
            raise Failure(f"AssertionError: {e} and {o} tomogram have different shapes.")
        for d in range(3):
            if not se[d] > 2 * patch[d]:
                raise Failure("AssertionError")  # CryoCAREDataModule.py: a bare assert
        _validation_cut(se[["Z", "Y", "X"].index(axis)], patch[0], 1.0 - split, n)
        samples.append(_mean_halves(e, o))
    path = _key(config, "path")
    _make_dir(path, config)
    values = np.concatenate([s.ravel() for s in samples]) if samples else np.zeros(1)
    n_train = int(n * split) * len(samples)
    for name, count in (("train_data.npz", n_train), ("val_data.npz", n * len(samples) - n_train)):
        np.savez(Path(path) / name, mean=float(values.mean()), std=float(values.std()),
                 n_samples=count, sample_shape=patch)  # fmt: skip
    print(f"extracted {n_train} training subvolumes")
    return 0


def _mean_halves(even: str, odd: str) -> np.ndarray:
    import mrcfile

    with mrcfile.open(even, permissive=True) as a, mrcfile.open(odd, permissive=True) as b:
        return (np.asarray(a.data, np.float32) + np.asarray(b.data, np.float32)) / 2


def _gpu_ids(config: dict) -> list[int]:
    """set_gpu_id: with "gpu_id" missing and no GPU, `gpu_ids` is never bound."""
    if "gpu_id" not in config:
        print("WARNING: No GPUs found by tensorflow")
        raise Failure("UnboundLocalError: cannot access local variable 'gpu_ids' where it is "
                      "not associated with a value")  # fmt: skip
    ids = config["gpu_id"]
    if isinstance(ids, int):
        ids = [ids]
    elif not isinstance(ids, list):
        raise Failure("RuntimeError: gpu_id in json is neither a list nor an integer")
    if not ids:
        raise Failure("RuntimeError: ERROR: List of GPU IDs is empty")
    print(f"Looking for GPU with ID: {ids[0]}")
    print(f"WARNING: GPU {ids[0]} not found")  # the simulator has no GPU: it runs "on CPU"
    return ids


def train(argv: list[str]) -> int:
    config = _config(argv, "cryoCARE_train.py")
    _gpu_ids(config)
    data = Path(_key(config, "train_data"))
    for name in ("train_data.npz", "val_data.npz"):
        if not (data / name).exists():
            raise Failure(f"FileNotFoundError: No such file or directory: '{data / name}'")
    for key in ("epochs", "steps_per_epoch", "batch_size", "unet_kern_size", "unet_n_depth",
                "unet_n_first", "learning_rate"):  # fmt: skip
        _key(config, key)
    faults(os.environ.get("CRBOOST_SIM_ITEM", ""))
    stats = np.load(data / "train_data.npz")
    name, base = _key(config, "model_name"), Path(_key(config, "path"))
    model = base / name
    model.mkdir(parents=True, exist_ok=True)
    (model / "config.json").write_text(json.dumps({
        "axes": "ZYXC", "train_epochs": config["epochs"],
        "train_steps_per_epoch": config["steps_per_epoch"],
        "train_batch_size": config["batch_size"], "unet_n_depth": config["unet_n_depth"],
        "unet_n_first": config["unet_n_first"], "unet_kern_size": config["unet_kern_size"],
        "train_learning_rate": config["learning_rate"]}))  # fmt: skip
    for weights in ("weights_best.h5", "weights_last.h5"):
        (model / weights).write_bytes(b"\x89HDF\r\n\x1a\n(SIMULATED weights)")
    with open(model / "history.dat", "wb") as f:
        pickle.dump({"loss": [1.0 / (e + 1) for e in range(int(config["epochs"]))]}, f)
    norm = {"mean": float(stats["mean"]), "std": float(stats["std"])}
    (model / "norm.json").write_text(json.dumps(norm))
    with tarfile.open(base / f"{name}.tar.gz", "w:gz") as tar:
        tar.add(model, arcname=name)
    print(f"trained {config['epochs']} epochs x {config['steps_per_epoch']} steps")
    return 0


def predict(argv: list[str]) -> int:
    import mrcfile
    from scipy.ndimage import gaussian_filter

    config = _config(argv, "cryoCARE_predict.py")
    _make_dir(_key(config, "output"), config)
    _gpu_ids(config)
    path = _key(config, "path")
    if not os.path.isfile(path):
        print(f"The specified 'path' {path} is not a file. Your config is not in the format that "
              "cryoCARE >=0.2 requires. Fallback to cryCARE 0.1 format.")  # fmt: skip
        print("Invalid config format.")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(path, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        name = os.listdir(tmp)[0]
        norm = json.loads((Path(tmp) / name / "norm.json").read_text())
    even, odd = config["even"], config["odd"]
    if not isinstance(even, list):
        even, odd = [even], [odd]
    n_tiles = list(_key(config, "n_tiles"))
    if len(n_tiles) != 3:
        raise Failure("ValueError: n_tiles must have 3 entries")
    for e, o in zip(even, odd, strict=False):
        faults(os.environ.get("CRBOOST_SIM_ITEM", Path(e).stem))
        if _shape(e) != _shape(o):
            raise Failure(f"ValueError: operands could not be broadcast together ({e}, {o})")
        mean = _mean_halves(e, o)
        denoised = gaussian_filter(mean, 1.0) * (1.0 if norm["std"] else 0.0)
        target = os.path.join(config["output"], os.path.basename(e))
        with mrcfile.open(e, permissive=True) as source:
            voxel, labels, nlabl = source.voxel_size, list(source.header.label), source.header.nlabl
        with mrcfile.new(target, overwrite=True) as mrc:
            mrc.set_data(denoised.astype(np.float32))
            mrc.voxel_size = voxel
            # cryoCARE_predict.py: the even half's labels [1:-1], its own, an empty one;
            # nlabl stays the even half's
            for i, label in enumerate([*labels[1:-1], b"cryoCARE (SIMULATED)", b""]):
                mrc.header.label[i] = label
            mrc.header.nlabl = nlabl
        print(f"denoised {e} -> {target}")
    return 0
