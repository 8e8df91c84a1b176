"""The truth the simulated tools report, each in its own convention (docs/conventions.md).

The demo's raw data has its truth next to it (raw/phantom.json, crboost/phantom.py): a simulated
tool that reads a movie finds the truth of that tilt by following the movie to its real file
(symlinks resolved) and looking for phantom.json in the folders above. Data without a truth
(hand-made test data) get made-up, reproducible values instead, as before.

What each tool reports, for a tilt whose truth is (tilt theta, tilt axis phi, shift s in A):
- AreTomo .aln (lil_aretomo, as RELION reads it: rlnTomoYTilt = TILT, rlnTomoZRot = ROT,
  rlnTomoX/YShiftAngst = TX/TY x pixel): ROT = phi (refined; the given axis when -TiltAxis a -1),
  TILT = the angle it was given (Warp gives -theta: ts_import inverts), TX/TY = s / stack pixel.
  Giving the inverted angles only mirrors the reconstruction in z: the projections of the
  mirrored specimen under -theta are the same images, so ROT and the shifts do not change.
- IMOD .xf (and AreTomo's _Imod/*_st.xf): the transform that aligns the raw image,
  A = Rz(-phi) = [[cos phi, sin phi], [-sin phi, cos phi]], d = -A s / pixel (RELION's reader,
  yet_another_imod_wrapper: specimen shift = -A^-1 d; ZRot = acos(A11) signed near the nominal
  axis); .tlt = the angles it was given.
- Warp XML (TiltSeries.ImportAlignments from that .xf): AxisAngle = Euler Z of A = phi,
  AxisOffset = A^T (-d) x pixel = s.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path

from ..phantom import TRUTH_FILE, TiltSeriesTruth, TiltTruth, read_truth
from .formats import rng_for

#: how Warp passes the truth of a tilt stack to the aligners it starts (the SIMULATOR's own
#: channel: a real aligner measures it from the images)
STACK_TRUTH_ENV = "CRBOOST_SIM_STACK_TRUTH"


@lru_cache(maxsize=16)
def _truth_file(path: str) -> dict[str, TiltSeriesTruth]:
    return read_truth(path)


def truth_of_movie(raw_movie: Path) -> tuple[TiltSeriesTruth, TiltTruth] | None:
    """The truth of the tilt whose raw movie this is (None for data without a truth)."""
    try:
        real = Path(os.path.realpath(raw_movie))
    except OSError:
        return None
    for folder in list(real.parents)[:3]:
        candidate = folder / TRUTH_FILE
        if candidate.is_file():
            for series in _truth_file(str(candidate)).values():
                tilt = series.tilt_of(real.name)
                if tilt is not None:
                    return series, tilt
            return None
    return None


def stack_truth(sections: list[tuple[TiltSeriesTruth, TiltTruth] | None]) -> str:
    """The stack's truth for the aligner Warp starts (JSON in STACK_TRUTH_ENV)."""
    return json.dumps([
        None if s is None else {"z_rot": s[1].z_rot, "tilt": s[1].tilt, "shift": list(s[1].shift)}
        for s in sections
    ])  # fmt: skip


def aligner_rows(name: str, given_angles: list[float], axis: float, refine: bool,
                 stack_pixel: float) -> list[tuple[int, float, float, float, float]]:  # fmt: skip
    """(section, ROT, TX, TY, TILT) per section in AreTomo's convention (see the module)."""
    truth = json.loads(os.environ.get(STACK_TRUTH_ENV, "null"))
    rows = []
    rng = rng_for("aln", name)
    for i, angle in enumerate(given_angles):
        known = truth[i] if truth and i < len(truth) else None
        if known is not None:
            rot = known["z_rot"] if refine else axis
            tx, ty = (v / stack_pixel for v in known["shift"])
        else:  # no truth: made up, reproducible
            rot = axis + (float(rng.normal(0, 0.5)) if refine else 0.0)
            tx, ty = float(rng.normal(0, 3)), float(rng.normal(0, 3))
        rows.append((i, rot, tx, ty, angle))
    if not truth:  # one tilt axis per series, as a fit gives
        rows = [(i, rows[0][1], tx, ty, a) for i, _, tx, ty, a in rows]
    return rows


def imod_xf(rot: float, tx: float, ty: float) -> tuple[float, float, float, float, float, float]:
    """IMOD's .xf row that aligns an image whose specimen is rotated by rot and shifted by
    (tx, ty) pixels: A = Rz(-rot), d = -A t."""
    c, s = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    a11, a12, a21, a22 = c, s, -s, c
    return (a11, a12, a21, a22, -(a11 * tx + a12 * ty), -(a21 * tx + a22 * ty))
