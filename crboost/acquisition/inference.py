"""Infer project-wide acquisition parameters from the tilt-series mdocs."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from .mdoc import TiltSeriesMdoc

#: EER movies are rendered into fractions of about this dose (e/A^2), as CryoBoost does.
EER_DOSE_PER_FRACTION = 0.3


@dataclass
class Inferred:
    """Values for the project config, each with where it came from; None when unknown."""

    pixel_size: float | None = None
    voltage: float | None = None
    tilt_axis: float | None = None
    dose_per_tilt: float | None = None
    detector_size: tuple[int, int] | None = None
    eer: bool = False
    eer_ngroups: int | None = None
    acquisition_software: str = "unknown"
    sources: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "pixel_size": self.pixel_size,
            "voltage": self.voltage,
            "tilt_axis": self.tilt_axis,
            "dose_per_tilt": self.dose_per_tilt,
            "detector_size": list(self.detector_size) if self.detector_size else None,
            "eer": self.eer,
            "eer_ngroups": self.eer_ngroups,
            "acquisition_software": self.acquisition_software,
            "sources": self.sources,
            "warnings": self.warnings,
        }


def infer(mdocs: list[TiltSeriesMdoc], dose_override: float | None = None) -> Inferred:
    """Consensus of the mdocs; disagreements between tilt series become warnings."""
    out = Inferred()
    if not mdocs:
        return out
    out.pixel_size = _consensus(
        out, "pixel_size", [m.pixel_size for m in mdocs], "mdoc PixelSpacing/Binning"
    )
    out.voltage = _consensus(out, "voltage", [m.voltage for m in mdocs], "mdoc Voltage")
    out.tilt_axis = _consensus(
        out, "tilt_axis", [m.tilt_axis for m in mdocs], mdocs[0].tilt_axis_source
    )
    out.detector_size = _consensus(
        out, "detector_size", [m.detector_size for m in mdocs], "mdoc ImageSize x Binning"
    )
    out.acquisition_software = Counter(m.software for m in mdocs).most_common(1)[0][0]

    if dose_override is not None:
        out.dose_per_tilt = dose_override
        out.sources["dose_per_tilt"] = "given"
    else:
        doses = [d for m in mdocs for d in m.doses() if d]
        if doses:
            out.dose_per_tilt = round(statistics.median(doses), 3)
            kinds = Counter(t.dose_source for m in mdocs for t in m.tilts if t.dose)
            out.sources["dose_per_tilt"] = "median of mdoc " + "/".join(
                k for k, _ in kinds.most_common()
            )
            spread = max(doses) / min(doses)
            if spread > 1.5:
                out.warnings.append(
                    f"per-tilt dose varies from {min(doses):.2f} to {max(doses):.2f} e/A^2"
                )

    out.eer = any(m.is_eer for m in mdocs)
    if out.eer and out.dose_per_tilt:
        out.eer_ngroups = max(1, round(out.dose_per_tilt / EER_DOSE_PER_FRACTION))
        out.sources["eer_ngroups"] = f"dose_per_tilt / {EER_DOSE_PER_FRACTION} e/A^2 per fraction"
    return out


def _consensus(out: Inferred, key: str, values: list, source: str):
    known = [v for v in values if v is not None]
    if not known:
        out.sources[key] = "not in the mdocs"
        return None
    counts = Counter(known)
    value, _ = counts.most_common(1)[0]
    if len(counts) > 1:
        listed = ", ".join(f"{_fmt(v)} ({n} tilt series)" for v, n in counts.most_common(4))
        out.warnings.append(f"{key} differs between tilt series: {listed}; using {_fmt(value)}")
    out.sources[key] = source
    return value


def _fmt(value) -> str:
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)
