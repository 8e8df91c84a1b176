"""Simulated WarpTools tilt-series verbs after alignment: ts_defocus_hand, ts_ctf,
ts_reconstruct."""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET

import numpy as np

from .formats import (
    Failure,
    faults,
    grid_node,
    params_node,
    rng_for,
    write_mrc,
    write_processed_items,
    write_xml,
)
from .warp_common import Context, tilt_series_input


def ts_defocus_hand(o: dict) -> None:
    chosen = [k for k in ("check", "set_auto", "set_flip", "set_noflip", "set_switch") if o[k]]
    if len(chosen) != 1:
        raise Failure("Choose exactly 1 of the options")
    ctx = Context(o)
    print("Checking defocus handedness for all tilt series...")
    correlations = []
    for item in ctx.items:
        faults(os.environ.get("CRBOOST_SIM_ITEM", item.stem), delay=False)
        meta = ctx.input / f"{item.stem}.xml"
        if not meta.exists():
            raise Failure(f"File not found: {meta}")
        correlations.append(float(rng_for("hand", item.stem).uniform(-0.6, -0.1)))
    average = float(np.mean(correlations)) if correlations else 0.0
    print(f"Average correlation: {average:.3f}")
    flip = average < 0
    print("The average correlation is " + ("negative, which means that the defocus handedness "
          "should be set to 'flip'" if flip else "positive, which means that the defocus handedness "
          "should be set to 'no flip'"))  # fmt: skip
    if chosen[0] == "check":
        return
    for item in ctx.items:
        root = ET.fromstring((ctx.input / f"{item.stem}.xml").read_bytes())
        current = root.get("AreAnglesInverted") == "True"
        value = {
            "set_auto": flip,
            "set_flip": True,
            "set_noflip": False,
            "set_switch": not current,
        }[chosen[0]]
        root.set("AreAnglesInverted", str(value))
        write_xml(ctx.output / f"{item.stem}.xml", root)


def ts_ctf(o: dict) -> None:
    ctx = Context(o)
    if int(o["window"]) < 128:
        raise Failure("--window must be at least 128")
    dmin, dmax = float(o["defocus_min"]), float(o["defocus_max"])
    if dmin > dmax:
        raise Failure("--defocus_min can't be higher than --defocus_max")
    done = []
    for item in ctx.items:
        name = item.stem
        faults(os.environ.get("CRBOOST_SIM_ITEM", name))
        source = ctx.input / f"{name}.xml"
        if not source.exists():
            raise Failure(f"File not found: {source}")
        root = ET.fromstring(source.read_bytes())
        if root.get("UnselectManual") == "True":
            raise Failure(f"{name} is unselected")
        table, averages = tilt_series_input(ctx, item)
        n = len(table)
        rng = rng_for("tsctf", name)
        mean = float(rng.uniform(dmin + 0.2 * (dmax - dmin), dmax - 0.2 * (dmax - dmin)))
        angles = np.radians(table["wrpAngleTilt"].to_numpy(dtype=float))
        per_tilt = [mean + 0.05 * math.sin(a) + float(rng.normal(0, 0.01)) for a in angles]
        for tag in ("OptionsCTF", "CTF", "GridCTF", "GridCTFDefocusDelta", "GridCTFDefocusAngle"):
            for node in root.findall(tag):
                root.remove(node)
        root.append(
            params_node(
                "OptionsCTF",
                {
                    "Window": o["window"],
                    "Voltage": o["voltage"],
                    "Cs": o["cs"],
                    "Amplitude": o["amplitude"],
                },
            )
        )
        root.append(
            params_node(
                "CTF",
                {
                    "Defocus": round(mean, 4),
                    "DefocusDelta": 0.02,
                    "DefocusAngle": 35.0,
                    "Voltage": o["voltage"],
                    "Cs": o["cs"],
                    "Amplitude": o["amplitude"],
                },
            )
        )
        root.append(grid_node("GridCTF", per_tilt))
        root.append(grid_node("GridCTFDefocusDelta", [0.02] * n))
        root.append(grid_node("GridCTFDefocusAngle", [35.0] * n))
        write_xml(ctx.output / f"{name}.xml", root)
        write_mrc(
            ctx.output / "powerspectrum" / f"{name}.mrc",
            rng.random((n, 32, 32), dtype=np.float32),
            ctx.pixel,
        )
        done.append({"Path": item.name, "ProcessingStatus": 1, "MeanDefocus": mean})
    write_processed_items(ctx.output, done)


def ts_reconstruct(o: dict) -> None:
    ctx = Context(o)
    angpix = float(o["angpix"])
    if angpix <= 0:
        raise Failure("--angpix can't be 0 or negative")
    if o["halfmap_frames"] and o["halfmap_tilts"]:
        raise Failure("Can't use both --halfmap_frames and --halfmap_tilts")
    dims = [float(ctx.settings.get(f"Dimensions{a}", 0)) for a in "XYZ"]
    if not all(dims):
        raise Failure(
            f"{ctx.settings_path}: no tomogram dimensions (create_settings --tomo_dimensions)"
        )
    shape = [max(2, int(round(d * ctx.pixel / angpix / 2)) * 2) for d in dims]
    done = []
    for item in ctx.items:
        name = item.stem
        faults(os.environ.get("CRBOOST_SIM_ITEM", name))
        meta = ctx.input / f"{name}.xml"
        if not meta.exists():
            raise Failure(f"File not found: {meta}")
        if ET.fromstring(meta.read_bytes()).get("UnselectManual") == "True":
            raise Failure(f"{name} is unselected")
        table, averages = tilt_series_input(ctx, item)
        if o["halfmap_frames"]:
            for a in averages:
                if not (a.parent / "even" / a.name).exists():
                    raise Failure(
                        "Can't find half-averages for --halfmap_frames; run align_frameseries with --average_halves first"
                    )
        stem = f"{name}_{angpix:.2f}Apx"
        target = ctx.output / "reconstruction" / f"{stem}.mrc"
        if target.exists() and o["dont_overwrite"]:
            continue
        rng = rng_for("rec", name)
        volumes = [("", True), ("deconv", o["deconv"]),
                   ("even", o["halfmap_frames"] or o["halfmap_tilts"]),
                   ("odd", o["halfmap_frames"] or o["halfmap_tilts"])]  # fmt: skip
        for sub, wanted in volumes:
            if wanted:
                data = rng.normal(0, 1, size=shape[::-1]).astype(np.float16)
                write_mrc(ctx.output / "reconstruction" / sub / f"{stem}.mrc", data, angpix)
        done.append({"Path": item.name, "ProcessingStatus": 1})
    write_processed_items(ctx.output, done)
