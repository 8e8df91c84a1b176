"""The user's curation decisions: `PROJECT/curation.yaml`.

Three lists, edited by hand, by `crboost exclude|include PROJECT TS [TILT...]` or in the web
view (`crboost serve`):

- `exclude_tilt_series`: tilt series no job processes any more. They leave every job's items
  (`project/items.py`), so a job whose only problem is such a tilt series completes; their
  results stay on disk, and including them again re-runs nothing that was done.
- `exclude_tilts` {tilt series: [tilt, ...]}: tilts the tiltFilter job drops whatever its rules
  say; `keep_tilts`: tilts it keeps whatever its rules say. A tilt is a movie name (its file
  name in frames/, with or without extension) or a nominal tilt angle (a number; the tilt whose
  mdoc angle is within 0.5 degrees).

A run uses the decisions as they were when it started: the run start writes a snapshot
(`.crboost/curation.json`) that its drivers and cluster jobs read, so a decision clicked in
the web view during a run takes effect at the next run, never halfway through one.
"""

from __future__ import annotations

import fcntl
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr, ValidationError

from ..errors import CrboostError
from .validation import format_validation_error

CURATION_FILE = "curation.yaml"
SNAPSHOT_PATH = ".crboost/curation.json"
LOCK_PATH = ".crboost/curation.lock"
#: how far a nominal angle given by the user may be from the mdoc's, degrees
ANGLE_TOLERANCE = 0.5

TiltSpec = str | float

HEADER = """\
# crboost curation: tilts and tilt series to leave out.
# Edit by hand, with `crboost exclude|include PROJECT TS [TILT...]`, or in `crboost serve`.
# A tilt is a movie name (as in frames/, with or without extension) or a nominal tilt angle
# (a number: the tilt whose mdoc angle is within 0.5 degrees).
#   exclude_tilt_series: tilt series no job processes any more (their results stay on disk)
#   exclude_tilts:       tilts the tiltFilter job drops, whatever its rules say
#   keep_tilts:          tilts the tiltFilter job keeps, whatever its rules say
# crboost rewrites this file when you use the commands: comments other than these are lost.
"""


class CurationError(CrboostError):
    """curation.yaml is invalid or names something the project does not have."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exclude_tilt_series: list[StrictStr] = []
    exclude_tilts: dict[StrictStr, list[StrictStr | StrictFloat | StrictInt]] = {}
    keep_tilts: dict[StrictStr, list[StrictStr | StrictFloat | StrictInt]] = {}


@dataclass(frozen=True)
class Curation:
    """The decisions, normalised (no duplicates, no empty lists, angles as floats)."""

    exclude_tilt_series: tuple[str, ...] = ()
    exclude_tilts: dict[str, tuple[TiltSpec, ...]] = field(default_factory=dict)
    keep_tilts: dict[str, tuple[TiltSpec, ...]] = field(default_factory=dict)
    #: the excluded tilt series, as a set
    excluded: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded", frozenset(self.exclude_tilt_series))

    @classmethod
    def from_data(cls, data: Any, source: str = CURATION_FILE) -> Curation:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise CurationError(f"{source}: expected a mapping of keys, got {type(data).__name__}")
        data = {k: ({} if v is None and k != "exclude_tilt_series" else v) for k, v in data.items()}
        data = {k: ([] if v is None else v) for k, v in data.items()}
        try:
            model = _Model.model_validate(data)
        except ValidationError as e:
            raise CurationError(f"{source}: {format_validation_error(e, _Model)}") from None
        for key in ("exclude_tilts", "keep_tilts"):
            for ts, specs in getattr(model, key).items():
                for i, spec in enumerate(specs):
                    if not isinstance(spec, str) and not math.isfinite(spec):
                        raise CurationError(f"{source}: {key}.{ts}[{i}] = {spec}: not an angle")
        return cls(
            exclude_tilt_series=tuple(dict.fromkeys(model.exclude_tilt_series)),
            exclude_tilts=_specs(model.exclude_tilts),
            keep_tilts=_specs(model.keep_tilts),
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "exclude_tilt_series": list(self.exclude_tilt_series),
            "exclude_tilts": {k: list(v) for k, v in self.exclude_tilts.items()},
            "keep_tilts": {k: list(v) for k, v in self.keep_tilts.items()},
        }

    def names(self) -> set[str]:
        """Every tilt-series name the decisions mention."""
        return {*self.exclude_tilt_series, *self.exclude_tilts, *self.keep_tilts}

    def entry(self, ts: str) -> dict[str, list[TiltSpec]]:
        """The tilt decisions about one tilt series (what its tiltFilter task applies)."""
        out: dict[str, list[TiltSpec]] = {}
        for key, table in (("exclude", self.exclude_tilts), ("keep", self.keep_tilts)):
            if table.get(ts):
                out[key] = sorted(table[ts], key=lambda s: (isinstance(s, str), str(s)))
        return out

    def entry_json(self, ts: str) -> str:
        """Canonical text of entry(ts): the tiltFilter task's per-item param (a change re-runs
        that tilt series from the filter on, and nothing else)."""
        return json.dumps(self.entry(ts), sort_keys=True, separators=(",", ":"))

    def has_tilt_decisions(self) -> bool:
        return bool(self.exclude_tilts or self.keep_tilts)

    def changes_since(self, used: Curation, usable: list[str],
                      applied: dict[str, list[tuple[Any, dict]]]) -> list[str]:  # fmt: skip
        """What these decisions change against those of the last run (`used`) for the usable
        tilt series, and against the tilt decisions each filter job applied (`applied`: {tilt
        series: [(job, what it applied)]}): what the next run re-runs or leaves out."""
        lines = []
        usable_set = set(usable)
        for ts in sorted((self.excluded - used.excluded) & usable_set):
            lines.append(f"{ts}: excluded: every job leaves it out from the next run on")
        for ts in sorted((used.excluded - self.excluded) & usable_set):
            lines.append(f"{ts}: included again: the next run takes it back (done work is kept)")
        for ts, jobs in applied.items():
            if ts in self.excluded:
                continue
            for job, entry in jobs:
                if json.dumps(entry, sort_keys=True) != json.dumps(self.entry(ts), sort_keys=True):
                    lines.append(f"{ts}: tilt decisions changed: {job.name} ({job.dir}) re-runs "
                                 "it, and what depends on it")  # fmt: skip
        return lines


def _specs(raw: dict[str, list]) -> dict[str, tuple[TiltSpec, ...]]:
    out = {}
    for ts, specs in raw.items():
        values = tuple(dict.fromkeys(s if isinstance(s, str) else float(s) for s in specs))
        if values:
            out[ts] = values
    return out


# --- files ---------------------------------------------------------------------------------


def read_curation(root: str | Path) -> Curation:
    """The decisions in PROJECT/curation.yaml (none if there is no such file)."""
    path = Path(root) / CURATION_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Curation()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise CurationError(
            f"{CURATION_FILE}:{where}: not valid YAML: {getattr(e, 'problem', e)}"
        ) from None
    return Curation.from_data(data)


def run_curation(root: str | Path) -> Curation:
    """The decisions the current (or last) run works with: its snapshot, or the file."""
    try:
        data = json.loads((Path(root) / SNAPSHOT_PATH).read_text())
    except (OSError, ValueError):
        return read_curation(root)
    return Curation.from_data(data, SNAPSHOT_PATH)


def write_snapshot(root: str | Path, curation: Curation) -> None:
    from ..relion.star import write_if_changed

    path = Path(root) / SNAPSHOT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    write_if_changed(path, json.dumps(curation.to_data(), indent=1, sort_keys=True) + "\n")


def check_names(curation: Curation, known: set[str]) -> None:
    """Every tilt series the decisions name is one of the project's (usable or skipped)."""
    unknown = sorted(curation.names() - known)
    if unknown:
        shown = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
        raise CurationError(
            f"{CURATION_FILE}: {unknown[0]!r} is not a tilt series of this project "
            f"(it has {shown or 'none'})"
        )


def render(curation: Curation, angles: dict[str, dict[str, float]] | None = None) -> str:
    """curation.yaml's text; angles {ts: {movie: angle}} adds each movie's angle as a comment."""
    angles = angles or {}
    lines = [HEADER.rstrip("\n")]
    lines.append("exclude_tilt_series:" + ("" if curation.exclude_tilt_series else " []"))
    lines += [f"- {_key(ts)}" for ts in curation.exclude_tilt_series]
    for key in ("exclude_tilts", "keep_tilts"):
        table = getattr(curation, key)
        lines.append(f"{key}:" + ("" if table else " {}"))
        for ts, specs in table.items():
            lines.append(f"  {_key(ts)}:")
            for spec in specs:
                if isinstance(spec, str):
                    angle = angles.get(ts, {}).get(spec)
                    note = f"  # {angle:.1f} degrees" if angle is not None else ""
                    lines.append(f"  - {json.dumps(spec)}{note}")
                else:
                    lines.append(f"  - {spec:g}")
    return "\n".join(lines) + "\n"


def _key(name: str) -> str:
    """A tilt-series name as a YAML key or item, quoted only where YAML would misread it."""
    try:
        plain = yaml.safe_load(name) == name
    except yaml.YAMLError:
        plain = False
    return name if plain else json.dumps(name)


@contextmanager
def locked(root: str | Path):
    """One writer of curation.yaml at a time (the CLI and the web view may both write)."""
    path = Path(root) / LOCK_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save(root: str | Path, curation: Curation) -> None:
    from ..relion.star import atomic_write

    angles = {}
    for ts in {*curation.exclude_tilts, *curation.keep_tilts}:
        try:
            angles[ts] = {t.movie: t.angle for t in tilts_of(root, ts)}
        except CurationError:
            pass
    atomic_write(Path(root) / CURATION_FILE, render(curation, angles))


# --- tilts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tilt:
    movie: str  # the movie's file name in frames/ without extension (Warp's item name)
    angle: float  # nominal tilt angle from the mdoc, degrees


def tilts_of(root: str | Path, ts: str) -> list[Tilt]:
    """Every tilt of the tilt series as imported (the manifest's record), in mdoc order."""
    from ..acquisition.manifest import read_record

    try:
        record = read_record(root, ts)
    except (OSError, ValueError):
        raise CurationError(f"{ts}: no such tilt series in the project's manifest") from None
    return [Tilt(Path(t["frames_name"]).stem, float(t["tilt_angle"])) for t in record["tilts"]]


def resolve(spec: TiltSpec, tilts: list[Tilt], where: str) -> Tilt:
    """The tilt a spec names: a movie name, else a nominal angle within ANGLE_TOLERANCE."""
    if isinstance(spec, str):
        name = spec.strip()
        for tilt in tilts:
            if name == tilt.movie or Path(name).stem == tilt.movie:
                return tilt
        try:
            angle = float(name)
        except ValueError:
            raise CurationError(
                f"{where} = {spec!r}: no tilt has this movie name (e.g. {tilts[0].movie})"
                if tilts
                else f"{where} = {spec!r}: the tilt series has no tilts"
            ) from None
    else:
        angle = float(spec)
    near = [t for t in tilts if abs(t.angle - angle) <= ANGLE_TOLERANCE]
    if not near:
        span = (
            f"{min(t.angle for t in tilts):.1f} to {max(t.angle for t in tilts):.1f}"
            if tilts
            else ""
        )
        raise CurationError(f"{where} = {spec!r}: no tilt at this angle (tilts from {span})")
    if len(near) > 1:
        names = ", ".join(t.movie for t in near)
        raise CurationError(f"{where} = {spec!r}: several tilts at this angle ({names}): "
                            "name the movie instead")  # fmt: skip
    return near[0]


def tilt_decisions(curation: Curation, ts: str, tilts: list[Tilt]) -> tuple[set[str], set[str]]:
    """(movies to drop, movies to keep) of one tilt series, checked against its tilts."""
    drop = {resolve(s, tilts, f"{CURATION_FILE}: exclude_tilts.{ts}").movie
            for s in curation.exclude_tilts.get(ts, ())}  # fmt: skip
    keep = {resolve(s, tilts, f"{CURATION_FILE}: keep_tilts.{ts}").movie
            for s in curation.keep_tilts.get(ts, ())}  # fmt: skip
    both = sorted(drop & keep)
    if both:
        raise CurationError(
            f"{CURATION_FILE}: {ts}: {both[0]} is in both exclude_tilts and keep_tilts"
        )
    return drop, keep


# --- edits (crboost exclude/include, the web view) ----------------------------------------------


def edit(root: str | Path, ts: str, specs: list[TiltSpec], action: str, known: set[str]) -> str:
    """Exclude or include a tilt series (no specs) or some of its tilts; returns what changed.

    Including a tilt makes it a tilt to keep (the user's word beats the rules); excluding one
    moves it from keep_tilts to exclude_tilts. Entries the edit does not touch stay as written.
    """
    if action not in ("exclude", "include"):
        raise CurationError(f"unknown curation action {action!r}")
    if ts not in known:
        shown = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
        raise CurationError(f"{ts!r}: not a tilt series of this project (it has {shown})")
    with locked(root):
        current = read_curation(root)
        if not specs:
            names = [n for n in current.exclude_tilt_series if n != ts]
            if action == "exclude":
                names.append(ts)
            changed = Curation(tuple(names), current.exclude_tilts, current.keep_tilts)
            what = f"{ts}: {'excluded' if action == 'exclude' else 'included'}"
        else:
            tilts = tilts_of(root, ts)
            chosen = [resolve(s, tilts, f"{ts} tilt") for s in specs]
            movies = {t.movie for t in chosen}
            drop = _without(current.exclude_tilts.get(ts, ()), movies, tilts)
            keep = _without(current.keep_tilts.get(ts, ()), movies, tilts)
            target = drop if action == "exclude" else keep
            target += [t.movie for t in chosen if t.movie not in target]
            changed = Curation(
                current.exclude_tilt_series,
                _with(current.exclude_tilts, ts, drop),
                _with(current.keep_tilts, ts, keep),
            )
            angles = ", ".join(f"{t.angle:.1f}" for t in chosen)
            verb = "excluded" if action == "exclude" else "kept"
            what = f"{ts}: {len(chosen)} tilt(s) {verb} ({angles} degrees)"
        if changed != current:
            save(root, changed)
        else:
            what += " (no change)"
        return what


def _without(specs: tuple[TiltSpec, ...], movies: set[str], tilts: list[Tilt]) -> list[TiltSpec]:
    """The specs that name none of the movies (specs naming no tilt are kept as written)."""
    out = []
    for spec in specs:
        try:
            if resolve(spec, tilts, "").movie in movies:
                continue
        except CurationError:
            pass
        out.append(spec)
    return out


def _with(table: dict[str, tuple[TiltSpec, ...]], ts: str, specs: list[TiltSpec]) -> dict:
    out = {k: v for k, v in table.items() if k != ts}
    if specs:
        out[ts] = tuple(specs)
    return out
