"""Simulated IMOD programs as WarpTools calls them (batchruntomo, submfg), and the IMOD files
(.xf, .tlt, .xtilt) that the simulated aligners write."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .formats import Failure, faults, write_angles, write_xf
from .geometry import fake_alignment
from .options import UsageError, parse_tags

BATCHRUNTOMO_TAGS = {
    "DirectiveFile": 1, "RootName": 1, "CurrentLocation": 1, "DeliverToDirectory": 1,
    "StartingStep": 1, "EndingStep": 1, "CPUMachineList": 1, "GPUMachineList": 1,
    "SingleOnFirstCPU": 1, "NiceValue": 1, "ExitOnError": 1, "CheckFile": 1, "EtomoDebug": 1,
    "RemoteDirectory": 1, "EmailAddress": 1, "SMTPServer": 1,
}  # fmt: skip


def write_imod(folder: Path, name: str, rows: list[tuple]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    xf = []
    for _sec, rot, tx, ty, _tilt in rows:
        r = math.radians(rot)
        a = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
        d = -a @ np.array([tx, ty])
        xf.append((a[0, 0], a[0, 1], a[1, 0], a[1, 1], float(d[0]), float(d[1])))
    write_xf(folder / f"{name}_st.xf", xf)
    write_angles(folder / f"{name}_st.tlt", [r[4] for r in rows])
    write_angles(folder / f"{name}_st.xtilt", [0.0] * len(rows))
    for com in ("newst.com", "tilt.com"):
        (folder / com).write_text(f"# {com} written by the AreTomo SIMULATOR\n")


def batchruntomo(args: list[str]) -> int:
    tags = parse_tags(args, BATCHRUNTOMO_TAGS, case_sensitive=True)
    for required in ("DirectiveFile", "RootName"):
        if required not in tags:
            raise UsageError(f"-{required} is required")
    directive = Path(tags["DirectiveFile"][0])
    if not directive.exists():
        raise Failure(f"ERROR: batchruntomo - directive file {directive} does not exist")
    text = directive.read_text()
    for key in ("setupset.copyarg.rotation", "setupset.copyarg.pixel"):
        if key not in text:
            raise Failure(f"ERROR: batchruntomo - directive {key} missing")
    where = Path(tags.get("CurrentLocation", ["."])[0])
    root = tags["RootName"][0]
    for ext in (".st", ".rawtlt"):
        if not (where / f"{root}{ext}").exists():
            raise Failure(f"ERROR: batchruntomo - {where / (root + ext)} not found")
    faults(os.environ.get("CRBOOST_SIM_ITEM", root))
    rotation = next(
        ln.split("=")[1].strip() for ln in text.splitlines() if "copyarg.rotation" in ln
    )
    (where / "align.com").write_text(
        f"$tiltalign -StandardInput\nModelFile {root}.fid\n"
        f"ImageFile {root}.preali\nRotationAngle {rotation}\n"
        f"OutputTransformFile {root}.xf\nOutputTiltFile {root}.tlt\n"
    )
    return 0


def submfg(args: list[str]) -> int:
    if not args or any(a.startswith("-") for a in args):
        raise UsageError("usage: submfg comfile...")
    for com in args:
        path = Path(com)
        if not path.exists():
            raise Failure(f"ERROR: submfg - {com} does not exist")
        lines = dict(
            ln.split(" ", 1)
            for ln in path.read_text().splitlines()
            if " " in ln and not ln.startswith("$")
        )
        root = lines["OutputTransformFile"].rsplit(".", 1)[0]
        angles = [float(v) for v in Path(f"{root}.rawtlt").read_text().split()]
        rows = fake_alignment(root, angles, {"TiltAxis": [lines["RotationAngle"], "-1"]})
        rows = sorted(rows, key=lambda r: r[0])
        write_imod(Path("."), root, rows)
        os.replace(f"{root}_st.xf", f"{root}.xf")
        os.replace(f"{root}_st.tlt", f"{root}.tlt")
        Path("align.log").write_text("Residual error mean and sd:    0.900    0.400\n")
    return 0
