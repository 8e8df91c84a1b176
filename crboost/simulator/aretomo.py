"""Simulated AreTomo2 (1.1.x) and AreTomo3 (2.x) as WarpTools starts them: their tags (AreTomo2
CInput.cpp; AreTomo3 CInput.cpp, CMcInput.cpp, CAtInput.cpp: the tags of v2.1.3, v2.2.2 and HEAD),
their tolerance of unknown tags and extra values (Util/CParseArgs.cpp), and their outputs: .aln
(AreTomo2: `<InMrc>.aln` in OutMrc's folder, MrcUtil/CAlignFile.cpp; AreTomo3: `<OutDir>/<stem>.aln`,
CSaveAlignFile.cpp, SEC 1-based) and the _Imod folder. The alignment is the truth (geometry.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .formats import Failure, faults, read_mrc, write_aln, write_mrc
from .geometry import aligner_rows
from .imod import write_imod
from .options import UsageError, parse_tags

ARETOMO2_TAGS = {
    "InMrc": 1, "OutMrc": 1, "AlnFile": 1, "AngFile": 1, "RoiFile": 1, "TmpFile": 1,
    "LogFile": 1, "TiltRange": 2, "TiltAxis": 2, "AlignZ": 1, "VolZ": 1, "OutBin": 1,
    "TiltCor": 2, "Gpu": 64, "ReconRange": 2, "PixSize": 1, "Kv": 1, "ImgDose": 1, "Cs": 1,
    "AmpContrast": 1, "ExtPhase": 2, "FlipVol": 1, "FlipInt": 1, "Sart": 2, "Wbp": 1,
    "Patch": 2, "TiltScheme": 3, "OutXF": 1, "Align": 1, "CropVol": 2, "OutImod": 1,
    "DarkTol": 1, "Bft": 2, "IntpCor": 1,
}  # fmt: skip
ARETOMO3_TAGS = {
    "InPrefix": 1, "InSuffix": 1, "InSkips": 1, "TmpDir": 1, "LogDir": 1, "OutDir": 1,
    "Gpu": 64, "kV": 1, "Cs": 1, "PixSize": 1, "FmDose": 1, "Cmd": 1, "Resume": 1, "Serial": 1,
    "Gain": 1, "Dark": 1, "DefectFile": 1, "FmInt": 1, "McPatch": 3, "McIter": 1,
    "McTol": 1, "McBin": 1, "Group": 2, "FmRef": 1, "RotGain": 1, "FlipGain": 1, "InvGain": 1,
    "Mag": 3, "InFmMotion": 1, "EerSampling": 1, "TiffOrder": 1, "TotalDose": 1,
    "SplitSum": 1, "Bft": 2, "TiltAxis": 2, "AlignZ": 1, "VolZ": 1, "ExtZ": 1, "AtBin": 3,
    "TiltCor": 2, "ReconRange": 2, "AmpContrast": 1, "ExtPhase": 2, "FlipVol": 1,
    "FlipInt": 1, "Sart": 2, "Wbp": 1, "AtPatch": 2, "OutXF": 1, "Align": 1, "CropVol": 2,
    "OutImod": 1, "DarkTol": 1, "IntpCor": 1, "CorrCTF": 2, "Throw": 1,
}  # fmt: skip


def _axis(tags: dict) -> tuple[float, bool]:
    """-TiltAxis angle [refine]: WarpWorker passes `a 0` to search, `a -1` to keep it."""
    values = tags.get("TiltAxis", ["0"])
    return float(values[0]), len(values) < 2 or float(values[1]) >= 0


def aretomo2(args: list[str]) -> int:
    if args in (["--version"], ["-v"]):
        print("AreTomo2 version 1.1.3 (SIMULATED)")
        return 0
    tags = parse_tags(args, ARETOMO2_TAGS, strict=False)
    for required in ("InMrc", "OutMrc"):
        if required not in tags:
            raise UsageError(f"-{required} is required")
    in_mrc = Path(tags["InMrc"][0])
    stack, pixel = read_mrc(in_mrc)
    name = in_mrc.name.rsplit(".", 1)[0]
    faults(os.environ.get("CRBOOST_SIM_ITEM", name))
    angles = _angles(tags, len(stack))
    axis, refine = _axis(tags)
    rows = aligner_rows(name, angles, axis, refine, pixel)
    out_dir = Path(tags["OutMrc"][0]).parent
    aln_name = (
        in_mrc.name.replace(".mrc", ".aln") if ".mrc" in in_mrc.name else in_mrc.name + ".aln"
    )
    write_aln(
        out_dir / aln_name, rows, (stack.shape[2], stack.shape[1], len(stack)), trailing_space=True
    )
    if int(tags.get("OutImod", ["0"])[0]) >= 1:
        write_imod(out_dir / f"{name}_Imod", name, rows)
    write_mrc(Path(tags["OutMrc"][0]), stack, pixel)
    print("Total time: 1.0 sec")
    return 0


def aretomo3(args: list[str]) -> int:
    if args in (["--version"], ["-v"]):
        print("AreTomo3 version 2.2.2 (SIMULATED)")
        return 0
    tags = parse_tags(args, ARETOMO3_TAGS, strict=False)
    for required in ("InPrefix", "OutDir"):
        if required not in tags:
            raise UsageError(f"-{required} is required")
    if tags.get("Cmd", ["0"])[0] != "1":
        raise Failure("the simulator only models -Cmd 1 (start from tilt-series alignment)")
    prefix, suffix = tags["InPrefix"][0], tags.get("InSuffix", [".mrc"])[0]
    in_mrc = Path(prefix + suffix)
    stack, pixel = read_mrc(in_mrc)
    name = Path(prefix).name
    faults(os.environ.get("CRBOOST_SIM_ITEM", name))
    out = Path(tags["OutDir"][0])
    if len(str(out / f"{name}.aln").encode()) >= 256:
        raise Failure(f"cannot open {out / name}.aln (path longer than AreTomo3's 256 bytes)")
    rawtlt = in_mrc.with_suffix(".rawtlt")
    angles = list(np.loadtxt(rawtlt, ndmin=2)[:, 0]) if rawtlt.exists() else list(
        np.linspace(-60, 60, len(stack)))  # fmt: skip
    axis, refine = _axis(tags)
    rows = aligner_rows(name, [float(a) for a in angles], axis, refine, pixel)
    out.mkdir(parents=True, exist_ok=True)
    rows1 = [(sec + 1, *rest) for sec, *rest in rows]  # SEC is 1-based from AreTomo3 2.0.7
    write_aln(out / f"{name}.aln", rows1, (stack.shape[2], stack.shape[1], len(stack)),
              trailing_space=False)  # fmt: skip
    (out / f"{name}_TLT.txt").write_text(
        "".join(f"{t:8.2f}  {i + 1:4d}  {3.0:8.2f}\n" for i, t in enumerate(angles))
    )
    if int(tags.get("OutImod", ["0"])[0]) >= 1:
        write_imod(out / f"{name}_Imod", name, rows)
    return 0


def _angles(tags: dict, n: int) -> list[float]:
    if "AngFile" in tags:
        path = Path(tags["AngFile"][0])
        if not path.exists():
            raise Failure(f"Error: unable to open angle file {path}")
        return [float(ln.split()[0]) for ln in path.read_text().splitlines() if ln.strip()]
    if "TiltRange" in tags:
        low, high = map(float, tags["TiltRange"])
        return list(np.linspace(low, high, n))
    raise Failure("no tilt angles (-AngFile or -TiltRange)")
