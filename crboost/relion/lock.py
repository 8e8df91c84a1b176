"""RELION's lock protocol for default_pipeline.star: writers take `.relion_lock/` (mkdir is
atomic, also on NFS), read, modify, write, release the lock (pipeliner.cpp)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import CrboostError
from ..running import liveness
from .pipeline import PIPELINE_FILE, Pipeline, read_pipeline, write_pipeline

LOCK_DIR = ".relion_lock"
LOCK_FILE = "lock_default_pipeline.star"


@contextlib.contextmanager
def pipeline_lock(
    root: str | Path, timeout: float | None = None, report_after: float | None = None
) -> Iterator[None]:
    """Hold RELION's `.relion_lock` directory lock.

    timeout (CRBOOST_LOCK_TIMEOUT, default 120 s): how long to wait for it; report_after
    (CRBOOST_LOCK_STALE_AFTER, default 60 s): a lock older than this is called stale in the error.
    A lock left by a process that is gone (same host: pid not running, a zombie, or reused) is
    removed. Any other lock
    is waited for; if it is older than `report_after` seconds the error says who holds it and
    since when, and it is never broken while its owner may be alive.
    """
    root = Path(root)
    if timeout is None:
        timeout = float(os.environ.get("CRBOOST_LOCK_TIMEOUT", 120))
    if report_after is None:
        report_after = float(os.environ.get("CRBOOST_LOCK_STALE_AFTER", 60))
    lock = root / LOCK_DIR
    owner = {**liveness.identity(), "since": time.time()}
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            lock.mkdir()
            break
        except FileExistsError:
            pass
        holder = _lock_holder(lock)
        if holder and _owner_is_dead(holder):
            _break_dead_lock(lock, holder)
            continue
        if time.monotonic() > deadline:
            raise CrboostError(_lock_message(root, holder, report_after))
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.5)
    try:
        (lock / LOCK_FILE).write_text(json.dumps(owner) + "\n")
        yield
    finally:
        with contextlib.suppress(OSError):
            (lock / LOCK_FILE).unlink()
        with contextlib.suppress(OSError):
            lock.rmdir()


@contextlib.contextmanager
def updating_pipeline(root: str | Path, **lock_options) -> Iterator[Pipeline]:
    """Read-modify-write of default_pipeline.star under the lock."""
    root = Path(root)
    with pipeline_lock(root, **lock_options):
        pipeline = read_pipeline(root / PIPELINE_FILE)
        before = pipeline.to_text()
        yield pipeline
        if pipeline.to_text() != before or not (root / PIPELINE_FILE).exists():
            write_pipeline(root, pipeline)


def lock_status(root: str | Path) -> dict | None:
    """Who holds the pipeline lock, or None."""
    lock = Path(root) / LOCK_DIR
    if not lock.exists():
        return None
    return _lock_holder(lock) or {
        "host": "unknown (RELION?)",
        "pid": None,
        "since": lock.stat().st_mtime,
    }


def _lock_holder(lock: Path) -> dict | None:
    try:
        return json.loads((lock / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None


def _break_dead_lock(lock: Path, holder: dict) -> None:
    """Remove the lock of a dead holder, and only that: between reading the owner file and now
    the holder may have released it and another process taken it (then it is left alone)."""
    grave = lock / f"{LOCK_FILE}.dead{os.getpid()}"
    try:
        os.rename(lock / LOCK_FILE, grave)  # atomic: of concurrent breakers one gets it
    except OSError:
        return
    try:
        same = json.loads(grave.read_text()) == holder
    except (OSError, ValueError):
        same = False
    if not same:  # a live holder's lock: give its owner file back
        with contextlib.suppress(OSError):
            os.rename(grave, lock / LOCK_FILE)
        return
    with contextlib.suppress(OSError):
        grave.unlink()
    with contextlib.suppress(OSError):
        lock.rmdir()


def _owner_is_dead(holder: dict) -> bool:
    """Only a holder on this machine can be known dead (gone, a zombie, its pid reused)."""
    return bool(holder.get("pid")) and liveness.check(holder).alive is False


def _lock_message(root: Path, holder: dict | None, report_after: float) -> str:
    lock = root / LOCK_DIR
    try:
        since = holder["since"] if holder else lock.stat().st_mtime
    except OSError:
        since = time.time()
    age = time.time() - since
    who = (
        f"{holder['host']} pid {holder['pid']}"
        if holder
        else "a process that left no owner file (RELION?)"
    )
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
    stale = " and looks stale" if age > report_after else ""
    return (
        f"{lock}: default_pipeline.star is locked by {who} since {when} ({age:.0f} s){stale}; "
        f"if that process is gone, remove {lock} by hand"
    )
