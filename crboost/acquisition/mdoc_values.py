"""Values of an mdoc checked for sense as they are read (see sanity.py for the ranges).

A value that cannot be right is an MdocError naming the file, the section, the key, the value and
the allowed range with its unit. A value that is present but not a number where crboost can do
without it (NaN: what Tomo5 writes for "unknown") is never taken for "missing" in silence: it
becomes an `Unusable` note naming the key, the sections and what replaces it (another value of
the mdoc, or a value of the project's config), said by inspect, init, run, the import job and
status. Odd but possible values become warnings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import MdocError
from . import sanity

#: The config values that stand in for an mdoc value: (what, unit, how to give it to init).
SETTINGS = {
    "microscope.pixel_size": ("pixel size", "A/px", "--set microscope.pixel_size=A"),
    "microscope.voltage": ("voltage", "kV", "--set microscope.voltage=KV"),
    "acquisition.tilt_axis": ("tilt axis", "degrees", "--set acquisition.tilt_axis=DEGREES"),
    "acquisition.dose_per_tilt": ("dose", "e/A^2", "--set acquisition.dose_per_tilt=E"),
    "acquisition.detector_size": ("detector size", "px", "--set acquisition.detector_size=[X,Y]"),
}
HEADER = -1  # the place of a header value among the sections' ZValues
TITLE = -2  # the place of a value in a title line of the header
NOT_A_NUMBER = "not a number"


@dataclass(frozen=True)
class Unusable:
    """Values present in an mdoc but not usable, at the same places, and what is used instead:
    `instead` (a clause about the mdoc's own replacement) or else the project's config value
    `setting`."""

    values: tuple[tuple[str, str], ...]  # (key, value as written)
    where: str
    problem: str = NOT_A_NUMBER
    instead: str | None = None
    setting: str | None = None

    @property
    def keys(self) -> list[str]:
        return [k for k, _ in self.values]

    def head(self) -> str:
        """`ExposureDose = NaN, DoseRate = NaN in every section: not a number` (no file, no
        replacement)."""
        if all(not v for _, v in self.values):
            verb = "is" if len(self.values) == 1 else "are"
            return f"{', '.join(self.keys)} {verb} empty in {self.where}"
        shown = ", ".join(f"{k} = {v}" for k, v in self.values)
        return f"{shown} in {self.where}: {self.problem}"

    def line(self, source: str, values: dict[str, str] | None = None) -> str:
        """One line naming the file (`source`), the key, the sections and the replacement.
        values: the project's config values by setting, shown as text (None: no project; the
        line then says how to give the value)."""
        return f"{source}: {self.head()}; {self.replacement(values)}"

    def replacement(self, values: dict[str, str] | None = None) -> str:
        if self.instead:
            return self.instead
        what, _, how = SETTINGS[self.setting]
        some = self.where.startswith("[ZValue")  # some sections only: some tilts (doses)
        if values is not None and values.get(self.setting):
            used = f"the project's {self.setting} = {values[self.setting]} is used"
            return used + (" for these tilts" if some else "")
        if some:
            return f"these tilts get the project's {self.setting} (crboost init: {how})"
        return f"no {what} from this mdoc: give it to crboost init with {how}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unusable:
        values = tuple((str(k), str(v)) for k, v in data["values"])
        return cls(**{**data, "values": values})


def setting_values(config: Any) -> dict[str, str]:
    """The config values that replace unusable mdoc values, as shown in the notes."""
    size = config.acquisition.detector_size
    return {
        "microscope.pixel_size": f"{config.microscope.pixel_size:g} A/px",
        "microscope.voltage": f"{config.microscope.voltage:g} kV",
        "acquisition.tilt_axis": f"{config.acquisition.tilt_axis:g} degrees",
        "acquisition.dose_per_tilt": f"{config.acquisition.dose_per_tilt:g} e/A^2"
        + (" (dose_source: config)" if config.acquisition.dose_source == "config" else ""),
        "acquisition.detector_size": f"{size[0]}x{size[1]} px",
    }


def unusable_lines(
    entries: list[tuple[str, str, list[Unusable]]], values: dict[str, str] | None, most: int = 3
) -> list[str]:
    """Lines for the notes of several tilt series ((name, mdoc, notes)): one per note naming
    the mdoc, or one for the same note of more than `most` tilt series, naming them."""
    same: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name, mdoc, notes in entries:
        for note in notes:
            same.setdefault((note.head(), note.replacement(values)), []).append((name, mdoc))
    lines = []
    for (head, replacement), where in same.items():
        if len(where) > most:
            names = [n for n, _ in where]
            shown = ", ".join(names[:most]) + (", ..." if len(names) > most else "")
            lines.append(f"{len(names)} tilt series ({shown}): {head}; {replacement}")
        else:
            lines += [f"{mdoc}: {head}; {replacement}" for _, mdoc in where]
    return lines


class UnusableValues:
    """Collects the places (header, sections by ZValue) of unusable values of one mdoc."""

    def __init__(self, z_values: list[int]):
        self.z_values = z_values
        self._places: dict[tuple, list[int]] = {}

    def add(self, key: str, value: str, place: int, problem: str = NOT_A_NUMBER,
            instead: str | None = None, setting: str | None = None) -> None:  # fmt: skip
        """place: a ZValue, or HEADER."""
        self._places.setdefault((key, value, problem, instead, setting), []).append(place)

    def notes(self) -> list[Unusable]:
        """One note per place, problem and replacement (several keys in one)."""
        merged: dict[tuple, list[tuple[str, str]]] = {}
        for (key, value, problem, instead, setting), places in self._places.items():
            merged.setdefault((self.where(places), problem, instead, setting), []).append(
                (key, value)
            )
        return [Unusable(tuple(values), *rest) for rest, values in merged.items()]

    def where(self, places: list[int]) -> str:
        if TITLE in places:
            return "the title"
        header = HEADER in places
        sections = sorted({p for p in places if p != HEADER})
        if not sections:
            return "the header"
        if len(sections) == len(self.z_values) and len(sections) > 1:
            shown = "every section"
        else:
            named = [f"[ZValue = {z}]" for z in sections[:3]]
            more = len(sections) - len(named)
            shown = ", ".join(named) + (f" and {more} more sections" if more else "")
        return f"the header and {shown}" if header else shown


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def where_key(key: str, place: int) -> str:
    """How a key is named in an error: `[ZValue = 3] TiltAngle`, or `PixelSpacing` (header)."""
    return key if place == HEADER else f"[ZValue = {place}] {key}"


def tilt_dose(
    path: Path, section, pixel_size: float | None, bad: dict[str, str] | None = None
) -> tuple[float | None, str, list[str]]:
    """The dose of one tilt from the first source that knows it, and the keys of the sources
    consulted on the way whose value was present but not usable (`bad`: NaN, as Tomo5 writes
    for "unknown", or empty; the reader made those None). 0 means unknown (SerialEM writes it
    without a dose calibration); negative, infinite or absurd values stop."""
    where = f"[ZValue = {section.ZValue}]"
    bad = bad or {}
    consulted = [k for k in ("ExposureDose",) if k in bad]
    exposure = section.ExposureDose
    if exposure:
        dose = sanity.checked(sanity.DOSE_PER_TILT, exposure, f"{path}: {where} ExposureDose")
        return dose, "ExposureDose", consulted
    consulted += [k for k in ("FrameDosesAndNumber",) if k in bad]
    frames = section.FrameDosesAndNumbers or []
    if frames:
        total = sum(d * n for d, n in frames)
        if total:
            shown = " ".join(f"{d:g} {n}" for d, n in frames)
            sanity.checked(sanity.DOSE_PER_TILT, total,
                           f"{path}: {where} FrameDosesAndNumber = {shown}, in total")  # fmt: skip
            return float(total), "FrameDosesAndNumber", consulted
    # SerialEM's DoseRate is electrons per unbinned pixel per second.
    consulted += [k for k in ("DoseRate", "ExposureTime") if k in bad]
    rate, seconds = section.DoseRate, section.ExposureTime
    if rate and seconds and pixel_size:
        sanity.checked(sanity.DOSE_RATE, rate, f"{path}: {where} DoseRate")
        sanity.checked(sanity.EXPOSURE_TIME, seconds, f"{path}: {where} ExposureTime")
        dose = rate * seconds / pixel_size**2
        sanity.checked(sanity.DOSE_PER_TILT, dose,
                       f"{path}: {where} DoseRate*ExposureTime/pixel size^2")  # fmt: skip
        return float(dose), "DoseRate*ExposureTime", consulted
    return None, "none", consulted


def sane(path: Path, key: str, quantity, value, place=None, nan_is_missing: bool = True):
    """A value of the mdoc checked for sense: MdocError naming the file, the place (the
    reader's header or section: `place.at(key, value)`), the key, the value and the range;
    None when missing (or NaN where the caller deals with it: it must say so)."""
    if value is None or (nan_is_missing and is_nan(value)):
        return None
    try:
        return quantity.check(value)
    except sanity.SenseError as e:
        shown = sanity.show(value)
        spot = place.at(key, shown) if place is not None else f"{key} = {shown}"
        raise MdocError(f"{path}: {spot}: {e}") from None


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
