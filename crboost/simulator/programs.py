"""The simulated programs. Options and output paths follow the real programs' sources:
WarpTools (warpem/warp WarpTools/Commands/**), AreTomo2 1.1.3 and AreTomo3 2.x (CInput.cpp,
CAtInput.cpp), IMOD batchruntomo/submfg as WarpTools calls them. See the package docstring.
"""

from __future__ import annotations

import glob
import math
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .formats import (
    Failure,
    faults,
    grid_node,
    lines_node,
    params_node,
    read_mrc,
    read_settings,
    rng_for,
    settings_xml,
    should_fail,
    write_aln,
    write_angles,
    write_mrc,
    write_processed_items,
    write_tomostar,
    write_xf,
    write_xml,
)
from .options import Opt, UsageError, parse_dotnet, parse_tags

# --- WarpTools options (WarpTools/Commands/BaseOptions.cs, DistributedOptions.cs, verbs) ------

BASE = [
    Opt("settings", required=True),
    Opt("input_data", "list"),
    Opt("input_data_recursive", "switch"),
    Opt("input_processing"),
    Opt("output_processing"),
    Opt("input_norawdata", "switch"),
    Opt("strict", "switch"),
]
DISTRIBUTED = [
    *BASE,
    Opt("device_list", "list"),
    Opt("perdevice", default="1"),
    Opt("task_dir"),
    Opt("workers", "list"),
    Opt("external_provisioner", "switch"),
]
SWITCH = "switch"
WARP_VERBS: dict[str, list[Opt]] = {
    "create_settings": [
        Opt("output", required=True, short="o"),
        Opt("folder_processing"),
        Opt("folder_data", required=True),
        Opt("recursive", SWITCH),
        Opt("extension"),
        Opt("angpix", required=True),
        Opt("bin"),
        Opt("bin_angpix"),
        Opt("gain_path"),
        Opt("defects_path"),
        Opt("gain_flip_x", SWITCH),
        Opt("gain_flip_y", SWITCH),
        Opt("gain_transpose", SWITCH),
        Opt("exposure", default="1"),
        Opt("eer_ngroups", default="40"),
        Opt("eer_groupexposure"),
        Opt("tomo_dimensions"),
    ],
    "fs_motion_and_ctf": [
        *DISTRIBUTED,
        Opt("m_range_min", default="500"),
        Opt("m_range_max", default="10"),
        Opt("m_bfac", default="-500"),
        Opt("m_grid"),
        Opt("c_window", default="512"),
        Opt("c_range_min", default="30"),
        Opt("c_range_max", default="4"),
        Opt("c_defocus_min", default="0.5"),
        Opt("c_defocus_max", default="5.0"),
        Opt("c_voltage", default="300"),
        Opt("c_cs", default="2.7"),
        Opt("c_amplitude", default="0.07"),
        Opt("c_fit_phase", SWITCH),
        Opt("c_use_sum", SWITCH),
        Opt("c_grid"),
        Opt("out_averages", SWITCH),
        Opt("out_average_halves", SWITCH),
        Opt("out_thumbnails"),
        Opt("out_skip_first", default="0"),
        Opt("out_skip_last", default="0"),
    ],
    "ts_import": [
        Opt("mdocs", required=True),
        Opt("pattern", default="*.mdoc"),
        Opt("frameseries", required=True),
        Opt("tilt_exposure", required=True),
        Opt("dont_invert", SWITCH),
        Opt("override_axis"),
        Opt("auto_zero", SWITCH),
        Opt("tilt_offset"),
        Opt("max_tilt", default="90"),
        Opt("min_intensity", default="0.0"),
        Opt("max_mask", default="1.0"),
        Opt("min_ntilts", default="1"),
        Opt("output", required=True, short="o"),
    ],
    "ts_aretomo": [
        *DISTRIBUTED,
        Opt("angpix"),
        Opt("mask", SWITCH),
        Opt("alignz", required=True),
        Opt("axis_iter", default="0"),
        Opt("axis_batch", default="0"),
        Opt("min_fov", default="0.0"),
        Opt("axis"),
        Opt("patches"),
        Opt("delete_intermediate", SWITCH),
        Opt("exe", default="AreTomo2"),
    ],
    "ts_aretomo3": [
        *DISTRIBUTED,
        Opt("angpix"),
        Opt("mask", SWITCH),
        Opt("alignz", default="0"),
        Opt("patches", default="4,4"),
        Opt("axis_iter", default="0"),
        Opt("axis_batch", default="0"),
        Opt("min_fov", default="0.0"),
        Opt("axis"),
        Opt("delete_intermediate", SWITCH),
        Opt("thumbnails", SWITCH),
        Opt("exe", default="AreTomo3"),
    ],
    "ts_etomo_patches": [
        *DISTRIBUTED,
        Opt("angpix"),
        Opt("mask", SWITCH),
        Opt("min_fov", default="0.0"),
        Opt("initial_axis"),
        Opt("do_axis_search", SWITCH),
        Opt("patch_size", default="500.0"),
        Opt("delete_intermediate", SWITCH),
        Opt("thumbnails", SWITCH),
    ],
    "ts_ctf": [
        *DISTRIBUTED,
        Opt("window", default="512"),
        Opt("range_low", default="30"),
        Opt("range_high", default="4"),
        Opt("defocus_min", default="0.5"),
        Opt("defocus_max", default="5.0"),
        Opt("voltage", default="300"),
        Opt("cs", default="2.7"),
        Opt("amplitude", default="0.07"),
        Opt("fit_phase", SWITCH),
        Opt("auto_hand"),
    ],
    "ts_defocus_hand": [
        *BASE,
        Opt("check", SWITCH),
        Opt("set_auto", SWITCH),
        Opt("set_flip", SWITCH),
        Opt("set_noflip", SWITCH),
        Opt("set_switch", SWITCH),
    ],
    "ts_reconstruct": [
        *DISTRIBUTED,
        Opt("angpix", required=True),
        Opt("halfmap_frames", SWITCH),
        Opt("halfmap_tilts", SWITCH),
        Opt("deconv", SWITCH),
        Opt("deconv_strength", default="1.0"),
        Opt("deconv_falloff", default="1.0"),
        Opt("deconv_highpass", default="300.0"),
        Opt("keep_full_voxels", SWITCH),
        Opt("dont_invert", SWITCH),
        Opt("dont_normalize", SWITCH),
        Opt("dont_mask", SWITCH),
        Opt("dont_overwrite", SWITCH),
        Opt("subvolume_size", default="64"),
        Opt("subvolume_padding", default="3"),
    ],
}

# --- AreTomo tags (AreTomo2 CInput.cpp; AreTomo3 CInput.cpp, CMcInput.cpp, CAtInput.cpp) ------

ARETOMO2_TAGS = {
    "InMrc": 1, "OutMrc": 1, "AlnFile": 1, "AngFile": 1, "RoiFile": 1, "TmpFile": 1,
    "LogFile": 1, "TiltRange": 2, "TiltAxis": 2, "AlignZ": 1, "VolZ": 1, "OutBin": 1,
    "TiltCor": 2, "Gpu": 64, "ReconRange": 2, "PixSize": 1, "Kv": 1, "ImgDose": 1, "Cs": 1,
    "AmpContrast": 1, "ExtPhase": 2, "FlipVol": 1, "FlipInt": 1, "Sart": 2, "Wbp": 1,
    "Patch": 2, "TiltScheme": 3, "OutXF": 1, "Align": 1, "CropVol": 2, "OutImod": 1,
    "DarkTol": 1, "Bft": 2, "IntpCor": 1,
}  # fmt: skip
ARETOMO3_TAGS = {
    "InPrefix": 1, "InSuffix": 1, "InSkips": 1, "TmpDir": 1, "LogDir": 1, "OutDir": 1,
    "Gpu": 64, "kV": 1, "Cs": 1, "PixSize": 1, "FmDose": 1, "Cmd": 1, "Resume": 1, "Serial": 1,
    "Gain": 1, "Dark": 1, "DefectFile": 1, "FmIntFile": 1, "McPatch": 3, "McIter": 1,
    "McTol": 1, "McBin": 1, "Group": 2, "FmRef": 1, "RotGain": 1, "FlipGain": 1, "InvGain": 1,
    "Mag": 3, "InFmMotion": 1, "EerSampling": 1, "TiffOrder": 1, "TotalDose": 1,
    "TiltAxis": 2, "AlignZ": 1, "VolZ": 1, "ExtZ": 1, "AtBin": 3, "TiltCor": 2,
    "ReconRange": 2, "AmpContrast": 1, "ExtPhase": 2, "FlipVol": 1, "FlipInt": 1, "Sart": 2,
    "Wbp": 1, "AtPatch": 2, "OutXF": 1, "Align": 1, "CropVol": 2, "OutImod": 1,
    "DarkTol": 1, "IntpCor": 1, "CorrCTF": 2, "DfHand": 1,
}  # fmt: skip
# IMOD batchruntomo options (IMOD man page); WarpTools uses DirectiveFile, CurrentLocation,
# RootName and EndingStep.
BATCHRUNTOMO_TAGS = {
    "DirectiveFile": 1, "RootName": 1, "CurrentLocation": 1, "DeliverToDirectory": 1,
    "StartingStep": 1, "EndingStep": 1, "CPUMachineList": 1, "GPUMachineList": 1,
    "SingleOnFirstCPU": 1, "NiceValue": 1, "ExitOnError": 1, "CheckFile": 1, "EtomoDebug": 1,
    "RemoteDirectory": 1, "EmailAddress": 1, "SMTPServer": 1,
}  # fmt: skip


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m crboost.simulator PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    program, args = argv[0], argv[1:]
    handlers = {
        "WarpTools": warptools,
        "AreTomo2": aretomo2,
        "AreTomo3": aretomo3,
        "batchruntomo": batchruntomo,
        "submfg": submfg,
    }
    handler = handlers.get(program)
    if handler is None:
        print(f"simulator: unknown program {program!r}", file=sys.stderr)
        return 2
    ledger(program, args, "start")
    status = 1
    try:
        status = handler(args) or 0
    except UsageError as e:
        print(f"{program} (SIMULATED): ERROR(S): {e}", file=sys.stderr)
        status = 2
    except Failure as e:
        print(f"{program} (SIMULATED): {e}", file=sys.stderr)
        status = 1
    finally:
        ledger(program, args, "end", status)
    return status


def ledger(program: str, args: list[str], event: str, status: int | None = None) -> None:
    """CRBOOST_SIM_LEDGER: one JSON line per call start and end (see the package docstring)."""
    path = os.environ.get("CRBOOST_SIM_LEDGER")
    if not path:
        return
    import json
    import time

    entry = {
        "event": event, "program": program, "verb": args[0] if args else "",
        "job": os.environ.get("CRBOOST_SIM_JOB", ""), "item": os.environ.get("CRBOOST_SIM_ITEM", ""),
        "cwd": os.getcwd(), "pid": os.getpid(), "time": time.time(), "exit": status,
    }  # fmt: skip
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())  # one write: lines never interleave
    finally:
        os.close(fd)


# --- WarpTools ---------------------------------------------------------------------------------


def warptools(args: list[str]) -> int:
    if not args or args[0] not in WARP_VERBS:
        raise UsageError(f"Unknown command {args[0] if args else ''!r}")
    verb = args[0]
    opts = parse_dotnet(args[1:], WARP_VERBS[verb])
    print(f"WarpTools (SIMULATED) running command {verb} with:")
    for key, value in opts.items():
        print(f"{key} = {value}")
    globals()[f"_warp_{verb}"](opts)
    return 0


def _warp_create_settings(o: dict) -> None:
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


class _Context:
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


def _warp_fs_motion_and_ctf(o: dict) -> None:
    ctx = _Context(o)
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


def _warp_ts_import(o: dict) -> None:
    from crboost.errors import MdocError
    from crboost.mdoc import read_tilt_series_mdoc

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


def _tilt_series_input(ctx: _Context, item: Path):
    """Tomostar rows, with the frame-series average of each tilt."""
    from crboost.warp import read_tomostar

    table = read_tomostar(item)
    averages = []
    for movie in table["wrpMovieName"]:
        movie_path = item.parent / movie
        average = movie_path.parent / "average" / f"{movie_path.stem}.mrc"
        if not average.exists():
            raise Failure(f"File not found: {average}")
        averages.append(average)
    return table, averages


def _tilt_series_xml(
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


def _make_stack(
    ctx: _Context, name: str, table, averages, angpix: float | None
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


def _run_external(program: str, args: list[str], cwd: Path) -> int:
    """WarpTools runs AreTomo/IMOD as external programs; here, their simulated stand-ins."""
    print(f"Executing {program} in {cwd} with arguments: {' '.join(args)}")
    proc = subprocess.run([sys.executable, "-m", "crboost.simulator", program, *args], cwd=cwd)
    return proc.returncode


def _import_alignments(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """TiltSeries.ImportAlignments: find <name>.xf / .tlt in Warp's search order."""
    dirs = [folder, folder.parent, folder / f"{name}_Imod", folder / f"{name}_aligned_Imod",
            folder.parent / f"{name}_Imod"]  # fmt: skip
    stems = [name, f"{name}_st"]
    xf = next((d / f"{s}.xf" for d in dirs for s in stems if (d / f"{s}.xf").exists()), None)
    tlt = next((d / f"{s}.tlt" for d in dirs for s in stems if (d / f"{s}.tlt").exists()), None)
    if xf is None or tlt is None:
        print(f"\nFailed to import alignments:\nCould not find {name}.xf")
        return None
    return np.loadtxt(xf, ndmin=2), np.loadtxt(tlt, ndmin=2)[:, 0]


def _align(o: dict, runner) -> None:
    ctx = _Context(o)
    done = []
    for item in ctx.items:
        name = item.stem
        table, averages = _tilt_series_input(ctx, item)
        folder, stack_pixel = _make_stack(
            ctx, name, table, averages, float(o["angpix"]) if o.get("angpix") else None
        )
        axis = float(o["axis"]) if o.get("axis") else float(table["wrpAxisAngle"].iloc[0])
        runner(o, folder, name, axis, stack_pixel)
        result = _import_alignments(folder, name)
        if result is None:
            write_xml(
                ctx.output / f"{name}.xml",
                _tilt_series_xml(
                    table, averages, ctx.output, axis, [(0, 0)] * len(table), unselected=True
                ),
            )
            print(f"Failed to process {item}, marked as unselected")
            continue
        xf, _ = result
        rot = math.degrees(math.atan2(xf[0][2], xf[0][0]))
        offsets = [(-float(r[4]) * stack_pixel, -float(r[5]) * stack_pixel) for r in xf]
        write_xml(
            ctx.output / f"{name}.xml", _tilt_series_xml(table, averages, ctx.output, rot, offsets)
        )
        done.append({"Path": item.name, "ProcessingStatus": 1})
        if o.get("delete_intermediate"):
            import shutil

            shutil.rmtree(folder)
    write_processed_items(ctx.output, done)


def _warp_ts_aretomo(o: dict) -> None:
    def run(o, folder, name, axis, stack_pixel):
        alignz = round(int(o["alignz"]) / stack_pixel)
        nx, ny = [int(v) for v in o["patches"].split("x")] if o.get("patches") else [0, 0]
        args = ["-InMrc", f"{name}.st", "-AngFile", f"{name}.rawtlt", "-VolZ", "0", "-OutBin", "0",
                "-TiltAxis", f"{axis}", "-1", "-AlignZ", str(alignz), "-TiltCor", "1", "-OutImod", "1",
                "-DarkTol", "0", "-OutMrc", f"{name}_aligned.mrc", "-Gpu", "0", "-Patch", str(nx), str(ny)]  # fmt: skip
        _run_external(_external_name(o["exe"], "AreTomo2"), args, folder)

    _align(o, run)


def _warp_ts_aretomo3(o: dict) -> None:
    def run(o, folder, name, axis, stack_pixel):
        alignz = round(int(o["alignz"]) / stack_pixel)
        px, py = [int(v) for v in o["patches"].split(",")]
        args = ["-InPrefix", name, "-InSuffix", ".st", "-OutDir", str(folder.resolve()),
                "-TiltAxis", f"{axis}", "-1", "-AlignZ", str(alignz), "-AtPatch", str(px), str(py),
                "-VolZ", "0", "-ExtZ", "0", "-OutImod", "2", "-TiltCor", "1", "-Cmd", "1",
                "-Serial", "1", "-CorrCTF", "0", "0", "-DarkTol", "0", "-Gpu", "0"]  # fmt: skip
        _run_external(_external_name(o["exe"], "AreTomo3"), args, folder)

    _align(o, run)


def _warp_ts_etomo_patches(o: dict) -> None:
    def run(o, folder, name, axis, stack_pixel):
        size = int(float(o["patch_size"]) / stack_pixel)
        directive = "\n".join([
            "setupset.copyarg.userawtlt = 1", "setupset.copyarg.stackext = st",
            f"setupset.copyarg.rotation = {axis}", f"setupset.copyarg.pixel = {stack_pixel / 10}",
            "setupset.copyarg.dual = 0", "runtime.Fiducials.any.trackingMethod = 1",
            f"comparam.xcorr_pt.tiltxcorr.SizeOfPatchesXandY = {size},{size}",
            "comparam.xcorr_pt.tiltxcorr.OverlapOfPatchesXandY = 0.8,0.8",
            f"comparam.align.tiltalign.RotOption = {-1 if o['do_axis_search'] else 0}",
        ])  # fmt: skip
        with tempfile.NamedTemporaryFile("w", suffix=".adoc", delete=False) as f:
            f.write(directive + "\n")
        try:
            if (
                _run_external(
                    "batchruntomo",
                    [
                        "-DirectiveFile",
                        f.name,
                        "-CurrentLocation",
                        str(folder),
                        "-RootName",
                        name,
                        "-EndingStep",
                        "5",
                    ],
                    folder,
                )
                == 0
            ):
                _run_external("submfg", ["align.com"], folder)
        finally:
            os.unlink(f.name)

    _align(o, run)


def _external_name(exe: str, default: str) -> str:
    base = os.path.basename(exe).lower()
    return "AreTomo3" if "aretomo3" in base else ("AreTomo2" if "aretomo" in base else default)


def _warp_ts_defocus_hand(o: dict) -> None:
    chosen = [k for k in ("check", "set_auto", "set_flip", "set_noflip", "set_switch") if o[k]]
    if len(chosen) != 1:
        raise Failure("Choose exactly 1 of the options")
    ctx = _Context(o)
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


def _warp_ts_ctf(o: dict) -> None:
    ctx = _Context(o)
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
        table, averages = _tilt_series_input(ctx, item)
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


def _warp_ts_reconstruct(o: dict) -> None:
    ctx = _Context(o)
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
        table, averages = _tilt_series_input(ctx, item)
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


# --- AreTomo2 / AreTomo3 ------------------------------------------------------------------------


def aretomo2(args: list[str]) -> int:
    if args in (["--version"], ["-v"]):
        print("AreTomo2 version 1.1.3 (SIMULATED)")
        return 0
    tags = parse_tags(args, ARETOMO2_TAGS)
    for required in ("InMrc", "OutMrc"):
        if required not in tags:
            raise UsageError(f"-{required} is required")
    in_mrc = Path(tags["InMrc"][0])
    stack, pixel = read_mrc(in_mrc)
    name = in_mrc.name.rsplit(".", 1)[0]
    faults(os.environ.get("CRBOOST_SIM_ITEM", name))
    angles = _angles(tags, len(stack))
    rows = _fake_alignment(name, angles, tags)
    out_dir = Path(tags["OutMrc"][0]).parent
    aln_name = (
        in_mrc.name.replace(".mrc", ".aln") if ".mrc" in in_mrc.name else in_mrc.name + ".aln"
    )
    write_aln(
        out_dir / aln_name, rows, (stack.shape[2], stack.shape[1], len(stack)), trailing_space=True
    )
    if int(tags.get("OutImod", ["0"])[0]) >= 1:
        _write_imod(out_dir / f"{name}_Imod", name, rows)
    write_mrc(Path(tags["OutMrc"][0]), stack, pixel)
    print("Total time: 1.0 sec")
    return 0


def aretomo3(args: list[str]) -> int:
    if args in (["--version"], ["-v"]):
        print("version 2.0.10, built on Feb 17, 2025 (SIMULATED)")
        return 0
    tags = parse_tags(args, ARETOMO3_TAGS)
    for required in ("InPrefix", "OutDir"):
        if required not in tags:
            raise UsageError(f"-{required} is required")
    if tags.get("Cmd", ["0"])[0] != "1":
        raise Failure("the simulator only models -Cmd 1 (start from tilt-series alignment)")
    prefix, suffix = tags["InPrefix"][0], tags.get("InSuffix", [".mrc"])[0]
    in_mrc = Path(prefix + suffix)
    stack, pixel = read_mrc(in_mrc)
    name = Path(prefix).name
    faults(os.environ.get("CRBOOST_SIM_ITEM", name))
    rawtlt = in_mrc.with_suffix(".rawtlt")
    angles = (
        np.loadtxt(rawtlt, ndmin=2)[:, 0] if rawtlt.exists() else np.linspace(-60, 60, len(stack))
    )
    rows = _fake_alignment(name, list(angles), tags)
    out = Path(tags["OutDir"][0])
    out.mkdir(parents=True, exist_ok=True)
    rows1 = [(sec + 1, *rest) for sec, *rest in rows]  # SEC is 1-based from AreTomo3 2.0.7
    write_aln(
        out / f"{name}.aln",
        rows1,
        (stack.shape[2], stack.shape[1], len(stack)),
        trailing_space=False,
    )
    (out / f"{name}_TLT.txt").write_text(
        "".join(f"{t:8.2f}  {i + 1:4d}  {3.0:8.2f}\n" for i, t in enumerate(angles))
    )
    if int(tags.get("OutImod", ["0"])[0]) >= 1:
        _write_imod(out / f"{name}_Imod", name, rows)
    return 0


def _angles(tags: dict, n: int) -> list[float]:
    if "AngFile" in tags:
        path = Path(tags["AngFile"][0])
        if not path.exists():
            raise Failure(f"Error: unable to open angle file {path}")
        return [float(ln.split()[0]) for ln in path.read_text().splitlines() if ln.strip()]
    if "TiltRange" in tags:
        low, high = map(float, tags["TiltRange"])
        return list(np.linspace(low, high, n))
    raise Failure("no tilt angles (-AngFile or -TiltRange)")


def _fake_alignment(name: str, angles: list[float], tags: dict) -> list[tuple]:
    rng = rng_for("aln", name)
    axis = float(tags.get("TiltAxis", ["0"])[0])
    refine = len(tags.get("TiltAxis", [])) < 2 or float(tags["TiltAxis"][1]) >= 0
    rot = axis + (float(rng.normal(0, 0.5)) if refine else 0.0)
    offset = float(rng.normal(0, 0.3)) if "TiltCor" in tags else 0.0
    return [
        (i, rot, float(rng.normal(0, 3)), float(rng.normal(0, 3)), a + offset)
        for i, a in sorted(enumerate(angles), key=lambda x: x[1])
    ]


def _write_imod(folder: Path, name: str, rows: list[tuple]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    xf = []
    for _sec, rot, tx, ty, _tilt in rows:
        r = math.radians(rot)
        a = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
        d = -a @ np.array([tx, ty])
        xf.append((a[0, 0], a[0, 1], a[1, 0], a[1, 1], float(d[0]), float(d[1])))
    write_xf(folder / f"{name}_st.xf", xf)
    write_angles(folder / f"{name}_st.tlt", [r[4] for r in rows])
    write_angles(folder / f"{name}_st.xtilt", [0.0] * len(rows))
    for com in ("newst.com", "tilt.com"):
        (folder / com).write_text(f"# {com} written by the AreTomo SIMULATOR\n")


# --- IMOD ---------------------------------------------------------------------------------------


def batchruntomo(args: list[str]) -> int:
    tags = parse_tags(args, BATCHRUNTOMO_TAGS, case_sensitive=True)
    for required in ("DirectiveFile", "RootName"):
        if required not in tags:
            raise UsageError(f"-{required} is required")
    directive = Path(tags["DirectiveFile"][0])
    if not directive.exists():
        raise Failure(f"ERROR: batchruntomo - directive file {directive} does not exist")
    text = directive.read_text()
    for key in ("setupset.copyarg.rotation", "setupset.copyarg.pixel"):
        if key not in text:
            raise Failure(f"ERROR: batchruntomo - directive {key} missing")
    where = Path(tags.get("CurrentLocation", ["."])[0])
    root = tags["RootName"][0]
    for ext in (".st", ".rawtlt"):
        if not (where / f"{root}{ext}").exists():
            raise Failure(f"ERROR: batchruntomo - {where / (root + ext)} not found")
    faults(os.environ.get("CRBOOST_SIM_ITEM", root))
    rotation = next(
        ln.split("=")[1].strip() for ln in text.splitlines() if "copyarg.rotation" in ln
    )
    (where / "align.com").write_text(
        f"$tiltalign -StandardInput\nModelFile {root}.fid\n"
        f"ImageFile {root}.preali\nRotationAngle {rotation}\n"
        f"OutputTransformFile {root}.xf\nOutputTiltFile {root}.tlt\n"
    )
    return 0


def submfg(args: list[str]) -> int:
    if not args or any(a.startswith("-") for a in args):
        raise UsageError("usage: submfg comfile...")
    for com in args:
        path = Path(com)
        if not path.exists():
            raise Failure(f"ERROR: submfg - {com} does not exist")
        lines = dict(
            ln.split(" ", 1)
            for ln in path.read_text().splitlines()
            if " " in ln and not ln.startswith("$")
        )
        root = lines["OutputTransformFile"].rsplit(".", 1)[0]
        angles = [float(v) for v in Path(f"{root}.rawtlt").read_text().split()]
        rows = _fake_alignment(root, angles, {"TiltAxis": [lines["RotationAngle"], "-1"]})
        rows = sorted(rows, key=lambda r: r[0])
        _write_imod(Path("."), root, rows)
        os.replace(f"{root}_st.xf", f"{root}.xf")
        os.replace(f"{root}_st.tlt", f"{root}.tlt")
        Path("align.log").write_text("Residual error mean and sd:    0.900    0.400\n")
    return 0


_ = should_fail  # re-exported for tests
