"""The tilt-series manifest: what the mdocs and movies say, kept in the project under `.crboost/`.

Snakemake re-parses the workflow in every cluster job, so mdocs are never parsed at parse time
when nothing changed: the manifest index (`.crboost/manifest.json`, small) says which tilt series
exist, with a fingerprint of each; the per-tilt-series records (`.crboost/tilt_series/<ts>.json`)
hold the tilts and are read only by the import driver.

The index remembers the size and mtime of every mdoc and a digest of the movie listing. When those
match, the index is used as is. Otherwise only changed mdocs are parsed again. A refreshed manifest
is held in memory and written when a real run starts (never by a dry run).

Fingerprints cover what ends up in the project (names, angles, doses, times, movie names) and not
where the raw data lives, so re-pointing `data.movies`/`data.mdocs` at moved data re-runs nothing.

Values of an mdoc that are present but not usable (NaN, empty) and what replaces them
(`unusable`, see mdoc_values.py) are kept per usable tilt series in its record and in the index:
`crboost run`, `crboost status` and the import job's run.out say them with the project's values
(`unusable_lines`). They are messages, not data: outside the fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MdocError
from ..project.config import DataConfig
from .globbing import GlobTooLarge, glob_files
from .names import NAME_WARNING, safe_movie_name, tilt_series_name

if TYPE_CHECKING:
    from .mdoc import TiltSeriesMdoc

# The mdoc reader is imported where an mdoc is read: every parse of the workflow (also in each
# cluster job) loads the manifest, and mostly reads none.

STATE_DIR = ".crboost"
INDEX_PATH = f"{STATE_DIR}/manifest.json"
RECORD_DIR = f"{STATE_DIR}/tilt_series"
#: 2: the index and the records hold the unusable values (format 1 is read again from the mdocs)
FORMAT = 2


@dataclass
class Manifest:
    """Usable tilt series (name -> fingerprint) and the ones skipped, with reasons."""

    settings: dict[str, Any]
    sources: dict[str, list[int]]
    movies_digest: str
    tilt_series: dict[str, dict[str, Any]]
    skipped: dict[str, str]
    #: usable tilt series with values present but not usable: name -> notes (Unusable.as_dict)
    unusable: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: mdocs parsed in this refresh (name -> parsed mdoc), for inferring acquisition values
    parsed: dict[str, TiltSeriesMdoc] = field(default_factory=dict)
    changed: bool = False

    @property
    def names(self) -> list[str]:
        return list(self.tilt_series)

    def renamed(self) -> list[str]:
        """Messages of tilt series named differently from their mdoc (first seen in this
        refresh: said once, when they appear)."""
        return [w for m in self.parsed.values() for w in m.warnings if w.startswith(NAME_WARNING)]

    def unusable_lines(self, values: dict[str, str] | None) -> list[str]:
        """One line per value present but not usable and what replaces it (`values`: the
        project's, see mdoc_values.setting_values), the same one of many tilt series on one."""
        from .mdoc_values import Unusable, unusable_lines

        entries = [
            (name, self.tilt_series[name]["mdoc"], [Unusable.from_dict(n) for n in notes])
            for name, notes in sorted(self.unusable.items())
            if name in self.tilt_series
        ]
        return unusable_lines(entries, values)

    def fingerprint(self, name: str) -> str:
        return self.tilt_series[name]["fingerprint"]

    def index_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "settings": self.settings,
            "sources": self.sources,
            "movies_digest": self.movies_digest,
            "tilt_series": self.tilt_series,
            "skipped": self.skipped,
            "unusable": self.unusable,
        }

    def write(self, root: str | Path) -> None:
        """Persist the index and the records that changed (unchanged files keep their mtime)."""
        root = Path(root)
        (root / RECORD_DIR).mkdir(parents=True, exist_ok=True)
        for name, record in self.records.items():
            write_if_changed(root / RECORD_DIR / f"{name}.json", _dumps(record))
        write_if_changed(root / INDEX_PATH, _dumps(self.index_json()))
        self.changed = False


def record_path(name: str) -> str:
    return f"{RECORD_DIR}/{name}.json"


def read_record(root: str | Path, name: str) -> dict[str, Any]:
    """The per-tilt-series record written by the manifest (used by the import driver)."""
    return json.loads((Path(root) / record_path(name)).read_text())


def read_index(root: str | Path) -> Manifest | None:
    path = Path(root) / INDEX_PATH
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    if data.get("format") != FORMAT:
        return None
    return Manifest(
        settings=data["settings"],
        sources=data["sources"],
        movies_digest=data["movies_digest"],
        tilt_series=data["tilt_series"],
        skipped=data["skipped"],
        unusable=data.get("unusable", {}),
    )


def load_manifest(
    root: str | Path, data: DataConfig, trust_index: bool = False, reuse: bool = True
) -> Manifest:
    """The manifest for the project's data settings, refreshed in memory if the data changed.

    trust_index: use the index without looking at the data (cluster jobs: the main process
    already refreshed and wrote it). reuse=False parses every mdoc again.
    """
    root = Path(root)
    old = read_index(root) if reuse else None
    if trust_index and old is not None:
        return old

    settings = _settings(data)
    mdoc_paths = data_files(root, "data.mdocs", data.mdocs)
    movie_paths = data_files(root, "data.movies", data.movies)
    sources = {p: _stat(p) for p in mdoc_paths}
    movies_digest = hashlib.sha1("\n".join(movie_paths).encode()).hexdigest()

    if (
        old is not None
        and old.settings == settings
        and old.sources == sources
        and old.movies_digest == movies_digest
    ):
        return old

    manifest = build_manifest(root, data, mdoc_paths, movie_paths, old)
    manifest.sources = sources
    manifest.movies_digest = movies_digest
    manifest.changed = True
    return manifest


def build_manifest(
    root: Path,
    data: DataConfig,
    mdoc_paths: list[str],
    movie_paths: list[str],
    old: Manifest | None = None,
) -> Manifest:
    from .mdoc import read_tilt_series_mdoc

    movies = _movie_index(movie_paths)
    parsed: dict[str, tuple[str, TiltSeriesMdoc | dict]] = {}
    fresh: dict[str, TiltSeriesMdoc] = {}
    skipped: dict[str, str] = {}
    first_file: dict[str, tuple[str, str]] = {}
    for path in mdoc_paths:
        if Path(path).name.lower().endswith("_override.mdoc"):
            skipped[Path(path).name] = "Tomo5 override mdoc, not a tilt series"
            continue
        name, name_warning = tilt_series_name(path, data.tilt_series_prefix)
        # names differing only in case would share files on case-insensitive file systems
        if name.lower() in first_file:
            other, other_name = first_file[name.lower()]
            same = repr(name) if other_name == name else f"{other_name!r} and {name!r}"
            raise ConfigError(
                f"data.mdocs: {other} and {path} both give tilt series {same}"
                f"{'' if other_name == name else ' (the same name ignoring case)'}; "
                "rename one or use separate projects"
            )
        first_file[name.lower()] = (path, name)
        source = _reusable_record(root, old, path, name)
        if source is None:
            try:
                source = read_tilt_series_mdoc(path)
            except MdocError as e:
                if e.kind == "not_tilt_series" or (
                    e.kind == "incomplete" and data.skip_incomplete_mdocs
                ):
                    # the reason without the path: the key names it, and a moved data folder
                    # must not change what the import job reports (it would re-run)
                    skipped[name] = str(e).removeprefix(f"{path}: ")
                    continue
                raise
            if name_warning:
                source.warnings.append(name_warning)
            fresh[name] = source
        parsed[name] = (path, source)

    tilt_series: dict[str, dict[str, Any]] = {}
    records: dict[str, dict[str, Any]] = {}
    unusable: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(parsed):
        path, source = parsed[name]
        record = _record(name, path, source, movies)
        missing = [t["movie"] for t in record["tilts"] if t["movie_path"] is None]
        if missing:
            shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
            skipped[name] = f"{len(missing)} of {len(record['tilts'])} movies not found ({shown})"
            continue
        if len(record["tilts"]) < data.min_tilts:
            skipped[name] = f"only {len(record['tilts'])} tilts (data.min_tilts = {data.min_tilts})"
            continue
        records[name] = record
        tilt_series[name] = {
            "fingerprint": fingerprint(record),
            "mdoc": path,
            "tilts": len(record["tilts"]),
        }
        if record["unusable"]:
            unusable[name] = record["unusable"]
    return Manifest(
        settings=_settings(data),
        sources={},
        movies_digest="",
        tilt_series=tilt_series,
        skipped=dict(sorted(skipped.items())),
        unusable=unusable,
        records=records,
        parsed={k: v for k, v in fresh.items() if k in tilt_series},
    )


def fingerprint(record: dict[str, Any]) -> str:
    """Digest of what a tilt series contributes to the project, not where its raw files are
    (nor the messages about its unusable values)."""
    portable = {k: v for k, v in record.items() if k not in ("mdoc", "mdoc_stat", "unusable")}
    portable["tilts"] = [{k: v for k, v in t.items() if k != "movie_path"} for t in record["tilts"]]
    return hashlib.sha256(_dumps(portable).encode()).hexdigest()[:16]


def _record(name: str, path: str, source, movies: dict[str, list[str]]) -> dict[str, Any]:
    if isinstance(source, dict):
        record = dict(source)
        record["tilts"] = [dict(t) for t in source["tilts"]]
    else:
        record = {
            "name": name,
            "mdoc": path,
            "mdoc_stat": _stat(path),
            "software": source.software,
            "ordered_by": source.ordered_by,
            "pixel_size": source.pixel_size,
            "voltage": source.voltage,
            "tilt_axis": source.tilt_axis,
            "warnings": source.warnings,
            "unusable": [n.as_dict() for n in source.unusable],
            "tilts": [
                {
                    "z_value": t.z_value,
                    "tilt_angle": t.tilt_angle,
                    "sub_frame_path": t.sub_frame_path,
                    "movie": t.movie,
                    "frames_name": safe_movie_name(t.movie),
                    "dose": t.dose,
                    "dose_source": t.dose_source,
                    "num_frames": t.num_frames,
                    "acquired": t.acquired.isoformat() if t.acquired else None,
                    "target_defocus": t.target_defocus,
                }
                for t in source.tilts
            ],
        }
    for tilt in record["tilts"]:
        tilt["movie_path"] = _match_movie(tilt["movie"], movies)
    return record


def _match_movie(movie: str, movies: dict[str, list[str]]) -> str | None:
    """Movie file for a SubFramePath name: same file name, else same name without extension."""
    found = movies.get(movie) or movies.get("stem:" + Path(movie).stem)
    if not found:
        return None
    if len(found) > 1:
        raise ConfigError(
            f"data.movies: movie {movie} matches several files ({found[0]}, {found[1]}); "
            "narrow the glob"
        )
    return found[0]


def _movie_index(paths: list[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for p in paths:
        name = os.path.basename(p)
        index.setdefault(name, []).append(p)
        index.setdefault("stem:" + Path(name).stem, []).append(p)
    return index


def _reusable_record(root: Path, old: Manifest | None, path: str, name: str) -> dict | None:
    """The old record of an mdoc that did not change since it was parsed."""
    if old is None:
        return None
    try:
        record = read_record(root, name)
    except (OSError, ValueError):
        return None
    if (
        record.get("mdoc") == path
        and record.get("mdoc_stat") == _stat(path)
        and "unusable" in record  # (records of format 1 are read again)
    ):
        return record
    return None


def _settings(data: DataConfig) -> dict[str, Any]:
    return {
        "mdocs": data.mdocs,
        "movies": data.movies,
        "prefix": data.tilt_series_prefix,
        "min_tilts": data.min_tilts,
        "skip_incomplete_mdocs": data.skip_incomplete_mdocs,
    }


def data_files(root: Path, key: str, pattern: str) -> list[str]:
    """The files of a data glob of the config; errors name the key."""
    try:
        paths = glob_files(root, pattern)
    except GlobTooLarge as e:
        raise ConfigError(f"{key} = {pattern!r}: {e}") from None
    if not paths:
        raise ConfigError(f"{key} = {pattern!r}: matches no file")
    return paths


def _stat(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def write_if_changed(path: Path, text: str) -> bool:
    """Write atomically, and only when the content differs (keeps mtimes of unchanged files)."""
    try:
        if path.read_text() == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


#: Reasons of files that were never tilt series (per-movie FrameSet mdocs can be hundreds).
_NOT_TILT_SERIES = ("not a tilt series",)


def skipped_lines(skipped: dict[str, str], indent: str = "") -> list[str]:
    """One line per skipped tilt series with its reason; files that are not tilt series at
    all are named on one line when there are many."""
    other = {k: v for k, v in skipped.items() if not v.endswith(_NOT_TILT_SERIES)}
    not_ts = sorted(set(skipped) - set(other))
    lines = [f"{indent}skipped {name}: {why}" for name, why in sorted(other.items())]
    if len(not_ts) > 3:
        shown = ", ".join(not_ts[:5]) + (", ..." if len(not_ts) > 5 else "")
        lines.append(f"{indent}skipped {len(not_ts)} files that are not tilt series "
                     f"(per-movie, montage or override mdocs): {shown}")  # fmt: skip
    else:
        lines += [f"{indent}skipped {name}: {skipped[name]}" for name in not_ts]
    return lines
