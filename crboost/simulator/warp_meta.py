"""Warp's metadata as the simulated verbs read and write it: a tilt series (TiltSeries.cs:
InitializeFromTomoStar, LoadMeta, SaveMeta) and the frame series of its tilts (Movie.cs).

Per tilt, Warp keeps the tilt angle (`Angles`, as ts_import wrote it: inverted unless
--dont_invert), the tilt-axis angle (`AxisAngle`) and the shift (`AxisOffsetX/Y`, Angstrom); its
projection of a point p (TiltSeries.GetPositionInAllTilts) is

    Euler(0, Angles[t], -AxisAngle[t]) (p - volume centre) + (AxisOffsetX, AxisOffsetY) + image centre

with Warp's Matrix3.Euler (RELION's passive ZYZ matrix). `DataDirectory` is an absolute path
(BaseOptions.cs: the folder of the --input_data file), and so is each movie's: the raw movie is
read from there (TiltSeries.LoadMovieData: MapHeader.ReadFromFile(movies[0].DataPath)).
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .formats import Failure, grid_node, lines_node, params_node, read_mrc, write_mrc, write_xml


@dataclass
class TiltSeriesMeta:
    name: str
    data_dir: str  # absolute: the tomostar's folder
    movies: list[str]  # wrpMovieName, relative to data_dir
    angles: list[float]
    doses: list[float]
    axis: list[float]
    offset_x: list[float]
    offset_y: list[float]
    use_tilt: list[bool]
    inverted: bool = False
    unselected: bool = False
    extra: list[ET.Element] = field(default_factory=list)  # CTF, grids, ...

    @property
    def n(self) -> int:
        return len(self.movies)

    def movie_path(self, t: int) -> Path:
        """The tilt's frame-series 'movie' (in the frame-series processing folder)."""
        return Path(self.data_dir) / self.movies[t]

    def average(self, t: int, half: str = "") -> Path:
        movie = self.movie_path(t)
        parts = ["average", *([half] if half else []), f"{movie.stem}.mrc"]
        return movie.parent.joinpath(*parts)

    def movie_xml(self, t: int) -> Path:
        movie = self.movie_path(t)
        return movie.parent / f"{movie.stem}.xml"

    def raw_movie(self, t: int) -> Path:
        """Movie.DataPath: the movie XML's DataDirectory + the movie's file name."""
        root = _root(self.movie_xml(t))
        folder = root.get("DataDirectory") or str(self.movie_path(t).parent)
        return Path(folder) / self.movie_path(t).name


def from_tomostar(path: Path, data_dir: str) -> TiltSeriesMeta:
    from ..tools.warp import read_tomostar

    table = read_tomostar(path)
    n = len(table)
    return TiltSeriesMeta(
        name=path.stem,
        data_dir=data_dir,
        movies=[str(m) for m in table["wrpMovieName"]],
        angles=[float(a) for a in table["wrpAngleTilt"]],
        doses=[float(d) for d in table["wrpDose"]],
        axis=[float(a) for a in table["wrpAxisAngle"]],
        offset_x=[0.0] * n,
        offset_y=[0.0] * n,
        use_tilt=[True] * n,
    )


def load(xml: Path, tomostar: Path, data_dir: str) -> TiltSeriesMeta:
    """The series from its XML if there is one, else fresh from the tomostar; the DataDirectory
    given by the command line wins over the stored one (Movie's constructor)."""
    if not xml.exists():
        if not tomostar.exists():
            raise Failure(f"File not found: {tomostar}")
        return from_tomostar(tomostar, data_dir)
    root = _root(xml)

    def lines(tag: str) -> list[str]:
        node = root.find(tag)
        return (
            [v.strip() for v in (node.text or "").split("\n") if v.strip()]
            if node is not None
            else []
        )

    known = {"Angles", "Dose", "UseTilt", "AxisAngle", "AxisOffsetX", "AxisOffsetY", "MoviePath"}
    return TiltSeriesMeta(
        name=xml.stem,
        data_dir=data_dir or root.get("DataDirectory", ""),
        movies=lines("MoviePath"),
        angles=[float(v) for v in lines("Angles")],
        doses=[float(v) for v in lines("Dose")],
        axis=[float(v) for v in lines("AxisAngle")],
        offset_x=[float(v) for v in lines("AxisOffsetX")],
        offset_y=[float(v) for v in lines("AxisOffsetY")],
        use_tilt=[v == "True" for v in lines("UseTilt")],
        inverted=root.get("AreAnglesInverted") == "True",
        unselected=root.get("UnselectManual") == "True",
        extra=[c for c in root if c.tag not in known],
    )


def save(ts: TiltSeriesMeta, path: Path) -> None:
    root = ET.Element(
        "TiltSeries", DataDirectory=ts.data_dir, AreAnglesInverted=str(ts.inverted),
        PlaneNormal="0, 0, 1", LevelAngleX="0", LevelAngleY="0", Bfactor="0", Weight="1",
        MagnificationCorrection="1, 0, 0, 1", UnselectFilter="False",
        UnselectManual="True" if ts.unselected else "", CTFResolutionEstimate="0",
    )  # fmt: skip
    root.append(lines_node("Angles", ts.angles))
    root.append(lines_node("Dose", ts.doses))
    root.append(lines_node("UseTilt", ts.use_tilt))
    root.append(lines_node("AxisAngle", ts.axis))
    root.append(lines_node("AxisOffsetX", ts.offset_x))
    root.append(lines_node("AxisOffsetY", ts.offset_y))
    root.append(lines_node("MoviePath", ts.movies))
    if not any(e.tag == "CTF" for e in ts.extra):
        root.append(params_node("CTF", {"Defocus": 1.0, "DefocusDelta": 0, "DefocusAngle": 0}))
        for name in ("GridCTF", "GridCTFDefocusDelta", "GridCTFDefocusAngle"):
            root.append(grid_node(name, [0.0]))
    root.extend(ts.extra)
    write_xml(path, root)


def set_extra(ts: TiltSeriesMeta, nodes: list[ET.Element]) -> None:
    tags = {n.tag for n in nodes}
    ts.extra = [e for e in ts.extra if e.tag not in tags] + nodes


def _root(path: Path) -> ET.Element:
    try:
        return ET.fromstring(path.read_bytes())
    except FileNotFoundError:
        raise Failure(f"File not found: {path}") from None


def movie_meta(path: Path) -> ET.Element:
    return _root(path)


def check_raw_data(ts: TiltSeriesMeta) -> None:
    """TiltSeries.LoadMovieData reads the first raw movie's header through its DataDirectory."""
    first = next(t for t in range(ts.n) if ts.use_tilt[t])
    raw = ts.raw_movie(first)
    if not raw.exists():
        raise Failure(f"Could not find file '{raw}'.")


def load_tilts(ts: TiltSeriesMeta, half: str = "") -> list[np.ndarray | None]:
    """The used tilts' averages (None for tilts not used)."""
    check_raw_data(ts)
    out: list[np.ndarray | None] = []
    for t in range(ts.n):
        if not ts.use_tilt[t]:
            out.append(None)
            continue
        path = ts.average(t, half)
        if not path.exists():
            raise Failure(f"File not found: {path}")
        out.append(read_mrc(path)[0])
    return out


def fourier_crop(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Warp's rescaling to a smaller pixel (Fourier cropping), keeping the mean."""
    if image.shape == tuple(shape):
        return image.astype(np.float32)
    f = np.fft.fftshift(np.fft.fft2(image))
    cy, cx = image.shape[0] // 2, image.shape[1] // 2
    h, w = shape
    crop = f[cy - h // 2 : cy - h // 2 + h, cx - w // 2 : cx - w // 2 + w]
    out = np.fft.ifft2(np.fft.ifftshift(crop)).real * (h * w) / image.size
    return out.astype(np.float32)


def binned_shape(shape: tuple[int, int], pixel: float, angpix: float) -> tuple[int, int]:
    """Warp's even sizes at the new pixel size (TiltSeries.LoadMovieData DimsScaled)."""
    return tuple(max(2, int(round(n * pixel / angpix / 2)) * 2) for n in shape)


def make_stack(ts: TiltSeriesMeta, folder: Path, pixel: float, angpix: float) -> float:
    """TiltSeries.StackTilts: tiltstack/<name>/<name>.st of the used tilts (in the series'
    order) at angpix, and <name>.rawtlt with their angles; returns the stack's pixel size."""
    if angpix < pixel - 1e-6:
        raise Failure("--angpix can't be smaller than the binned pixel size of the original data")
    images = [im for im in load_tilts(ts) if im is not None]
    shape = binned_shape(images[0].shape, pixel, angpix)
    stack = np.stack([fourier_crop(im, shape) for im in images])
    stack_pixel = pixel * images[0].shape[1] / shape[1]
    write_mrc(folder / f"{ts.name}.st", stack, stack_pixel)
    used = [a for a, u in zip(ts.angles, ts.use_tilt, strict=True) if u]
    (folder / f"{ts.name}.rawtlt").write_text("".join(f"{a:.2f}\n" for a in used))
    return stack_pixel


def warp_matrix(angle: float, axis: float) -> np.ndarray:
    """Matrix3.Euler(0, angle, -axis) (WarpLib/Tools/Matrix3.cs), degrees."""
    b, g = math.radians(angle), math.radians(-axis)
    cb, sb, cg, sg = math.cos(b), math.sin(b), math.cos(g), math.sin(g)
    return np.array([[cg * cb, sg, -cg * sb], [-sg * cb, cg, sg * sb], [sb, 0.0, cb]])


def euler_z_of(a11: float, a12: float, a21: float, a22: float) -> float:
    """Matrix3.EulerFromMatrix's Z angle of an in-plane rotation, degrees: the psi with
    Euler(0, 0, psi) = [[cos, sin], [-sin, cos]]."""
    return math.degrees(math.atan2(a12, a11))


def relative_path(target: Path, start_dir: Path) -> str:
    return os.path.relpath(target, start_dir)
