"""Read SerialEM / Tomo5 tilt-series .mdoc files with `mdocfile`, surviving their known quirks.

mdocfile parses the key/value sections; this module adds what it lacks: title lines (tilt axis,
acquiring software), dose fallbacks, date parsing with 2-digit years, acquisition order, Windows/UNC
movie paths, and detection of files that are not usable tilt series (per-frame, montage, truncated).
Only the keys crboost reads are parsed (mdoc_keys.py): a broken value of another key stops nothing.

Values present but not usable (NaN, as Tomo5 writes for what it does not know; empty) are never
taken for "missing" in silence: per key, the tilt series is refused (MdocError naming the file,
the section, the key and the value) or the value is replaced, and the `unusable` notes say by
what (another value of the mdoc, or the project's config value; see mdoc_values.py).

Conventions of the values returned:
- tilt axis: degrees, SerialEM/RELION/IMOD convention (what RELION's --nominal-tilt-axis-angle and
  WarpTools --override_axis take). SerialEM writes it in its title line; for Tomo5 files it is
  -TiltAxisAngle - 90 (equivalently -RotationAngle), which is what Scipion and CryoBoost use.
- dose: electrons per square angstrom of each tilt image.
- tilts are returned in acquisition order (by DateTime; by ZValue when no time stamps exist).
"""

from __future__ import annotations

import logging
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import MdocError
from . import sanity
from .mdoc_dates import parse_mdoc_datetime
from .mdoc_keys import (
    FLOAT_KEYS,
    HEADER_KEYS,
    SECTION_KEYS,
    Place,
    fill_frame_counts,
    frame_doses,
    note_defocus,
    parse_error,
    read_detector,
    read_keys,
    read_pixel_size,
    read_tilt_axis,
    read_voltage,
    take_nan,
)
from .mdoc_values import (
    Unusable,
    UnusableValues,
    sane,
    stack_only_refusal,
    tilt_dose,
    warn_odd,
)
from .names import movie_basename

# mdocfile logs every alias and unknown key as a warning; those are not problems for us.
logging.getLogger("mdocfile").setLevel(logging.ERROR)

#: Keys SerialEM writes for every record; a section lacking one that other sections have is a
#: sign of a truncated or hand-edited file.
CORE_SECTION_KEYS = ("TiltAngle", "SubFramePath", "DateTime", "ExposureDose", "NumSubFrames")

_COMMA_NUMBER = re.compile(r"^[-+]?\d+,\d+$")
_PLAIN_NUMBER = re.compile(r"^([-+]?\d+(\.\d*)?([eE][-+]?\d+)?|NaN|nan)$")


@dataclass
class Tilt:
    """One tilt image (one movie) of a tilt series."""

    z_value: int
    tilt_angle: float
    sub_frame_path: str
    movie: str
    dose: float | None
    dose_source: str
    num_frames: int | None
    acquired: datetime | None
    target_defocus: float | None


@dataclass
class TiltSeriesMdoc:
    """What one tilt-series mdoc tells about its acquisition."""

    path: Path
    software: str
    tilts: list[Tilt]
    pixel_size: float | None
    image_pixel_spacing: float | None
    binning: float
    voltage: float | None
    tilt_axis: float | None
    tilt_axis_source: str
    detector_size: tuple[int, int] | None
    ordered_by: str
    warnings: list[str] = field(default_factory=list)
    #: no movies saved (every SubFramePath is empty): the tilts are only in the tilt stack
    stack_only: bool = False
    #: values present but not usable, and what replaces them
    unusable: list[Unusable] = field(default_factory=list)

    @property
    def is_eer(self) -> bool:
        return any(t.movie.lower().endswith(".eer") for t in self.tilts)

    @property
    def tilt_range(self) -> tuple[float, float]:
        angles = [t.tilt_angle for t in self.tilts]
        return (min(angles), max(angles))

    def doses(self) -> list[float | None]:
        return [t.dose for t in self.tilts]


def read_tilt_series_mdoc(path: str | Path, stack_only_ok: bool = False) -> TiltSeriesMdoc:
    """Parse one tilt-series mdoc. Raises MdocError (naming the file) when it is not usable;
    stack_only_ok: a stack-only session (no SubFramePath at all) is read, not refused."""
    from mdocfile.data_models import MdocGlobalData, MdocSectionData
    from mdocfile.utils import find_section_entries, find_title_entries
    from pydantic import ValidationError

    path = Path(path)
    warnings: list[str] = []
    lines = read_mdoc_lines(path, warnings)

    starts = find_section_entries(lines)
    kinds = {line.split("=")[0].strip("[ ") for line in (lines[i] for i in starts)}
    if "FrameSet" in kinds:
        raise MdocError(f"{path}: per-movie (FrameSet) mdoc, not a tilt series", "not_tilt_series")
    if "MontSection" in kinds:
        raise MdocError(f"{path}: montage mdoc (MontSection), not a tilt series", "not_tilt_series")
    if not starts:
        raise MdocError(
            f"{path}: no [ZValue = ...] sections: empty or still being written", "incomplete"
        )

    header = lines[: starts[0]]
    titles = [header[i] for i in find_title_entries(header)]
    head = Place("header")
    try:
        global_data = MdocGlobalData.from_lines(
            [ln for ln in read_keys(head, header, HEADER_KEYS)
             if "=" in ln and not ln.startswith("[")]
        )  # fmt: skip
    except (ValidationError, ValueError) as e:
        raise MdocError(parse_error(path, head, e)) from None
    take_nan(head, global_data, ("PixelSpacing", "Voltage"))
    sections, places = [], []
    bounds = [*starts, len(lines)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        place = Place(lines[start])
        try:
            section = MdocSectionData.from_lines(read_keys(place, lines[start:end], SECTION_KEYS))
        except (ValidationError, ValueError) as e:
            raise MdocError(parse_error(path, place, e)) from None
        take_nan(place, section, FLOAT_KEYS)
        section.FrameDosesAndNumbers = frame_doses(path, place)
        place.z = section.ZValue
        sections.append(section)
        places.append(place)

    software = _software(titles, global_data)
    _check_complete(path, places)
    z_values = [s.ZValue for s in sections]
    notes = UnusableValues(z_values)

    pixel_spacing, binning, pixel_size = read_pixel_size(path, head, global_data, sections, places,
                                                     notes)  # fmt: skip
    if pixel_size:
        if binning != 1:
            warnings.append(
                f"images were binned x{binning:g} by the camera software: movie pixel size taken "
                f"as PixelSpacing/Binning = {pixel_size:g} A; check it (super-resolution movies?)"
            )
        warn_odd(warnings, sanity.PIXEL_SIZE, pixel_size)
    voltage = read_voltage(path, head, global_data, sections, places, notes)
    if not voltage:
        warnings.append("no Voltage in the mdoc")
    else:
        warn_odd(warnings, sanity.VOLTAGE, voltage)
    tilt_axis, axis_source = read_tilt_axis(path, titles, sections, places, software, notes)
    if tilt_axis is None:
        warnings.append("no tilt axis angle in the titles and no RotationAngle")
    else:
        sane(path, f"tilt axis ({axis_source})", sanity.TILT_AXIS, tilt_axis)

    detector = read_detector(path, head, global_data, binning, notes)

    repeated = sorted({z for z in z_values if z_values.count(z) > 1})
    if repeated:
        raise MdocError(
            f"{path}: ZValue {', '.join(map(str, repeated))} appears more than once "
            "(two mdocs joined, or an edited file)"
        )

    stack_only = bool(sections) and not any(p.raw.get("SubFramePath", "").strip() for p in places)
    if stack_only and not stack_only_ok:
        raise MdocError(stack_only_refusal(path, global_data.ImageFile))
    tilts = []
    for s, place in zip(sections, places, strict=True):
        tilt, unusable = _tilt(path, s, place, software, stack_only, global_data, pixel_size)
        tilts.append(tilt)
        found = tilt.dose_source != "none"
        for key in unusable:  # sources of the dose consulted in vain
            notes.add(key, place.raw[key], place.z, place.bad[key],
                      instead=f"the dose is taken from {tilt.dose_source}" if found else None,
                      setting=None if found else "acquisition.dose_per_tilt")  # fmt: skip
    note_defocus(places, notes)

    if all(t.acquired is not None for t in tilts):
        tilts.sort(key=lambda t: (t.acquired, t.z_value))
        ordered_by = "DateTime"
    else:
        tilts.sort(key=lambda t: t.z_value)
        ordered_by = "ZValue"
        warnings.append("no DateTime time stamps: acquisition order taken from ZValue")

    _warn_duplicates(tilts, warnings)
    fill_frame_counts(tilts, places, warnings, notes)
    movies = [t.movie for t in tilts]
    if len(set(movies)) != len(movies):
        dup = sorted({m for m in movies if movies.count(m) > 1})
        raise MdocError(f"{path}: several tilts name the same movie: {', '.join(dup)}")
    doses = [t.dose for t in tilts if t.dose]
    if not doses:
        warnings.append(
            "no dose in the mdoc (ExposureDose 0 or missing, no FrameDosesAndNumber, no DoseRate)"
        )
    else:
        warn_odd(warnings, sanity.DOSE_PER_TILT, statistics.median(doses))
    warnings += sanity.time_stamp_warnings([t.acquired for t in tilts if t.acquired])

    return TiltSeriesMdoc(
        path=path,
        software=software,
        tilts=tilts,
        pixel_size=pixel_size,
        image_pixel_spacing=pixel_spacing,
        binning=binning,
        voltage=voltage,
        tilt_axis=tilt_axis,
        tilt_axis_source=axis_source,
        detector_size=detector,
        ordered_by=ordered_by,
        warnings=warnings,
        stack_only=stack_only,
        unusable=notes.notes(),
    )


def _tilt(path: Path, s, place: Place, software: str, stack_only: bool, global_data,
          pixel_size: float | None) -> tuple[Tilt, list[str]]:  # fmt: skip
    """One tilt, and the keys of dose sources consulted in vain (NaN, empty)."""
    if place.bad.get("TiltAngle") == "empty":
        raise MdocError(f"{path}: {place.label} TiltAngle is empty: a tilt angle is needed")
    if s.TiltAngle is None:
        raise MdocError(f"{path}: section {place.label} has no TiltAngle")
    angle = sane(path, "TiltAngle", sanity.TILT_ANGLE, s.TiltAngle, place, nan_is_missing=False)
    raw_path = place.raw.get("SubFramePath", "")
    if stack_only:  # a stand-in name per tilt: the tilt's section in the stack
        raw_path = f"{global_data.ImageFile or path.stem}[{s.ZValue}]"
    elif not raw_path.strip():  # mdocfile makes an empty one the path "."
        raise MdocError(f"{path}: section {place.label} has no SubFramePath (movies not saved?)")
    elif raw_path.strip().lower() == "nan":
        raise MdocError(f"{path}: {place.at('SubFramePath')}: not a file path")
    movie = movie_basename(raw_path)
    if not movie:
        raise MdocError(f"{path}: {place.at('SubFramePath')}: names a folder, not a movie file")
    try:
        dose, dose_source, unusable = tilt_dose(path, s, pixel_size, place.bad)
    except sanity.SenseError as e:
        raise MdocError(str(e)) from None
    if "DateTime" in place.bad:
        raise MdocError(
            f"{path}: {place.label} DateTime is empty: a time stamp is needed (where the times "
            "are unknown, leave out every DateTime line: the order is then taken from ZValue)"
        )
    acquired = None
    if s.DateTime:
        try:
            acquired = parse_mdoc_datetime(s.DateTime, software)
        except ValueError as e:
            raise MdocError(f"{path}: section {place.label}: {e}") from None
    tilt = Tilt(
        z_value=int(s.ZValue),
        tilt_angle=angle,
        sub_frame_path=raw_path,
        movie=movie,
        dose=dose,
        dose_source=dose_source,
        num_frames=int(s.NumSubFrames) if s.NumSubFrames and s.NumSubFrames > 0 else None,
        acquired=acquired,
        target_defocus=sane(path, "TargetDefocus", sanity.DEFOCUS, s.TargetDefocus, place),
    )
    return tilt, unusable


def read_mdoc_lines(path: Path, warnings: list[str]) -> list[str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MdocError(f"{path}: no such file") from None
    except OSError as e:
        raise MdocError(f"{path}: cannot read: {e.strerror}") from None
    if not data.strip():
        raise MdocError(f"{path}: empty file", "incomplete")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = [ln.strip() for ln in text.splitlines()]
    fixed = False
    for i, line in enumerate(lines):
        if line.startswith("[") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        tokens = value.split()
        if (
            tokens
            and any(_COMMA_NUMBER.match(t) for t in tokens)
            and all(_COMMA_NUMBER.match(t) or _PLAIN_NUMBER.match(t) for t in tokens)
        ):
            lines[i] = f"{key.strip()} = {' '.join(t.replace(',', '.') for t in tokens)}"
            fixed = True
    if fixed:
        warnings.append("decimal commas (locale) read as decimal points")
    return lines


def _software(titles: list[str], global_data) -> str:
    extra = global_data.model_extra or {}
    text = " ".join([*titles, str(global_data.Version or ""), str(extra.get("T", ""))])
    if "serialem" in text.lower():
        return "SerialEM"
    if "Tomography" in text or "TiltAxisAngle" in text:
        return "Tomo5"
    return "unknown"


def _check_complete(path: Path, places: list[Place]) -> None:
    """Reject files where some sections lack keys that the others carry."""
    present = [{k for k in CORE_SECTION_KEYS if k in p.raw} for p in places]
    expected = set.union(*present)
    incomplete = [(i, expected - p) for i, p in enumerate(present) if expected - p]
    if not incomplete:
        return
    if len(incomplete) == 1 and incomplete[0][0] == len(places) - 1 and len(places) > 1:
        i, missing = incomplete[0]
        raise MdocError(
            f"{path}: truncated: last section {places[i].label} lacks "
            f"{', '.join(sorted(missing))} (still being written?)",
            "incomplete",
        )
    first, missing = incomplete[0]
    names = ", ".join(str(places[i].z) for i, _ in incomplete)
    raise MdocError(
        f"{path}: incomplete: sections ZValue {names} lack {', '.join(sorted(missing))} "
        "that other sections have (truncated or edited file)",
        "incomplete",
    )


def _warn_duplicates(tilts: list[Tilt], warnings: list[str]) -> None:
    angles = sorted(t.tilt_angle for t in tilts)
    close = {round(a, 1) for a, b in zip(angles, angles[1:], strict=False) if abs(a - b) < 0.5}
    if close:
        listed = ", ".join(f"{a:g}" for a in sorted(close))
        warnings.append(f"several tilts at nearly the same angle ({listed} deg); kept")
