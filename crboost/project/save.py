"""What a run writes of the project itself before any job starts (the rest of the project's
files are the jobs'): the refreshed manifest, with the links of movies that moved following
them; after the project moved, Warp's metadata naming its new place; the snapshot of the
curation decisions the run works with (curation.py)."""

from __future__ import annotations

from .curation import write_snapshot
from .load import Project
from .location import relocate


def save_run_state(project: Project) -> int:
    """Write what the run starts from; the number of Warp metadata files that now name the
    project's new place (0 unless it moved: project.moved_from)."""
    changed = relocate(project.root, project.moved_from)
    if project.manifest.changed:
        from ..acquisition.frames import relink_moved_movies

        relink_moved_movies(project.root, project.manifest.records.values())
        project.manifest.write(project.root)
    write_snapshot(project.root, project.curation)
    return changed
