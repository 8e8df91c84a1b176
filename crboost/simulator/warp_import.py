"""Simulated WarpTools ts_import (WarpTools/Commands/Tiltseries/ImportTiltseries.cs, v2.0.0dev39
and head alike): mdocs + frame series -> one .tomostar per mdoc.

As the real one: every *.xml of --frameseries is a frame series; each [ZValue] section needs a
DateTime (dd-MMM-yy or dd-MMM-yyyy HH:mm:ss), else "No time stamp found"; the dose of each tilt
is its rank in DateTime order times --tilt_exposure (the mdoc's doses are not read); tilts whose
frame series is unselected, beyond --max_tilt or too dark are dropped; angles are inverted
unless --dont_invert; wrpMovieName is the movie's name in the frame-series folder, relative to
the .tomostar (Helper.MakePathRelativeTo).
"""

from __future__ import annotations

import fnmatch
import math
import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .formats import Failure, faults, read_mrc, write_processed_items, write_tomostar


@dataclass
class _Entry:
    z: int
    angle: float = 0.0
    name: str = ""
    time: datetime | None = None
    dose: float = 0.0
    intensity: float = 0.0


def _parse_time(text: str) -> datetime:
    text = text.replace("  ", " ").strip()
    for fmt in ("%d-%b-%y %H:%M:%S", "%d-%b-%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise Failure(f"Incorrect time stamp: {text}")


def read_entries(path: Path) -> list[_Entry]:
    """The mdoc's sections as ImportTiltseries reads them (line by line, ' = ' separated)."""
    entries: list[_Entry] = []
    found_time = False
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if len(line) < 7 or line[1:7] != "ZValue":
            continue
        entry = _Entry(z=int(line.split(" = ", 1)[1].replace("]", "")))
        while i < len(lines):
            parts = [p for p in lines[i].split(" = ") if p]
            i += 1
            if len(parts) < 2:
                break
            key, value = parts[0], parts[1]
            if key == "TiltAngle":
                entry.angle = round(float(value), 2)
            elif key == "SubFramePath":
                entry.name = value[max(value.rfind("/"), value.rfind("\\")) + 1 :]
            elif key == "DateTime":
                entry.time = _parse_time(value)
                found_time = True
        if not found_time:
            raise Failure(f"No time stamp found: {entry.name}")
        if any(e.z == entry.z for e in entries):
            raise Failure(f"Duplicate ZValue in MDOC file: {entry.z}")
        entries.append(entry)
    return entries


def ts_import(o: dict) -> None:
    cwd = Path.cwd()
    mdocs = Path(os.path.normpath(cwd / o["mdocs"]))
    frameseries = Path(os.path.normpath(cwd / o["frameseries"]))
    out = Path(os.path.normpath(cwd / o["output"]))
    if not mdocs.is_dir():
        raise Failure(f"MDOC folder does not exist: {mdocs}")
    if not frameseries.is_dir():
        raise Failure(f"Frame series folder does not exist: {frameseries}")
    if o["tilt_exposure"] <= 0:
        raise Failure("--tilt_exposure must be higher than 0")
    if o["auto_zero"] and o["tilt_offset"] is not None:
        raise Failure("--auto_zero and --offset_zero cannot be used together")
    if o["max_tilt"] <= 0:
        raise Failure("--max_tilt must be higher than 0")
    files = sorted(p for p in mdocs.iterdir() if fnmatch.fnmatchcase(p.name, o["pattern"]))
    if o["exclude_pattern"]:
        files = [p for p in files if o["exclude_pattern"].lower() not in str(p).lower()]
    print(f"Found {len(files)} MDOC files, searching for {o['pattern']} in {mdocs}")
    movies = {}
    for xml in sorted(frameseries.glob("*.xml")):  # every frame series of the folder is parsed
        try:
            root = ET.fromstring(xml.read_bytes())
        except (ET.ParseError, OSError):
            root = ET.Element("Movie")  # Movie.LoadMeta tolerates a torn file
        movies[xml.stem] = root
    if not movies:
        raise Failure(f"No frame series metadata found at {frameseries}")
    print(f"Parsed {len(movies)} frame series")
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for path in files:
        name = path.name.replace(".mrc.mdoc", ".mdoc").removesuffix(".mdoc")
        faults(os.environ.get("CRBOOST_SIM_ITEM", name))
        tomostar = out / f"{name}.tomostar"
        try:
            rows = _tomostar_rows(o, path, movies, frameseries, tomostar)
        except Failure as e:
            # (a .tomostar left by an earlier call stays: the real one does not delete it)
            print(f"Failed to parse {path.name}: {e}", file=sys.stderr)
            continue
        if rows is None:
            continue
        write_tomostar(tomostar, rows)
        done.append({"Path": tomostar.name, "ProcessingStatus": 1})
        print(f"Successfully parsed {path.name}, {len(rows)} tilts")
    write_processed_items(out, done)
    print(f"Successfully parsed {len(done)} MDOC files, {len(files) - len(done)} failed")


def _tomostar_rows(o: dict, path: Path, movies: dict, frameseries: Path, tomostar: Path):
    entries = read_entries(path)
    for e in entries:
        stem = Path(e.name).stem
        if stem not in movies:
            raise Failure(
                f"At least one of the referenced frame series could not be found: {e.name}"
            )
        if not (frameseries / "average" / f"{stem}.mrc").exists():
            raise Failure("At least one of the referenced frame series does not have an aligned "
                          f"average result: {e.name}")  # fmt: skip
    for rank, e in enumerate(sorted(entries, key=lambda e: e.time)):
        e.dose = rank * float(o["tilt_exposure"])
    kept = sorted(entries, key=lambda e: e.angle)
    kept = [e for e in kept if movies[Path(e.name).stem].get("UnselectManual") != "True"]
    kept = [e for e in kept if abs(e.angle) <= o["max_tilt"] + 0.05]
    if not kept:
        print(f"No images left for {path.name} after removing tilts based on selection status, "
              "max tilt angle and masked fraction criteria", file=sys.stderr)  # fmt: skip
        return None
    for e in kept:
        data, _ = read_mrc(frameseries / "average" / f"{Path(e.name).stem}.mrc")
        e.intensity = float(np.median(data.ravel()[::10]))
    by_abs = sorted(kept, key=lambda e: abs(e.angle))
    top = max(e.intensity for e in by_abs[:10])
    zero = kept.index(next(e for e in by_abs if e.intensity == top))
    for e in kept:
        if o["auto_zero"]:
            e.angle -= kept[zero].angle
        elif o["tilt_offset"] is not None:
            e.angle -= o["tilt_offset"]
    passed = [e.intensity >= o["min_intensity"] * math.cos(math.radians(e.angle)) * top * 0.999
              for e in kept]  # fmt: skip
    low = zero
    while low > 0 and passed[low - 1]:
        low -= 1
    high = zero
    while high < len(kept) - 1 and passed[high + 1]:
        high += 1
    kept = kept[low : high + 1]
    if len(kept) < o["min_ntilts"]:
        raise Failure(f"Too few tilts remain: {len(kept)}")
    axis = o["override_axis"] if o["override_axis"] is not None else _mdoc_axis(path)
    sign = 1 if o["dont_invert"] else -1
    return [(os.path.relpath(frameseries / e.name, tomostar.parent), sign * e.angle, axis,
             e.dose, e.intensity, 0.0) for e in kept]  # fmt: skip


def _mdoc_axis(path: Path) -> float:
    for line in path.read_text(errors="replace").splitlines():
        if "Tilt axis angle = " in line:
            suffix = line.split("Tilt axis angle = ", 1)[1]
            if "," not in suffix:
                raise Failure("Index and length must refer to a location within the string.")
            return float(suffix[: suffix.index(",")])
        if "TiltAxisAngle = " in line:
            return float(line.split("TiltAxisAngle = ", 1)[1].split(" ")[0])
    return 0.0
