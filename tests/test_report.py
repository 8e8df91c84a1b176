"""`crboost report`: the project at a glance and a page per tilt series, self-contained, every
picture it shows present in the project; failures with their log tails; pending changes."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin

import pytest
import yaml
from conftest import copy_project, run_cli

pytestmark = pytest.mark.slow


class Links(HTMLParser):
    """Every URL a page points at (href, src, CSS url()) and the elements' classes."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.classes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for key in ("href", "src"):
            if values.get(key):
                self.urls.append(values[key])
        self.urls += re.findall(r"url\('([^']+)'\)", values.get("style") or "")
        self.classes += (values.get("class") or "").split()

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text())
    return links


def targets(page: Path, project: Path) -> list[Path]:
    out = []
    for url in parse(page).urls:
        assert not re.match(r"^[a-z]+:", url), f"{page.name} points outside: {url}"
        resolved = Path(unquote(urljoin(page.as_uri(), url.split("#")[0])[len("file://") :]))
        out.append(resolved)
        assert resolved.exists(), f"{page.name}: {url} is missing"
        assert project.resolve() in resolved.resolve().parents, f"{url} is outside the project"
    return out


def test_report_shows_every_tilt_series_and_picture(tmp_path, finished_demo):
    project = copy_project(finished_demo, tmp_path / "p")
    proc = run_cli("report", str(project))
    assert proc.returncode == 0 and "report/index.html" in proc.stdout
    index = project / "report" / "index.html"
    text = index.read_text()
    assert "<script src" not in text and "<link" not in text, "self-contained"
    assert "7 jobs: 7 succeeded; 4 tilt series" in text
    rows = re.findall(r'<tr class="ts" data-ts="(TS_0\d)">', text)
    assert rows == ["TS_01", "TS_02", "TS_03", "TS_04"]
    assert text.count('class="st-done"') == 4 * 7
    pages = targets(index, project)
    assert {p.name for p in pages if p.suffix == ".html"} >= {f"TS_0{i}.html" for i in range(1, 5)}
    for i in range(1, 5):
        page = project / "report" / "ts" / f"TS_0{i}.html"
        files = targets(page, project)
        names = {f.name for f in files}
        assert {"thumbnails.png", "motion.png", "ctf.png", "alignment.png", "tomogram_xy.png",
                "tomogram_xz.png"} <= names, names  # fmt: skip
        classes = parse(page).classes
        assert classes.count("tilt") == 21, "a card per tilt"
        assert "curate" not in classes, "the static report changes nothing"
    # refreshing with nothing changed rewrites nothing but the index, whose "made" time (to the
    # second) moves: wait for the next second so that it must
    before = {p: p.stat().st_mtime_ns for p in (project / "report").rglob("*.html")}
    time.sleep(1.05)
    assert run_cli("report", str(project)).returncode == 0
    after = {p: p.stat().st_mtime_ns for p in (project / "report").rglob("*.html")}
    assert {p for p in after if after[p] != before[p]} == {index}, "only the time stamp moved"


def test_report_names_pending_changes_and_excluded_tilt_series(tmp_path, finished_demo):
    project = copy_project(finished_demo, tmp_path / "p")
    config = project / "crboost.yaml"
    data = yaml.safe_load(config.read_text())
    ctf = next(job for job in data["pipeline"] if job["name"] == "ctf")
    ctf.setdefault("params", {})["range_high"] = 7.0
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_cli("exclude", str(project), "TS_04").returncode == 0
    assert run_cli("exclude", str(project), "TS_01", "0").returncode == 0
    assert run_cli("report", str(project)).returncode == 0
    text = " ".join(parse(project / "report" / "index.html").text)
    assert "ctf (External/job005): params changed: range_high: 6.0 -> 7.0" in text
    assert "TS_04: excluded: every job leaves it out from the next run on" in text
    assert "TS_01: tilt decisions changed: filter (External/job006) re-runs it" in text
    page = " ".join(parse(project / "report" / "ts" / "TS_01.html").text)
    assert "you: exclude" in page and "changes at the next run" in page
