"""The web monitor's HTTP server: the page, its static files and its JSON / event routes.

The standard library's ThreadingHTTPServer, one thread per request (an event stream holds its
thread while the page is open). Bound to 127.0.0.1 by default; even there, any local user and any
web page the user visits can reach a loopback port, so:

* every request needs the per-start token printed in the URL: in the query of the first page load,
  which sets it as a cookie (HttpOnly, SameSite=Strict, so another site's page cannot send it), or
  in the `X-AIW-Token` header; without it, 403 and nothing else;
* a control request (POST) must come from the page itself: its Origin must be this server's, or 403;
* responses forbid framing, sniffing, referrers and caching, and the page runs only its own scripts.

What it serves went through redaction before it got here (the run's view, the log files), and the
page puts it into the document as text, never as markup.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import select
import socket
import threading
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from aiw_otel.control.client import ControlClient, NoRunListening
from aiw_otel.web.live import LiveRuns, UnknownRun, page_events

if TYPE_CHECKING:
    from aiw_otel.readback.files import Warn  # the history routes load readback when first asked

STATIC = Path(__file__).resolve().parent / "static"
#: The page's own files: plain names, no paths.
STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(html|js|css|png|svg)$")
CONTENT_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                 "css": "text/css; charset=utf-8", "png": "image/png", "svg": "image/svg+xml"}
#: One span of a finished run, opened on its page: /api/runs/TRACE/spans/SPAN.
SPAN_PATH = re.compile(r"/api/runs/([^/]+)/spans/([^/]+)")
TOKEN_HEADER = "X-AIW-Token"
#: A control request's body is a command and a line of context: nothing legitimate is near this.
MAX_BODY_BYTES = 64 * 1024
NO_SUCH_RUN = {"ok": False, "message": "no such live run (it may have ended)"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the first page's URL carries the token
    "Cache-Control": "no-store",
}


T = TypeVar("T")


def with_warnings(read: Callable[[Warn], T]) -> tuple[T, list[str]]:
    """What `read` returns and the bad lines it met, a few a file as `logs` says them: for the page,
    not stderr (beside the console it would tear its screen)."""
    from aiw_otel.readback.bad_lines import BadLines

    warnings: list[str] = []
    bad_lines = BadLines(warnings.append)
    found = read(bad_lines)
    bad_lines.finish()
    return found, warnings


class WebServer(ThreadingHTTPServer):
    """Serve the monitor for `live` on (host, port) until `close()`; port 0 takes any free one."""

    daemon_threads = True  # an open event stream must not keep the process alive

    def __init__(self, live: LiveRuns, host: str = "127.0.0.1", port: int = 0) -> None:
        self.live = live
        self.token = secrets.token_urlsafe(24)
        super().__init__((host, port), _Handler)
        self.cookie_name = f"aiw_otel_token_{self.server_port}"  # one per port: two monitors, two cookies
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address to open, token included."""
        host = str(self.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server_port}/?token={self.token}"

    def start(self) -> None:
        """Serve on a thread of its own (beside a run's console)."""
        self._thread = threading.Thread(target=self.serve_forever, name="aiw-otel-web", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(2.0)
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that went away mid-response is not an error; nothing is printed either way
        (beside the live console a traceback on stderr would tear its screen)."""

    def authorised(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())


class _Handler(BaseHTTPRequestHandler):
    server: WebServer
    protocol_version = "HTTP/1.1"
    #: Seconds a connection may sit idle (or a page not read its stream) before it is closed: a
    #: client that opens connections and sends nothing must not hold threads for ever.
    timeout = 60
    server_version = "aiw-otel"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: stderr belongs to the run's console."""

    # -- entry points -------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        token = self._token(query)
        if not self.server.authorised(token):
            self._send_text(HTTPStatus.FORBIDDEN, "forbidden: open the address aiw-otel printed, with its token\n")
            return
        if method == "POST" and not self._same_origin():
            self._send_text(HTTPStatus.FORBIDDEN, "forbidden: a control request must come from the monitor's own page\n")
            return
        try:
            self._route(method, url.path, query)
        except (ConnectionError, TimeoutError):
            raise  # the browser left (handle_error is quiet about it)
        except Exception as error:  # one broken request gets an answer; the server goes on
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                            {"ok": False, "message": f"internal error: {type(error).__name__}"})

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        if method == "GET" and path == "/":
            self._static("index.html", set_cookie=True)
        elif method == "GET" and path.startswith("/static/"):
            self._static(path.removeprefix("/static/"))
        elif method == "GET" and path == "/api/live":
            self._send_json(HTTPStatus.OK, {"runs": [run.summary() for run in self.server.live.runs()]})
        elif method == "GET" and path == "/api/live/events":
            self._events(_first(query, "run"))
        elif method == "POST" and path == "/api/live/control":
            self._control()
        elif method == "GET" and path == "/api/runs":
            self._runs()
        elif method == "GET" and (span := SPAN_PATH.fullmatch(path)):
            self._span(unquote(span.group(1)), unquote(span.group(2)))
        elif method == "GET" and path.startswith("/api/runs/"):
            self._run(unquote(path.removeprefix("/api/runs/")))
        else:
            self._send_text(HTTPStatus.NOT_FOUND, "not found\n")

    # -- access -------------------------------------------------------------------------------
    def _token(self, query: dict[str, list[str]]) -> str | None:
        given = _first(query, "token") or self.headers.get(TOKEN_HEADER)
        if given:
            return given
        try:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = cookie.get(self.server.cookie_name)
        return morsel.value if morsel is not None else None

    def _same_origin(self) -> bool:
        """The Origin a browser puts on every POST names the page's server: ours, as the browser
        addressed it. Another site's page (or one without any Origin) is refused."""
        origin, host = self.headers.get("Origin"), self.headers.get("Host")
        return bool(origin and host) and origin == f"http://{host}"

    # -- routes -------------------------------------------------------------------------------
    def _static(self, name: str, set_cookie: bool = False) -> None:
        match = STATIC_NAME.match(name)
        path = STATIC / name
        if match is None or not path.is_file():
            self._send_text(HTTPStatus.NOT_FOUND, "not found\n")
            return
        headers = {}
        if set_cookie:
            headers["Set-Cookie"] = (f"{self.server.cookie_name}={self.server.token}; Path=/; HttpOnly; "
                                     "SameSite=Strict")
        self._send(HTTPStatus.OK, CONTENT_TYPES[match.group(1)], path.read_bytes(), headers)

    def _events(self, run: str) -> None:
        """Server-Sent Events: the run's whole state first (so a page that reconnects is whole
        again), then each change as the run's socket coalesces them (at most 4 a second), `end` last."""
        try:
            client = self.server.live.client(run)
        except UnknownRun:
            self._send_json(HTTPStatus.NOT_FOUND, NO_SUCH_RUN)
            return
        events = page_events(client)
        try:
            event, data = next(events)
        except (OSError, ValueError, StopIteration):
            events.close()
            self._send_json(HTTPStatus.NOT_FOUND, NO_SUCH_RUN)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Connection", "close")  # the stream ends with the response
        self._security_headers()
        self.end_headers()
        streaming = threading.Event()
        streaming.set()
        threading.Thread(target=_hang_up_when_gone, args=(self.connection, client, streaming),
                         name="aiw-otel-web-stream", daemon=True).start()
        try:
            while True:
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode())
                self.wfile.flush()
                if event == "end":
                    return
                event, data = next(events)
        except (StopIteration, OSError, ValueError):
            return  # the run went away, or the page did
        finally:
            streaming.clear()
            events.close()  # hang up on the run's socket now, not when collected

    def _runs(self) -> None:
        """The finished (and running) runs in the log files, newest first, a running one linked to its
        Live view when it answers on a socket; a bad line is a warning."""
        from aiw_otel.web.history import run_list

        runs, warnings = with_warnings(lambda warn: run_list(self.server.live.log_dir, warn=warn,
                                                             live=self.server.live.by_run_id))
        self._send_json(HTTPStatus.OK, {"runs": runs, "warnings": warnings})

    def _run(self, trace_prefix: str) -> None:
        """One run's waterfall rows, figures and failure, by its trace id or a unique prefix of it."""
        from aiw_otel.web.history import run_detail

        self._finished(lambda warn: run_detail(self.server.live.log_dir, trace_prefix, warn=warn),
                       "the run's records are gone from the files")

    def _span(self, trace_id: str, span_id: str) -> None:
        """One span of a run with its attributes, events and log lines (the page opens them one by one)."""
        from aiw_otel.web.history import span_detail

        self._finished(lambda warn: span_detail(self.server.live.log_dir, trace_id, span_id, warn=warn),
                       "no such span in the run's files")

    def _finished(self, read: Callable[[Warn], dict[str, Any] | None], missing: str) -> None:
        """What `read` found in the files, with the lines it could not read; a lookup that names no
        single run, or nothing found, as one line."""
        from aiw_otel.web.history import AmbiguousTrace, TraceLookupError, UnknownTrace

        try:
            found, warnings = with_warnings(read)
        except TraceLookupError as error:
            status = HTTPStatus.NOT_FOUND if isinstance(error, UnknownTrace) else HTTPStatus.BAD_REQUEST
            candidates = error.candidates if isinstance(error, AmbiguousTrace) else []
            self._send_json(status, {"ok": False, "message": str(error), "candidates": candidates})
            return
        if found is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"ok": False, "message": missing})
            return
        self._send_json(HTTPStatus.OK, {**found, "warnings": warnings})

    def _control(self) -> None:
        request = self._json_body()
        if request is None:
            return
        run, command, text = request.get("run"), request.get("command"), request.get("text", "")
        if not isinstance(run, str) or not isinstance(command, str) or not isinstance(text, str):
            self._send_json(HTTPStatus.BAD_REQUEST, {"ok": False, "message": 'expected {"run", "command", "text"} strings'})
            return
        try:
            reply = self.server.live.control(run, command, text)
        except ValueError as error:
            self._send_json(HTTPStatus.BAD_REQUEST, {"ok": False, "message": str(error)})
        except (UnknownRun, NoRunListening):
            self._send_json(HTTPStatus.NOT_FOUND, NO_SUCH_RUN)
        except OSError as error:
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"ok": False, "message": f"the run did not answer: {error}"})
        else:
            self._send_json(HTTPStatus.OK, reply)

    def _json_body(self) -> dict[str, Any] | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY_BYTES:
            self._send_json(HTTPStatus.BAD_REQUEST, {"ok": False, "message": f"expected a JSON body of at most {MAX_BODY_BYTES} bytes"})
            return None
        try:
            body = json.loads(self.rfile.read(length))
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            self._send_json(HTTPStatus.BAD_REQUEST, {"ok": False, "message": "expected a JSON object"})
            return None
        return body

    # -- responses ----------------------------------------------------------------------------
    def _send_json(self, status: HTTPStatus, value: Any) -> None:
        self._send(status, "application/json", json.dumps(value, default=str, separators=(",", ":")).encode())

    def _send_text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, "text/plain; charset=utf-8", text.encode())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status >= 400:  # a refused request's body may be unread: it must not be taken for the next request
            self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._security_headers()
        self.end_headers()
        self.wfile.write(body)

    def _security_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)


def _hang_up_when_gone(browser: socket.socket, client: ControlClient, streaming: threading.Event) -> None:
    """A page that closes its event stream sends nothing first: its connection just becomes readable
    (end of file). The stream's thread is then blocked on the run's socket until the run's next
    change, which may be minutes away; hanging up on the run frees it (and the run's client slot,
    of which it has 32) now."""
    while streaming.is_set():
        try:
            readable, _, _ = select.select([browser], [], [], 1.0)
        except (OSError, ValueError):  # closed under us: the stream is over anyway
            break
        if readable:
            break
    client.hang_up()


def _first(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    return values[0] if values else ""


def open_server(live: LiveRuns, host: str = "127.0.0.1", port: int = 0) -> WebServer:
    """The server, or one clear line (a ValueError: the CLI's exit 2) when it cannot listen there."""
    try:
        return WebServer(live, host, port)
    except OSError as error:
        raise ValueError(f"cannot serve the web monitor on {host}:{port}: {error.strerror or error}") from None
