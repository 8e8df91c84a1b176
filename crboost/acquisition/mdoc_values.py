"""Values of an mdoc checked for sense as they are read (see sanity.py for the ranges).

A value that cannot be right is an MdocError naming the file, the section, the key, the value and
the allowed range with its unit; NaN (what Tomo5 writes for "unknown") counts as missing where a
value may be missing; odd but possible values become warnings.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import MdocError
from . import sanity


def tilt_dose(path: Path, section, pixel_size: float | None) -> tuple[float | None, str]:
    """The dose of one tilt from the first source that knows it. 0 and NaN mean unknown (SerialEM
    writes 0 without a dose calibration, Tomo5 NaN); negative, infinite or absurd values stop."""
    where = f"[ZValue = {section.ZValue}]"
    exposure = sanity.known(section.ExposureDose)
    if exposure:
        return sanity.checked(sanity.DOSE_PER_TILT, exposure, f"{path}: {where} ExposureDose"), (
            "ExposureDose"
        )
    frames = [(sanity.known(d), n) for d, n in section.FrameDosesAndNumbers or []]
    if frames and all(d is not None and n > 0 for d, n in frames):
        total = sum(d * n for d, n in frames)
        if total:
            shown = " ".join(f"{d:g} {n}" for d, n in frames)
            sanity.checked(sanity.DOSE_PER_TILT, total,
                           f"{path}: {where} FrameDosesAndNumber = {shown}, in total")  # fmt: skip
            return float(total), "FrameDosesAndNumber"
    # SerialEM's DoseRate is electrons per unbinned pixel per second.
    rate, seconds = sanity.known(section.DoseRate), sanity.known(section.ExposureTime)
    if rate and seconds and pixel_size:
        sanity.checked(sanity.DOSE_RATE, rate, f"{path}: {where} DoseRate")
        sanity.checked(sanity.EXPOSURE_TIME, seconds, f"{path}: {where} ExposureTime")
        dose = rate * seconds / pixel_size**2
        sanity.checked(sanity.DOSE_PER_TILT, dose,
                       f"{path}: {where} DoseRate*ExposureTime/pixel size^2")  # fmt: skip
        return float(dose), "DoseRate*ExposureTime"
    return None, "none"


def sane(path: Path, key: str, quantity, value, nan_is_missing: bool = True) -> float | None:
    """A value of the mdoc checked for sense (MdocError naming file, key, value and range);
    None when missing (or NaN, Tomo5's 'unknown', where that is allowed)."""
    if value is None or (nan_is_missing and sanity.known(value) is None):
        return None
    try:
        return sanity.checked(quantity, value, f"{path}: {key}")
    except sanity.SenseError as e:
        raise MdocError(str(e)) from None


def warn_odd(warnings: list[str], quantity, value: float) -> None:
    oddity = quantity.oddity(value)
    if oddity:
        warnings.append(oddity)


def stack_only_refusal(path: Path, stack: str | None) -> str:
    """Why a stack-only session (no movie saved) is not processed: crboost's pipeline starts from
    movies (WarpTools' motion correction and per-tilt CTF; even/odd halves for denoising)."""
    return (
        f"{path}: stack-only session (no movie saved: every SubFramePath is empty; the tilts are "
        f"only in the tilt stack {stack or '(ImageFile)'}): not supported, crboost processes "
        "movies (WarpTools motion correction, per-tilt CTF, even/odd halves for denoising); "
        "acquire with frames saved"
    )
