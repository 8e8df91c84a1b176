"""Is a recorded process still alive? Used for a project's run record and the pipeline lock.

A record names a process by host, pid and what makes that pid unique: the machine's boot id and
pid namespace (a pid means something only inside one boot and one namespace), the process's
start time in clock ticks since boot (a reused pid has another start time) and its command line
(a reused pid is usually another program). On this machine a recorded process is alive only if
its pid exists, is not a zombie (dead but not yet reaped by its parent: common in containers
whose first process never reaps) and is the same process.

A process on another machine cannot be checked from here. A run refreshes its record's mtime
every HEARTBEAT seconds (`Heartbeat`); another machine counts it alive while that heartbeat is
younger than STALE_AFTER, measured on the file server's clock (no clock skew between hosts).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT = 30.0
STALE_AFTER = 120.0
_CMDLINE_CHARS = 400


@dataclass
class Verdict:
    alive: bool | None  # None: cannot be known from here (another machine, no heartbeat)
    why: str
    local: bool


def identity(pid: int | None = None) -> dict:
    """What names process `pid` (default: this one) uniquely, for a record."""
    pid = pid or os.getpid()
    record: dict = {"host": socket.gethostname(), "pid": pid}
    boot, namespace = _boot_id(), _pid_namespace()
    if boot:
        record["boot_id"] = boot
    if namespace:
        record["pid_ns"] = namespace
    stat = _stat(pid)
    if stat is not None:
        record["start_ticks"] = stat[1]
    cmdline = _cmdline(pid)
    if cmdline is not None:
        record["cmdline"] = cmdline
    return record


def is_local(record: dict) -> bool:
    """Recorded on this machine, in this pid namespace (so its pid can be looked up here)."""
    if record.get("host") != socket.gethostname():
        return False
    for key, ours in (("boot_id", _boot_id()), ("pid_ns", _pid_namespace())):
        if record.get(key) and ours and record[key] != ours:
            return False
    return True


def check(record: dict, heartbeat_file: Path | None = None) -> Verdict:
    """Whether the recorded process is alive, and why crboost thinks so."""
    try:
        pid = int(record["pid"])
    except (KeyError, TypeError, ValueError):
        return Verdict(False, "the record names no process", True)
    if is_local(record):
        return _check_local(pid, record)
    if heartbeat_file is None:
        return Verdict(
            None, f"it runs on host {record.get('host')}, not checkable from here", False
        )
    age = heartbeat_age(heartbeat_file)
    if age is None:
        return Verdict(False, "its record is gone", False)
    if age < STALE_AFTER:
        return Verdict(True, f"on host {record.get('host')}, last heartbeat {age:.0f} s ago", False)
    return Verdict(
        False,
        f"on host {record.get('host')}, no heartbeat for {age:.0f} s (> {STALE_AFTER:.0f} s)",
        False,
    )


def _check_local(pid: int, record: dict) -> Verdict:
    stat = _stat(pid)
    if stat is None:
        if Path("/proc/self/stat").exists():
            return Verdict(False, f"pid {pid} is gone", True)
        try:  # no /proc (not Linux): existence is all that can be known
            os.kill(pid, 0)
        except ProcessLookupError:
            return Verdict(False, f"pid {pid} is gone", True)
        except PermissionError:
            pass
        return Verdict(True, f"pid {pid} exists", True)
    state, ticks = stat
    if state in ("Z", "X", "x"):
        return Verdict(False, f"pid {pid} is a zombie (dead, not yet reaped by its parent)", True)
    recorded_ticks = record.get("start_ticks")
    if recorded_ticks is not None and int(recorded_ticks) != ticks:
        return Verdict(False, f"pid {pid} was reused by a process started later", True)
    if recorded_ticks is None and record.get("started"):
        started = _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
        if started > float(record["started"]) + 5:
            return Verdict(False, f"pid {pid} was reused by a process started later", True)
    recorded_cmd = record.get("cmdline")
    cmdline = _cmdline(pid)
    if recorded_cmd and cmdline is not None and cmdline != recorded_cmd:
        return Verdict(False, f"pid {pid} is another program now ({cmdline[:60]})", True)
    return Verdict(True, f"pid {pid} is running", True)


def heartbeat_age(path: Path) -> float | None:
    """Seconds since `path` was last refreshed, by the clock of the file system holding it."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return max(0.0, fs_now(path.parent) - mtime)


def fs_now(folder: Path) -> float:
    """The current time as the file server of `folder` sees it (for NFS across hosts)."""
    probe = folder / ".clock"
    try:
        probe.touch()
        return probe.stat().st_mtime
    except OSError:
        return time.time()


class Heartbeat:
    """Refreshes a record's mtime every HEARTBEAT seconds while the record is still ours."""

    def __init__(self, path: Path, pid: int, interval: float = HEARTBEAT):
        self.path, self.pid, self.interval = path, pid, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="crboost-heartbeat")

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        import json

        while not self._stop.wait(self.interval):
            try:
                if json.loads(self.path.read_text()).get("pid") != self.pid:
                    return  # another run took over the record
                os.utime(self.path)
            except (OSError, ValueError):
                return


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _cmdline(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:_CMDLINE_CHARS]


def _boot_id() -> str | None:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return None


def _pid_namespace() -> str | None:
    with contextlib.suppress(OSError):
        return os.readlink("/proc/self/ns/pid")
    return None


def _boot_time() -> float:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0
