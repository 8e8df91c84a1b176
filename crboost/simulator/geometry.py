"""The alignment the simulated aligners report (made-up, reproducible per tilt series)."""

from __future__ import annotations

from .formats import rng_for


def fake_alignment(name: str, angles: list[float], tags: dict) -> list[tuple]:
    rng = rng_for("aln", name)
    axis = float(tags.get("TiltAxis", ["0"])[0])
    refine = len(tags.get("TiltAxis", [])) < 2 or float(tags["TiltAxis"][1]) >= 0
    rot = axis + (float(rng.normal(0, 0.5)) if refine else 0.0)
    offset = float(rng.normal(0, 0.3)) if "TiltCor" in tags else 0.0
    return [
        (i, rot, float(rng.normal(0, 3)), float(rng.normal(0, 3)), a + offset)
        for i, a in sorted(enumerate(angles), key=lambda x: x[1])
    ]
