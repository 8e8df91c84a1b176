"""The report's HTML: the project at a glance and a page per tilt series, self-contained (CSS
and script inline, nothing fetched from elsewhere). The same pages serve the static report
(`crboost report`) and the web view (`crboost serve`, `live`: curation buttons, auto-refresh).

Every link is relative, so the pages work from the file system and through an SSH tunnel.
`to_files` is the way from the page to the project's files (the static report lives inside the
project; the web view serves them under files/), `to_top` the way to the index.
"""

from __future__ import annotations

import time
from html import escape
from urllib.parse import quote

from .assets import CSS, SCRIPT
from .state import STATES, ProjectView, TiltRow, TiltSeriesView

THUMB = 96  # px of a tilt's thumbnail on the page
SYMBOL = {"done": "&#10003;", "failed": "&#10007;", "running": "&#8635;", "pending": "",
          "excluded": "&ndash;"}  # fmt: skip


def _page(title: str, body: str, live: bool, token: str, version: str, to_top: str) -> str:
    version = version if live else ""  # a static page changes only when what it shows does
    meta = f'<meta name="crboost-token" content="{escape(token)}">' if live else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f'<body data-live="{int(live)}" data-version="{escape(version)}" '
        f'data-top="{escape(to_top)}">{body}<script>{SCRIPT}</script></body></html>\n'
    )


def _link(to_files: str, path: str) -> str:
    return escape(to_files + quote(path))


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _header(view: ProjectView, live: bool, to_top: str, stamp: bool = False) -> str:
    run = view.run or {}
    if view.alive:
        state = f"a run is going on (since {_when(run.get('started', 0))}, host {run.get('host')})"
    elif run:
        state = f"no run going on (last started {_when(run.get('started', 0))})"
    else:
        state = "never run"
    mode = "live view: refreshes by itself" if live else "report"
    if stamp and not live:
        mode += f" made {_when(view.made)}"
    return (
        f'<header><a class="home" href="{escape(to_top)}index.html">crboost</a> '
        f"<b>{escape(view.name)}</b> <span class=muted>{escape(str(view.project.root))}</span>"
        f'<div class="muted">{escape(state)} &middot; {escape(mode)}</div></header>'
    )


# --- the project at a glance -------------------------------------------------------------------


def index_page(view: ProjectView, to_files: str, live: bool = False, token: str = "") -> str:
    project = view.project
    counts = view.counts()
    legend = " ".join(
        f'<span class="chip st-{s}">{SYMBOL[s] or "&nbsp;"}</span> {s} {counts[s]}' for s in STATES
    )
    parts = [_header(view, live, "", stamp=True), "<main>"]
    usable, skipped = len(project.tilt_series), len(project.manifest.skipped)
    parts.append(
        f"<section id=summary><p>{escape(view.summary)}; {usable} tilt series"
        f"{f', {len(view.excluded)} excluded' if view.excluded else ''}"
        f"{f', {skipped} skipped' if skipped else ''}.</p><p class=legend>{legend}</p></section>"
    )
    if view.pending:
        items = "".join(f"<li>{escape(p)}</li>" for p in view.pending)
        parts.append(f"<section id=pending><h2>Pending changes (the next run)</h2><ul>{items}"
                     "</ul></section>")  # fmt: skip
    if view.failures:
        rows = []
        for f in view.failures:
            where = f"{f.job} &middot; {escape(f.ts)}" if f.ts else escape(f.job)
            rows.append(
                f"<details class=failure><summary><b>{where}</b>: {escape(f.reason)}</summary>"
                f'<a href="{_link(to_files, f.log)}">{escape(f.log)}</a>'
                f"<pre>{escape(f.tail) or '(empty log)'}</pre></details>"
            )
        parts.append(f"<section id=failures><h2>Failures</h2>{''.join(rows)}</section>")
    parts.append(_grid(view))
    if project.manifest.skipped:
        items = "".join(f"<li>{escape(k)}: {escape(v)}</li>"
                        for k, v in sorted(project.manifest.skipped.items()))  # fmt: skip
        parts.append(f"<section id=skipped><h2>Skipped (not tilt series or unusable)</h2>"
                     f"<ul>{items}</ul></section>")  # fmt: skip
    parts.append("</main>")
    return _page(f"crboost: {view.name}", "".join(parts), live, token, view.version(), "")


def _grid(view: ProjectView) -> str:
    head = "".join(
        f'<th title="{escape(j.type)} {escape(j.dir)}">{escape(j.job)}'
        f'<br><span class="muted">{escape(j.type)}</span></th>'
        for j in view.jobs
    )
    rows = []
    for ts in view.project.tilt_series:
        cells = []
        for job in view.jobs:
            state = view.state(job, ts)
            dropped = view.dropped.get(job.dir, {}).get(ts)
            text = f"&minus;{dropped}" if dropped and state == "done" else SYMBOL[state]
            title = f"{job.job} {ts}: {state}" + (f", {dropped} tilt(s) dropped" if dropped else "")
            if job.failures.get(ts):
                title += f": {job.failures[ts]}"
            cells.append(f'<td class="st-{state}" title="{escape(title)}">{text}</td>')
        mark = " excluded" if ts in view.excluded else ""
        rows.append(f'<tr class="ts{mark}" data-ts="{escape(ts)}"><th>'
                    f'<a href="ts/{quote(ts)}.html">{escape(ts)}</a></th>{"".join(cells)}</tr>')  # fmt: skip
    return (f'<section id=grid><h2>Tilt series &times; jobs</h2><table class="grid"><thead><tr>'
            f'<th>tilt series</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            "</section>")  # fmt: skip


# --- one tilt series ---------------------------------------------------------------------------


def tilt_series_page(
    view: ProjectView, ts: TiltSeriesView, to_files: str, live: bool = False, token: str = ""
) -> str:
    names = view.project.tilt_series
    at = names.index(ts.name) if ts.name in names else 0
    nav = ['<a href="../index.html">all tilt series</a>']
    if at > 0:
        nav.append(f'<a href="{quote(names[at - 1])}.html">&larr; {escape(names[at - 1])}</a>')
    if at + 1 < len(names):
        nav.append(f'<a href="{quote(names[at + 1])}.html">{escape(names[at + 1])} &rarr;</a>')
    strip = "".join(
        f'<span class="chip st-{ts.states.get(j.dir, "pending")}" title="{escape(j.job)}: '
        f'{ts.states.get(j.dir, "pending")}">{escape(j.job)}</span>'
        for j in view.jobs
    )
    parts = [_header(view, live, "../"), "<main>",
             f'<nav>{" &middot; ".join(nav)}</nav><h1 data-ts="{escape(ts.name)}">'
             f"{escape(ts.name)}{' (excluded)' if ts.excluded else ''}</h1>"
             f"<p class=strip>{strip}</p>"]  # fmt: skip
    parts.append(_curation(ts, to_files, live))
    for job, record in ts.qc:
        parts.append(_job_section(job, record, ts, to_files))
    if not ts.qc:
        parts.append("<p class=muted>No pictures yet: the jobs make them as they finish this "
                     "tilt series.</p>")  # fmt: skip
    parts.append("</main>")
    return _page(f"{ts.name}: crboost {view.name}", "".join(parts), live, token, view.version(),
                 "../")  # fmt: skip


def _curation(ts: TiltSeriesView, to_files: str, live: bool) -> str:
    action = "include" if ts.excluded else "exclude"
    button = (f'<button class="curate" data-ts="{escape(ts.name)}" data-action="{action}">'
              f"{action} this tilt series</button>") if live else ""  # fmt: skip
    hint = (
        ""
        if live
        else "<p class=muted>To change: <code>crboost exclude|include PROJECT "
        f"{escape(ts.name)} [TILT...]</code>, or <code>crboost serve PROJECT</code>.</p>"
    )
    error = f"<p class=error>{escape(ts.curation_error)}</p>" if ts.curation_error else ""
    filter_note = (f"tilt decisions by job {escape(ts.filter_job.name)} ({escape(ts.filter_job.dir)})"
                   if ts.filter_job else "no tiltFilter job in the pipeline: tilt decisions "
                   "take no effect")  # fmt: skip
    cards = "".join(_tilt_card(row, ts.name, to_files, live) for row in ts.tilts)
    return (f"<section id=curation><h2>Tilts and curation</h2><p>{button} "
            f"<span class=muted>{filter_note}</span></p>{error}{hint}"
            f'<div class="tilts">{cards}</div></section>')  # fmt: skip


def _tilt_card(row: TiltRow, ts: str, to_files: str, live: bool) -> str:
    """One tilt: its thumbnail, values, what the filter decided, the user's word."""
    thumb = '<span class="thumb"></span>'
    if row.thumbnail:
        png, (x, y, w, _h), width, height = row.thumbnail
        scale = THUMB / w
        thumb = (f'<span class="thumb" style="background-image:url(\'{_link(to_files, png)}\');'
                 f"background-size:{width * scale:.0f}px {height * scale:.0f}px;"
                 f'background-position:-{x * scale:.0f}px -{y * scale:.0f}px"></span>')  # fmt: skip
    v = row.values
    facts = [f"{row.angle:.1f}&deg;"]
    if "defocus_u" in v and "defocus_v" in v:
        facts.append(f"{(v['defocus_u'] + v['defocus_v']) / 2e4:.2f} um")
    facts += [f"{v[k]:.1f} {unit}" for k, unit in (("ctf_resolution", "A fit"), ("motion", "A motion"),
                                                   ("dose", "e/A2 before")) if k in v]  # fmt: skip
    decision = {"kept": "kept", "dropped": "dropped: " + "; ".join(row.reasons),
                "before": "left out before the filter", "": "not filtered yet"}[row.filter]  # fmt: skip
    if row.user:
        decision += f" &middot; you: {row.user}"
    if row.pending:
        decision += " &middot; <b>changes at the next run</b>"
    state = "dropped" if row.filter in ("dropped", "before") else row.filter or "open"
    button = ""
    if live:
        action = "include" if row.filter == "dropped" or row.user == "exclude" else "exclude"
        button = (f'<button class="curate" data-ts="{escape(ts)}" data-tilt="{escape(row.movie)}" '
                  f'data-action="{action}">{action}</button>')  # fmt: skip
    return (f'<div class="tilt {state}" data-movie="{escape(row.movie)}" '
            f'title="{escape(row.movie)}">{thumb}<div class="facts">{"<br>".join(facts)}</div>'
            f'<div class="decision">{decision}</div>{button}</div>')  # fmt: skip


def _num(values: dict, key: str, digits: int) -> str:
    return f"{values[key]:.{digits}f}" if key in values else ""


TITLES = {"thumbnails": "Tilts (motion-corrected averages, in tilt order)", "motion": "Motion",
          "ctf": "CTF", "alignment": "Alignment", "tomogram": "Tomogram (central slices)"}  # fmt: skip


def _job_section(job, record: dict, ts: TiltSeriesView, to_files: str) -> str:
    base = f"{job.dir}/qc/{ts.name}/"
    figures = []
    for name, product in record.get("products", {}).items():
        files = product.get("files") or [product["file"]]
        imgs = "".join(f'<img src="{_link(to_files, base + f)}" alt="{escape(name)} of '
                       f'{escape(ts.name)}" class="qc qc-{escape(name)}" loading="lazy">'
                       for f in files)  # fmt: skip
        figures.append(f"<figure><figcaption>{escape(TITLES.get(name, name))}</figcaption>"
                       f"{imgs}</figure>")  # fmt: skip
    for name, problem in record.get("problems", {}).items():
        figures.append(f"<p class=error>{escape(name)} not made: {escape(problem)}</p>")
    log = ts.logs.get(job.dir)
    log_link = f' &middot; <a href="{_link(to_files, log)}">log</a>' if log else ""
    return (f'<section class="job" id="job-{escape(job.name)}"><h2>{escape(job.name)} '
            f'<span class="muted">{escape(job.type)} {escape(job.dir)}</span>{log_link}</h2>'
            f"{''.join(figures)}</section>")  # fmt: skip
