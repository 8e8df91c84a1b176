"""What `crboost run` shows while Snakemake works.

Snakemake's whole output goes to the project's run log (`.crboost/logs/run-<time>.log`); the
terminal gets, per job, tilt series done / failed / excluded / total, how long it has been
working and what is running now, redrawn in place when the output is a terminal and as plain
`crboost progress:` lines (when something changed) when it is not. Each failure is one line
with the path of its log; crboost's own messages from inside the workflow (lines starting
`crboost:`) are passed on; `--verbose` shows the whole Snakemake log as it comes (then the
progress comes as plain lines). `refresh` (the report's, given by the command line) is called
whenever a job finishes or fails, and at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ..project.load import Project

LOG_DIR = ".crboost/logs"
RUNNING_SHOWN = 3  # names of running tilt series shown per job


def new_run_log(root: Path) -> Path:
    folder = root / LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"run-{stamp}.log"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"run-{stamp}-{n}.log"
    return path


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RunDisplay:
    def __init__(self, project: Project, log: Path, out: TextIO = sys.stderr,
                 verbose: bool = False, tty: bool | None = None,
                 refresh: Callable[[], str | None] | None = None):  # fmt: skip
        self.project = project
        self.refresh = refresh
        self.log = log
        self.out = out
        self.verbose = verbose
        self.tty = (out.isatty() if tty is None else tty) and not verbose
        self.interval = 1.0 if self.tty else 5.0
        self.started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._offset = 0
        self._partial = b""
        self._drawn = 0
        self._last_plain = ""
        self._last_plain_time = self.started  # the first line after one interval
        self._failures_seen: set[tuple[str, str]] = set()
        self._job_state: dict[str, tuple] = {}
        self._job_start: dict[str, float] = {}
        self._job_end: dict[str, float] = {}
        self._report_lock = threading.Lock()
        self._out_lock = threading.RLock()
        self.failures = 0
        self.first_line = ""
        self.nothing_to_do = False

    # --- life --------------------------------------------------------------------------------

    def start(self) -> RunDisplay:
        self._thread.start()
        return self

    def stop(self, returncode: int, quiet: bool = False) -> None:
        """The run ended: the last state, the report, a summary (quiet: nothing more)."""
        self._stop.set()
        self._thread.join(timeout=30)
        if quiet:
            return
        self._follow()
        jobs = self._update()
        self._draw(jobs, final=True)
        self._refresh_report(wait=True)
        self._summary(jobs, returncode)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._follow()
            self._draw(self._update())
            self._stop.wait(self.interval)

    # --- the log ------------------------------------------------------------------------------

    def _follow(self) -> None:
        """New lines of Snakemake's log: all of them with --verbose, else crboost's own."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return
        self._offset += len(chunk)
        data = self._partial + chunk
        raw_lines = data.split(b"\n")
        self._partial = raw_lines.pop()  # an unfinished line waits for its end
        for raw in raw_lines:
            line = raw.decode(errors="replace")
            if not self.first_line and line.strip():
                self.first_line = line
            if line.startswith("Nothing to be done"):  # Snakemake: every output is up to date
                self.nothing_to_do = True
            if self.verbose or line.startswith("crboost:"):
                self._say(line)

    # --- the state ----------------------------------------------------------------------------

    def _update(self) -> list[dict]:
        from .status import project_status

        now = time.time()
        jobs = []
        try:
            statuses = project_status(self.project, reconcile_statuses=False)
        except Exception as e:  # a half-written file: next time
            self._say(f"crboost: progress not shown this time: {type(e).__name__}: {e}")
            return []
        ended = False  # a job finished or failed since the last look: refresh the report
        for job, status in zip(self.project.jobs, statuses, strict=True):
            items = status.items
            counts = {s: sum(1 for v in items.values() if v == s) for s in ("done", "failed")}
            running = sorted(ts for ts, v in items.items() if v == "running")
            key = (status.status, counts["done"], counts["failed"])
            before = self._job_state.setdefault(job.dir, key)
            if key != before:
                ended |= status.status != before[0] or counts["failed"] > before[2]
                if counts["done"] > before[1] or counts["failed"] > before[2]:
                    self._job_start.setdefault(job.dir, now)
                self._job_state[job.dir] = key
            if running:
                self._job_start.setdefault(job.dir, now)
            if status.status in ("Succeeded", "Failed") and job.dir in self._job_start:
                self._job_end.setdefault(job.dir, now)
            for ts, line in status.failures.items():
                self._failure(job, ts, line)
            if status.status == "Failed" and not status.failures and status.error:
                self._failure(job, None, status.error)
            jobs.append({"name": job.name, "type": job.type, "status": status.status,
                         "total": status.tilt_series["total"],
                         "excluded": status.tilt_series.get("excluded", 0),
                         **counts, "running": running,
                         "elapsed": self._elapsed(job.dir, now)})  # fmt: skip
        if ended:
            self._refresh_report()
        return jobs

    def _elapsed(self, job_dir: str, now: float) -> float | None:
        if job_dir not in self._job_start:
            return None
        return self._job_end.get(job_dir, now) - self._job_start[job_dir]

    def _failure(self, job, ts: str | None, line: str) -> None:
        key = (job.dir, ts or "")
        if key in self._failures_seen:
            return
        self._failures_seen.add(key)
        self.failures += 1
        reason = line.split(": ", 1)[1] if ts and ": " in line else line
        log = f"{job.dir}/logs/{ts}.log" if ts else f"{job.dir}/run.err"
        where = f"{job.name} {ts}" if ts else job.name
        self._say(f"crboost: FAILED {where}: {reason.strip()} (log: {log})")

    # --- output -------------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        """A line above the progress block (the block is drawn again below it)."""
        with self._out_lock:
            self._erase()
            self.out.write(line.rstrip("\n") + "\n")
            self.out.flush()

    def _erase(self) -> None:
        if self.tty and self._drawn:
            self.out.write(f"\x1b[{self._drawn}A\r\x1b[J")
            self._drawn = 0

    def _draw(self, jobs: list[dict], final: bool = False) -> None:
        if not jobs:
            return
        if self.tty:
            log = os.path.relpath(self.log, self.project.root)
            lines = [f"crboost run {self.project.root.name}  {_clock(time.time() - self.started)}"
                     f"  (full log: {log})"]  # fmt: skip
            lines += [self._job_line(j) for j in jobs]
            width = shutil.get_terminal_size().columns  # a wrapped line would not be erased
            lines = [ln[: width - 1] for ln in lines]
            with self._out_lock:
                self._erase()
                self.out.write("\n".join(lines) + "\n")
                self._drawn = len(lines)
                self.out.flush()
            return
        line = "crboost progress: " + ", ".join(
            f"{j['name']} {j['done']}/{j['total']}"
            + ("*" if j["status"] == "Succeeded" else "")
            + (f" ({j['failed']} failed)" if j["failed"] else "")
            + (f" ({len(j['running'])} running)" if j["running"] else "")
            for j in jobs
        )
        now = time.time()
        if line != self._last_plain and (final or now - self._last_plain_time >= 5.0):
            self.out.write(line + "\n")
            self.out.flush()
            self._last_plain, self._last_plain_time = line, now

    @staticmethod
    def _job_line(j: dict) -> str:
        total = max(1, j["total"])
        filled = round(10 * j["done"] / total)
        bar = "[" + "#" * filled + "." * (10 - filled) + "]"
        parts = [f"  {j['name']:<14} {j['type']:<15} {bar} {j['done']:>4}/{j['total']:<4}"]
        if j["status"] == "Succeeded":
            parts.append("done")
        if j["failed"]:
            parts.append(f"{j['failed']} failed")
        if j["excluded"]:
            parts.append(f"{j['excluded']} excluded")
        if j["elapsed"] is not None:
            parts.append(_clock(j["elapsed"]))
        if j["running"]:
            shown = ", ".join(j["running"][:RUNNING_SHOWN])
            more = len(j["running"]) - RUNNING_SHOWN
            parts.append(f"running {shown}" + (f" +{more}" if more > 0 else ""))
        return "  ".join(parts)

    def _summary(self, jobs: list[dict], returncode: int) -> None:
        took = _clock(time.time() - self.started)
        log = os.path.relpath(self.log, self.project.root)
        if returncode == 0 and self.nothing_to_do:
            self.out.write(
                f"crboost: Nothing to be done: every job is up to date; full log {log}\n"
            )
        elif returncode == 0:
            self.out.write(f"crboost: finished in {took}; full log {log}\n")
        else:
            tail = Path(self.log).read_text(errors="replace").splitlines()[-15:]
            # the workflow itself stopped: its last words, unless crboost's own line (shown
            # already) says why; that line stays the one starting with "crboost:"
            if not self.failures and not any(ln.startswith("crboost:") for ln in tail):
                self.out.write("".join(f"  | {ln}\n" for ln in tail))
            self.out.write(f"crboost run: stopped after {took} (exit status {returncode}); "
                           f"{self.failures} failure(s) above; full log {log}\n")  # fmt: skip
        self.out.flush()

    def _refresh_report(self, wait: bool = False) -> None:
        if self.refresh is None:
            return
        refresh = self.refresh

        def work():
            if not self._report_lock.acquire(blocking=wait):
                return  # one refresh at a time; the next event makes another
            try:
                problem = refresh()
                if problem:
                    self._say(f"crboost: report not refreshed: {problem}")
            finally:
                self._report_lock.release()

        if wait:
            work()
        else:
            threading.Thread(target=work, daemon=True).start()
