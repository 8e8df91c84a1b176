"""What the simulated WarpTools verbs share: the run's settings and folders, the tilt-series
inputs and the tilt-series XML and stack they write."""

from __future__ import annotations

import glob
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .formats import Failure, grid_node, lines_node, params_node, read_mrc, read_settings, write_mrc


class Context:
    """Settings, data and processing folders of a run, as BaseOptions.Evaluate sets them."""

    def __init__(self, o: dict):
        self.settings_path = Path(o["settings"])
        self.settings = read_settings(self.settings_path)
        base = self.settings_path.parent
        self.data = base / self.settings.get("DataFolder", ".")
        folder = self.settings.get("ProcessingFolder") or self.settings.get("DataFolder", ".")
        self.input = Path(o["input_processing"]) if o.get("input_processing") else base / folder
        self.output = Path(o["output_processing"]) if o.get("output_processing") else self.input
        self.pixel = float(self.settings.get("PixelSize", 1))
        self.items = self._items(o.get("input_data"))

    def _items(self, given: list[str] | None) -> list[Path]:
        if given:
            items: list[Path] = []
            for entry in given:
                if entry.endswith(".txt"):
                    items += [
                        Path(ln.strip())
                        for ln in Path(entry).read_text().splitlines()
                        if ln.strip()
                    ]
                elif any(c in entry for c in "*?"):
                    items += sorted(Path(p) for p in glob.glob(entry))
                else:
                    items.append(Path(entry))
        else:
            items = sorted(self.data.glob(self.settings.get("Extension", "*")))
        for item in items:
            if not item.exists():
                raise Failure(f"File not found: {item}")
        names = [i.stem for i in items]
        if len(set(names)) != len(names):
            raise Failure("Duplicate file names found in input data list!")
        print(f"{len(items)} files found")
        return items


def tilt_series_input(ctx: Context, item: Path):
    """Tomostar rows, with the frame-series average of each tilt."""
    from ..tools.warp import read_tomostar

    table = read_tomostar(item)
    averages = []
    for movie in table["wrpMovieName"]:
        movie_path = item.parent / movie
        average = movie_path.parent / "average" / f"{movie_path.stem}.mrc"
        if not average.exists():
            raise Failure(f"File not found: {average}")
        averages.append(average)
    return table, averages


def tilt_series_xml(
    table, averages: list[Path], out: Path, axis: float, offsets, inverted=False, unselected=False
) -> ET.Element:
    root = ET.Element(
        "TiltSeries", DataDirectory="", AreAnglesInverted=str(inverted), PlaneNormal="0, 0, 1",
        LevelAngleX="0", LevelAngleY="0", Bfactor="0", Weight="1",
        MagnificationCorrection="1, 0, 0, 1", UnselectFilter="False",
        UnselectManual="True" if unselected else "", CTFResolutionEstimate="0",
    )  # fmt: skip
    n = len(table)
    root.append(lines_node("Angles", [float(a) for a in table["wrpAngleTilt"]]))
    root.append(lines_node("Dose", [float(d) for d in table["wrpDose"]]))
    root.append(lines_node("UseTilt", [True] * n))
    root.append(lines_node("AxisAngle", [axis] * n))
    root.append(lines_node("AxisOffsetX", [o[0] for o in offsets]))
    root.append(lines_node("AxisOffsetY", [o[1] for o in offsets]))
    root.append(
        lines_node("MoviePath", [os.path.relpath(a.parent.parent / a.name, out) for a in averages])
    )
    root.append(params_node("CTF", {"Defocus": 1.0, "DefocusDelta": 0, "DefocusAngle": 0}))
    for name in ("GridCTF", "GridCTFDefocusDelta", "GridCTFDefocusAngle"):
        root.append(grid_node(name, [0.0]))
    return root


def make_stack(
    ctx: Context, name: str, table, averages, angpix: float | None
) -> tuple[Path, float]:
    images = [read_mrc(a)[0] for a in averages]
    target = angpix or ctx.pixel
    if target < ctx.pixel - 1e-6:
        raise Failure("--angpix can't be smaller than the binned pixel size of the original data")
    factor = max(1, int(round(target / ctx.pixel)))
    stack = np.stack([_bin(im, factor) for im in images]).astype(np.float32)
    folder = ctx.output / "tiltstack" / name
    write_mrc(folder / f"{name}.st", stack, target)
    (folder / f"{name}.rawtlt").write_text(
        "".join(f"{float(a):.2f}\n" for a in table["wrpAngleTilt"])
    )
    return folder, target


def _bin(image: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    return image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
