"""`aiw-otel ship`: send a log directory's traces, logs and metrics to an OTLP endpoint, afterwards.

A run done offline reaches the collector later, and shipping twice must not duplicate anything.
Each line is one export request; after the endpoint acknowledges it, the number of lines done is
saved under the file's identity (its signal and a hash of its first line), which the file keeps
when it is rotated to `.1` and gzip-compressed. A failure stops the ship; the next one resumes
after the last acknowledged line.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol
from urllib.parse import urlsplit, urlunsplit

import grpc
import requests
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from aiw_otel.config_yaml import parse_pairs
from aiw_otel.private_file import open_private
from aiw_otel.readback.files import SignalFile, Warn, find_files, parse_line, read_lines, warn_on_stderr

STATE_FILE = ".ship-state.json"
ALL_SIGNALS = ("traces", "logs", "metrics")
PROTOCOLS = ("http/protobuf", "grpc")
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


@dataclass(frozen=True)
class SignalKind:
    """How one signal travels: its JSON key, request and response messages, HTTP path and gRPC stub."""

    name: str
    json_key: str
    request: type[Message]
    response: type[Message]
    http_path: str
    stub: Any
    rejected_field: str


SIGNALS = (
    SignalKind("traces", "resourceSpans", trace_service_pb2.ExportTraceServiceRequest,
               trace_service_pb2.ExportTraceServiceResponse, "/v1/traces", trace_service_pb2_grpc.TraceServiceStub,
               "rejected_spans"),
    SignalKind("logs", "resourceLogs", logs_service_pb2.ExportLogsServiceRequest,
               logs_service_pb2.ExportLogsServiceResponse, "/v1/logs", logs_service_pb2_grpc.LogsServiceStub,
               "rejected_log_records"),
    SignalKind("metrics", "resourceMetrics", metrics_service_pb2.ExportMetricsServiceRequest,
               metrics_service_pb2.ExportMetricsServiceResponse, "/v1/metrics",
               metrics_service_pb2_grpc.MetricsServiceStub, "rejected_data_points"),
)


class ShipError(Exception):
    """The endpoint refused or could not be reached; what was acknowledged before stays acknowledged."""


@dataclass(frozen=True)
class Target:
    endpoint: str
    protocol: str = "http/protobuf"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0

    @property
    def shown(self) -> str:
        """The endpoint as printed and stored: without any user:password it carries."""
        parts = urlsplit(self.endpoint)
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=host)).rstrip("/")

    @property
    def key(self) -> str:
        """What the resume state is kept under: shipping to a second collector starts from the beginning."""
        return f"{self.shown} ({self.protocol})"


def parse_headers(text: str) -> dict[str, str]:
    """`k=v,k2=v2`, percent-decoded as in OTEL_EXPORTER_OTLP_HEADERS; names lowercased (gRPC metadata
    requires it, HTTP does not care); ValueError naming a pair without `=`."""
    return {key.lower(): value for key, value in parse_pairs(text).items()}


# ---------------------------------------------------------------- lines -> requests


def _ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping of `bytes` wants base64. Nothing else differs."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                _ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_base64(item)
    return node


def to_request(document: dict[str, Any]) -> tuple[SignalKind, Message]:
    """The export request a line holds; ValueError when it is not one."""
    kind = next((k for k in SIGNALS if k.json_key in document), None)
    if kind is None:
        raise ValueError(f"not an OTLP export request (keys: {', '.join(sorted(document)) or 'none'})")
    request = kind.request()
    try:
        json_format.ParseDict(_ids_to_base64(document), request, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise ValueError(f"not valid OTLP JSON ({error})") from error
    return kind, request


def count_items(kind: SignalKind, request: Any) -> int:
    """Spans, log records or metric data points in a request, for the summary."""
    if kind.name == "traces":
        return sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)
    if kind.name == "logs":
        return sum(len(scope.log_records) for rl in request.resource_logs for scope in rl.scope_logs)
    total = 0
    for rm in request.resource_metrics:
        for scope in rm.scope_metrics:
            for metric in scope.metrics:
                data = metric.WhichOneof("data")
                total += len(getattr(metric, data).data_points) if data else 0
    return total


# ---------------------------------------------------------------- senders


class Sender(Protocol):
    def send(self, kind: SignalKind, request: Message) -> Message:
        """Deliver one request; the endpoint's response, or ShipError."""

    def close(self) -> None: ...


class HttpSender:
    def __init__(self, target: Target) -> None:
        self._target = target
        self._session = requests.Session()
        self._session.headers.update({**target.headers, "Content-Type": "application/x-protobuf"})

    def send(self, kind: SignalKind, request: Message) -> Message:
        url = self._target.endpoint.rstrip("/") + kind.http_path
        try:
            response = self._session.post(url, data=request.SerializeToString(), timeout=self._target.timeout_s)
        except requests.RequestException as error:
            raise ShipError(f"POST {url} failed: {error}") from error
        if not 200 <= response.status_code < 300:
            detail = response.text.strip()[:200]
            raise ShipError(f"POST {url} answered {response.status_code} {response.reason}"
                            + (f": {detail}" if detail else ""))
        answer = kind.response()
        try:
            answer.ParseFromString(response.content)
        except DecodeError:  # a 2xx acknowledges the request whatever its body says; only partial success is lost
            pass
        return answer

    def close(self) -> None:
        self._session.close()


class GrpcSender:
    def __init__(self, target: Target) -> None:
        self._target = target
        address = target.endpoint
        if address.startswith("https://"):
            self._channel = grpc.secure_channel(address[len("https://"):].rstrip("/"), grpc.ssl_channel_credentials())
        else:
            self._channel = grpc.insecure_channel(address.removeprefix("http://").rstrip("/"))
        self._stubs = {kind.name: kind.stub(self._channel) for kind in SIGNALS}

    def send(self, kind: SignalKind, request: Message) -> Message:
        try:
            # The generated stubs are untyped; the Export response is the signal's protobuf message.
            response: Message = self._stubs[kind.name].Export(request, timeout=self._target.timeout_s,
                                                              metadata=tuple(self._target.headers.items()))
            return response
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            details = error.details() if hasattr(error, "details") else str(error)
            raise ShipError(f"gRPC export to {self._target.shown} failed: {getattr(code, 'name', code)}: {details}") from error

    def close(self) -> None:
        self._channel.close()


def make_sender(target: Target) -> Sender:
    if target.protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {target.protocol!r} (expected one of {', '.join(PROTOCOLS)})")
    return GrpcSender(target) if target.protocol == "grpc" else HttpSender(target)


# ---------------------------------------------------------------- resume state


def file_identity(signal: str | None, first_line: bytes) -> str:
    """Survives rotation and compression: the first line of a file never changes, its name and bytes on disk do."""
    return hashlib.sha256((signal or "").encode() + b"\0" + first_line).hexdigest()


class ShipState:
    """`.ship-state.json` in one log directory: lines acknowledged per endpoint and file identity."""

    def __init__(self, directory: Path, target: Target) -> None:
        self.path = directory / STATE_FILE
        self._key = target.key
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._data: dict[str, Any] = data if isinstance(data, dict) and isinstance(data.get("endpoints"), dict) else {}
        except FileNotFoundError:
            self._data = {}
        except (OSError, ValueError) as error:
            raise ShipError(f"cannot read {self.path} ({error}); remove it to ship everything again") from error
        if not self._data:
            self._data = {"version": 1, "endpoints": {}}
        self._done: dict[str, int] = self._data["endpoints"].setdefault(self._key, {})

    def shipped(self, identity: str) -> int:
        return int(self._done.get(identity, 0))

    def record(self, identity: str, lines: int) -> None:
        """Saved at once and atomically: a ship killed right after a request never sends it again."""
        self._done[identity] = lines
        partial = self.path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
        # Private: it names the endpoints shipped to (their credentials are stripped, the hosts are not).
        fd = open_private(partial, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(self._data, stream, indent=1, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, self.path)


# ---------------------------------------------------------------- shipping


@dataclass
class Summary:
    requests: int = 0
    items: dict[str, int] = field(default_factory=lambda: {kind.name: 0 for kind in SIGNALS})
    already_shipped: int = 0
    bad_lines: int = 0
    rejected: list[str] = field(default_factory=list)

    def describe(self, target: Target) -> str:
        text = (f"shipped {self.requests} request{'s' if self.requests != 1 else ''} to {target.shown} "
                f"({target.protocol}): {self.items['traces']} spans, {self.items['logs']} log records, "
                f"{self.items['metrics']} metric points; {self.already_shipped} lines skipped as already shipped")
        if self.bad_lines:
            text += f", {self.bad_lines} unreadable lines skipped"
        return "\n".join([text, *self.rejected])


def ship(paths: Iterable[str | os.PathLike[str]], target: Target, summary: Summary | None = None,
         warn: Warn = warn_on_stderr, signals: Iterable[str] = ALL_SIGNALS) -> Summary:
    """Send every line of `signals` not yet acknowledged, oldest first; ShipError stops it
    (`summary` keeps the progress). A traces-only backend is shipped to with `signals=("traces",)`."""
    summary = summary if summary is not None else Summary()
    files = find_files(paths, tuple(signals))
    states: dict[Path, ShipState] = {}
    sender = make_sender(target)
    try:
        for file in files:
            directory = file.path.resolve().parent
            state = states.get(directory) or states.setdefault(directory, ShipState(directory, target))
            _ship_file(file, sender, state, summary, warn)
    finally:
        sender.close()
    return summary


def _ship_file(file: SignalFile, sender: Sender, state: ShipState, summary: Summary, warn: Warn) -> None:
    lines = read_lines(file.path, warn)
    first = next(lines, None)
    if first is None:
        return
    identity = file_identity(file.signal, first[1])
    done = state.shipped(identity)
    for number, raw in itertools.chain([first], lines):
        if number <= done:
            summary.already_shipped += 1
            continue
        where = f"{file.path}:{number}"
        request = _request_or_warn(where, raw, warn)
        if request is None:
            summary.bad_lines += 1
        else:
            kind, message = request
            try:
                response = sender.send(kind, message)
            except ShipError as error:
                raise ShipError(f"{error} (sending {where})") from error
            summary.requests += 1
            summary.items[kind.name] += count_items(kind, message)
            _note_partial_success(kind, response, where, summary)
        state.record(identity, number)


def _request_or_warn(where: str, raw: bytes, warn: Warn) -> tuple[SignalKind, Message] | None:
    document = parse_line(where, raw, warn)
    if document is None:
        return None
    try:
        return to_request(document)
    except ValueError as error:
        warn(f"{where}: {error}; skipped")
        return None


def _note_partial_success(kind: SignalKind, response: Any, where: str, summary: Summary) -> None:
    """The endpoint took the request but dropped part of it: reported, not retried (it would drop it again)."""
    partial = getattr(response, "partial_success", None)
    if partial is None:
        return
    rejected = getattr(partial, kind.rejected_field, 0)
    if rejected:
        summary.rejected.append(f"{where}: the endpoint rejected {rejected} {kind.name} items: {partial.error_message}")
