"""The simulated programs and WarpTools' verbs, by name. Options and output paths follow the
real programs' sources: WarpTools (warpem/warp WarpTools/Commands/**), AreTomo2 1.1.3 and
AreTomo3 2.x (CInput.cpp, CAtInput.cpp), IMOD batchruntomo/submfg as WarpTools calls them,
cryoCARE 0.3.0, pytom-match-pick 0.14.0, RELION 5 relion_tomo_subtomo and
relion_tomo_reconstruct_particle (see each module). See the package docstring.
"""

from __future__ import annotations

import os
import sys

from . import cryocare, pytom, pytom_extract, relion, warp_alignment, warp_frames, warp_tiltseries
from .aretomo import aretomo2, aretomo3
from .formats import Failure
from .imod import batchruntomo, submfg
from .options import UsageError, parse_dotnet
from .warp_options import WARP_VERBS

#: WarpTools verb -> its simulation (what the verb's options class accepts is in WARP_VERBS)
VERBS = {
    "create_settings": warp_frames.create_settings,
    "fs_motion_and_ctf": warp_frames.fs_motion_and_ctf,
    "ts_import": warp_frames.ts_import,
    "ts_aretomo": warp_alignment.ts_aretomo,
    "ts_aretomo3": warp_alignment.ts_aretomo3,
    "ts_etomo_patches": warp_alignment.ts_etomo_patches,
    "ts_defocus_hand": warp_tiltseries.ts_defocus_hand,
    "ts_ctf": warp_tiltseries.ts_ctf,
    "ts_reconstruct": warp_tiltseries.ts_reconstruct,
}


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
    VERBS[verb](opts)
    return 0
