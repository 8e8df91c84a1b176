"""default_pipeline.star: read, append, update statuses, write (writers go through lock.py).

Rules kept (from RELION's pipeliner.cpp, see docs/architecture.md):
- processes are only appended, never reordered or deleted (RELION updates rows by index);
- `_rlnPipeLineJobCounter` is the next job number and only grows;
- a write goes to a temporary file renamed over the pipeline, then `.pipeline_has_changed` is
  touched so the RELION GUI re-reads.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CrboostError
from .roundtrip import check_reads_back, refuse_changed_quotes, risky_values
from .star import atomic_write, relion_block

if TYPE_CHECKING:
    import pandas as pd

PIPELINE_FILE = "default_pipeline.star"
CHANGED_FLAG = ".pipeline_has_changed"

PROCESS_COLUMNS = [
    "rlnPipeLineProcessName",
    "rlnPipeLineProcessAlias",
    "rlnPipeLineProcessTypeLabel",
    "rlnPipeLineProcessStatusLabel",
]
NODE_COLUMNS = ["rlnPipeLineNodeName", "rlnPipeLineNodeTypeLabel", "rlnPipeLineNodeTypeLabelDepth"]
INPUT_EDGE_COLUMNS = ["rlnPipeLineEdgeFromNode", "rlnPipeLineEdgeProcess"]
OUTPUT_EDGE_COLUMNS = ["rlnPipeLineEdgeProcess", "rlnPipeLineEdgeToNode"]
STATUSES = ("Running", "Scheduled", "Succeeded", "Failed", "Aborted")
# RELION <= 3.1 wrote statuses as integers in this order.
_LEGACY_STATUS = {label: str(i) for i, label in enumerate(STATUSES)}
_ALL_COLUMNS = [
    *PROCESS_COLUMNS,
    *NODE_COLUMNS,
    *INPUT_EDGE_COLUMNS,
    *OUTPUT_EDGE_COLUMNS,
    "rlnPipeLineProcessType",
    "rlnPipeLineProcessStatus",
    "rlnPipeLineNodeType",
]
_BLOCKS = {
    "pipeline_processes": PROCESS_COLUMNS,
    "pipeline_nodes": NODE_COLUMNS,
    "pipeline_input_edges": INPUT_EDGE_COLUMNS,
    "pipeline_output_edges": OUTPUT_EDGE_COLUMNS,
}


@dataclass
class Process:
    name: str
    alias: str
    type_label: str
    status: str

    @property
    def number(self) -> int:
        return job_number(self.name)


@dataclass
class Pipeline:
    """The pipeline tables, as strings, exactly as read."""

    counter: int
    tables: dict[str, pd.DataFrame]
    version_line: str = "# version 50001"

    @classmethod
    def empty(cls) -> Pipeline:
        import pandas as pd

        return cls(counter=1, tables={k: pd.DataFrame(columns=v) for k, v in _BLOCKS.items()})

    @property
    def next_number(self) -> int:
        """The next job number: the counter, but never one already used (the counter of a
        hand-made or per-job pipeline file can lag behind its processes)."""
        used = [job_number(p) for p in self.processes.get("rlnPipeLineProcessName", [])]
        return max([self.counter, *(n + 1 for n in used)])

    @property
    def processes(self) -> pd.DataFrame:
        return self.tables["pipeline_processes"]

    def process_list(self) -> list[Process]:
        df = self.processes
        status_col = _status_column(df)
        out = []
        for row in df.to_dict("records"):
            status = row.get(status_col, "")
            if status_col == "rlnPipeLineProcessStatus":
                status = STATUSES[int(status)] if str(status).isdigit() else str(status)
            out.append(
                Process(
                    name=row["rlnPipeLineProcessName"],
                    alias=row.get("rlnPipeLineProcessAlias", "None"),
                    type_label=str(
                        row.get(
                            "rlnPipeLineProcessTypeLabel", row.get("rlnPipeLineProcessType", "")
                        )
                    ),
                    status=status,
                )
            )
        return out

    def find(self, name: str) -> Process | None:
        name = job_dir_name(name)
        return next((p for p in self.process_list() if p.name == name), None)

    def add_process(self, name: str, alias: str | None, type_label: str, status: str) -> None:
        """Append a process (RELION never reorders rows) and keep the counter above it."""
        name = job_dir_name(name)
        if self.find(name):
            return
        if status not in STATUSES:
            raise ValueError(f"unknown RELION status {status!r}")
        df = self.processes
        row = {
            "rlnPipeLineProcessName": name,
            "rlnPipeLineProcessAlias": alias or "None",
            "rlnPipeLineProcessTypeLabel": type_label,
            "rlnPipeLineProcessStatusLabel": status,
            "rlnPipeLineProcessStatus": _LEGACY_STATUS[status],
            "rlnPipeLineProcessType": "99",  # RELION <= 3.1 number of External jobs
        }
        self.tables["pipeline_processes"] = _append(df, {c: row[c] for c in df.columns})
        self.counter = max(self.counter, job_number(name) + 1)

    def set_status(self, name: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown RELION status {status!r}")
        df = self.processes
        col = _status_column(df)
        value = _LEGACY_STATUS[status] if col == "rlnPipeLineProcessStatus" else status
        mask = df["rlnPipeLineProcessName"] == job_dir_name(name)
        if not mask.any():
            raise KeyError(name)
        df.loc[mask, col] = value

    def add_node(self, name: str, type_label: str, depth: int = 1) -> None:
        df = self.tables["pipeline_nodes"]
        if (df["rlnPipeLineNodeName"] == name).any():
            return
        row = {
            "rlnPipeLineNodeName": name,
            "rlnPipeLineNodeTypeLabel": type_label,
            "rlnPipeLineNodeTypeLabelDepth": str(depth),
            "rlnPipeLineNodeType": "0",
        }
        self.tables["pipeline_nodes"] = _append(df, {c: row.get(c, "") for c in df.columns})

    def add_edge(self, block: str, first: str, second: str) -> None:
        df = self.tables[block]
        cols = list(df.columns)
        if ((df[cols[0]] == first) & (df[cols[1]] == second)).any():
            return
        self.tables[block] = _append(df, {cols[0]: first, cols[1]: second})

    def node_names(self) -> set[str]:
        return set(self.tables["pipeline_nodes"]["rlnPipeLineNodeName"])

    def to_text(self) -> str:
        blocks: dict[str, pd.DataFrame | dict] = {
            "pipeline_general": {"rlnPipeLineJobCounter": self.counter}
        }
        blocks.update(self.tables)
        text = "".join(
            relion_block(name, table)
            for name, table in blocks.items()
            if isinstance(table, dict) or len(table)
        )
        if self.version_line != "# version 50001":
            text = text.replace("# version 50001", self.version_line)
        return text


def job_number(name: str) -> int:
    """`External/job012/` -> 12 (RELION needs `/job` and at least 3 digits)."""
    part = name.rstrip("/").rsplit("/job", 1)[-1]
    return int(part) if part.isdigit() else 0


def job_dir_name(name: str) -> str:
    return name if name.endswith("/") else name + "/"


def read_pipeline(path: str | Path) -> Pipeline:
    """Read a default_pipeline.star of RELION 3.1, 4 or 5 (a missing file is a new project)."""
    import pandas as pd
    import starfile

    path = Path(path)
    if not path.exists():
        return Pipeline.empty()
    try:
        raw = path.read_text()
        version_line = next(
            (ln.strip() for ln in raw.splitlines() if ln.startswith("# version")),
            "# version 50001",
        )
        data = starfile.read(path, always_dict=True, parse_as_string=_ALL_COLUMNS)
    except Exception as e:  # starfile raises many kinds on malformed input
        raise CrboostError(f"{path}: cannot read RELION pipeline: {e}") from None
    if "'" in raw:
        refuse_changed_quotes(path, raw, data)
    general = data.get("pipeline_general", {})
    counter = general.get("rlnPipeLineJobCounter", 1) if isinstance(general, dict) else 1
    tables = {}
    for block, columns in _BLOCKS.items():
        df = data.get(block)
        if isinstance(df, dict):  # a one-row table written as key/value pairs
            df = pd.DataFrame([df])
        if df is None or not len(df.columns):
            df = pd.DataFrame(columns=columns)
        tables[block] = df.astype(str)
    return Pipeline(counter=int(counter), tables=tables, version_line=version_line)


def write_pipeline(root: str | Path, pipeline: Pipeline) -> None:
    """Write atomically and tell the RELION GUI to re-read. Call with the lock held. A file
    that would not read back as this pipeline (a value STAR readers change) is not written."""
    root = Path(root)
    text = pipeline.to_text()
    if risky_values(pipeline.tables):
        check_reads_back(root / PIPELINE_FILE, text, pipeline.tables,
                         lambda path: read_pipeline(path).tables)  # fmt: skip
    atomic_write(root / PIPELINE_FILE, text)
    _write_index_cache(root, PipelineIndex(pipeline.counter, pipeline.process_list()))
    (root / CHANGED_FLAG).touch()


# --- a quick view of the processes ---------------------------------------------------------

INDEX_CACHE = ".crboost/pipeline_index.json"


@dataclass
class PipelineIndex:
    """The processes and the counter, without the rest of the file."""

    counter: int
    processes: list[Process]

    @property
    def next_number(self) -> int:
        return max([self.counter, *(p.number + 1 for p in self.processes)])

    def process_list(self) -> list[Process]:
        return self.processes

    def find(self, name: str) -> Process | None:
        name = job_dir_name(name)
        return next((p for p in self.processes if p.name == name), None)


def read_pipeline_index(root: str | Path) -> PipelineIndex:
    """The processes of default_pipeline.star. crboost keeps a copy (.crboost/pipeline_index.json)
    each time it writes the file; while the file is unchanged since (size and mtime), the copy
    is used, which spares parsing the file (and importing pandas) on quick paths."""
    root = Path(root)
    path = root / PIPELINE_FILE
    try:
        st = path.stat()
    except FileNotFoundError:
        return PipelineIndex(1, [])
    try:
        data = json.loads((root / INDEX_CACHE).read_text())
        if data["key"] == [st.st_size, st.st_mtime_ns]:
            return PipelineIndex(data["counter"], [Process(*p) for p in data["processes"]])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    pipeline = read_pipeline(path)
    index = PipelineIndex(pipeline.counter, pipeline.process_list())
    with contextlib.suppress(OSError):
        _write_index_cache(root, index)
    return index


def _write_index_cache(root: Path, index: PipelineIndex) -> None:
    st = (root / PIPELINE_FILE).stat()
    data = {
        "key": [st.st_size, st.st_mtime_ns],
        "counter": index.counter,
        "processes": [[p.name, p.alias, p.type_label, p.status] for p in index.processes],
    }
    cache = root / INDEX_CACHE
    if cache.parent.is_dir():
        atomic_write(cache, json.dumps(data) + "\n")


def _status_column(df: pd.DataFrame) -> str:
    if (
        "rlnPipeLineProcessStatusLabel" in df.columns
        or "rlnPipeLineProcessStatus" not in df.columns
    ):
        return "rlnPipeLineProcessStatusLabel"
    return "rlnPipeLineProcessStatus"


def _append(df: pd.DataFrame, row: dict) -> pd.DataFrame:
    import pandas as pd

    new = pd.DataFrame([row], columns=df.columns).astype(str)
    return new if df.empty else pd.concat([df, new], ignore_index=True)
