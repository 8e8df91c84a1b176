"""`crboost report PROJECT`: PROJECT/report/index.html and report/ts/<ts>.html.

The pages point at the QC pictures where the jobs wrote them (relative links into the project),
so the report costs no copies and opens from the file system; only pages whose text changed are
written again.
"""

from __future__ import annotations

from pathlib import Path

from ..relion.star import write_if_changed
from .pages import index_page, tilt_series_page
from .state import open_project, project_view, tilt_series_view

REPORT_DIR = "report"


def write_report(root: str | Path) -> Path:
    """Write (refresh) the report; returns its index.html."""
    root = Path(root).resolve()
    view = project_view(open_project(root))
    folder = root / REPORT_DIR
    (folder / "ts").mkdir(parents=True, exist_ok=True)
    index = folder / "index.html"
    write_if_changed(index, index_page(view, to_files="../"))
    wanted = set()
    for ts in view.project.tilt_series:
        page = folder / "ts" / f"{ts}.html"
        wanted.add(page.name)
        write_if_changed(
            page, tilt_series_page(view, tilt_series_view(view, ts), to_files="../../")
        )
    for old in (folder / "ts").glob("*.html"):
        if old.name not in wanted:  # a tilt series that left the project
            old.unlink(missing_ok=True)
    return index


def refresh_quietly(root: str | Path) -> str | None:
    """Refresh the report during a run; a problem is returned as text, never raised."""
    try:
        write_report(root)
    except Exception as e:  # the report never stops a run
        return f"{type(e).__name__}: {e}"
    return None
