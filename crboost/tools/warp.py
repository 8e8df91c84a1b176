"""Reading what WarpTools writes: frame-series and tilt-series XML metadata, .tomostar files.

Formats: ../shared/reference/tools/ (real Warp files) and docs in the simulator. The readers are
lenient about what they do not need and strict about what the drivers use.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import CrboostError


class WarpFormatError(CrboostError):
    pass


def _root(path: Path) -> ET.Element:
    try:
        return ET.fromstring(Path(path).read_bytes())
    except FileNotFoundError:
        raise WarpFormatError(f"{path}: missing") from None
    except ET.ParseError as e:
        raise WarpFormatError(f"{path}: not valid XML ({e})") from None


def _params(node: ET.Element | None) -> dict[str, str]:
    if node is None:
        return {}
    return {p.get("Name"): p.get("Value") for p in node.findall("Param")}


def _lines(node: ET.Element | None) -> list[str]:
    if node is None or not node.text:
        return []
    return [ln.strip() for ln in node.text.strip().splitlines() if ln.strip()]


def _grid(root: ET.Element, name: str) -> dict[int, float]:
    """Grid values by Z index (per-tilt grids are 1 x 1 x N)."""
    node = root.find(name)
    if node is None:
        return {}
    return {int(n.get("Z", 0)): float(n.get("Value")) for n in node.findall("Node")}


@dataclass
class MovieMetadata:
    """Frame-series (movie) XML: what fs_motion_and_ctf found."""

    defocus_um: float
    defocus_delta_um: float
    defocus_angle: float
    resolution: float | None
    mean_frame_movement: float | None
    unselected: bool


def read_movie_xml(path: str | Path) -> MovieMetadata:
    root = _root(Path(path))
    if root.tag != "Movie":
        raise WarpFormatError(f"{path}: root <{root.tag}>, expected <Movie>")
    ctf = _params(root.find("CTF"))
    if "Defocus" not in ctf:
        raise WarpFormatError(f"{path}: no CTF fit (<CTF> has no Defocus)")
    return MovieMetadata(
        defocus_um=float(ctf["Defocus"]),
        defocus_delta_um=float(ctf.get("DefocusDelta", 0)),
        defocus_angle=float(ctf.get("DefocusAngle", 0)),
        resolution=_float_or_none(root.get("CTFResolutionEstimate")),
        mean_frame_movement=_float_or_none(root.get("MeanFrameMovement")),
        unselected=root.get("UnselectManual") == "True",
    )


@dataclass
class TiltSeriesMetadata:
    """Tilt-series XML. Per-tilt lists are in the XML's order (tomostar rows, sorted by angle)."""

    movie_paths: list[str]
    angles: list[float]
    doses: list[float]
    use_tilt: list[bool]
    axis_angles: list[float]
    axis_offset_x: list[float]
    axis_offset_y: list[float]
    angles_inverted: bool
    unselected: bool
    ctf: dict[str, str] = field(default_factory=dict)
    defocus: dict[int, float] = field(default_factory=dict)
    defocus_delta: dict[int, float] = field(default_factory=dict)
    defocus_angle: dict[int, float] = field(default_factory=dict)

    @property
    def has_ctf(self) -> bool:
        return len(self.defocus) == len(self.movie_paths) and len(self.movie_paths) > 0


def read_tilt_series_xml(path: str | Path) -> TiltSeriesMetadata:
    root = _root(Path(path))
    if root.tag != "TiltSeries":
        raise WarpFormatError(f"{path}: root <{root.tag}>, expected <TiltSeries>")
    movies = _lines(root.find("MoviePath"))
    n = len(movies)

    def floats(name: str, default: float = 0.0) -> list[float]:
        values = [float(v) for v in _lines(root.find(name))]
        return values if values else [default] * n

    meta = TiltSeriesMetadata(
        movie_paths=movies,
        angles=floats("Angles"),
        doses=floats("Dose"),
        use_tilt=[v == "True" for v in _lines(root.find("UseTilt"))] or [True] * n,
        axis_angles=floats("AxisAngle"),
        axis_offset_x=floats("AxisOffsetX"),
        axis_offset_y=floats("AxisOffsetY"),
        angles_inverted=root.get("AreAnglesInverted") == "True",
        unselected=root.get("UnselectManual") == "True",
        ctf=_params(root.find("CTF")),
        defocus=_grid(root, "GridCTF"),
        defocus_delta=_grid(root, "GridCTFDefocusDelta"),
        defocus_angle=_grid(root, "GridCTFDefocusAngle"),
    )
    lengths = {len(x) for x in (meta.angles, meta.doses, meta.use_tilt, meta.axis_angles)}
    if lengths != {n}:
        raise WarpFormatError(f"{path}: per-tilt lists differ in length from MoviePath ({n})")
    return meta


def read_tomostar(path: str | Path) -> pd.DataFrame:
    """A .tomostar table (one row per tilt movie, sorted by tilt angle)."""
    import starfile

    try:
        table = starfile.read(path, parse_as_string=["wrpMovieName"])
    except FileNotFoundError:
        raise WarpFormatError(f"{path}: missing") from None
    if not isinstance(table, pd.DataFrame) or "wrpMovieName" not in table.columns:
        raise WarpFormatError(f"{path}: not a .tomostar table (no _wrpMovieName)")
    return table


def movie_stem(path: str) -> str:
    """Warp's item name of a movie: the file name without its extension."""
    return Path(str(path).replace("\\", "/")).stem


def _float_or_none(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "null") else None
    except ValueError:
        return None


def set_tomostar_doses(path: str | Path, doses: dict[str, float]) -> None:
    """Make a .tomostar's wrpDose (the dose before each tilt, which Warp weights with) the given
    ones, by movie stem. Warp's ts_import writes rank-in-DateTime x --tilt_exposure there
    (ImportTiltseries.cs), whatever the mdoc's doses; the other columns are kept as written."""
    path = Path(path)
    lines = path.read_text().splitlines()
    columns = [ln.split()[0] for ln in lines if ln.startswith("_wrp")]
    if "_wrpDose" not in columns or "_wrpMovieName" not in columns:
        raise WarpFormatError(f"{path}: no _wrpDose/_wrpMovieName column")
    dose_at, name_at = columns.index("_wrpDose"), columns.index("_wrpMovieName")
    rows = [i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith(
        ("data_", "loop_", "_", "#"))]  # fmt: skip
    table = [lines[i].split() for i in rows]
    for fields in table:
        stem = movie_stem(fields[name_at])
        if stem not in doses:
            raise WarpFormatError(f"{path}: tilt {fields[name_at]} has no dose to set")
        fields[dose_at] = f"{doses[stem]:g}"
    widths = [max(len(f[c]) for f in table) for c in range(len(columns))] if table else []
    for i, fields in zip(rows, table, strict=True):
        lines[i] = "".join("  " + f.rjust(w) for f, w in zip(fields, widths, strict=True))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
