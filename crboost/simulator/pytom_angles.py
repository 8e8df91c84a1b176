"""pytom-match-pick's angular search, as pytom 0.14 generates it (src/pytom_tm/angles.py).

The angle list is what the `<tomo>_angles.mrc` map indexes, so the simulated matcher and the
simulated extraction must build the same list pytom builds: healpix (RING scheme) for Z1 and X,
a linear sweep for Z2, sorted, then cut to Z1 < 2*pi/symmetry. The healpix pixel centres are
computed here (the RING-scheme formulas of HEALPix's pix2ang_ring) instead of importing the
`healpix` package.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def nside_for(angle_diff: float) -> int:
    npix = 4 * np.pi / (angle_diff * np.pi / 180) ** 2
    nside = 0
    while 12 * nside * nside < npix:
        nside += 1
    return nside


def pix2ang_ring(nside: int) -> tuple[np.ndarray, np.ndarray]:
    """(theta, phi) of every pixel centre, RING ordering."""
    npix = 12 * nside * nside
    ncap = 2 * nside * (nside - 1)
    theta = np.empty(npix)
    phi = np.empty(npix)
    for p in range(npix):
        if p < ncap:  # north polar cap
            iring = int(0.5 * (1 + math.isqrt(1 + 2 * p)))
            while 2 * iring * (iring + 1) <= p:  # guard the integer square root
                iring += 1
            iphi = p + 1 - 2 * iring * (iring - 1)
            z = 1 - iring * iring / (3.0 * nside * nside)
            ph = (iphi - 0.5) * math.pi / (2 * iring)
        elif p < npix - ncap:  # equatorial belt
            ip = p - ncap
            iring = ip // (4 * nside) + nside
            iphi = ip % (4 * nside) + 1
            fodd = 1.0 if (iring + nside) & 1 else 0.5
            z = (2 * nside - iring) * 2.0 / (3.0 * nside)
            ph = (iphi - fodd) * math.pi / (2 * nside)
        else:  # south polar cap
            ip = npix - p
            iring = int(0.5 * (1 + math.isqrt(2 * ip - 1)))
            while 2 * iring * (iring + 1) < ip:
                iring += 1
            iphi = 4 * iring + 1 - (ip - 2 * iring * (iring - 1))
            z = -1 + iring * iring / (3.0 * nside * nside)
            ph = (iphi - 0.5) * math.pi / (2 * iring)
        theta[p] = math.acos(max(-1.0, min(1.0, z)))
        phi[p] = ph
    return theta, phi


def angle_to_angle_list(angle_diff: float) -> list[tuple[float, float, float]]:
    nside = nside_for(angle_diff)
    theta, phi = pix2ang_ring(nside)
    phi %= 2 * np.pi
    theta %= np.pi
    n_psi = int(np.ceil(360 / angle_diff))
    psi = np.linspace(0, 2 * np.pi, n_psi, endpoint=False)
    out = [
        (float(ph), float(th), float(ps)) for ph, th in zip(phi, theta, strict=True) for ps in psi
    ]
    out.sort()
    return out


def get_angle_list(angle: str | float, symmetry: int = 1) -> list[tuple[float, float, float]]:
    """pytom's get_angle_list(angle, sort_angles=True, symmetry)."""
    try:
        out = angle_to_angle_list(float(angle))
    except (TypeError, ValueError):
        path = Path(str(angle))
        if not (path.exists() and path.suffix == ".txt"):
            raise ValueError("Invalid angle input provided") from None
        out = [tuple(map(float, line.strip().split(" "))) for line in path.read_text().splitlines()]
        if not all(len(a) == 3 for a in out):
            raise ValueError(
                "Invalid angle file provided, each line should have 3 ZXZ Euler angles!"
            ) from None
        out.sort()
    max_z1 = 2 * np.pi / symmetry
    return [a for a in out if a[0] < max_z1]
