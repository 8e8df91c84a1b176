"""Simulated WarpTools tilt-series verbs after alignment: ts_defocus_hand and ts_ctf
(DefocusHandTiltseries.cs, CTFTiltseries.cs, TiltSeries.ProcessCTFSimultaneous.cs).

ts_defocus_hand --check / --set_auto computes Warp's correlation, over every series given: per
tilt, the local defocus of the tilt's frame series (its GridCTF, which must have >= 2 nodes) at
the projections of two points on the X axis of the volume, against the depth difference Warp's
geometry predicts for them (AreAnglesInverted false); the average decides 'flip' (negative) or
'no flip'. ts_ctf reports the per-tilt truth (defocus, astigmatism, its angle) in GridCTF,
GridCTFDefocusDelta and GridCTFDefocusAngle (Z = tilt index), after Warp's option checks (the
Nyquist check of --range_high among them).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .formats import Failure, faults, grid_node, params_node, rng_for, write_mrc
from .geometry import truth_of_movie
from .warp_common import Context, iterate, save_settings, workers
from .warp_meta import (
    TiltSeriesMeta,
    check_raw_data,
    load,
    movie_meta,
    save,
    set_extra,
    warp_matrix,
)


def _grid_values(root: ET.Element, name: str) -> tuple[int, int, np.ndarray]:
    node = root.find(name)
    if node is None:
        return 1, 1, np.zeros((1, 1))
    w, h = int(node.get("Width", 1)), int(node.get("Height", 1))
    values = np.zeros((h, w))
    for n in node.findall("Node"):
        if int(n.get("Z", 0)) == 0:
            values[int(n.get("Y")), int(n.get("X"))] = float(n.get("Value"))
    return w, h, values


def _interpolate(values: np.ndarray, x: float, y: float) -> float:
    """CubicGrid.GetInterpolated of a small grid, nodes at 0..1 (bilinear, clamped)."""
    h, w = values.shape
    gx, gy = np.clip(x, 0, 1) * (w - 1), np.clip(y, 0, 1) * (h - 1)
    x0, y0 = int(min(gx, w - 2)) if w > 1 else 0, int(min(gy, h - 2)) if h > 1 else 0
    fx, fy = (gx - x0) if w > 1 else 0.0, (gy - y0) if h > 1 else 0.0
    at = lambda yy, xx: values[min(yy, h - 1), min(xx, w - 1)]  # noqa: E731
    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return float(top * (1 - fy) + bottom * fy)


def hand_correlation(ts: TiltSeriesMeta, volume: np.ndarray, pixel: float) -> float:
    """DefocusHandTiltseries: normalised gradients estimated vs assumed, dot / n."""
    dims = volume * pixel  # VolumeDimensionsPhysical; the image is as large in X and Y
    points = [
        np.array([0.0, dims[1] / 2, dims[2] / 2]),
        np.array([dims[0], dims[1] / 2, dims[2] / 2]),
    ]
    estimated, assumed = [], []
    first_y = []
    for t in range(ts.n):
        grid = movie_meta(ts.movie_xml(t))
        w, h, values = _grid_values(grid, "GridCTF")
        if w * h < 2:
            raise Failure("One or more tilt movies don't have local defocus information. Please "
                          "run fs_ctf on all individual tilt movies using a 2x2x1 grid.")  # fmt: skip
        m = warp_matrix(ts.angles[t], ts.axis[t])
        projected = []
        for p in points:
            q = m @ (p - dims / 2)
            projected.append(((q[0] + ts.offset_x[t] + dims[0] / 2) / dims[0],
                              (q[1] + ts.offset_y[t] + dims[1] / 2) / dims[1], 1e-4 * q[2]))  # fmt: skip
        if t == 0:
            first_y = [projected[0][1], projected[1][1]]
        d0 = _interpolate(values, projected[0][0], first_y[0])
        d1 = _interpolate(values, projected[1][0], first_y[1])
        estimated.append(d1 - d0)
        assumed.append(projected[1][2] - projected[0][2])
    est, ass = np.array(estimated), np.array(assumed)
    if len(est) > 1:
        est = (est - est.mean()) / (est.std() or 1)
        ass = (ass - ass.mean()) / (ass.std() or 1)
    else:
        est, ass = np.sign(est), np.sign(ass)
    return float(np.dot(est, ass) / len(est))


def ts_defocus_hand(o: dict) -> None:
    chosen = [k for k in ("check", "set_auto", "set_flip", "set_noflip", "set_switch") if o[k]]
    if len(chosen) != 1:
        raise Failure("Choose exactly 1 of the options")
    ctx = Context(o)
    loaded = {i: load(ctx.input / f"{i.stem}.xml", i, ctx.data_dir(i)) for i in ctx.items}
    for ts in loaded.values():  # BaseCommand's path correction saves into the output
        save(ts, ctx.output / f"{ts.name}.xml")
    flip = False
    if chosen[0] in ("check", "set_auto"):
        volume = np.array([float(ctx.settings.get(f"Dimensions{a}", 0)) for a in "XYZ"])
        print("Checking defocus handedness for all tilt series...")
        correlations = []
        for item, ts in loaded.items():
            faults(item.stem, delay=False)
            correlations.append(hand_correlation(ts, volume, ctx.pixel))
        average = float(np.mean(correlations))
        print(f"Average correlation: {average:.3f}")
        if average == 0:
            raise Failure("The average correlation is 0, which shouldn't happen")
        flip = average < 0
        print("The average correlation is " + ("negative, which means that the defocus handedness "
              "should be set to 'flip'" if flip else "positive, which means that the defocus "
              "handedness should be set to 'no flip'"))  # fmt: skip
        if chosen[0] == "check":
            return
        print(
            f"Setting defocus handedness to '{'flip' if flip else 'no flip'}' for all tilt series..."
        )
    for ts in loaded.values():
        ts.inverted = {"set_auto": flip, "set_flip": True,
                       "set_noflip": False, "set_switch": not ts.inverted}[chosen[0]]  # fmt: skip
        save(ts, ctx.output / f"{ts.name}.xml")
    print(f"{len(loaded)}/{len(loaded)}")


def ts_ctf(o: dict) -> None:
    ctx = Context(o)
    checks = [
        (o["window"] < 128, "--window must be at least 128"),
        (o["range_low"] > 999, "--range_low can't be lower than 999 A"),
        (o["range_high"] < 1, "--range_high can't be higher than 1 A"),
        (o["range_high"] <= ctx.pixel * 2,
         "--range_high can't be higher than the binned data's Nyquist resolution"),
        (o["range_high"] >= o["range_low"], "--range_high can't be higher than --range_low"),
        (o["defocus_min"] > o["defocus_max"], "--defocus_min can't be higher than --defocus_max"),
        (o["voltage"] <= 0, "--voltage must be a positive number"),
        (o["cs"] <= 0, "--cs must be a positive number"),
        (o["amplitude"] < 0, "--amplitude can't be negative"),
        (o["amplitude"] > 1, "--amplitude can't be higher than 1"),
    ]  # fmt: skip
    for failed, message in checks:
        if failed:
            raise Failure(message)
    workers(ctx)

    def process(item: Path) -> None:
        ts = load(ctx.input / f"{item.stem}.xml", item, ctx.data_dir(item))
        faults(item.stem)
        if ts.unselected:
            raise Failure(f"{ts.name} is unselected")
        check_raw_data(ts)
        rng = rng_for("tsctf", ts.name)
        dmin, dmax = float(o["defocus_min"]), float(o["defocus_max"])
        defocus, delta, angle = [], [], []
        for t in range(ts.n):
            known = truth_of_movie(ts.raw_movie(t))
            if known is not None:
                _, tilt = known
                values = (tilt.defocus, tilt.defocus_delta, tilt.defocus_angle)
            else:
                mid = float(
                    rng_for("tsctf-mean", ts.name).uniform(
                        dmin + 0.2 * (dmax - dmin), dmax - 0.2 * (dmax - dmin)
                    )
                )
                values = (mid + 0.05 * np.sin(np.radians(ts.angles[t])) + float(rng.normal(0, 0.01)),
                          0.02, 35.0)  # fmt: skip
            defocus.append(round(min(max(values[0], dmin), dmax), 4))
            delta.append(round(values[1], 4))
            angle.append(round(values[2], 2))
        mean = float(np.mean(defocus))
        set_extra(ts, [
            params_node("OptionsCTF", {"Window": o["window"], "Voltage": o["voltage"],
                                       "Cs": o["cs"], "Amplitude": o["amplitude"]}),
            params_node("CTF", {"Defocus": round(mean, 4), "DefocusDelta": round(float(np.mean(delta)), 4),
                                "DefocusAngle": round(float(np.mean(angle)), 2),
                                "Voltage": o["voltage"], "Cs": o["cs"], "Amplitude": o["amplitude"]}),
            grid_node("GridCTF", defocus),
            grid_node("GridCTFDefocusDelta", delta),
            grid_node("GridCTFDefocusAngle", angle),
        ])  # fmt: skip
        save(ts, ctx.output / f"{ts.name}.xml")
        write_mrc(ctx.output / "powerspectrum" / f"{ts.name}.mrc",
                  rng.random((ts.n, 32, 32), dtype=np.float32), ctx.pixel)  # fmt: skip

    def failed(item: Path) -> None:
        xml = ctx.output / f"{item.stem}.xml"
        if xml.exists():
            ts = load(xml, item, ctx.data_dir(item))
            ts.unselected = True
            save(ts, xml)

    iterate(ctx, process, failed)
    save_settings(ctx, "ctf_tiltseries.settings")
