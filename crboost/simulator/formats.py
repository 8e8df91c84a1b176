"""Writers for the file formats the real tools produce (layouts from ../shared/reference/tools/)."""

from __future__ import annotations

import hashlib
import json
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np


class Failure(Exception):
    """The simulated program fails; the message goes to stderr."""


def rng_for(*keys: object) -> np.random.Generator:
    """Deterministic randomness per item, so runs are reproducible."""
    digest = hashlib.sha256("|".join(map(str, keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def faults(item: str, delay: bool = True) -> None:
    """Fault injection (see the package docstring): delay, then fail if asked to."""
    seconds = item_delay(
        os.environ.get("CRBOOST_SIM_DELAY", ""), os.environ.get("CRBOOST_SIM_JOB", "")
    )
    if delay and seconds > 0:
        time.sleep(seconds)
    if should_fail(item):
        raise Failure(
            f"simulated failure of {os.environ.get('CRBOOST_SIM_JOB')} for {item} "
            "(CRBOOST_SIM_FAIL)"
        )


def item_delay(setting: str, job: str) -> float:
    """CRBOOST_SIM_DELAY: "<seconds>" for every job type, or "<job type>:<seconds>[,...]"."""
    delay = 0.0
    for entry in setting.split(","):
        entry = entry.strip()
        if not entry:
            continue
        if ":" in entry:
            want, value = entry.split(":", 1)
            if want == job:
                delay = float(value)
        else:
            delay = float(entry)
    return delay


def should_fail(item: str) -> bool:
    job = os.environ.get("CRBOOST_SIM_JOB", "")
    for entry in os.environ.get("CRBOOST_SIM_FAIL", "").split(","):
        if ":" not in entry:
            continue
        want_job, want_item = entry.strip().split(":", 1)
        if want_job == job and want_item in ("*", item):
            return True
    return False


def write_mrc(path: Path, data: np.ndarray, voxel_size: float) -> None:
    import mrcfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        mrc.voxel_size = voxel_size


def read_mrc(path: Path) -> tuple[np.ndarray, float]:
    import mrcfile

    try:
        with mrcfile.open(path, permissive=True) as mrc:
            return np.asarray(mrc.data, dtype=np.float32), float(mrc.voxel_size.x)
    except FileNotFoundError:
        raise Failure(f"File not found: {path}") from None
    except ValueError as e:
        raise Failure(f"{path}: not an MRC file ({e})") from None


def _indent(elem: ET.Element) -> None:
    ET.indent(elem, space="\t")


def write_xml(path: Path, root: ET.Element) -> None:
    """Warp writes UTF-8 with a BOM, tab-indented."""
    _indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ET.tostring(root, encoding="unicode")
    path.write_bytes(b"\xef\xbb\xbf" + ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode())


def params_node(name: str, values: dict[str, object]) -> ET.Element:
    node = ET.Element(name)
    for key, value in values.items():
        ET.SubElement(node, "Param", Name=key, Value=_fmt(value))
    return node


def grid_node(name: str, values: list[float], width: int = 1, height: int = 1) -> ET.Element:
    depth = max(1, len(values) // (width * height))
    node = ET.Element(
        name,
        Width=str(width),
        Height=str(height),
        Depth=str(depth),
        MarginX="0",
        MarginY="0",
        MarginZ="0",
    )
    i = 0
    for z in range(depth):
        for y in range(height):
            for x in range(width):
                ET.SubElement(node, "Node", X=str(x), Y=str(y), Z=str(z), Value=_fmt(values[i]))
                i += 1
    return node


def lines_node(name: str, values: list[object]) -> ET.Element:
    node = ET.Element(name)
    node.text = "\n".join(_fmt(v) for v in values)
    return node


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def settings_xml(import_params: dict[str, object], tomo: dict[str, object]) -> ET.Element:
    root = ET.Element("Settings")
    for key, value in (("ProcessCTF", True), ("ProcessMovement", True), ("ProcessPicking", False)):
        ET.SubElement(root, "Param", Name=key, Value=_fmt(value))
    root.append(params_node("Import", import_params))
    for section in ("CTF", "Movement", "Grids"):
        ET.SubElement(root, section)
    root.append(params_node("Tomo", tomo))
    for section in ("Picking", "Export", "Tasks", "Filter"):
        ET.SubElement(root, section)
    return root


def read_settings(path: Path) -> dict[str, str]:
    """Import and Tomo parameters of a .settings file, folders resolved against its directory."""
    try:
        root = ET.fromstring(path.read_bytes())
    except FileNotFoundError:
        raise Failure(f"File not found: {path}") from None
    values = {}
    for section in ("Import", "Tomo"):
        node = root.find(section)
        if node is not None:
            values.update({p.get("Name"): p.get("Value") for p in node.findall("Param")})
    return values


def write_processed_items(folder: Path, items: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "processed_items.json").write_text(json.dumps(items, indent=2))


def write_tomostar(path: Path, rows: list[tuple[str, float, float, float, float, float]]) -> None:
    """Warp's Star.Save layout: empty line, data_, loop_, right-aligned columns."""
    columns = [
        "wrpMovieName",
        "wrpAngleTilt",
        "wrpAxisAngle",
        "wrpDose",
        "wrpAverageIntensity",
        "wrpMaskedFraction",
    ]
    texts = [
        [r[0], f"{r[1]:.2f}", f"{r[2]:.3f}", f"{r[3]:g}", f"{r[4]:.3f}", f"{r[5]:.3f}"]
        for r in rows
    ]
    widths = [max(len(t[i]) for t in texts) for i in range(len(columns))] if texts else [0] * 6
    out = ["", "data_", "", "loop_"]
    out += [f"_{c} #{i}" for i, c in enumerate(columns, 1)]
    out += ["".join("  " + t[i].rjust(widths[i]) for i in range(len(columns))) for t in texts]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")


def write_aln(
    path: Path, rows: list[tuple], raw_size: tuple[int, int, int], trailing_space: bool
) -> None:
    head = "# AreTomo Alignment / Priims bprmMn" + (" " if trailing_space else "")
    out = [
        head,
        f"# RawSize = {raw_size[0]} {raw_size[1]} {raw_size[2]}",
        "# NumPatches = 0",
        "# SEC     ROT         GMAG       TX          TY      SMEAN     SFIT    SCALE     BASE     TILT",
    ]
    for sec, rot, tx, ty, tilt in rows:
        out.append(
            f"{sec:5d}  {rot:9.4f}  {1.0:9.5f}  {tx:9.3f}  {ty:9.3f}  {1.0:7.2f}  {1.0:7.2f}  "
            f"{1.0:7.2f}  {0.0:7.2f}  {tilt:8.2f}"
        )
    path.write_text("\n".join(out) + "\n")


def write_xf(path: Path, rows: list[tuple[float, float, float, float, float, float]]) -> None:
    path.write_text(
        "".join(
            f"{a:9.3f}{b:9.3f}{c:9.3f}{d:9.3f}{dx:9.2f}  {dy:9.2f}\n" for a, b, c, d, dx, dy in rows
        )
    )


def write_angles(path: Path, angles: list[float]) -> None:
    path.write_text("".join(f"{a:8.2f}\n" for a in angles))
