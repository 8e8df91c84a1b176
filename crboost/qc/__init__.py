"""Pictures for people to look at (QC), written next to a job's results under `<job>/qc/`.

Never fail a job: every picture is made through `safely`, which logs a problem and goes on.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable


def safely(make: Callable[..., object], *args, **kwargs) -> None:
    """Make a picture; a problem is printed to the task's log, never raised."""
    try:
        make(*args, **kwargs)
    except Exception as e:  # a picture is never worth a failed job
        print(f"crboost: QC picture not made: {type(e).__name__}: {e}", file=sys.stderr)
        traceback.print_exc(limit=2, file=sys.stderr)
