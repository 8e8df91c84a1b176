"""`crboost inspect`: what each mdoc says, whether its movies are there, and the inferred values."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from ..errors import CrboostError
from .globbing import GlobTooLarge, glob_files
from .inference import infer
from .mdoc import TiltSeriesMdoc, read_tilt_series_mdoc
from .mdoc_values import SETTINGS, stack_only_refusal
from .names import tilt_series_name


def inspect_mdocs(
    paths: list[str],
    movies_glob: str | None = None,
    dose_override: float | None = None,
    min_tilts: int = 4,
) -> dict[str, Any]:
    movies = _movie_names(movies_glob) if movies_glob else None
    entries: list[dict[str, Any]] = []
    usable: list[TiltSeriesMdoc] = []
    seen: dict[str, str] = {}
    for path in paths:
        entry: dict[str, Any] = {
            "mdoc": path,
            "name": None,
            "usable": False,
            "warnings": [],
            "error": None,
        }
        entries.append(entry)
        try:
            name, warning = tilt_series_name(path)
            entry["name"] = name
            if warning:
                entry["warnings"].append(warning)
            if name.lower() in seen:  # ignoring case, as the manifest does
                raise CrboostError(
                    f"{path}: same tilt-series name {name!r} as {seen[name.lower()]}"
                )
            seen[name.lower()] = path
            mdoc = read_tilt_series_mdoc(path, stack_only_ok=True)
        except CrboostError as e:
            entry["error"] = str(e)
            continue
        entry.update(_describe(mdoc, dose_override))
        entry["warnings"] += _warnings(mdoc, path, dose_override)
        if mdoc.stack_only:  # recognised, its values shown, and refused (init skips it too)
            entry["stack_only"] = True
            entry["movies"] = {"found": 0, "missing": len(mdoc.tilts)}
            entry["error"] = stack_only_refusal(Path(path), mdoc.path.name.removesuffix(".mdoc"))
            continue
        names = movies if movies is not None else _movie_names_near(Path(path))
        found = sum(1 for t in mdoc.tilts if t.movie in names or Path(t.movie).stem in names)
        entry["movies"] = {"found": found, "missing": len(mdoc.tilts) - found}
        if found < len(mdoc.tilts):
            hint = "" if movies_glob else " next to the mdoc (give --movies GLOB)"
            entry["warnings"].append(f"{len(mdoc.tilts) - found} movies not found{hint}")
        problems = []
        if len(mdoc.tilts) < min_tilts:
            problems.append(f"only {len(mdoc.tilts)} tilts (< {min_tilts})")
        if entry["dose_per_tilt"] is None:
            problems.append("no dose: give --dose-per-tilt")
        if problems:
            entry["error"] = f"{path}: " + "; ".join(problems)
        else:
            entry["usable"] = True
            usable.append(mdoc)
    inferred = infer(usable, dose_override)
    for attr, setting in _INFERRED_SETTINGS.items():
        if getattr(inferred, attr) is None and usable:
            how = "--dose-per-tilt, or " if attr == "dose_per_tilt" else ""
            inferred.sources[attr] = (
                f"not in the mdocs: give {how}crboost init {SETTINGS[setting][2]}"
            )
    return {
        "tilt_series": entries,
        "usable": len(usable),
        "inferred": inferred.as_dict(),
    }


#: Inferred values and the config keys they become (for saying how to give a missing one).
_INFERRED_SETTINGS = {
    "pixel_size": "microscope.pixel_size",
    "voltage": "microscope.voltage",
    "tilt_axis": "acquisition.tilt_axis",
    "dose_per_tilt": "acquisition.dose_per_tilt",
    "detector_size": "acquisition.detector_size",
}
#: The reader's general warnings about a missing value, said better by a note on that value.
_SAID_BY_NOTES = {
    "no Voltage in the mdoc": "microscope.voltage",
    "no tilt axis angle in the titles and no RotationAngle": "acquisition.tilt_axis",
    "no dose in the mdoc (": "acquisition.dose_per_tilt",
}


def _warnings(mdoc: TiltSeriesMdoc, path: str, dose_override: float | None) -> list[str]:
    """The reader's warnings, and one line per value present but not usable naming the file,
    the key, the sections and what replaces it (or how to give it)."""
    settings = {n.setting for n in mdoc.unusable}
    kept = [
        w
        for w in mdoc.warnings
        if not any(w.startswith(text) and s in settings for text, s in _SAID_BY_NOTES.items())
    ]
    lines = []
    for note in mdoc.unusable:
        if dose_override is not None and note.setting == "acquisition.dose_per_tilt":
            lines.append(f"{path}: {note.head()}; the given --dose-per-tilt = {dose_override:g} "
                         "e/A^2 is used")  # fmt: skip
        else:
            lines.append(note.line(path))
    return [*lines, *kept]


def _describe(mdoc: TiltSeriesMdoc, dose_override: float | None) -> dict[str, Any]:
    doses = [d for d in mdoc.doses() if d]
    per_tilt = (
        dose_override
        if dose_override is not None
        else (round(statistics.median(doses), 4) if doses else None)
    )
    low, high = mdoc.tilt_range
    sources = sorted({t.dose_source for t in mdoc.tilts if t.dose})
    return {
        "software": mdoc.software,
        "tilts": len(mdoc.tilts),
        "tilt_range": [round(low, 2), round(high, 2)],
        "dose_per_tilt": per_tilt,
        "total_dose": round(per_tilt * len(mdoc.tilts), 2) if per_tilt else None,
        "dose_source": "given" if dose_override is not None else ("/".join(sources) or None),
        "ordered_by": mdoc.ordered_by,
        "pixel_size": mdoc.pixel_size,
        "voltage": mdoc.voltage,
        "tilt_axis": mdoc.tilt_axis,
        "detector_size": list(mdoc.detector_size) if mdoc.detector_size else None,
        "eer": mdoc.is_eer,
        "first_movie": mdoc.tilts[0].movie,
    }


def _movie_names(pattern: str) -> set[str]:
    names = set()
    try:
        paths = glob_files(Path.cwd(), pattern)
    except GlobTooLarge as e:
        raise CrboostError(f"--movies {pattern}: {e}") from None
    for p in paths:
        base = os.path.basename(p)
        names.update((base, Path(base).stem))
    return names


def _movie_names_near(mdoc: Path) -> set[str]:
    names: set[str] = set()
    for folder in (mdoc.parent, mdoc.parent / "frames", mdoc.parent.parent / "frames"):
        if folder.is_dir():
            for base in os.listdir(folder):
                names.update((base, Path(base).stem))
    return names


def format_report(report: dict[str, Any]) -> str:
    lines = []
    header = (
        f"{'tilt series':<24} {'tilts':>5} {'range':>15} {'dose/tilt':>9} {'movies':>9}  status"
    )
    lines.append(header)
    for e in report["tilt_series"]:
        name = (e["name"] or Path(e["mdoc"]).name)[:24]
        if e.get("tilts") is None:
            lines.append(f"{name:<24} {'':>5} {'':>15} {'':>9} {'':>9}  ERROR {e['error']}")
            continue
        rng = f"{e['tilt_range'][0]:g}..{e['tilt_range'][1]:g}"
        dose = f"{e['dose_per_tilt']:.2f}" if e["dose_per_tilt"] else "?"
        movies = f"{e['movies']['found']}/{e['tilts']}"
        status = "ok" if e["usable"] else f"NOT USABLE {e['error']}"
        lines.append(f"{name:<24} {e['tilts']:>5} {rng:>15} {dose:>9} {movies:>9}  {status}")
        for w in e["warnings"]:
            lines.append(f"{'':<24}   warning: {w}")
        if e.get("stack_only"):
            lines.append(f"{'':<24}   stack-only session: pixel size {e['pixel_size']} A, "
                         f"voltage {e['voltage']} kV, tilt axis {e['tilt_axis']}, detector "
                         f"{e['detector_size']}, {e['software']}")  # fmt: skip
    inf = report["inferred"]
    lines.append("")
    lines.append(f"usable tilt series: {report['usable']} of {len(report['tilt_series'])}")
    if report["usable"]:
        lines.append("inferred parameters:")
        for key in (
            "pixel_size",
            "voltage",
            "tilt_axis",
            "dose_per_tilt",
            "detector_size",
            "eer",
            "eer_ngroups",
            "acquisition_software",
        ):
            source = inf["sources"].get(key)
            lines.append(f"  {key:<22} {inf[key]}" + (f"   ({source})" if source else ""))
        for w in inf["warnings"]:
            lines.append(f"  warning: {w}")
    return "\n".join(lines)
