"""Simulated WarpTools ts_reconstruct (ReconstructTiltseries.cs, TiltSeries.ReconstructFull.cs):
a real weighted back-projection of the used tilts (UseTilt) with the alignment in the series'
XML, in Warp's projection model (warp_meta.py), so the demo's tomograms show the phantom.

Output: reconstruction/<ts>_<angpix:.2f>Apx.mrc (float16, the volume Tomo.Dimensions x pixel
size / angpix, even sizes), and with --halfmap_frames (the frame series' even/odd averages,
checked up front) or --halfmap_tilts (even/odd tilts) reconstruction/even|odd/, with --deconv
reconstruction/deconv/ (here a low-pass: the SIMULATOR does not model Warp's deconvolution).
Contrast is inverted (dense = bright) unless --dont_invert, and normalised unless
--dont_normalize.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .formats import Failure, faults, write_mrc
from .warp_common import Context, iterate, workers
from .warp_meta import (
    TiltSeriesMeta,
    binned_shape,
    fourier_crop,
    load,
    load_tilts,
    save,
    warp_matrix,
)


def back_project(ts: TiltSeriesMeta, images: list[np.ndarray | None], pixel: float,
                 shape_zyx: tuple[int, int, int], angpix: float) -> np.ndarray:  # fmt: skip
    """Sum over tilts of the R-weighted images, sampled where each voxel projects."""
    nz, ny, nx = shape_zyx
    zz, yy, xx = np.mgrid[0:nz, 0:ny, 0:nx].astype(np.float64)
    # physical coordinates relative to the volume's centre (VolumeDimensionsPhysical / 2)
    points = np.stack([(xx - nx / 2) * angpix, (yy - ny / 2) * angpix, (zz - nz / 2) * angpix])
    volume = np.zeros(shape_zyx)
    for t, image in enumerate(images):
        if image is None:
            continue
        small = fourier_crop(image, binned_shape(image.shape, pixel, angpix))
        scale = pixel * image.shape[1] / small.shape[1]  # the rescaled image's pixel size
        weighted = _r_weight(small - small.mean(), ts.axis[t])
        m = warp_matrix(ts.angles[t], ts.axis[t])
        qx = np.tensordot(m[0], points, axes=1) + ts.offset_x[t]
        qy = np.tensordot(m[1], points, axes=1) + ts.offset_y[t]
        u = qx / scale + small.shape[1] / 2
        v = qy / scale + small.shape[0] / 2
        volume += _sample(weighted, u, v)
    return volume


def _r_weight(image: np.ndarray, axis: float) -> np.ndarray:
    """Weighting by |k| across the tilt axis (the axis lies along Rz(axis) y in the image)."""
    h, w = image.shape
    ky, kx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    a = np.radians(axis)
    across = np.abs(kx * np.cos(a) + ky * np.sin(a))
    return np.fft.ifft2(np.fft.fft2(image) * (across + 0.02)).real


def _sample(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear samples at (u, v) pixel coordinates; 0 outside the image."""
    h, w = image.shape
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    fu, fv = u - u0, v - v0
    out = np.zeros(u.shape)
    for du, dv, weight in ((0, 0, (1 - fu) * (1 - fv)), (1, 0, fu * (1 - fv)),
                           (0, 1, (1 - fu) * fv), (1, 1, fu * fv)):  # fmt: skip
        uu, vv = u0 + du, v0 + dv
        inside = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
        out[inside] += weight[inside] * image[vv[inside], uu[inside]]
    return out


def ts_reconstruct(o: dict) -> None:
    ctx = Context(o)
    angpix = float(o["angpix"])
    if angpix <= 0:
        raise Failure("--angpix can't be 0 or negative")
    if o["halfmap_frames"] and o["halfmap_tilts"]:
        raise Failure("Can't use both --halfmap_frames and --halfmap_tilts")
    series = {i: load(ctx.input / f"{i.stem}.xml", i, ctx.data_dir(i)) for i in ctx.items}
    if o["halfmap_frames"] and series:
        first = next(iter(series.values()))
        if not (first.average(0, "odd").exists() and first.average(0, "even").exists()):
            raise Failure("Can't find half-averages for --halfmap_frames; run align_frameseries "
                          "with --average_halves first")  # fmt: skip
    if o["deconv_highpass"] < 10:
        raise Failure("--deconv_highpass can't be lower than 10")
    dims = [float(ctx.settings.get(f"Dimensions{a}", 0)) for a in "XYZ"]
    if not all(dims):
        raise Failure(
            f"{ctx.settings_path}: no tomogram dimensions (create_settings --tomo_dimensions)"
        )
    shape = tuple(max(2, int(round(d * ctx.pixel / angpix / 2)) * 2) for d in dims[::-1])
    workers(ctx)

    def process(item: Path) -> None:
        ts = series[item]
        faults(item.stem)
        if ts.unselected:
            raise Failure(f"{ts.name} is unselected")
        stem = f"{ts.name}_{angpix:.2f}Apx"
        target = ctx.output / "reconstruction" / f"{stem}.mrc"
        if target.exists() and o["dont_overwrite"]:
            return
        tilts = load_tilts(ts)
        sign = 1.0 if o["dont_invert"] else -1.0
        volumes = {"": back_project(ts, tilts, ctx.pixel, shape, angpix)}
        if o["halfmap_frames"]:
            for half in ("even", "odd"):
                volumes[half] = back_project(ts, load_tilts(ts, half), ctx.pixel, shape, angpix)
        elif o["halfmap_tilts"]:
            used = [t for t in range(ts.n) if tilts[t] is not None]
            for k, half in enumerate(("even", "odd")):
                part = [im if t in used[k::2] else None for t, im in enumerate(tilts)]
                volumes[half] = back_project(ts, part, ctx.pixel, shape, angpix)
        if o["deconv"]:
            volumes["deconv"] = _low_pass(volumes[""])
        for sub, volume in volumes.items():
            volume = sign * volume
            if not o["dont_normalize"]:
                volume = (volume - volume.mean()) / (volume.std() or 1.0)
            write_mrc(ctx.output / "reconstruction" / sub / f"{stem}.mrc",
                      volume.astype(np.float16), angpix)  # fmt: skip
        save(ts, ctx.output / f"{ts.name}.xml")

    iterate(ctx, process, lambda item: None)


def _low_pass(volume: np.ndarray) -> np.ndarray:
    f = np.fft.fftn(volume)
    k2 = sum(np.meshgrid(*(np.fft.fftfreq(n) ** 2 for n in volume.shape), indexing="ij"))
    return np.fft.ifftn(f * np.exp(-k2 / (2 * 0.15**2))).real
