"""The simulated programs and WarpTools' verbs, by name. Options and output paths follow the
real programs' sources: WarpTools (warpem/warp WarpTools/Commands/**, see warp_options.py for the
version), AreTomo2 1.1 and AreTomo3 2.x (CInput.cpp, CAtInput.cpp), IMOD batchruntomo/submfg as
WarpTools calls them, cryoCARE 0.3.0, pytom-match-pick 0.14.0, RELION 5 relion_tomo_subtomo and
relion_tomo_reconstruct_particle (see each module). See the package docstring.

How the real programs end, and so the simulated ones:
- WarpTools, command-line error (unknown verb or option, bad value, missing required option):
  usage text on stdout and exit status 0 (WarpLib/Tools/CommandLineParserHelper.cs: ParseAndRun
  only prints; Program.cs's `async Task Main` returns no status);
- WarpTools, an exception in a command (including "All items failed to process"): .NET's
  unhandled-exception report on stderr and exit status 134 (abort);
- AreTomo/IMOD: their own messages, non-zero status on failure.
"""

from __future__ import annotations

import os
import sys

from . import (
    cryocare,
    pytom,
    pytom_extract,
    relion,
    warp_alignment,
    warp_frames,
    warp_import,
    warp_reconstruct,
    warp_tiltseries,
)
from .aretomo import aretomo2, aretomo3
from .formats import Failure
from .imod import batchruntomo, submfg
from .options import UsageError, parse_dotnet
from .warp_options import ASSEMBLY_VERSION, current_version, verb_options, verbs

#: WarpTools verb -> its simulation
VERBS = {
    "create_settings": warp_frames.create_settings,
    "fs_motion_and_ctf": warp_frames.fs_motion_and_ctf,
    "ts_import": warp_import.ts_import,
    "ts_aretomo": warp_alignment.ts_aretomo,
    "ts_aretomo3": warp_alignment.ts_aretomo3,
    "ts_etomo_patches": warp_alignment.ts_etomo_patches,
    "ts_defocus_hand": warp_tiltseries.ts_defocus_hand,
    "ts_ctf": warp_tiltseries.ts_ctf,
    "ts_reconstruct": warp_reconstruct.ts_reconstruct,
}
#: .NET aborts on an unhandled exception: SIGABRT, 128 + 6
UNHANDLED_EXIT = 134
PROGRAMS = ("WarpTools", "AreTomo2", "AreTomo3", "batchruntomo", "submfg")


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
        "cryoCARE_extract_train_data.py": cryocare.extract_train_data,
        "cryoCARE_train.py": cryocare.train,
        "cryoCARE_predict.py": cryocare.predict,
        "pytom_match_template.py": pytom.match_template,
        "pytom_extract_candidates.py": pytom_extract.extract_candidates,
        "relion_tomo_subtomo": relion.subtomo,
        "relion_tomo_reconstruct_particle": relion.reconstruct_particle,
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
        if program == "WarpTools":
            print(f"Unhandled exception. System.Exception: {e}\n   at WarpTools (SIMULATED)",
                  file=sys.stderr)  # fmt: skip
            status = UNHANDLED_EXIT
        else:
            print(f"{program} (SIMULATED): {e}", file=sys.stderr)
            status = 1
    finally:
        sys.stdout.flush()
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

HEADER = "WarpTools - a collection of tools for EM data pre-processing"


def warptools(args: list[str]) -> int:
    """Exit 0 with the usage text on a command-line error, as the real one does."""
    version = current_version()
    verb = args[0] if args else None
    options = verb_options(verb, version) if verb else None
    if options is None:
        print(f"{HEADER}\nVersion {ASSEMBLY_VERSION}\n")
        what = "Unknown command" if verb and verb not in ("help", "--help") else (
            "No command specified" if not verb else "Help requested")  # fmt: skip
        print(f"{what}, showing all available commands:\n")
        for name in verbs():
            if verb_options(name, version) is not None:
                print(f"{name}    (SIMULATED)")
        return 0
    if "--help" in args[1:]:
        print(f"{HEADER}\nVersion {ASSEMBLY_VERSION}\n")
        print_options(verb, options)
        return 0
    try:
        opts = parse_dotnet(args[1:], options)
    except UsageError as e:
        print(f"{HEADER}\nVersion {ASSEMBLY_VERSION}\n")
        print(f"{e}\n")
        print_options(verb, options)
        return 0
    print(f"WarpTools {version} (SIMULATED) running command {verb} with:")
    for key, value in opts.items():
        print(f"{key} = {value}")
    opts["_verb"] = verb
    opts["_version"] = version
    VERBS[verb](opts)
    return 0


def print_options(verb: str, options) -> None:
    print(f"Showing all available options for command {verb}:\n")
    width = max(len(f"--{o.name}") + (4 if o.short else 0) for o in options)
    for o in options:
        name = (f"-{o.short}, " if o.short else "") + f"--{o.name}"
        required = "REQUIRED " if o.required else ""
        default = f"Default: {o.default}. " if o.default not in (None, False) else ""
        print(f"{name.ljust(width)}    {required}{default}".rstrip())
    print()
