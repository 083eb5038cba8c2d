"""The web monitor's server with a plain HTTP client: the token, the Origin check, the static files,
and a real run reached through its control socket (listed, streamed as events, steered).

The page itself, in a real browser, is tests/test_web_browser.py.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiw_otel.control.client import ControlClient
from aiw_otel.control.socket_server import MAX_CLIENTS, ControlServer
from aiw_otel.web.live import LiveRuns
from aiw_otel.web.server import WebServer
from tests.cli_process import ROOT, aiw
from tests.leak_check import github_token, leaks, openai_key
from tests.processes import pid_of, process_state, until
from tests.recorded_runs import record_runs
from tests.test_console_tmux import Pane, ensure_tmux
from tests.test_control import WAIT_FOR_GO, long_then_ai, sleeper, steered  # noqa: F401  (steered: a fixture)
from tests.web_process import WebProcess, waiting_run


class Client:
    """Plain HTTP to the monitor: each call a fresh connection, the token sent only when asked."""

    def __init__(self, server: WebServer) -> None:
        self.server = server
        self.host = f"127.0.0.1:{server.server_port}"

    def request(self, method: str, path: str, *, token: bool = True, headers: dict[str, str] | None = None,
                body: Any = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.server_port, timeout=10)
        sent = dict(headers or {})
        if token:
            sent["X-AIW-Token"] = self.server.token
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            sent["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> Any:
        status, _, body = self.request("GET", path)
        assert status == 200, body
        return json.loads(body)

    def control(self, run: str, command: str, text: str = "") -> tuple[int, dict[str, Any]]:
        status, _, body = self.request("POST", "/api/live/control", headers={"Origin": f"http://{self.host}"},
                                       body={"run": run, "command": command, "text": text})
        return status, json.loads(body)

    def events(self, run: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The event stream's (event, data) pairs as they arrive."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.server_port, timeout=30)
        conn.request("GET", f"/api/live/events?run={run}", headers={"X-AIW-Token": self.server.token})
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        try:
            event = None
            for raw in response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    assert event is not None
                    yield event, json.loads(line.removeprefix("data: "))
        finally:
            conn.close()


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[Client]:
    """The monitor for `tmp_path/logs`, serving on a thread."""
    server = WebServer(LiveRuns(tmp_path / "logs"))
    server.start()
    yield Client(server)
    server.close()


ROUTES = [("GET", "/"), ("GET", "/static/live.js"), ("GET", "/api/live"), ("GET", "/api/live/events?run=x"),
          ("POST", "/api/live/control"), ("GET", "/api/runs"), ("GET", "/api/runs/0af7651916cd43dd"),
          ("GET", "/api/runs/0af7651916cd43dd/spans/b7ad6b7169203331"), ("GET", "/no/such/page")]


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_request_without_the_token_is_refused(monitor: Client, method: str, path: str):
    origin = {"Origin": f"http://{monitor.host}"}
    for headers in (origin, {**origin, "X-AIW-Token": "not-the-token"},
                    {**origin, "Cookie": f"{monitor.server.cookie_name}=not-the-token"}):
        status, _, body = monitor.request(method, path, token=False, headers=headers, body={"run": "x"})
        assert status == 403
        assert body.startswith(b"forbidden")
    status, _, _ = monitor.request(method, path + ("&" if "?" in path else "?") + "token=wrong", token=False,
                                   headers=origin, body={"run": "x"})
    assert status == 403


def test_the_token_in_the_first_address_becomes_a_strict_cookie(monitor: Client):
    status, headers, body = monitor.request("GET", f"/?token={monitor.server.token}", token=False)
    assert status == 200 and b"<title>aiw-otel</title>" in body
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{monitor.server.cookie_name}={monitor.server.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert headers["Referrer-Policy"] == "no-referrer"  # the address with the token goes nowhere else
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    status, _, body = monitor.request("GET", "/api/live", token=False,
                                      headers={"Cookie": f"{monitor.server.cookie_name}={monitor.server.token}"})
    assert status == 200 and json.loads(body) == {"runs": []}


def test_a_control_request_needs_the_pages_own_origin(monitor: Client):
    request = {"run": "none", "command": "pause"}
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Origin": f"http://{monitor.host}.evil.example"}):
        status, _, body = monitor.request("POST", "/api/live/control", headers=headers, body=request)
        assert (status, body) == (403, b"forbidden: a control request must come from the monitor's own page\n")
    status, _, body = monitor.request("POST", "/api/live/control", headers={"Origin": f"http://{monitor.host}"},
                                      body=request)
    assert status == 404 and json.loads(body)["message"] == "no such live run (it may have ended)"


def test_only_the_pages_own_files_are_served(monitor: Client):
    status, headers, body = monitor.request("GET", "/static/live.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and b"textContent" in body
    assert monitor.request("GET", "/static/style.css")[1]["Content-Type"].startswith("text/css")
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py", "/static/",
                 "/static/missing.js", "/static/.hidden.js", "/static//etc/passwd"):
        assert monitor.request("GET", path)[0] == 404, path


def test_malformed_control_requests_get_a_reason(monitor: Client):
    origin = {"Origin": f"http://{monitor.host}"}
    for body in ([1, 2], {"run": 1, "command": "pause"}, {"run": "x", "command": None}):
        status, _, reply = monitor.request("POST", "/api/live/control", headers=origin, body=body)
        assert status == 400 and json.loads(reply)["ok"] is False
    status, _, reply = monitor.request("POST", "/api/live/control", headers={**origin, "Content-Length": "0"})
    assert status == 400


def test_finished_runs_by_trace_id_or_a_reason(monitor: Client):
    assert monitor.get_json("/api/runs") == {"runs": [], "warnings": []}  # no log dir yet: no runs yet
    status, _, body = monitor.request("GET", "/api/runs/0af7651916cd43dd")
    assert status == 404 and json.loads(body)["message"] == (
        "no run with a trace id starting '0af7651916cd43dd' in the log files")
    status, _, body = monitor.request("GET", "/api/runs/not%20hex")
    assert status == 400 and json.loads(body)["message"] == "'not hex' is not a trace id (1 to 32 hex digits)"


def test_a_run_comes_as_compact_rows_and_each_span_whole_when_opened(monitor: Client, tmp_path: Path):
    record_runs(tmp_path / "logs", "only")
    (run,) = monitor.get_json("/api/runs")["runs"]
    status, headers, body = monitor.request("GET", f"/api/runs/{run['trace_id']}")
    detail = json.loads(body)
    assert status == 200 and body == json.dumps(detail, separators=(",", ":")).encode(), "no spaces between items"
    rows = [dict(zip(detail["fields"], row)) for row in detail["spans"]]
    assert all("attributes" not in row and "logs" not in row for row in rows)
    failed = next(row for row in rows if row["span_id"] == detail["failure"]["span_id"])
    span = monitor.get_json(f"/api/runs/{run['trace_id'][:10]}/spans/{failed['span_id']}")
    assert (span["span_id"], span["title"], span["outcome"]) == (failed["span_id"], failed["label"], "failed")
    assert span["attributes"]["process.exit.code"] == 3 and span["warnings"] == []
    status, _, body = monitor.request("GET", f"/api/runs/{run['trace_id']}/spans/{'0' * 16}")
    assert status == 404 and json.loads(body)["message"] == "no such span in the run's files"
    assert monitor.request("GET", f"/api/runs/{run['trace_id']}/spans/x/y")[0] == 400
    status, _, body = monitor.request("GET", f"/api/runs/{'f' * 32}/spans/{failed['span_id']}")
    assert status == 404 and "no run with a trace id starting" in json.loads(body)["message"]


def test_bound_to_loopback_by_default(tmp_path: Path):
    server = WebServer(LiveRuns(tmp_path))
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.url.startswith(f"http://127.0.0.1:{server.server_port}/?token=")
        assert len(server.token) >= 32
        assert WebServer(LiveRuns(tmp_path)).token != server.token  # per start
    finally:
        server.server_close()


def test_a_live_run_listed_streamed_and_steered_through_its_socket(steered, monitor: Client, tmp_path: Path):
    command, marker = sleeper()
    run = steered(long_then_ai(command))
    with ControlServer(run.relay, tmp_path / "logs" / "control.sock"):
        run.start()
        pid = pid_of(marker)
        (listed,) = until(lambda: monitor.get_json("/api/live")["runs"], "the run listed")
        assert listed["plan_name"] == "plan" and listed["state"] == "Running"
        assert listed["socket"] == str(tmp_path / "logs" / "control.sock")

        events = monitor.events(listed["run"])
        event, first = next(events)  # the whole current state first
        assert event == "update"
        assert [s["step_id"] for s in first["view"]["steps"]] == ["long", "ask"]
        assert first["labels"] == {"long": "long", "ask": "ask"}

        assert monitor.control(listed["run"], "resume") == (
            200, {"ok": False, "message": "cannot resume: the run is not paused (it is Running)", "data": None})
        status, reply = monitor.control(listed["run"], "pause")
        assert status == 200 and reply["ok"] and reply["message"].startswith("paused")
        until(lambda: process_state(pid) == "T", "the command stopped (state T)")
        until(lambda: next(events)[1]["view"]["state"] == "Paused", "a pushed update saying Paused")
        assert monitor.control(listed["run"], "details", "lo")[1]["data"] == {"select_step": "long"}
        assert monitor.control(listed["run"], "status")[0] == 400  # only the page's commands
        assert monitor.control(listed["run"], "context", "be brief")[1]["ok"]
        assert monitor.control(listed["run"], "resume")[1]["ok"]
        until(lambda: process_state(pid) in ("S", "R"), "the command running again")
        assert monitor.control(listed["run"], "cancel")[1]["ok"]

        last = until(lambda: (pair := next(events)) and pair[0] == "end" and pair, "the end event", 30)
        assert last[1]["view"]["state"] == "Cancelled"
        assert run.finish().value == "Cancelled"
        # Recorded as the web's requests; a socket client cannot pass for another front end.
        ControlClient(tmp_path / "logs" / "control.sock").request("details", "ask", source="console")
    sources = [(r.attributes["aiw.requested_step"], r.attributes["aiw.interaction.source"])
               for r in run.logs("details_requested")]
    assert sources == [("long", "web"), ("ask", "socket")]
    interactions = [(s.name, s.attributes["aiw.interaction.source"]) for s in run.cap.spans()
                    if s.name.startswith("user_interaction")]
    assert interactions == [("user_interaction pause", "web"), ("user_interaction context", "web"),
                            ("user_interaction resume", "web"), ("user_interaction cancel", "web")]
    assert monitor.get_json("/api/live") == {"runs": []}  # the socket is gone with its run
    status, _ = monitor.control(listed["run"], "pause")
    assert status == 404


def test_a_run_on_a_named_socket_outside_the_log_dir(steered, tmp_path: Path):
    run = steered(WAIT_FOR_GO)
    socket_path = tmp_path / "elsewhere" / "ctl.sock"
    server = WebServer(LiveRuns(tmp_path / "logs", [socket_path]))
    server.start()
    try:
        with ControlServer(run.relay, socket_path):
            run.start()
            (listed,) = Client(server).get_json("/api/live")["runs"]
            assert listed["socket"] == str(socket_path)
            (run.workspace / "go").write_text("")
            assert run.finish().value == "Completed"
    finally:
        server.close()


def test_a_page_that_leaves_frees_its_place_on_the_runs_socket_at_once(steered, monitor: Client, tmp_path: Path):
    """Pages come and go (reloads) while a long command changes nothing; each open stream holds one of
    the run's MAX_CLIENTS connections, so a stream whose page left must hang up now, not at the run's
    next change: more reloads than that, and the run still answers the page, `ctl` and `watch`."""
    run = steered(WAIT_FOR_GO)
    with ControlServer(run.relay, tmp_path / "logs" / "control.sock"):
        run.start()
        (listed,) = until(lambda: monitor.get_json("/api/live")["runs"], "the run listed")
        for _ in range(MAX_CLIENTS + 8):
            events = monitor.events(listed["run"])
            assert next(events)[0] == "update"
            events.close()
        ended = threading.Event()

        def follow() -> None:
            if any(event == "end" for event, _ in monitor.events(listed["run"])):
                ended.set()

        follower = threading.Thread(target=follow)
        follower.start()
        assert ControlClient(tmp_path / "logs" / "control.sock").request("status")["ok"]
        (run.workspace / "go").write_text("")
        follower.join(30)
        assert ended.is_set()
        assert run.finish().value == "Completed"


# -- as a user runs it: real processes --------------------------------------------------------------

def _read(url: str, token: str, **headers: str) -> bytes:
    request = urllib.request.Request(url, headers={"X-AIW-Token": token, **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


@pytest.mark.slow
def test_no_secret_of_a_plan_or_a_context_reaches_any_response(tmp_path: Path):
    key, token = openai_key(), github_token()
    (tmp_path / "plan.yaml").write_text(textwrap.dedent(f"""
        task_id: web-secrets
        name: deploy with {key}
        natural_language_goal: deploy with {token}
        plan:
          - step_id: wait
            name: wait for {token}
            description: wait for the go file, then use {key}
            agent_spec: {{type: analysis}}
            actions: [{{run: "while [ ! -f go ]; do sleep 0.05; done; echo {key}"}}]
          - step_id: leak
            description: "print {token}"
            depends_on: [wait]
            agent_spec: {{type: analysis}}
            actions: [{{run: "sh -c 'echo {key}; echo {token} >&2; exit 1'"}}]
    """))
    run = WebProcess("run", str(tmp_path / "plan.yaml"), "--no-console", "--web", "--workspace", str(tmp_path / "ws"),
                     "--log-dir", str(tmp_path / "logs"))
    bodies: list[bytes] = []
    try:
        origin = run.origin
        (listed,) = until(lambda: json.loads(_read(f"{origin}/api/live", run.token))["runs"], "the run listed", 30)
        bodies += [_read(f"{origin}/", run.token), _read(f"{origin}/static/live.js", run.token),
                   _read(f"{origin}/api/live", run.token)]
        for command, text in (("context", f"the key is {key}"), ("pause", ""), ("resume", "")):
            request = urllib.request.Request(
                f"{origin}/api/live/control", method="POST",
                data=json.dumps({"run": listed["run"], "command": command, "text": text}).encode(),
                headers={"X-AIW-Token": run.token, "Origin": origin, "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                bodies.append(response.read())
        (tmp_path / "ws" / "go").write_text("")
        stream = _read(f"{origin}/api/live/events?run={listed['run']}", run.token)  # to the run's end
        bodies.append(stream)
        assert b"event: end" in stream and b"sh -c" in stream  # the failed command's output is there...
        assert run.wait() == 1, run.output
    finally:
        run.stop()
    web = WebProcess("web", str(tmp_path / "logs"))  # the finished run, from its files
    try:
        (finished,) = json.loads(_read(f"{web.origin}/api/runs", web.token))["runs"]
        run_body = _read(f"{web.origin}/api/runs/{finished['trace_id']}", web.token)
        bodies += [json.dumps(finished).encode(), run_body]
        bodies += [_read(f"{web.origin}/api/runs/{finished['trace_id']}/spans/{row[0]}", web.token)  # each opened
                   for row in json.loads(run_body)["spans"]]
    finally:
        web.stop()
    text = b"\n".join(bodies).decode()
    assert "[REDACTED:" in text  # ...redacted
    assert leaks([key, token], text) == []
    assert leaks([key, token], run.output) == []


@pytest.mark.slow
def test_a_running_run_is_named_among_the_finished_runs_and_linked_to_its_live_view(tmp_path: Path):
    """Its plan span is written when it ends: until then its start record names it, and its run id
    finds it among the live runs. Killed, it is still named, and links nowhere."""
    with waiting_run(tmp_path) as (runner, logs):
        web = WebProcess("web", str(logs))
        try:
            (live,) = until(lambda: json.loads(_read(f"{web.origin}/api/live", web.token))["runs"], "the live run", 30)
            (listed,) = json.loads(_read(f"{web.origin}/api/runs", web.token))["runs"]
            assert (listed["plan"], listed["outcome"], listed["duration_s"]) == ("waiting", "running", None)
            assert listed["run_id"] == live["run_id"] and len(live["run_id"]) == 32
            assert listed["live"] == live["run"], "linked to the Live view of the run with its run id"
            detail = json.loads(_read(f"{web.origin}/api/runs/{listed['trace_id']}", web.token))
            assert (detail["plan"], detail["run_id"], detail["state"]) == ("waiting", live["run_id"], "running")

            runner.send_signal(signal.SIGKILL)
            runner.wait(30)
            (killed,) = json.loads(_read(f"{web.origin}/api/runs", web.token))["runs"]
            assert (killed["plan"], killed["run_id"], killed["live"]) == ("waiting", live["run_id"], None), \
                "no run answers on its socket: nothing to link"
        finally:
            web.stop()


@pytest.mark.slow
def test_aiw_otel_web_listens_on_loopback_only_and_says_so(tmp_path: Path):
    web = WebProcess("web", str(tmp_path / "logs"))
    try:
        assert web.url.startswith("http://127.0.0.1:")
        port = int(web.origin.rsplit(":", 1)[1])
        assert json.loads(_read(f"{web.origin}/api/live", web.token)) == {"runs": []}
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{web.origin}/api/live", timeout=10)
        assert refused.value.code == 403
        for address in _other_addresses():  # not reachable on the machine's other addresses
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=2).close()
        taken = aiw("web", str(tmp_path / "logs"), "--port", str(port))
        assert taken.returncode == 2
        assert taken.stderr.strip().splitlines() == [
            f"aiw-otel: cannot serve the web monitor on 127.0.0.1:{port}: Address already in use"]
    finally:
        web.stop()


def _other_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (none in some sandboxes)."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [address for address in found if "." in address and not address.startswith("127.")]


def test_a_refused_post_is_not_read_as_the_next_request(monitor: Client):
    """A 403 leaves the refused body unread: the connection closes rather than parse it as a request."""
    conn = http.client.HTTPConnection("127.0.0.1", monitor.server.server_port, timeout=10)
    smuggled = b"GET /api/live HTTP/1.1\r\nHost: x\r\nX-AIW-Token: " + monitor.server.token.encode() + b"\r\n\r\n"
    try:
        conn.request("POST", "/api/live/control", body=smuggled, headers={"Origin": "http://evil.example"})
        response = conn.getresponse()
        assert response.status == 403 and response.getheader("Connection") == "close"
        response.read()
        assert conn.sock is None  # closed: nothing more is served on it
    finally:
        conn.close()


def test_every_live_run_of_a_log_dir_newest_first(steered, monitor: Client, tmp_path: Path):
    first, second = steered(WAIT_FOR_GO), steered(WAIT_FOR_GO)
    with ControlServer(first.relay, tmp_path / "logs" / "a" / "control.sock"), \
            ControlServer(second.relay, tmp_path / "logs" / "b" / "control.sock"):
        first.start()
        second.start()
        runs = until(lambda: len(found := monitor.get_json("/api/live")["runs"]) == 2 and found, "both runs listed")
        assert [run["socket"] for run in runs] == [str(tmp_path / "logs" / name / "control.sock") for name in "ba"]
        assert len({run["run"] for run in runs}) == 2
        assert {run["plan_name"] for run in runs} == {"plan"}
        (first.workspace / "go").write_text("")  # the two share the workspace: both go on
        assert first.finish().value == second.finish().value == "Completed"


@pytest.mark.slow
def test_demo_web_beside_the_live_console_leaves_its_screen_whole(tmp_path: Path):
    """`demo --web` with the live console in a real terminal (tmux): the address is in the console's
    header while it holds the screen (and printed when it lets go), never in the log files; nothing
    the server does (refusals, a page that leaves mid-stream) writes into the console's screen."""
    tmux = ensure_tmux()
    name, output = f"aiw-web-{uuid.uuid4().hex[:8]}", tmp_path / "pane.out"
    command = (f"sleep 0.5; {sys.executable} -m aiw_otel.cli demo --web --log-dir {tmp_path / 'logs'} "
               f"--workspace {tmp_path / 'ws'}; echo EXIT=$?; sleep 600")
    subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", "140", "-y", "40", "-e", "TERM=xterm-256color",
                    "-e", f"PYTHONPATH={ROOT}", "-c", str(tmp_path), command], check=True)
    pane = Pane(tmux, name)
    try:
        subprocess.run([tmux, "pipe-pane", "-t", name, f"cat > {output}"], check=True)  # before the run prints
        address = until(lambda: re.search(r"web monitor at (http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))",
                                          output.read_text(errors="replace") if output.exists() else ""),
                        "the address in the pane's output", 30)
        origin, token = f"http://127.0.0.1:{address.group(2)}", address.group(3)
        header = pane.wait_for("Plan: greet-release").splitlines()[:3]
        assert f"web: {address.group(1)}" in header[2], header  # the header's lower border: on screen
        (listed,) = until(lambda: json.loads(_read(f"{origin}/api/live", token))["runs"], "the run listed", 30)
        for path in ("/api/live", "/nowhere", "/static/../x"):
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(origin + path, timeout=10)
        with socket.create_connection(("127.0.0.1", int(address.group(2))), timeout=10) as left:  # leaves mid-stream
            left.sendall(f"GET /api/live/events?run={listed['run']} HTTP/1.1\r\nHost: x\r\n"
                         f"X-AIW-Token: {token}\r\n\r\n".encode())
            assert left.recv(100).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", int(address.group(2))), timeout=10) as garbage:
            garbage.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        screen = pane.wait_for("press q to quit", 90)
        assert "Plan: greet-release" in screen.splitlines()[1]
        pane.keys("q")
        pane.wait_for("EXIT=0", 60)
        # Everything written to the terminal, not only the last frame (a redraw hides a stray line)
        written = output.read_text(errors="replace")
        for stray in ("Traceback", "HTTP/1.1", "GET /", "code 400", "forbidden", "Exception"):
            assert stray not in written
        written_files = [path for path in (tmp_path / "logs").rglob("*") if path.is_file()]
        assert len(written_files) >= 3 and not [path for path in written_files if token.encode() in path.read_bytes()]
    finally:
        subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
