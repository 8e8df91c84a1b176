"""Read SerialEM / Tomo5 tilt-series .mdoc files with `mdocfile`, surviving their known quirks.

mdocfile parses the key/value sections; this module adds what it lacks: title lines (tilt axis,
acquiring software), dose fallbacks, date parsing with 2-digit years, acquisition order, Windows/UNC
movie paths, and detection of files that are not usable tilt series (per-frame, montage, truncated).

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
from .mdoc_values import sane, stack_only_refusal, tilt_dose, warn_odd
from .names import movie_basename

# mdocfile logs every alias and unknown key as a warning; those are not problems for us.
logging.getLogger("mdocfile").setLevel(logging.ERROR)

#: Keys SerialEM writes for every record; a section lacking one that other sections have is a
#: sign of a truncated or hand-edited file.
CORE_SECTION_KEYS = ("TiltAngle", "SubFramePath", "DateTime", "ExposureDose", "NumSubFrames")

_COMMA_NUMBER = re.compile(r"^[-+]?\d+,\d+$")
_PLAIN_NUMBER = re.compile(r"^([-+]?\d+(\.\d*)?([eE][-+]?\d+)?|NaN|nan)$")
_SERIALEM_AXIS = re.compile(r"Tilt\s*axis\s*angle\s*=\s*([-+]?\d+(?:[.,]\d+)?)", re.IGNORECASE)
_TOMO5_AXIS = re.compile(r"TiltAxisAngle\s*=\s*([-+]?\d+(?:[.,]\d+)?)")


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
    #: no movies saved (every SubFramePath empty): the tilts are only in the tilt stack
    stack_only: bool = False

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
    try:
        global_data = MdocGlobalData.from_lines(
            [ln for ln in header if "=" in ln and not ln.startswith("[")]
        )
    except (ValidationError, ValueError) as e:
        raise MdocError(f"{path}: header: {_first_error(e)}") from None
    sections = []
    bounds = [*starts, len(lines)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        try:
            sections.append(MdocSectionData.from_lines(lines[start:end]))
        except (ValidationError, ValueError) as e:
            raise MdocError(f"{path}: section {lines[start]}: {_first_error(e)}") from None

    software = _software(titles, global_data)
    _check_complete(path, sections, lines, starts)

    pixel_spacing = sane(path, "PixelSpacing", sanity.PIXEL_SIZE, global_data.PixelSpacing)
    for s in sections:
        spacing = sane(path, f"[ZValue = {s.ZValue}] PixelSpacing", sanity.PIXEL_SIZE,
                        s.PixelSpacing)  # fmt: skip
        pixel_spacing = pixel_spacing or spacing  # the header's, else the first section's
    binnings = [
        sane(path, f"[ZValue = {s.ZValue}] Binning", sanity.BINNING, s.Binning) for s in sections
    ]
    binning = _median(binnings) or 1.0
    pixel_size = None
    if pixel_spacing:
        pixel_size = round(pixel_spacing / binning, 6)
        sane(path, "PixelSpacing/Binning", sanity.PIXEL_SIZE, pixel_size)
        if binning != 1:
            warnings.append(
                f"images were binned x{binning:g} by the camera software: movie pixel size taken "
                f"as PixelSpacing/Binning = {pixel_size:g} A; check it (super-resolution movies?)"
            )
        warn_odd(warnings, sanity.PIXEL_SIZE, pixel_size)
    voltage = sane(path, "Voltage", sanity.VOLTAGE, global_data.Voltage or None) or _first(
        [sane(path, f"[ZValue = {s.ZValue}] Voltage", sanity.VOLTAGE, s.Voltage or None)
         for s in sections]
    )  # fmt: skip
    if not voltage:
        warnings.append("no Voltage in the mdoc")
    else:
        warn_odd(warnings, sanity.VOLTAGE, voltage)
    tilt_axis, axis_source = _tilt_axis(titles, sections, software)
    if tilt_axis is None:
        warnings.append("no tilt axis angle in the titles and no RotationAngle")
    else:
        sane(path, f"tilt axis ({axis_source})", sanity.TILT_AXIS, tilt_axis)

    detector = None
    if global_data.ImageSize:
        w, h = global_data.ImageSize
        detector = (int(round(w * binning)), int(round(h * binning)))

    z_values = [s.ZValue for s in sections]
    repeated = sorted({z for z in z_values if z_values.count(z) > 1})
    if repeated:
        raise MdocError(
            f"{path}: ZValue {', '.join(map(str, repeated))} appears more than once "
            "(two mdocs joined, or an edited file)"
        )

    stack_only = bool(sections) and not any(
        (_raw_value(lines, starts, i, "SubFramePath") or "").strip() for i in range(len(sections))
    )
    if stack_only and not stack_only_ok:
        raise MdocError(stack_only_refusal(path, global_data.ImageFile))
    tilts = []
    for index, s in enumerate(sections):
        if s.TiltAngle is None:
            raise MdocError(f"{path}: section [ZValue = {s.ZValue}] has no TiltAngle")
        angle = sane(path, f"[ZValue = {s.ZValue}] TiltAngle", sanity.TILT_ANGLE, s.TiltAngle,
                      nan_is_missing=False)  # fmt: skip
        raw_path = _raw_value(lines, starts, index, "SubFramePath") or ""
        if stack_only:  # a stand-in name per tilt: the tilt's section in the stack
            raw_path = f"{global_data.ImageFile or path.stem}[{s.ZValue}]"
        elif not raw_path.strip():  # mdocfile makes an empty one the path "."
            raise MdocError(
                f"{path}: section [ZValue = {s.ZValue}] has no SubFramePath (movies not saved?)"
            )
        try:
            dose, dose_source = tilt_dose(path, s, pixel_size)
        except sanity.SenseError as e:
            raise MdocError(str(e)) from None
        acquired = None
        if s.DateTime:
            try:
                acquired = parse_mdoc_datetime(s.DateTime, software)
            except ValueError as e:
                raise MdocError(f"{path}: section [ZValue = {s.ZValue}]: {e}") from None
        tilts.append(
            Tilt(
                z_value=int(s.ZValue),
                tilt_angle=angle,
                sub_frame_path=raw_path,
                movie=movie_basename(raw_path),
                dose=dose,
                dose_source=dose_source,
                num_frames=int(s.NumSubFrames) if s.NumSubFrames and s.NumSubFrames > 0 else None,
                acquired=acquired,
                target_defocus=sanity.known(s.TargetDefocus),
            )
        )

    if all(t.acquired is not None for t in tilts):
        tilts.sort(key=lambda t: (t.acquired, t.z_value))
        ordered_by = "DateTime"
    else:
        tilts.sort(key=lambda t: t.z_value)
        ordered_by = "ZValue"
        warnings.append("no DateTime time stamps: acquisition order taken from ZValue")

    _warn_duplicates(tilts, warnings)
    _warn_missing_frame_counts(tilts, warnings)
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
    )


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


def _first_error(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        err = errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()))
        return f"{loc} = {err.get('input')!r}: {err.get('msg')}"
    return str(e)


def _software(titles: list[str], global_data) -> str:
    extra = global_data.model_extra or {}
    text = " ".join([*titles, str(global_data.Version or ""), str(extra.get("T", ""))])
    if "serialem" in text.lower():
        return "SerialEM"
    if "Tomography" in text or "TiltAxisAngle" in text:
        return "Tomo5"
    return "unknown"


def _check_complete(path: Path, sections, lines: list[str], starts: list[int]) -> None:
    """Reject files where some sections lack keys that the others carry."""
    present = [{k for k in CORE_SECTION_KEYS if getattr(s, k) is not None} for s in sections]
    expected = set.union(*present)
    incomplete = [(i, expected - p) for i, p in enumerate(present) if expected - p]
    if not incomplete:
        return
    if len(incomplete) == 1 and incomplete[0][0] == len(sections) - 1 and len(sections) > 1:
        i, missing = incomplete[0]
        raise MdocError(
            f"{path}: truncated: last section {lines[starts[i]]} lacks "
            f"{', '.join(sorted(missing))} (still being written?)",
            "incomplete",
        )
    first, missing = incomplete[0]
    names = ", ".join(str(sections[i].ZValue) for i, _ in incomplete)
    raise MdocError(
        f"{path}: incomplete: sections ZValue {names} lack {', '.join(sorted(missing))} "
        "that other sections have (truncated or edited file)",
        "incomplete",
    )


def _raw_value(lines: list[str], starts: list[int], index: int, key: str) -> str | None:
    """A section value exactly as written (mdocfile turns SubFramePath into a path object)."""
    end = starts[index + 1] if index + 1 < len(starts) else len(lines)
    for line in lines[starts[index] : end]:
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            return v.strip()
    return None


def _tilt_axis(titles: list[str], sections, software: str) -> tuple[float | None, str]:
    rotations = [sanity.known(s.RotationAngle) for s in sections]
    rotation = _median(rotations)
    if software == "Tomo5":
        for title in titles:
            m = _TOMO5_AXIS.search(title)
            if m:
                value = float(m.group(1).replace(",", "."))
                return _normalise_angle(-value - 90), "Tomo5 title TiltAxisAngle (-value - 90)"
        if rotation is not None:
            return _normalise_angle(-rotation), "Tomo5 RotationAngle (-value)"
        return None, "none"
    for title in titles:
        m = _SERIALEM_AXIS.search(title)
        if m:
            return float(m.group(1).replace(",", ".")), "SerialEM title"
    if rotation is not None:
        return _normalise_angle(rotation - 90), "RotationAngle - 90"
    return None, "none"


def _normalise_angle(angle: float) -> float:
    angle = round((angle + 180.0) % 360.0 - 180.0, 4)
    return 180.0 if angle == -180.0 else angle


def _warn_duplicates(tilts: list[Tilt], warnings: list[str]) -> None:
    angles = sorted(t.tilt_angle for t in tilts)
    close = {round(a, 1) for a, b in zip(angles, angles[1:], strict=False) if abs(a - b) < 0.5}
    if close:
        listed = ", ".join(f"{a:g}" for a in sorted(close))
        warnings.append(f"several tilts at nearly the same angle ({listed} deg); kept")


def _warn_missing_frame_counts(tilts: list[Tilt], warnings: list[str]) -> None:
    counts = [t.num_frames for t in tilts if t.num_frames]
    if len(counts) == len(tilts):
        return
    fill = statistics.mode(counts) if counts else 1
    for t in tilts:
        if not t.num_frames:
            t.num_frames = fill
    warnings.append(f"NumSubFrames missing for some tilts: assumed {fill}")


def _first(values):
    return next((v for v in values if v is not None), None)


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
