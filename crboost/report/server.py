"""`crboost serve PROJECT`: the report's pages live, for a browser on this machine or through an
SSH tunnel (`ssh -L 8765:127.0.0.1:8765 headnode`).

- Bound to 127.0.0.1 unless told otherwise.
- A random token, printed in the URL as Jupyter does, is needed for every request: as
  `?token=` (the first visit; it then becomes a cookie for this port and the browser is sent to
  the same page without it), the cookie, or the `X-Crboost-Token` header. Without it: 403.
- Read-only except curation: `POST api/curation` edits curation.yaml, and only with the token
  in the X-Crboost-Token header (a page of another site can make a browser send our cookie, but
  not set that header: cross-site request forgery gets nowhere).
- Files: `files/<path>` serves a file of the project, never one outside it: `..`, an encoded
  `..` and symlinks resolving outside the project are refused; directories are never listed.
- Links are relative and redirects carry no host name, so the pages work through a tunnel on
  any local port.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import socket
import sys
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import CrboostError
from ..running.runstate import run_is_alive
from .pages import index_page, tilt_series_page
from .state import open_project, project_version, project_view, tilt_series_view

#: what files/ serves (by suffix; files without one are text: RELION_JOB_EXIT_FAILURE ...)
SERVED = {
    ".png": "image/png", ".jpg": "image/jpeg", ".svg": "image/svg+xml", ".html": "text/html",
    ".json": "application/json", ".star": "text/plain", ".txt": "text/plain",
    ".log": "text/plain", ".out": "text/plain", ".err": "text/plain", ".yaml": "text/plain",
    ".yml": "text/plain", ".tsv": "text/plain", ".xml": "text/plain", ".mdoc": "text/plain",
    ".settings": "text/plain", ".tomostar": "text/plain", ".aln": "text/plain",
    ".xf": "text/plain", ".tlt": "text/plain", "": "text/plain",
}  # fmt: skip
MAX_BODY = 65536
PORT_TRIES = 20


class Handler(BaseHTTPRequestHandler):
    server: CrboostServer
    server_version = "crboost"
    sys_version = ""

    # --- plumbing ---------------------------------------------------------------------------

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        if self.server.verbose:
            sys.stderr.write(f"crboost serve: {self.address_string()} {format % args}\n")

    def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _text(self, status: int, text: str) -> None:
        self._send(status, (text + "\n").encode(), "text/plain; charset=utf-8")

    def _json(self, status: int, data: dict) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _cookie_name(self) -> str:
        return f"crboost-token-{self.server.server_address[1]}"

    def _authorised(self, query: dict) -> str | None:
        """How the request proved it has the token: "query", "header", "cookie", or None."""
        token = self.server.token
        header = self.headers.get("X-Crboost-Token", "")
        if header and hmac.compare_digest(header, token):
            return "header"
        given = query.get("token", [""])[0]
        if given and hmac.compare_digest(given, token):
            return "query"
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie", ""))
        except Exception:  # a malformed cookie header is no token
            return None
        morsel = cookie.get(self._cookie_name())
        if morsel is not None and hmac.compare_digest(morsel.value, token):
            return "cookie"
        return None

    # --- requests ---------------------------------------------------------------------------

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        how = self._authorised(query)
        if how is None:
            self._text(HTTPStatus.FORBIDDEN, "crboost serve: a token is needed: open the URL "
                       "crboost serve printed (it ends in ?token=...)")  # fmt: skip
            return
        if how == "query":  # remember it, and show the page without the token in the address
            cookie = (f"{self._cookie_name()}={self.server.token}; Path=/; HttpOnly; "
                      "SameSite=Strict")  # fmt: skip
            # a path only, never a host (works through any tunnel); "//x" would name a host
            location = "/" + (url.path or "/").lstrip("/")
            self._send(HTTPStatus.SEE_OTHER, b"", "text/plain",
                       {"Location": location, "Set-Cookie": cookie})  # fmt: skip
            return
        try:
            self._route_get(url.path)
        except CrboostError as e:
            self._text(HTTPStatus.INTERNAL_SERVER_ERROR, f"crboost: {e}")

    def _route_get(self, raw_path: str) -> None:
        root = self.server.root
        path = unquote(raw_path)
        if path in ("/", "/index.html"):
            view = project_view(open_project(root))
            page = index_page(view, "files/", live=True, token=self.server.token)
            self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
        elif path.startswith("/ts/") and path.endswith(".html"):
            view = project_view(open_project(root))
            name = path[len("/ts/") : -len(".html")]
            if name not in view.project.tilt_series:
                self._text(HTTPStatus.NOT_FOUND, f"no tilt series {name!r} in this project")
                return
            page = tilt_series_page(view, tilt_series_view(view, name), "../files/", live=True,
                                    token=self.server.token)  # fmt: skip
            self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
        elif path == "/api/state":
            project = open_project(root)
            self._json(HTTPStatus.OK, {"version": project_version(project),
                                       "alive": run_is_alive(root)})  # fmt: skip
        elif raw_path.startswith("/files/"):
            self._file(raw_path[len("/files/") :])
        else:
            self._text(HTTPStatus.NOT_FOUND, "not found")

    def _file(self, encoded: str) -> None:
        target = project_file(self.server.root, encoded)
        if target is None:
            self._text(HTTPStatus.NOT_FOUND, "not found (or not inside the project)")
            return
        kind = SERVED.get(target.suffix.lower())
        if kind is None:
            self._text(HTTPStatus.FORBIDDEN, f"{target.suffix} files are not served")
            return
        if kind.startswith("text/"):
            kind += "; charset=utf-8"
        self._send(HTTPStatus.OK, target.read_bytes(), kind)

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if self._authorised({}) != "header":  # the header only: never the cookie alone
            self._json(HTTPStatus.FORBIDDEN, {"error": "the X-Crboost-Token header is needed"})
            return
        if url.path != "/api/curation":
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send application/json"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"a body of 1 to {MAX_BODY} bytes"})
            return
        try:
            data = json.loads(self.rfile.read(length))
            message = curate(self.server.root, data)
        except (ValueError, CrboostError) as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
            return
        self._json(HTTPStatus.OK, {"message": message})


def curate(root: Path, data: object) -> str:
    """Apply one curation request: {"ts", "action": exclude|include, "tilt"?: movie name}."""
    from ..acquisition.manifest import read_index
    from ..project.curation import CurationError, edit

    if not isinstance(data, dict) or not isinstance(data.get("ts"), str):
        raise CurationError('expected {"ts": name, "action": "exclude"|"include", "tilt": movie}')
    tilt = data.get("tilt")
    if tilt is not None and not isinstance(tilt, str):
        raise CurationError("tilt: a movie name")
    index = read_index(root)
    known = {*index.names, *index.skipped} if index else set()
    return edit(root, data["ts"], [tilt] if tilt else [], str(data.get("action")), known)


def project_file(root: Path, encoded: str) -> Path | None:
    """The project file an URL path (still percent-encoded) names, or None if it is not a file
    inside the project (after following every symlink)."""
    text = unquote(encoded)  # once: a double-encoded "..", "%2e%2e", stays a literal name
    if "\x00" in text or "\\" in text:
        return None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *parts))
    if not real.startswith(real_root + os.sep) or not os.path.isfile(real):
        return None
    return Path(real)


class CrboostServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, root: Path, token: str, verbose: bool = False):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, Handler)
        self.root = root
        self.token = token
        self.verbose = verbose


def make_server(root: Path, host: str, port: int | None, default_port: int,
                token: str | None = None) -> CrboostServer:  # fmt: skip
    """Listen on host:port, or on the first free port from default_port on."""
    root = Path(root).resolve()
    open_project(root)  # a project it can show, or a one-line error now
    token = token or secrets.token_urlsafe(24)
    ports = [port] if port is not None else range(default_port, default_port + PORT_TRIES)
    last: OSError | None = None
    for candidate in ports:
        try:
            return CrboostServer((host, candidate), root, token)
        except OSError as e:
            last = e
    where = f"port {port}" if port is not None else f"ports {default_port}-{ports[-1]}"
    raise CrboostError(f"--host {host} {where}: cannot listen ({last.strerror if last else ''})")


def serve(root: Path, host: str, port: int | None, default_port: int) -> int:
    server = make_server(root, host, port, default_port)
    bound = server.server_address[1]
    shown = host if host not in ("0.0.0.0", "::", "") else os.uname().nodename
    print(f"crboost serve: {root.resolve()}")
    print(f"  open  http://{shown}:{bound}/?token={server.token}")
    if host in ("127.0.0.1", "localhost", "::1"):
        print(f"  from your desktop: ssh -L {bound}:127.0.0.1:{bound} {os.uname().nodename}  "
              "then open the same URL")  # fmt: skip
    print("  Ctrl-C stops it", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
