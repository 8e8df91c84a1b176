"""Quality-control pictures: what a person looks at to judge a run.

Per tilt series, made by the job that has the data right after a tilt series' STAR file is
written (the driver framework calls `make_pictures`, crboost/running/driver.py), into
`<job>/qc/<ts>/`: tilt thumbnails (motion-corrected averages in tilt order), motion, CTF and
alignment plots against the tilt angle, central XY/XZ slices of the tomogram. Which ones a job
makes is declared in its params model (`qc`); `qc.json` says what was made. The particle jobs
make theirs in their drivers through `safely` (particles.py: score maps, candidates, averages).
Cheap (a few MB read per tilt series, no GPU) and never able to fail the job: a picture that
cannot be made is named in the task's log and left out.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from types import SimpleNamespace


def make_pictures(ctx, ts: str) -> dict:
    """Every QC product the job's type declares, for one tilt series; returns qc.json's data."""
    import starfile

    from ..jobs import JOB_TYPES
    from ..relion.star import atomic_write
    from .products import PRODUCTS, tilt_values

    wanted = JOB_TYPES[ctx.type].qc
    if not wanted:
        return {}
    blocks = starfile.read(ctx.root / ctx.ts_star(ts), always_dict=True,
                           parse_as_string=["rlnMicrographMovieName"])  # fmt: skip
    table = blocks[ts]
    view = SimpleNamespace(root=ctx.root, type=ctx.type, name=ctx.name, params=ctx.params,
                           path=ctx.path, table=table)  # fmt: skip
    tilts = tilt_values(table)
    folder = ctx.root / ctx.path("qc", ts)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"tilt_series": ts, "job": ctx.dir, "type": ctx.type, "made": time.time(),
              "products": {}, "problems": {}, "tilts": tilts}  # fmt: skip
    for name in wanted:
        try:
            record["products"][name] = PRODUCTS[name](view, ts, tilts, folder)
        except Exception as e:  # a picture is never worth a failed job
            record["problems"][name] = f"{type(e).__name__}: {e}"
            print(f"crboost: QC {name} of {ts} not made: {type(e).__name__}: {e}",
                  file=sys.stderr)  # fmt: skip
    atomic_write(folder / "qc.json", json.dumps(record, indent=1) + "\n")
    return record


def safely(make: Callable[..., object], *args, **kwargs) -> None:
    """Make a picture; a problem is printed to the task's log, never raised."""
    try:
        make(*args, **kwargs)
    except Exception as e:  # a picture is never worth a failed job
        print(f"crboost: QC picture not made: {type(e).__name__}: {e}", file=sys.stderr)
        traceback.print_exc(limit=2, file=sys.stderr)
