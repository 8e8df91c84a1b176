"""`crboost serve`: the token on every request, nothing outside the project, curation only by
POST with the token in a header; then the pages in a real headless Chromium (Debian's chromium
and chromium-driver, driven by selenium): the grid is there, a thumbnail decodes, an exclusion
clicked in the page lands in curation.yaml and re-runs only that tilt series."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import copy_project, run_cli

from crboost.cli import build_parser
from crboost.project.curation import read_curation
from crboost.report.server import make_server

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def served(tmp_path_factory, finished_demo):
    """A copy of the finished demo, served on a free port; yields (project, port, token)."""
    project = copy_project(finished_demo, tmp_path_factory.mktemp("served") / "p")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("not the project's\n")
    os.symlink(outside / "secret.txt", project / "link_out.txt")
    os.symlink(outside, project / "dir_out")
    server = make_server(project, "127.0.0.1", 0, 0, token="t0ken-for-tests-only")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield project, server.server_address[1], server.token
    server.shutdown()
    server.server_close()


def request(port: int, path: str, method: str = "GET", headers: dict | None = None,
            body: bytes | None = None) -> tuple[int, dict, bytes]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, dict(reply.getheaders()), data


def cookie(port: int, token: str) -> dict:
    return {"Cookie": f"crboost-token-{port}={token}"}


@pytest.mark.slow
def test_every_request_needs_the_token(served):
    project, port, token = served
    for path in ("/", "/index.html", "/ts/TS_01.html", "/api/state", "/files/crboost.yaml",
                 "/nowhere", f"/?token={token}x"):  # fmt: skip
        status, _, body = request(port, path)
        assert status == 403 and b"token is needed" in body, path
    status, _, _ = request(port, "/", headers=cookie(port, "wrong"))
    assert status == 403
    # the first visit with the token: a cookie, and the same page without the token in the URL
    status, headers, _ = request(port, f"/ts/TS_01.html?token={token}")
    assert status == 303 and headers["Location"] == "/ts/TS_01.html"
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    assert headers["Set-Cookie"].startswith(f"crboost-token-{port}={token};")
    # a redirect never names a host (it works through a tunnel on any port)
    status, headers, _ = request(port, f"//evil.example/x?token={token}")
    assert status == 303 and headers["Location"] == "/evil.example/x"
    status, _, body = request(port, "/ts/TS_01.html", headers=cookie(port, token))
    assert status == 200 and b"TS_01" in body
    assert b'<meta name="crboost-token"' in body and b'data-live="1"' in body
    status, _, body = request(port, "/api/state", headers={"X-Crboost-Token": token})
    assert status == 200 and set(json.loads(body)) == {"version", "alive"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "/files/../../../etc/passwd",
        "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/files/%252e%252e/%252e%252e/etc/passwd",
        "/files/External/..%2f..%2f..%2f..%2fetc/passwd",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/link_out.txt",
        "/files/dir_out/secret.txt",
        "/files/External%00/job002",
        "/files/External/job002",
        "/files/External/job002/",
        "/files/",
    ],
)
def test_nothing_outside_the_project_is_served(served, path):
    project, port, token = served
    status, _, body = request(port, path, headers=cookie(port, token))
    assert status == 404, (path, body)
    assert b"not the project's" not in body and b"root:" not in body


@pytest.mark.slow
def test_project_files_are_served_read_only(served):
    project, port, token = served
    status, headers, body = request(port, "/files/External/job002/qc/TS_01/thumbnails.png",
                                    headers=cookie(port, token))  # fmt: skip
    assert status == 200 and headers["Content-Type"] == "image/png" and body[:4] == b"\x89PNG"
    status, _, body = request(port, "/files/External/job007/logs/TS_01.log",
                              headers=cookie(port, token))  # fmt: skip
    assert status == 200 and b"ts_reconstruct" in body
    tomogram = next((project / "External/job007/warp_tiltseries/reconstruction").glob("*.mrc"))
    status, _, _ = request(port, f"/files/{tomogram.relative_to(project)}",
                           headers=cookie(port, token))  # fmt: skip
    assert status == 403, "tomograms are not for a browser"
    for method in ("PUT", "DELETE"):
        status, _, _ = request(port, "/files/crboost.yaml", method, headers=cookie(port, token))
        assert status == 501


@pytest.mark.slow
def test_curation_needs_the_token_in_a_header(served):
    project, port, token = served
    body = json.dumps({"ts": "TS_04", "action": "exclude"}).encode()
    json_type = {"Content-Type": "application/json"}
    # what another site could make a browser send: our cookie, but not our header
    status, _, _ = request(
        port, "/api/curation", "POST", {**json_type, **cookie(port, token)}, body
    )
    assert status == 403 and "TS_04" not in read_curation(project).exclude_tilt_series
    status, _, reply = request(port, "/api/curation", "POST",
                               {"Content-Type": "text/plain", "X-Crboost-Token": token}, body)  # fmt: skip
    assert status == 415
    for bad, message in ((b"{not json", "Expecting property name"),
                         (b'{"ts": "TS_9", "action": "exclude"}', "'TS_9': not a tilt series"),
                         (b'{"ts": "TS_01", "tilt": "nope", "action": "exclude"}',
                          "no tilt has this movie name"),
                         (b'{"ts": "TS_01", "action": "delete"}', "unknown curation action")):  # fmt: skip
        status, _, reply = request(port, "/api/curation", "POST",
                                   {**json_type, "X-Crboost-Token": token}, bad)  # fmt: skip
        assert status == 400 and message in json.loads(reply)["error"], reply
    status, _, reply = request(port, "/api/curation", "POST",
                               {**json_type, "X-Crboost-Token": token}, body)  # fmt: skip
    assert status == 200 and json.loads(reply)["message"] == "TS_04: excluded"
    assert read_curation(project).exclude_tilt_series == ("TS_04",)
    request(port, "/api/curation", "POST", {**json_type, "X-Crboost-Token": token},
            json.dumps({"ts": "TS_04", "action": "include"}).encode())  # fmt: skip
    assert read_curation(project).exclude_tilt_series == ()


def test_serve_listens_on_this_machine_only_by_default(demo_project):
    args = build_parser().parse_args(["serve", str(demo_project)])
    assert args.host == "127.0.0.1" and args.port is None
    server = make_server(demo_project, args.host, 0, 0)
    try:
        assert server.server_address[0] == "127.0.0.1" and len(server.token) >= 32
    finally:
        server.server_close()
    proc = run_cli("serve", str(demo_project), "--port", "99999")
    assert proc.returncode == 2 and "99999: must be 1 to 65535" in proc.stderr


# --- in a real browser --------------------------------------------------------------------------


def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        if os.environ.get("CRBOOST_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromium-driver (Debian packages) are needed")
        pytest.skip("no chromium / chromium-driver here (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1600"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def wait_for(check, timeout: float = 30):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.time() < deadline, "the page did not get there in time"
        time.sleep(0.2)


@pytest.mark.slow
def test_browser_grid_thumbnail_and_a_clicked_exclusion(served, tmp_path):
    from selenium.webdriver.common.by import By

    project, port, token = served
    driver = browser()
    try:
        driver.get(f"http://127.0.0.1:{port}/?token={token}")
        assert driver.current_url == f"http://127.0.0.1:{port}/", "the token left the address"
        rows = driver.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")
        assert [r.get_attribute("data-ts") for r in rows] == ["TS_01", "TS_02", "TS_03", "TS_04"]
        cells = driver.find_elements(By.CSS_SELECTOR, "table.grid tbody td")
        assert len(cells) == 4 * 7 and all("st-done" in c.get_attribute("class") for c in cells)
        driver.find_element(By.LINK_TEXT, "TS_03").click()
        wait_for(lambda: driver.current_url.endswith("/ts/TS_03.html"))
        thumbnails = driver.find_element(By.CSS_SELECTOR, "img.qc-thumbnails")
        driver.execute_script("arguments[0].scrollIntoView()", thumbnails)
        assert wait_for(lambda: driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", thumbnails)) > 0  # fmt: skip
        for img in driver.find_elements(By.CSS_SELECTOR, "img.qc"):
            driver.execute_script("arguments[0].scrollIntoView()", img)
            assert wait_for(lambda img=img: driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth", img)) > 0  # fmt: skip
        driver.save_screenshot(str(tmp_path / "ts_page.png"))
        for movie in ("TS_03_019_-27.0", "TS_03_020_-30.0"):
            button = driver.find_element(
                By.CSS_SELECTOR, f'.tilt[data-movie="{movie}"] button.curate'
            )
            assert button.text == "exclude"
            driver.execute_script("arguments[0].scrollIntoView()", button)
            button.click()
            wait_for(lambda movie=movie: movie in read_curation(project).exclude_tilts.get(
                "TS_03", ()))  # fmt: skip
            # the page reloads and shows the decision as waiting for the next run
            wait_for(lambda movie=movie: "changes at the next run" in driver.find_element(
                By.CSS_SELECTOR, f'.tilt[data-movie="{movie}"]').text)  # fmt: skip
        assert read_curation(project).exclude_tilts == {
            "TS_03": ("TS_03_019_-27.0", "TS_03_020_-30.0")
        }
        # without the token (a browser that never had it) the page is refused
        driver.delete_all_cookies()
        driver.get(f"http://127.0.0.1:{port}/ts/TS_03.html")
        assert "a token is needed" in driver.find_element(By.TAG_NAME, "body").text
    finally:
        driver.quit()
    # what the click changed re-runs that tilt series only, from the filter on
    proc = run_cli("run", str(project), "--", "-n")
    assert proc.returncode == 0, proc.stderr
    assert set(re.findall(r"wildcards:.*\bts=([^,\s]+)", proc.stdout)) == {"TS_03"}
    rules = set(re.findall(r"^\s*(?:local)?rule (\w+):", proc.stdout, re.M))
    assert rules == {"tiltFilter_tilt_series", "tiltFilter", "tsReconstruct_tilt_series",
                     "tsReconstruct", "all"}  # fmt: skip


@pytest.mark.slow
def test_browser_opens_the_static_report_from_the_file_system(tmp_path, finished_demo):
    from selenium.webdriver.common.by import By

    project = copy_project(finished_demo, tmp_path / "p")
    assert run_cli("report", str(project)).returncode == 0
    driver = browser()
    try:
        driver.get(Path(project / "report" / "index.html").as_uri())
        assert len(driver.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")) == 4
        driver.get(Path(project / "report" / "ts" / "TS_02.html").as_uri())
        for img in driver.find_elements(By.CSS_SELECTOR, "img.qc"):
            driver.execute_script("arguments[0].scrollIntoView()", img)
            assert wait_for(lambda img=img: driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth", img)) > 0  # fmt: skip
        assert not driver.find_elements(By.CSS_SELECTOR, "button.curate"), "read-only"
    finally:
        driver.quit()
