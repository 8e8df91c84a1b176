"""Simulated WarpTools verbs on frame series: create_settings and fs_motion_and_ctf
(CreateSettings.cs, MotionCTFFrameseries.cs, Movie.ProcessCTF.cs, Movie.ExportMovie.cs).

Each movie becomes, in the output folder: <stem>.xml (root <Movie>, DataDirectory = the movie's
folder as an absolute path), average/<stem>.mrc, average/even|odd/<stem>.mrc (only for movies of
more than one frame), powerspectrum/<stem>.mrc. The CTF is the truth of the demo's phantom when
the movie has one (geometry.py): Defocus and DefocusDelta in um (U = D + Delta/2, V = D - Delta/2,
CTF.cs), DefocusAngle in degrees, and a 2x2 GridCTF of the local defocus at the image's corners
(which carries the defocus hand).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..phantom import local_defocus
from .formats import (
    Failure,
    faults,
    grid_node,
    params_node,
    read_mrc,
    rng_for,
    settings_xml,
    write_mrc,
    write_xml,
)
from .geometry import truth_of_movie
from .warp_common import Context, iterate, save_settings, workers


def create_settings(o: dict) -> None:
    try:
        angpix = float(o["angpix"])
    except ValueError:
        raise Failure(f"Invalid pixel size: {o['angpix']}") from None
    if angpix <= 0:
        raise Failure("Pixel size must be positive")
    dims = o["tomo_dimensions"].split("x") if o["tomo_dimensions"] else []
    if dims and len(dims) != 3:
        raise Failure(f"Invalid number of dimensions specified: {len(dims)}, expected 3")
    import_params = {
        "DataFolder": o["folder_data"],
        "Extension": o["extension"] or "*.tif",
        "ProcessingFolder": o["folder_processing"] or "",
        "PixelSize": angpix,
        "GainPath": o["gain_path"] or "",
        "GainFlipX": bool(o["gain_flip_x"]),
        "GainFlipY": bool(o["gain_flip_y"]),
        "GainTranspose": bool(o["gain_transpose"]),
        "DosePerAngstromFrame": -float(o["exposure"]),
        "EERGroupFrames": -int(o["eer_ngroups"]),
        "BinTimes": float(o["bin"] or 0),
    }
    tomo = {"DimensionsX": dims[0], "DimensionsY": dims[1], "DimensionsZ": dims[2]} if dims else {}
    if not Path(o["folder_data"]).is_dir():
        print(f"Warning: data folder {o['folder_data']} does not exist yet")
    out = Path(o["output"])
    write_xml(out, settings_xml(import_params, tomo))
    print(f"Settings saved to {Path.cwd() / out}")


def _grid(text: str | None, what: str) -> list[int]:
    if not text:
        return [1, 1, 1]
    try:
        dims = [int(v) for v in text.split("x")]
        assert len(dims) == 3
    except (ValueError, AssertionError):
        raise Failure(
            f"{what} grid dimensions must be specified as XxYxZ, e.g. 5x5x40, or left empty "
            "for auto"
        ) from None
    return dims


def fs_motion_and_ctf(o: dict) -> None:
    ctx = Context(o)
    _grid(o["m_grid"], "Motion")
    ctf_grid = _grid(o["c_grid"], "CTF")
    if ctf_grid[2] > 1 and o["c_use_sum"]:
        raise Failure("CTF grid can't be larger than 1 in Z dimension when using movie sums "
                      "because they have only 1 frame")  # fmt: skip
    if o["out_thumbnails"] is not None and not o["out_averages"]:
        raise Failure("Can't export thumbnails without exporting averages")
    workers(ctx)
    # one delay (and fault) per call: crboost's driver calls it for one tilt series
    faults(os.environ.get("CRBOOST_SIM_ITEM", ctx.settings_path.stem))

    def process(item: Path) -> None:
        _process_movie(ctx, o, item, ctf_grid)

    def mark_failed(item: Path) -> None:
        xml = ctx.output / f"{item.stem}.xml"
        root = ET.fromstring(xml.read_bytes()) if xml.exists() else ET.Element(
            "Movie", DataDirectory=ctx.data_dir(item))  # fmt: skip
        root.set("UnselectManual", "True")
        write_xml(xml, root)

    iterate(ctx, process, mark_failed)
    save_settings(ctx, "align_and_ctf_frameseries.settings")


def _process_movie(ctx: Context, o: dict, movie: Path, ctf_grid: list[int]) -> None:
    """One movie: motion (averages), then CTF (Movie.ProcessCTF), as a worker does it."""
    frames, _ = read_mrc(movie) if movie.suffix == ".mrc" else (_fake_frames(movie), ctx.pixel)
    if frames.ndim == 2:
        frames = frames[None]
    used = frames[int(o["out_skip_first"]) : len(frames) - int(o["out_skip_last"]) or None]
    name = movie.stem
    average = used.mean(axis=0).astype(np.float32)
    if o["out_averages"]:
        write_mrc(ctx.output / "average" / f"{name}.mrc", average, ctx.pixel)
    if o["out_average_halves"] and len(used) > 1:  # Movie.ExportMovie.cs: needs > 1 frame
        for half, part in (("even", used[0::2]), ("odd", used[1::2])):
            write_mrc(ctx.output / "average" / half / f"{name}.mrc",
                      part.mean(axis=0).astype(np.float32), ctx.pixel)  # fmt: skip
    window = int(o["c_window"])
    max_freq = int(2 * ctx.pixel / float(o["c_range_max"]) * window / 2)
    if max_freq > window // 2:
        raise Failure("Max frequency to fit is higher than the Nyquist frequency")
    spectrum = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(average)))).astype(np.float32)
    write_mrc(ctx.output / "powerspectrum" / f"{name}.mrc", spectrum, ctx.pixel)

    dmin, dmax = float(o["c_defocus_min"]), float(o["c_defocus_max"])
    rng = rng_for("ctf", name)
    known = truth_of_movie(movie)
    nx, ny = ctf_grid[0], ctf_grid[1]
    if known is not None:
        series, tilt = known
        defocus, delta, angle = tilt.defocus, tilt.defocus_delta, tilt.defocus_angle
        w, h = series.image_size
        cells = [local_defocus(series, tilt, x * w / max(1, nx - 1), y * h / max(1, ny - 1))
                 for y in range(ny) for x in range(nx)]  # fmt: skip
    else:
        defocus = float(rng.uniform(dmin + 0.2 * (dmax - dmin), dmax - 0.2 * (dmax - dmin)))
        delta, angle = round(float(rng.uniform(0, 0.05)), 4), round(float(rng.uniform(-90, 90)), 2)
        cells = [defocus + float(rng.normal(0, 0.02)) for _ in range(nx * ny)]
    if not dmin <= defocus <= dmax:
        print(f"{name}: defocus {defocus:.3f} um outside the search range [{dmin}, {dmax}]")
        defocus = min(max(defocus, dmin), dmax)
    root = ET.Element(
        "Movie", DataDirectory=ctx.data_dir(movie), UnselectFilter="False", UnselectManual="null",
        CTFResolutionEstimate=f"{rng.uniform(4, 9):.2f}", MeanFrameMovement=f"{rng.uniform(0.5, 3):.3f}",
        MaskPercentage="-1", Bfactor="0", Weight="1", MagnificationCorrection="1, 0, 0, 1",
    )  # fmt: skip
    root.append(params_node("OptionsCTF", {
        "Window": window, "PixelSize": ctx.pixel, "Voltage": o["c_voltage"], "Cs": o["c_cs"],
        "Amplitude": o["c_amplitude"], "DoPhase": bool(o["c_fit_phase"]), "ZMin": dmin,
        "ZMax": dmax,
    }))  # fmt: skip
    root.append(params_node("CTF", {
        "PixelSize": ctx.pixel, "Voltage": o["c_voltage"], "Cs": o["c_cs"],
        "Amplitude": o["c_amplitude"], "Defocus": round(defocus, 4),
        "DefocusDelta": round(delta, 4), "DefocusAngle": round(angle, 2), "PhaseShift": 0,
    }))  # fmt: skip
    root.append(grid_node("GridCTF", [round(c, 5) for c in cells], nx, ny))
    root.append(grid_node("GridCTFDefocusDelta", [delta] * (nx * ny), nx, ny))
    root.append(grid_node("GridCTFDefocusAngle", [angle] * (nx * ny), nx, ny))
    root.append(grid_node("GridMovementX", [0.0] * len(frames)))
    root.append(grid_node("GridMovementY", [0.0] * len(frames)))
    write_xml(ctx.output / f"{name}.xml", root)
    (ctx.output / "logs").mkdir(parents=True, exist_ok=True)
    (ctx.output / "logs" / f"{name}.log").write_text(f"Processed {movie}\n")


def _fake_frames(movie: Path) -> np.ndarray:
    """EER/TIFF movies are not decoded: only their existence is checked."""
    return rng_for("frames", movie.name).poisson(1.0, size=(4, 64, 64)).astype(np.float32)
