"""Simulated IMOD programs as WarpTools calls them (batchruntomo, submfg: WarpWorker.cs
TomoEtomoPatchTrack), and the IMOD files (.xf, .tlt, .xtilt) the simulated aligners write.

IMOD's scripts need IMOD_DIR (its Python modules and programs live there); batchruntomo sets up
the stack directory from the directive file and -RootName in -CurrentLocation, and writes the
alignment command file align.com; `submfg align.com` runs tiltalign, which writes <root>.xf and
<root>.tlt (IMOD's aligna.com template: OutputTransformFile / OutputTiltFile, then b3dcopy).
"""

from __future__ import annotations

import os
from pathlib import Path

from .formats import Failure, faults, write_angles, write_xf
from .geometry import aligner_rows, imod_xf
from .options import UsageError, parse_tags

BATCHRUNTOMO_TAGS = {
    "DirectiveFile": 1, "RootName": 1, "CurrentLocation": 1, "DeliverToDirectory": 1,
    "StartingStep": 1, "EndingStep": 1, "CPUMachineList": 1, "GPUMachineList": 1,
    "SingleOnFirstCPU": 1, "NiceValue": 1, "ExitOnError": 1, "CheckFile": 1, "EtomoDebug": 1,
    "RemoteDirectory": 1, "EmailAddress": 1, "SMTPServer": 1,
}  # fmt: skip


def write_imod(folder: Path, name: str, rows: list[tuple]) -> None:
    """AreTomo's -OutImod folder: <name>_st.xf (IMOD's convention), .tlt, .xtilt, com files."""
    folder.mkdir(parents=True, exist_ok=True)
    write_xf(folder / f"{name}_st.xf", [imod_xf(rot, tx, ty) for _sec, rot, tx, ty, _ in rows])
    write_angles(folder / f"{name}_st.tlt", [r[4] for r in rows])
    write_angles(folder / f"{name}_st.xtilt", [0.0] * len(rows))
    for com in ("newst.com", "tilt.com"):
        (folder / com).write_text(f"# {com} written by the AreTomo SIMULATOR\n")


def _imod_dir() -> Path:
    value = os.environ.get("IMOD_DIR")
    if not value or not Path(value).is_dir():
        raise Failure(
            "IMOD_DIR is not defined or not a directory: IMOD's Python modules cannot be found"
        )
    return Path(value)


def batchruntomo(args: list[str]) -> int:
    _imod_dir()
    tags = parse_tags(args, BATCHRUNTOMO_TAGS, case_sensitive=True)
    for required in ("DirectiveFile", "RootName"):
        if required not in tags:
            raise UsageError(f"-{required} is required")
    directive = Path(tags["DirectiveFile"][0])
    if not directive.exists():
        raise Failure(f"ERROR: batchruntomo - directive file {directive} does not exist")
    text = directive.read_text()
    values = dict(ln.split(" = ", 1) for ln in text.splitlines() if " = " in ln)
    for key in ("setupset.copyarg.rotation", "setupset.copyarg.pixel"):
        if key not in values:
            raise Failure(f"ERROR: batchruntomo - directive {key} missing")
    where = Path(tags.get("CurrentLocation", ["."])[0])
    root = tags["RootName"][0]
    for ext in (".st", ".rawtlt"):
        if not (where / f"{root}{ext}").exists():
            raise Failure(f"ERROR: batchruntomo - {where / (root + ext)} not found")
    faults(os.environ.get("CRBOOST_SIM_ITEM", root))
    rot_option = values.get("comparam.align.tiltalign.RotOption", "0")
    (where / "align.com").write_text(
        f"$tiltalign -StandardInput\nModelFile {root}.fid\nImageFile {root}.preali\n"
        f"RotationAngle {values['setupset.copyarg.rotation']}\nRotOption {rot_option}\n"
        f"PixelSize {values['setupset.copyarg.pixel']}\n"
        f"OutputTransformFile {root}.xf\nOutputTiltFile {root}.tlt\n"
    )
    return 0


def submfg(args: list[str]) -> int:
    _imod_dir()
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
        refine = lines.get("RotOption", "0").strip() != "0"
        pixel = float(lines["PixelSize"]) * 10  # nm -> A
        rows = aligner_rows(root, angles, float(lines["RotationAngle"]), refine, pixel)
        write_xf(Path(f"{root}.xf"), [imod_xf(rot, tx, ty) for _s, rot, tx, ty, _ in rows])
        write_angles(Path(f"{root}.tlt"), [r[4] for r in rows])
        Path("align.log").write_text("Residual error mean and sd:    0.900    0.400\n")
    return 0
