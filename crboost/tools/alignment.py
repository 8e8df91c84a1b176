"""Tilt-series alignments (AreTomo .aln, IMOD .xf/.tlt) as RELION 5 per-tilt columns.

RELION 5's projection model (Tomogram::setProjectionMatrix): rotate about X (rlnTomoXTilt), Y
(rlnTomoYTilt), Z (rlnTomoZRot), then shift the projected specimen by rlnTomoXShiftAngst /
rlnTomoYShiftAngst. Conversions follow RELION's own readers (align_tiltseries_runner.cpp):
- AreTomo .aln: XTilt 0, YTilt = TILT, ZRot = ROT, shifts = TX, TY x stack pixel size;
- IMOD .xf: shifts = -(A^-1 d) x stack pixel size, ZRot = acos(A11) with the sign closest to the
  nominal tilt axis, YTilt = the .tlt angle.
The stack here is Warp's tiltstack, written at the alignment pixel size, so that is the pixel
size the shifts are in. Warp's ts_import inverts tilt angles (unless --dont_invert); the angles
are inverted back so rlnTomoYTilt follows rlnTomoNominalStageTiltAngle, as RELION expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CrboostError


class AlignmentError(CrboostError):
    pass


@dataclass
class TiltAlignment:
    section: int  # 0-based section in the aligned stack
    x_tilt: float
    y_tilt: float
    z_rot: float
    x_shift_angst: float
    y_shift_angst: float


def read_aln(path: str | Path) -> np.ndarray:
    """Global-alignment rows of an AreTomo .aln: SEC ROT GMAG TX TY SMEAN SFIT SCALE BASE TILT."""
    rows = []
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise AlignmentError(f"{path}: missing") from None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# Local Alignment"):
            break
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) < 10:
            raise AlignmentError(f"{path}: row {stripped!r} has {len(fields)} columns, expected 10")
        rows.append([float(v) for v in fields[:10]])
    if not rows:
        raise AlignmentError(f"{path}: no alignment rows")
    return np.array(rows)


def aln_is_one_based(path: str | Path, n_sections: int) -> bool:
    """SEC is 0-based up to AreTomo3 2.0.6, 1-based after; tell from the values."""
    secs = read_aln(path)[:, 0]
    return secs.min() >= 1 and secs.max() >= n_sections


def from_aln(
    path: str | Path, stack_pixel: float, invert_angles: bool, n_sections: int
) -> list[TiltAlignment]:
    rows = read_aln(path)
    offset = 1 if aln_is_one_based(path, n_sections) else 0
    sign = -1.0 if invert_angles else 1.0
    return [
        TiltAlignment(
            section=int(r[0]) - offset,
            x_tilt=0.0,
            y_tilt=sign * r[9],
            z_rot=r[1],
            x_shift_angst=r[3] * stack_pixel,
            y_shift_angst=r[4] * stack_pixel,
        )
        for r in rows
    ]


def read_xf(path: str | Path) -> np.ndarray:
    try:
        data = np.loadtxt(path, ndmin=2)
    except FileNotFoundError:
        raise AlignmentError(f"{path}: missing") from None
    except ValueError as e:
        raise AlignmentError(f"{path}: not an IMOD .xf ({e})") from None
    if data.shape[1] != 6:
        raise AlignmentError(f"{path}: {data.shape[1]} columns, expected 6")
    return data


def read_tlt(path: str | Path) -> np.ndarray:
    try:
        data = np.loadtxt(path, ndmin=2)
    except FileNotFoundError:
        raise AlignmentError(f"{path}: missing") from None
    return data[:, 0]


def from_xf(
    xf_path: str | Path,
    tlt_path: str | Path,
    stack_pixel: float,
    nominal_axis: float,
    invert_angles: bool,
) -> list[TiltAlignment]:
    xf = read_xf(xf_path)
    tilts = read_tlt(tlt_path)
    if len(xf) != len(tilts):
        raise AlignmentError(f"{xf_path}: {len(xf)} rows but {tlt_path} has {len(tilts)} angles")
    sign = -1.0 if invert_angles else 1.0
    out = []
    for i, (row, tilt) in enumerate(zip(xf, tilts, strict=True)):
        a = np.array([[row[0], row[1]], [row[2], row[3]]])
        shift = -np.linalg.inv(a) @ row[4:6]
        z_rot = math.degrees(math.acos(max(-1.0, min(1.0, row[0]))))
        if abs(-nominal_axis - z_rot) < abs(nominal_axis - z_rot):
            z_rot = -z_rot
        out.append(
            TiltAlignment(
                section=i,
                x_tilt=0.0,
                y_tilt=sign * float(tilt),
                z_rot=z_rot,
                x_shift_angst=float(shift[0]) * stack_pixel,
                y_shift_angst=float(shift[1]) * stack_pixel,
            )
        )
    return out
