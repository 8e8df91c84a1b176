"""Simulated WarpTools verbs on frame series: create_settings, fs_motion_and_ctf, ts_import."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .formats import (
    Failure,
    faults,
    grid_node,
    params_node,
    read_mrc,
    rng_for,
    settings_xml,
    write_mrc,
    write_processed_items,
    write_tomostar,
    write_xml,
)
from .warp_common import Context


def create_settings(o: dict) -> None:
    angpix = float(o["angpix"])
    if angpix <= 0:
        raise Failure("Pixel size must be positive")
    dims = (o["tomo_dimensions"] or "").split("x") if o["tomo_dimensions"] else []
    if dims and len(dims) != 3:
        raise Failure(f"Invalid number of dimensions specified: {len(dims)}, expected 3")
    exposure = float(o["exposure"])
    import_params = {
        "DataFolder": o["folder_data"],
        "Extension": o["extension"] or "*.tif",
        "ProcessingFolder": o["folder_processing"] or "",
        "PixelSize": angpix,
        "GainPath": o["gain_path"] or "",
        "GainFlipX": bool(o["gain_flip_x"]),
        "GainFlipY": bool(o["gain_flip_y"]),
        "GainTranspose": bool(o["gain_transpose"]),
        "DosePerAngstromFrame": -exposure,
        "EERGroupFrames": -int(o["eer_ngroups"]),
        "BinTimes": float(o["bin"] or 0),
    }
    tomo = {"DimensionsX": dims[0], "DimensionsY": dims[1], "DimensionsZ": dims[2]} if dims else {}
    out = Path(o["output"])
    write_xml(out, settings_xml(import_params, tomo))
    print(f"Settings saved to {Path.cwd() / out}")


def fs_motion_and_ctf(o: dict) -> None:
    ctx = Context(o)
    if not o["out_averages"]:
        print("Not exporting averages (--out_averages not set)")
    dmin, dmax = float(o["c_defocus_min"]), float(o["c_defocus_max"])
    # one delay (and fault) per call: crboost's driver calls it for one tilt series
    faults(os.environ.get("CRBOOST_SIM_ITEM", ctx.settings_path.stem))
    done = []
    for movie in ctx.items:
        frames, _ = read_mrc(movie) if movie.suffix == ".mrc" else (_fake_frames(movie), ctx.pixel)
        if frames.ndim == 2:
            frames = frames[None]
        skip_first, skip_last = int(o["out_skip_first"]), int(o["out_skip_last"])
        used = frames[skip_first : len(frames) - skip_last or None]
        name = movie.stem
        rng = rng_for("ctf", name)
        defocus = float(rng.uniform(dmin + 0.2 * (dmax - dmin), dmax - 0.2 * (dmax - dmin)))
        if o["out_averages"]:
            write_mrc(
                ctx.output / "average" / f"{name}.mrc",
                used.mean(axis=0).astype(np.float32),
                ctx.pixel,
            )
        if o["out_average_halves"]:
            write_mrc(
                ctx.output / "average" / "even" / f"{name}.mrc",
                used[0::2].mean(axis=0).astype(np.float32),
                ctx.pixel,
            )
            write_mrc(
                ctx.output / "average" / "odd" / f"{name}.mrc",
                used[1::2].mean(axis=0).astype(np.float32)
                if len(used) > 1
                else used[0].astype(np.float32),
                ctx.pixel,
            )
        spectrum = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(used.mean(axis=0))))).astype(
            np.float32
        )
        write_mrc(ctx.output / "powerspectrum" / f"{name}.mrc", spectrum, ctx.pixel)
        grid = [int(v) for v in (o["c_grid"] or "1x1").split("x")[:2]]
        root = ET.Element(
            "Movie", DataDirectory="", UnselectFilter="False", UnselectManual="null",
            CTFResolutionEstimate=f"{rng.uniform(4, 9):.2f}", MeanFrameMovement=f"{rng.uniform(0.5, 3):.3f}",
            MaskPercentage="-1", Bfactor="0", Weight="1", MagnificationCorrection="1, 0, 0, 1",
        )  # fmt: skip
        root.append(params_node("OptionsCTF", {
            "Window": o["c_window"], "PixelSize": ctx.pixel, "Voltage": o["c_voltage"],
            "Cs": o["c_cs"], "Amplitude": o["c_amplitude"], "DoPhase": bool(o["c_fit_phase"]),
            "ZMin": dmin, "ZMax": dmax,
        }))  # fmt: skip
        root.append(params_node("CTF", {
            "PixelSize": ctx.pixel, "Voltage": o["c_voltage"], "Cs": o["c_cs"],
            "Amplitude": o["c_amplitude"], "Defocus": round(defocus, 4),
            "DefocusDelta": round(float(rng.uniform(0, 0.05)), 4),
            "DefocusAngle": round(float(rng.uniform(-90, 90)), 2), "PhaseShift": 0,
        }))  # fmt: skip
        cells = grid[0] * grid[1]
        root.append(
            grid_node(
                "GridCTF",
                [defocus + float(rng.normal(0, 0.02)) for _ in range(cells)],
                grid[0],
                grid[1],
            )
        )
        root.append(grid_node("GridCTFDefocusDelta", [0.01] * cells, grid[0], grid[1]))
        root.append(grid_node("GridCTFDefocusAngle", [0.0] * cells, grid[0], grid[1]))
        root.append(grid_node("GridMovementX", list(rng.normal(0, 2, len(frames)))))
        root.append(grid_node("GridMovementY", list(rng.normal(0, 2, len(frames)))))
        write_xml(ctx.output / f"{name}.xml", root)
        (ctx.output / "logs").mkdir(parents=True, exist_ok=True)
        (ctx.output / "logs" / f"{name}.log").write_text(f"Processed {movie}\n")
        done.append({"Path": movie.name, "ProcessingStatus": 1, "Defocus": defocus})
    write_processed_items(ctx.output, done)


def _fake_frames(movie: Path) -> np.ndarray:
    """EER/TIFF movies are not decoded: only their existence is checked."""
    return rng_for("frames", movie.name).poisson(1.0, size=(4, 64, 64)).astype(np.float32)


def ts_import(o: dict) -> None:
    from ..acquisition.mdoc import read_tilt_series_mdoc
    from ..errors import MdocError

    mdocs, frameseries, out = Path(o["mdocs"]), Path(o["frameseries"]), Path(o["output"])
    if not mdocs.is_dir():
        raise Failure(f"MDOC folder does not exist: {mdocs}")
    if not frameseries.is_dir():
        raise Failure(f"Frame series folder does not exist: {frameseries}")
    exposure = float(o["tilt_exposure"])
    if exposure <= 0:
        raise Failure("--tilt_exposure must be higher than 0")
    if not list(frameseries.glob("*.xml")):
        raise Failure(f"No frame series metadata found at {frameseries}")
    files = sorted(mdocs.glob(o["pattern"]))
    print(f"Found {len(files)} MDOC files, searching for {o['pattern']} in {mdocs}")
    ok = 0
    for path in files:
        name = path.name.replace(".mrc.mdoc", ".mdoc").removesuffix(".mdoc")
        faults(os.environ.get("CRBOOST_SIM_ITEM", name))
        try:
            mdoc = read_tilt_series_mdoc(path)
        except MdocError as e:
            print(f"Failed to parse {path}: {e}")
            continue
        rows = []
        for order, tilt in enumerate(mdoc.tilts):
            stem = Path(tilt.movie).stem
            if not (frameseries / f"{stem}.xml").exists():
                print(
                    f"Failed to parse {path}: At least one of the referenced frame series could not be found: {stem}"
                )
                break
            average = frameseries / "average" / f"{stem}.mrc"
            if not average.exists():
                print(
                    f"Failed to parse {path}: At least one of the referenced frame series does not have an aligned average result: {stem}"
                )
                break
            data, _ = read_mrc(average)
            angle = round(tilt.tilt_angle, 2)
            if abs(angle) > float(o["max_tilt"]) + 0.05:
                continue
            axis = (
                float(o["override_axis"])
                if o["override_axis"] is not None
                else (mdoc.tilt_axis or 0)
            )
            movie_path = os.path.relpath(frameseries / tilt.movie, out)
            rows.append(
                (movie_path, angle, axis, order * exposure, float(np.median(data[::10, ::10])), 0.0)
            )
        else:
            rows.sort(key=lambda r: r[1])
            sign = 1 if o["dont_invert"] else -1
            rows = [(m, sign * a, ax, d, i, f) for m, a, ax, d, i, f in rows]
            if len(rows) < int(o["min_ntilts"]):
                print(f"Failed to parse {path}: Too few tilts remain: {len(rows)}")
                continue
            write_tomostar(out / f"{name}.tomostar", rows)
            print(f"Successfully parsed {path}, {len(rows)} tilts")
            ok += 1
    print(f"Successfully parsed {ok} MDOC files, {len(files) - ok} failed")
