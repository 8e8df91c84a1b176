"""The keys of a tilt-series mdoc that crboost reads, read from the header and the sections.

Only these keys are given to mdocfile (a broken value of another key stops nothing). Per key, a
value present but not usable (NaN, as Tomo5 writes for "unknown"; empty) stops the tilt series
(MdocError naming the file, the section, the key and the value) or is replaced, noted in an
`UnusableValues` with what replaces it (see mdoc_values.py); mdoc.py puts the tilt series together.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MdocError
from . import sanity
from .mdoc_values import HEADER, NOT_A_NUMBER, TITLE, UnusableValues, is_nan, sane

#: The keys crboost reads (the others are not parsed).
HEADER_KEYS = ("PixelSpacing", "Voltage", "ImageSize", "ImageFile", "Version", "T")


SECTION_KEYS = ("TiltAngle", "PixelSpacing", "Binning", "Voltage", "ExposureDose",
                "FrameDosesAndNumber", "DoseRate", "ExposureTime", "NumSubFrames",
                "TargetDefocus", "RotationAngle", "DateTime", "SubFramePath")  # fmt: skip


#: Read keys holding text, where an empty value means something (no movie saved)
_TEXT_KEYS = ("ImageFile", "Version", "T", "SubFramePath")


#: Whole numbers for mdocfile: a NaN there (Tomo5's "unknown") is taken out before it parses.
_INTEGER_KEYS = ("ImageSize", "NumSubFrames")


#: Parsed here, not by mdocfile (which drops an odd last token: `NaN` alone would vanish).
_OWN_KEYS = ("FrameDosesAndNumber",)


#: Numbers of mdocfile's models, where NaN comes through as a float NaN.
#: (TiltAngle is not among them: a tilt without its angle is refused, NaN or not.)
FLOAT_KEYS = ("PixelSpacing", "Voltage", "Binning", "ExposureDose", "DoseRate", "ExposureTime",
               "TargetDefocus", "RotationAngle")  # fmt: skip


# the value: up to a comma and a space, a space, or the end (`85,3` is a locale's 85.3)
_SERIALEM_AXIS = re.compile(r"(Tilt\s*axis\s*angle)\s*=\s*(\S+?)(?=,\s|,?$|\s)", re.IGNORECASE)


_TOMO5_AXIS = re.compile(r"(TiltAxisAngle)\s*=\s*(\S+?)(?=,\s|,?$|\s)")


@dataclass
class Place:
    """The header or one section: the read keys as written, and those present but unusable."""

    label: str  # "header" or the section's first line, "[ZValue = 3]"
    raw: dict[str, str] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)  # key -> problem ("not a number", "empty")
    z: int = HEADER

    def at(self, key: str, value=None) -> str:
        """`[ZValue = 3] Binning = 0`, `PixelSpacing = 0 in the header` (value as written)."""
        shown = self.raw.get(key, "") if value is None else value
        if self.label == "header":
            return f"{key} = {shown} in the header"
        return f"{self.label} {key} = {shown}"


def read_keys(place: Place, lines: list[str], keys: tuple[str, ...]) -> list[str]:
    """The lines mdocfile is given: section and title lines, and the keys crboost reads, without
    values that are empty or NaN in a whole number (recorded in `place.bad`)."""
    kept = []
    for line in lines:
        if line.startswith("["):
            kept.append(line)
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in keys:
            continue
        place.raw[key] = value
        if not value and key not in _TEXT_KEYS:
            place.bad[key] = "empty"
        elif key in _OWN_KEYS:
            continue
        elif key in _INTEGER_KEYS and any(t.lower() == "nan" for t in value.split()):
            place.bad[key] = NOT_A_NUMBER
        else:
            kept.append(line)
    return kept


def frame_doses(path: Path, place: Place) -> list[tuple[float, int]] | None:
    """FrameDosesAndNumber (`dose count` pairs) or None; Tomo5's `NaN -1` (or any NaN dose, or
    a count < 1) is recorded as unusable; anything but pairs of numbers stops."""
    text = place.raw.get("FrameDosesAndNumber")
    if not text or "FrameDosesAndNumber" in place.bad:
        return None
    tokens = text.split()
    if any(t.lower() == "nan" for t in tokens):
        place.bad["FrameDosesAndNumber"] = NOT_A_NUMBER
        return None
    try:
        if len(tokens) % 2:
            raise ValueError
        pairs = [(float(d), int(n)) for d, n in zip(tokens[::2], tokens[1::2], strict=True)]
    except ValueError:
        raise MdocError(f"{path}: {place.at('FrameDosesAndNumber')}: not pairs of a dose and a "
                        "frame count") from None  # fmt: skip
    if any(n < 1 for _, n in pairs):
        place.bad["FrameDosesAndNumber"] = "a frame count < 1"
        return None
    return pairs


def take_nan(place: Place, model, keys: tuple[str, ...]) -> None:
    """NaN values of the model become None, recorded in `place.bad` (the callers say so)."""
    for key in keys:
        if is_nan(getattr(model, key, None)):
            place.bad[key] = NOT_A_NUMBER
            setattr(model, key, None)


def parse_error(path: Path, place: Place, e: Exception) -> str:
    """mdocfile's first complaint as `FILE: [ZValue = 3] KEY = VALUE: not a number`."""
    errors = getattr(e, "errors", None)
    if not callable(errors):
        return f"{path}: {place.label}: {e}"
    err = errors()[0]
    loc = err.get("loc", ())
    key = str(loc[0]) if loc else "?"
    key = "FrameDosesAndNumber" if key == "FrameDosesAndNumbers" else key
    kind = err.get("type", "")
    if kind.startswith("int"):
        problem = "not a whole number"
    elif kind.startswith("float") or (kind == "value_error" and "convert" in err.get("msg", "")):
        problem = NOT_A_NUMBER
    else:
        problem = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    value = place.raw.get(key, err.get("input"))
    return f"{path}: {place.at(key, value)}: {problem}"


def read_pixel_size(path: Path, head: Place, global_data, sections, places: list[Place],
                notes: UnusableValues) -> tuple[float | None, float, float | None]:  # fmt: skip
    """PixelSpacing (the header's, else the first section's), the camera binning and the movie
    pixel size PixelSpacing/Binning; notes for NaN or empty values and what replaced them."""
    header = sane(path, "PixelSpacing", sanity.PIXEL_SIZE, global_data.PixelSpacing, head)
    first = first_known(
        [sane(path, "PixelSpacing", sanity.PIXEL_SIZE, s.PixelSpacing, p)
         for s, p in zip(sections, places, strict=True)]
    )  # fmt: skip
    spacing = header or first
    binning = median_known(
        [sane(path, "Binning", sanity.BINNING, s.Binning, p)
         for s, p in zip(sections, places, strict=True)]
    )  # fmt: skip
    for p in places:
        if "Binning" in p.bad:
            instead = (
                f"the other sections' binning {binning:g} is used"
                if binning
                else "a binning of 1 is assumed (movie pixel size = PixelSpacing): check it"
            )
            notes.add("Binning", p.raw["Binning"], p.z, p.bad["Binning"], instead=instead)
    binning = binning or 1.0
    pixel_size = None
    if spacing:
        pixel_size = round(spacing / binning, 6)
        sane(path, "PixelSpacing/Binning", sanity.PIXEL_SIZE, pixel_size)
    for p in [head, *places]:
        if "PixelSpacing" not in p.bad:
            continue
        instead, setting = None, None
        if header:
            instead = f"the header's PixelSpacing = {header:g} A is used"
        elif first:
            other = "sections'" if p is head else "other sections'"
            instead = f"the {other} PixelSpacing = {first:g} A is used"
        else:
            setting = "microscope.pixel_size"
        notes.add("PixelSpacing", p.raw["PixelSpacing"], p.z, p.bad["PixelSpacing"],
                  instead=instead, setting=setting)  # fmt: skip
    return spacing, binning, pixel_size


def read_voltage(path: Path, head: Place, global_data, sections, places: list[Place],
             notes: UnusableValues) -> float | None:  # fmt: skip
    """The header's Voltage, else the first section's (0 counts as missing, as before)."""
    voltage = sane(path, "Voltage", sanity.VOLTAGE, global_data.Voltage or None, head)
    if voltage:
        return voltage
    voltage = first_known(
        [sane(path, "Voltage", sanity.VOLTAGE, s.Voltage or None, p)
         for s, p in zip(sections, places, strict=True)]
    )  # fmt: skip
    for p in [head, *places]:
        if "Voltage" in p.bad:
            other = "sections'" if p is head else "other sections'"
            notes.add("Voltage", p.raw["Voltage"], p.z, p.bad["Voltage"],
                      instead=f"the {other} Voltage = {voltage:g} kV is used" if voltage else None,
                      setting=None if voltage else "microscope.voltage")  # fmt: skip
    return voltage


def read_tilt_axis(path: Path, titles: list[str], sections, places: list[Place], software: str,
               notes: UnusableValues) -> tuple[float | None, str]:  # fmt: skip
    """The tilt axis from the title line, else from the sections' RotationAngle."""
    tomo5 = software == "Tomo5"
    pattern = _TOMO5_AXIS if tomo5 else _SERIALEM_AXIS
    in_title = None  # (name, value as written) of a title axis that is NaN
    for title in titles:
        m = pattern.search(title)
        if not m:
            continue
        name, token = m.group(1), m.group(2)
        if token.lower() == "nan":
            in_title = (name, token)
            break
        try:
            value = float(token.replace(",", "."))
        except ValueError:
            raise MdocError(f"{path}: {name} = {token} in the title: {NOT_A_NUMBER}") from None
        if not math.isfinite(value):
            raise MdocError(f"{path}: {name} = {token} in the title: a tilt-axis angle must be "
                            "a finite number (degrees)")  # fmt: skip
        if tomo5:
            return normalise_angle(-value - 90), "Tomo5 title TiltAxisAngle (-value - 90)"
        return value, "SerialEM title"
    rotation = median_known(
        [sane(path, "RotationAngle", sanity.ROTATION, s.RotationAngle, p)
         for s, p in zip(sections, places, strict=True)]
    )  # fmt: skip
    axis, source = None, "none"
    if rotation is not None and tomo5:
        axis, source = normalise_angle(-rotation), "Tomo5 RotationAngle (-value)"
    elif rotation is not None:
        axis, source = normalise_angle(rotation - 90), "RotationAngle - 90"
    setting = None if axis is not None else "acquisition.tilt_axis"
    if in_title:
        instead = (
            f"the tilt axis is taken from RotationAngle: {axis:g} degrees"
            if setting is None
            else None
        )
        notes.add(in_title[0], in_title[1], TITLE, instead=instead, setting=setting)
    for p in places:
        if "RotationAngle" in p.bad:
            instead = (f"the other sections' RotationAngle gives the tilt axis, {axis:g} degrees"
                       if setting is None else None)  # fmt: skip
            notes.add("RotationAngle", p.raw["RotationAngle"], p.z, p.bad["RotationAngle"],
                      instead=instead, setting=setting)  # fmt: skip
    return axis, source


def normalise_angle(angle: float) -> float:
    angle = round((angle + 180.0) % 360.0 - 180.0, 4)
    return 180.0 if angle == -180.0 else angle


def note_defocus(places: list[Place], notes: UnusableValues) -> None:
    instead = "the tilt series gets no nominal defocus (rlnTomoNominalDefocus)"
    for p in places:
        if "TargetDefocus" in p.bad:
            key = "TargetDefocus"
            notes.add(key, p.raw[key], p.z, p.bad[key], instead=instead)


def fill_frame_counts(tilts: list, places: list[Place], warnings: list[str],
                      notes: UnusableValues) -> None:  # fmt: skip
    """Tilts without a frame count (NumSubFrames missing, NaN, empty, < 1) get the most common
    one of the others (1 if none has one); said once, and noted per value present."""
    counts = [t.num_frames for t in tilts if t.num_frames]
    if len(counts) == len(tilts):
        return
    fill = statistics.mode(counts) if counts else 1
    by_z = {p.z: p for p in places}
    for t in tilts:
        if not t.num_frames:
            t.num_frames = fill
            place = by_z[t.z_value]
            if "NumSubFrames" in place.raw:  # present, but NaN, empty, 0 or negative
                problem = place.bad.get("NumSubFrames", "not a frame count")
                assumed = f"{fill} frame is assumed" if fill == 1 else f"{fill} frames are assumed"
                assumed += " (the other tilts' count)" if counts else ""
                notes.add("NumSubFrames", place.raw["NumSubFrames"], t.z_value, problem,
                          instead=assumed)  # fmt: skip
    warnings.append(f"NumSubFrames missing for some tilts: assumed {fill}")


def read_detector(path: Path, head: Place, global_data, binning: float,
                  notes: UnusableValues) -> tuple[int, int] | None:  # fmt: skip
    """The movie frame size: ImageSize x Binning (NaN or empty: noted, the project's value)."""
    if "ImageSize" in head.bad:
        notes.add("ImageSize", head.raw["ImageSize"], HEADER, head.bad["ImageSize"],
                  setting="acquisition.detector_size")  # fmt: skip
        return None
    if not global_data.ImageSize:
        return None
    w, h = global_data.ImageSize
    if min(w, h) <= 0:
        raise MdocError(f"{path}: {head.at('ImageSize')}: an image size must be > 0 px")
    return (int(round(w * binning)), int(round(h * binning)))


def first_known(values):
    return next((v for v in values if v is not None), None)


def median_known(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
