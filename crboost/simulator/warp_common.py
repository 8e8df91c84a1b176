"""What the simulated WarpTools verbs share: the run's settings and folders (BaseOptions.Evaluate),
the items and how they are iterated (BaseCommand.IterateOverItems at v2.0.0dev39,
DistributedOptions.DistributeItems at head), the GPUs the run may use, and the settings file
distributed verbs save at the end.
"""

from __future__ import annotations

import fcntl
import glob
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .formats import Failure, read_settings, write_processed_items

#: how long the head version's manager waits for tasks another manager deleted, before the
#: SIMULATOR gives up (the real one waits forever: WorkPool.Distribute has no timeout)
HANG_LIMIT = float(os.environ.get("CRBOOST_SIM_HANG_LIMIT", "600"))


class Context:
    """Settings, data and processing folders of a run, as BaseOptions.Evaluate sets them: every
    path absolute (from the current directory), --input_data relative to the current directory,
    processing folders relative to the settings file unless overridden."""

    def __init__(self, o: dict):
        self.o = o
        self.verb = o.get("_verb", "")
        self.version = o.get("_version", "")
        self.settings_path = Path(os.path.abspath(o["settings"]))
        self.settings = read_settings(self.settings_path)
        base = self.settings_path.parent
        folder = self.settings.get("ProcessingFolder") or self.settings.get("DataFolder", ".")
        cwd = Path.cwd()
        given_out = o.get("output_processing") or o.get("input_processing")
        self.input = cwd / o["input_processing"] if o.get("input_processing") else base / folder
        self.output = cwd / given_out if given_out else self.input
        self.input = Path(os.path.normpath(self.input))
        self.output = Path(os.path.normpath(self.output))
        self.data = Path(os.path.normpath(base / self.settings.get("DataFolder", ".")))
        self.pixel = float(self.settings.get("PixelSize", 1))
        self.items = self._items(o.get("input_data"))

    def _items(self, given: list[str] | None) -> list[Path]:
        if given:
            items: list[Path] = []
            for entry in given:
                if entry.endswith(".txt"):
                    items += [Path(os.path.abspath(ln.strip()))
                              for ln in Path(entry).read_text().splitlines() if ln.strip()]  # fmt: skip
                elif any(c in entry for c in "*?"):
                    items += sorted(Path(os.path.abspath(p)) for p in glob.glob(entry))
                else:
                    items.append(Path(os.path.normpath(Path.cwd() / entry)))
        else:
            items = sorted(self.data.glob(self.settings.get("Extension", "*")))
        names = [i.name for i in items]
        if len(set(names)) != len(names):
            raise Failure("Duplicate file names found in input data list!")
        for item in items:
            if not item.exists():
                raise Failure(f"File not found: {item}")
        print(f"{len(items)} files found")
        return items

    def data_dir(self, item: Path) -> str:
        """The item's DataDirectory: the folder of its data file when it differs from the input
        processing folder (BaseOptions.cs), an absolute path that SaveMeta writes into the XML."""
        return "" if item.parent == self.input else str(item.parent)


# --- GPUs -----------------------------------------------------------------------------------------


def visible_gpus() -> int:
    """The simulated machine's GPUs: those CUDA_VISIBLE_DEVICES names, else CRBOOST_SIM_GPUS
    (default 2)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip() and v.strip() != "NoDevFiles"])
    return int(os.environ.get("CRBOOST_SIM_GPUS", "2"))


def workers(ctx: Context) -> list[int]:
    """DistributedOptions.GetWorkers: --device_list, else every GPU; one worker per device and
    --perdevice, at most one per item."""
    count = visible_gpus()
    devices = list(ctx.o.get("device_list") or range(count))
    if not devices:
        raise Failure("No devices found or specified")
    bad = [d for d in devices if d < 0 or d >= count]
    if bad:
        raise Failure(f"CUDA error: invalid device ordinal {bad[0]} ({count} device(s) visible)")
    per = int(ctx.o.get("perdevice") or 1)
    used = [d for d in devices for _ in range(per)][: max(1, len(ctx.items))]
    print(f"Connecting to workers... using GPU(s) {' '.join(map(str, sorted(set(used))))}")
    return used


# --- iterating over items -------------------------------------------------------------------------


def iterate(ctx: Context, body: Callable[[Path], None], on_failure: Callable[[Path], None],
            distributed: bool = True) -> list[Path]:  # fmt: skip
    """Run body for every item. A failing item is reported and marked (on_failure), the others
    go on; if every item failed the command throws ("All items failed to process")."""
    queue = _WorkQueue(ctx) if distributed and ctx.version == "head" else None
    if queue:
        queue.start(ctx.items)
    done, failed = [], []
    for item in ctx.items:
        try:
            body(item)
            if queue:
                queue.complete(item)
            done.append(item)
        except Failure as e:
            on_failure(item)
            failed.append(item)
            print(f"Failed to process {item}, marked as unselected", file=sys.stderr)
            print(f"Exception details:\n{e}\n", file=sys.stderr)
    if queue:
        queue.finish()
    write_processed_items(ctx.output, [{"Path": p.name, "ProcessingStatus": 1} for p in done])
    if ctx.items and len(failed) == len(ctx.items):
        raise Failure("All items failed to process. Check logs for more info.")
    return done


class _WorkQueue:
    """The filesystem work queue of the head version (DistributedOptions.DistributeItems,
    Warp.Workers.Queue): <output>/tasks or --task_dir; Clear() deletes pending/done/failed task
    files, then the Scheduler takes pool.lock and fails if another manager holds it; a manager
    whose pending tasks were deleted waits for them forever."""

    def __init__(self, ctx: Context):
        self.root = Path(os.path.abspath(ctx.o["task_dir"])) if ctx.o.get("task_dir") else (
            ctx.output / "tasks")  # fmt: skip
        self.lock_handle = None

    def start(self, items: list[Path]) -> None:
        for sub in ("pending", "running", "done", "failed", "poisoned", "heartbeat", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("pending", "done", "failed", "poisoned"):  # TaskQueue.Clear
            for f in (self.root / sub).glob("*.json"):
                f.unlink(missing_ok=True)
        handle = open(self.root / "pool.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise Failure(
                f"System.IO.IOException: Another manager is already using queue dir "
                f"'{self.root}'. Use --task_dir to choose a different location, or wait for "
                "the previous run to finish."
            ) from None
        self.lock_handle = handle
        for item in items:
            (self.root / "pending" / f"{item.stem}.json").write_text(f'{{"task": "{item.name}"}}')
        print(f"Distributing {len(items)} item(s) across local workers, queue in {self.root}")

    def complete(self, item: Path) -> None:
        """The manager waits for the task's result; a task another manager deleted never
        comes back."""
        pending = self.root / "pending" / f"{item.stem}.json"
        start = time.time()
        while not pending.exists():
            if time.time() - start > HANG_LIMIT:
                raise SystemExit(
                    f"WarpTools (SIMULATED): task {item.stem} was deleted from {self.root} by "
                    "another manager; the real WarpTools waits forever here (SIMULATOR gave up "
                    f"after {HANG_LIMIT:g} s)"
                )
            time.sleep(0.5)
        os.replace(pending, self.root / "done" / pending.name)

    def finish(self) -> None:
        if self.lock_handle:
            self.lock_handle.close()


def save_settings(ctx: Context, name: str) -> None:
    """Options.Save(<output>/<name>) at the end of the command: File.Create, which .NET on Linux
    locks with flock(LOCK_EX | LOCK_NB) (FileShare.None), so a concurrent call saving the same
    file gets an IOException, after its items were processed (D11)."""
    path = ctx.output / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise Failure(
                f"System.IO.IOException: The process cannot access the file '{path}' because it "
                "is being used by another process."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(ctx.settings_path.read_text(encoding="utf-8-sig"))
        hold = float(os.environ.get("CRBOOST_SIM_SETTINGS_HOLD", "0"))
        if hold:
            time.sleep(hold)
    print("Saving settings... Done")
