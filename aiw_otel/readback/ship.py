"""`aiw-otel ship`: send a log directory's traces, logs and metrics to an OTLP endpoint, afterwards.

A run done offline reaches the collector later, and shipping twice must not duplicate anything.
Each line is one export request; consecutive lines of a file are merged into one request of up to
`batch_bytes` (a request per line was a round trip and an fsync per line). After the endpoint
acknowledges a request, the number of lines done is saved under the file's identity (its signal
and a hash of its first line), which the file keeps when it is rotated to `.1` and
gzip-compressed. A failure stops the ship; the next one resumes after the last acknowledged line.

`http/json` sends the lines as they are written (they are OTLP/JSON already: hex ids, as the
specification wants); `http/protobuf` and `grpc` write each line's protobuf directly
(otlp_proto), a request being the concatenation of its lines' (protobuf merges repeated fields
that way). Lines are converted (in worker processes, with megabytes of protobuf to make) while a
thread sends the batch before and records it once acknowledged.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import hashlib
import importlib
import itertools
import json
import os
import queue
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from aiw_otel.otlp_values import TlsFiles, parse_pairs, quiet_grpc
from aiw_otel.private_file import open_private
from aiw_otel.readback.files import SignalFile, Warn, find_files, parse_line, read_lines, warn_on_stderr

if TYPE_CHECKING:
    from google.protobuf.message import Message

STATE_FILE = ".ship-state.json"
ALL_SIGNALS = ("traces", "logs", "metrics")
PROTOCOLS = ("http/protobuf", "http/json", "grpc")
#: What OTEL_EXPORTER_OTLP_COMPRESSION may say (and deflate, as the runner's exporters take it);
#: `none`, the specification's default, sends bodies as they are.
COMPRESSIONS = ("none", "gzip", "deflate")
#: Most bytes of OTLP/JSON lines merged into one request: gRPC servers refuse messages over 4 MiB
#: by default, and the protobuf of 4 MiB of JSON is well under that.
BATCH_BYTES = 4 * 1024 * 1024
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId"})


@dataclass(frozen=True)
class SignalKind:
    """How one signal travels: its JSON key, HTTP path, gRPC method, and (loaded only when needed:
    loading protobuf and the OTLP messages was most of a small ship) its request and response messages."""

    name: str
    json_key: str
    http_path: str
    rejected_field: str  # the count of items the endpoint dropped, in its partial_success
    service: str  # the OTLP service's name: Trace, Logs, Metrics
    package: str  # of its generated modules

    @property
    def grpc_method(self) -> str:
        return f"/opentelemetry.proto.collector.{self.package}.v1.{self.service}Service/Export"

    def _module(self) -> Any:
        return importlib.import_module(f"opentelemetry.proto.collector.{self.package}.v1.{self.package}_service_pb2")

    @property
    def request(self) -> type[Message]:
        message: type[Message] = getattr(self._module(), f"Export{self.service}ServiceRequest")
        return message

    @property
    def response(self) -> type[Message]:
        message: type[Message] = getattr(self._module(), f"Export{self.service}ServiceResponse")
        return message


SIGNALS = (
    SignalKind("traces", "resourceSpans", "/v1/traces", "rejected_spans", "Trace", "trace"),
    SignalKind("logs", "resourceLogs", "/v1/logs", "rejected_log_records", "Logs", "logs"),
    SignalKind("metrics", "resourceMetrics", "/v1/metrics", "rejected_data_points", "Metrics", "metrics"),
)


class ShipError(Exception):
    """The endpoint refused or could not be reached; what was acknowledged before stays acknowledged."""


@dataclass(frozen=True)
class Target:
    """Where and how some signals are sent: `endpoint` is the base the signal's path is appended to
    (OTEL_EXPORTER_OTLP_ENDPOINT, `--endpoint`) or, `as_is`, one signal's own URL, used unchanged as
    the specification says of OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT; for grpc, the server's address."""

    endpoint: str
    protocol: str = "http/protobuf"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    compression: str = "none"
    as_is: bool = False
    #: Used over https only (OTEL_EXPORTER_OTLP_CERTIFICATE etc.); not part of `key`: the same collector.
    tls: TlsFiles = TlsFiles()

    @property
    def shown(self) -> str:
        """The endpoint as printed and stored: without any user:password it carries."""
        parts = urlsplit(self.endpoint)
        host = parts.netloc.rpartition("@")[2]
        without_credentials = urlunsplit(parts._replace(netloc=host))
        return without_credentials if self.as_is else without_credentials.rstrip("/")

    @property
    def key(self) -> str:
        """What the resume state is kept under: shipping to a second collector starts from the beginning."""
        return f"{self.shown} ({self.protocol})"

    def url(self, kind: SignalKind) -> str:
        """Where an HTTP request of `kind` is posted (credentials go as a header, never in it)."""
        return self.shown if self.as_is else self.shown + kind.http_path


def parse_headers(text: str) -> dict[str, str]:
    """`k=v,k2=v2`, percent-decoded as in OTEL_EXPORTER_OTLP_HEADERS; ValueError naming a pair without `=`."""
    return header_names_lowercased(parse_pairs(text))


def header_names_lowercased(headers: Mapping[str, str]) -> dict[str, str]:
    """gRPC metadata requires lowercase names; HTTP does not care."""
    return {key.lower(): value for key, value in headers.items()}


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


def encode_request(document: dict[str, Any]) -> tuple[SignalKind, bytes]:
    """The export request a line holds, in protobuf; ValueError when it is not one. What protobuf's
    JSON parser would make of it, written directly (otlp_proto) or, for a shape the encoder leaves
    to it, made by that parser."""
    kind = next((k for k in SIGNALS if k.json_key in document), None)
    if kind is None:
        raise ValueError(f"not an OTLP export request (keys: {', '.join(sorted(document)) or 'none'})")
    from aiw_otel.readback import otlp_proto

    try:
        return kind, otlp_proto.encode(document)
    except (otlp_proto.Unknown, ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError):
        pass  # a shape the encoder does not cover: protobuf's parser decides
    from google.protobuf import json_format

    request = kind.request()
    try:
        json_format.ParseDict(_ids_to_base64(document), request, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise ValueError(f"not valid OTLP JSON ({error})") from error
    return kind, request.SerializeToString()


# ---------------------------------------------------------------- batches


@dataclass
class Batch:
    """Consecutive lines of one file and one signal, sent as one request: each line's protobuf
    concatenated, or (http/json) each line's array of resources joined."""

    kind: SignalKind
    first: int  # line numbers in the file (bad lines between and after its lines are covered too)
    last: int = 0
    lines: int = 0
    items: int = 0
    size: int = 0
    parts: list[bytes] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.first}" if self.first == self.last else f"{self.first}-{self.last}"

    def json_body(self) -> bytes:
        return b'{"' + self.kind.json_key.encode() + b'":[' + b",".join(self.parts) + b"]}"

    def protobuf_body(self) -> bytes:
        return b"".join(self.parts)


def _json_part(kind: SignalKind, raw: bytes, document: dict[str, Any]) -> bytes:
    """The text of a line's array of resources: cut out of the line when it is written compactly with
    that one key (as the file sink writes it), else written again."""
    prefix = b'{"' + kind.json_key.encode() + b'":['
    line = raw.strip()
    if len(document) == 1 and line.startswith(prefix) and line.endswith(b"]}"):
        return line[len(prefix):-2]
    return json.dumps(document[kind.json_key], ensure_ascii=False, separators=(",", ":"))[1:-1].encode()


def json_items(kind: SignalKind, document: dict[str, Any]) -> int:
    """Spans, log records or metric data points in a line, counted on its JSON (no protobuf needed);
    what is not of OTLP's shape counts nothing."""
    scopes_key, items_key = {"traces": ("scopeSpans", "spans"), "logs": ("scopeLogs", "logRecords"),
                             "metrics": ("scopeMetrics", "metrics")}[kind.name]
    try:
        items = [item for resource in document.get(kind.json_key) or () for scope in resource.get(scopes_key) or ()
                 for item in scope.get(items_key) or ()]
        if kind.name != "metrics":
            return len(items)
        return sum(len(data.get("dataPoints") or ()) for metric in items
                   for data in (metric.get(key) for key in ("gauge", "sum", "histogram", "exponentialHistogram",
                                                           "summary"))
                   if isinstance(data, dict))
    except (AttributeError, TypeError):
        return 0


# ---------------------------------------------------------------- senders


@dataclass(frozen=True)
class Acknowledged:
    """What the endpoint answered to a request it took: how many items it dropped anyway, and why."""

    rejected: int = 0
    message: str = ""

    @classmethod
    def of_message(cls, kind: SignalKind, response: Message) -> Acknowledged:
        partial = getattr(response, "partial_success", None)
        return cls(int(getattr(partial, kind.rejected_field, 0) or 0), str(getattr(partial, "error_message", "")))

    @classmethod
    def of_protobuf(cls, kind: SignalKind, body: bytes) -> Acknowledged:
        """An empty body (the usual answer) is read without loading protobuf; a body that does not
        parse acknowledges the request all the same (a 2xx does), only its partial success is lost."""
        if not body:
            return cls()
        from google.protobuf.message import DecodeError

        try:
            return cls.of_message(kind, kind.response.FromString(body))
        except DecodeError:
            return cls()

    @classmethod
    def of_json(cls, kind: SignalKind, body: bytes) -> Acknowledged:
        """OTLP/JSON's camelCase names; a body that is not that JSON acknowledges the request all the same."""
        try:
            partial = (json.loads(body or b"{}") or {}).get("partialSuccess") or {}
            first, *rest = kind.rejected_field.split("_")
            return cls(int(partial.get(first + "".join(word.title() for word in rest)) or 0),
                       str(partial.get("errorMessage") or ""))
        except (ValueError, TypeError, AttributeError):
            return cls()


class Sender(Protocol):
    #: Whether batches are built as JSON text (http/json) rather than protobuf.
    as_json: bool

    def send(self, batch: Batch) -> Acknowledged:
        """Deliver one batch; what the endpoint said of it, or ShipError."""

    def close(self) -> None: ...


class HttpSender:
    """OTLP/HTTP through the standard library (urllib honours HTTP(S)_PROXY and NO_PROXY as requests
    did, and loads in a third of its time, which was a tenth of a small ship). A request of up to
    `batch_bytes` is worth its own connection."""

    def __init__(self, target: Target) -> None:
        import urllib.request

        self._target = target
        self.as_json = target.protocol == "http/json"
        self._headers = {**target.headers,
                         "Content-Type": "application/json" if self.as_json else "application/x-protobuf"}
        if target.compression != "none":
            self._headers["Content-Encoding"] = target.compression
        parts = urlsplit(target.endpoint)
        if parts.username is not None:  # credentials in the URL: sent as basic auth, never shown
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._headers.setdefault("authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
        handlers = []
        if target.tls != TlsFiles() and parts.scheme == "https":  # over http the files have no use
            handlers.append(urllib.request.HTTPSHandler(context=_ssl_context(target.tls)))
        self._opener = urllib.request.build_opener(*handlers)

    def send(self, batch: Batch) -> Acknowledged:
        import urllib.error
        import urllib.request

        kind = batch.kind
        url = self._target.url(kind)
        body = batch.json_body() if self.as_json else batch.protobuf_body()
        if self._target.compression != "none":
            import zlib

            # Level 6, zlib's own; it runs on the delivery thread, which zlib lets run beside the shipping one.
            # HTTP's deflate is the zlib format; 16+ makes it the gzip format.
            window = zlib.MAX_WBITS + (16 if self._target.compression == "gzip" else 0)
            packer = zlib.compressobj(6, zlib.DEFLATED, window)
            body = packer.compress(body) + packer.flush()
        request = urllib.request.Request(url, data=body, headers=self._headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._target.timeout_s) as response:
                content = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace").strip()[:200]
            raise ShipError(f"POST {url} answered {error.code} {error.reason}"
                            + (f": {detail}" if detail else "")) from None
        except (urllib.error.URLError, OSError) as error:  # refused, unresolvable, timed out
            raise ShipError(f"POST {url} failed: {getattr(error, 'reason', error)}") from error
        if self.as_json:
            return Acknowledged.of_json(kind, content)
        return Acknowledged.of_protobuf(kind, content)

    def close(self) -> None:
        self._opener.close()


def _ssl_context(tls: TlsFiles) -> Any:
    """The system's trust, or only the CA file's; the client's certificate and key for mutual TLS."""
    import ssl

    try:
        context = ssl.create_default_context(cafile=tls.certificate)
        if tls.client_certificate is not None:
            context.load_cert_chain(tls.client_certificate, tls.client_key)
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError: not PEM, a key for another certificate
        files = ", ".join(path for path in (tls.certificate, tls.client_certificate, tls.client_key) if path)
        raise ShipError(f"cannot use the TLS files {files}: {error}") from None
    return context


class GrpcSender:
    as_json = False

    def __init__(self, target: Target) -> None:
        quiet_grpc()
        import grpc

        self._target = target
        self._compression = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}.get(target.compression)
        address = target.endpoint
        if address.startswith("https://"):
            credentials = grpc.ssl_channel_credentials(*target.tls.contents())
            self._channel = grpc.secure_channel(address[len("https://"):].rstrip("/"), credentials)
        else:
            self._channel = grpc.insecure_channel(address.removeprefix("http://").rstrip("/"))
        # The request is sent as the bytes the batch holds (no serializer): it is protobuf already.
        self._exports: dict[str, Any] = {
            kind.name: self._channel.unary_unary(kind.grpc_method, request_serializer=None,
                                                 response_deserializer=kind.response.FromString)
            for kind in SIGNALS}

    def send(self, batch: Batch) -> Acknowledged:
        import grpc

        try:
            response: Message = self._exports[batch.kind.name](
                batch.protobuf_body(), timeout=self._target.timeout_s, metadata=tuple(self._target.headers.items()),
                compression=self._compression)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            details = error.details() if hasattr(error, "details") else str(error)
            raise ShipError(f"gRPC export to {self._target.shown} failed: {getattr(code, 'name', code)}: {details}") from error
        return Acknowledged.of_message(batch.kind, response)

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
    lines: int = 0  # lines sent (each line is one export request of the file)
    sent_bytes: int = 0  # of those lines, as written
    items: dict[str, int] = field(default_factory=lambda: {kind.name: 0 for kind in SIGNALS})
    already_shipped: int = 0
    bad_lines: int = 0
    rejected: list[str] = field(default_factory=list)

    def describe(self, target: Target) -> str:
        how = target.protocol + (f", {target.compression}" if target.compression != "none" else "")
        text = (f"shipped {self.requests} request{'s' if self.requests != 1 else ''} to {target.shown} "
                f"({how}): {self.items['traces']} spans, {self.items['logs']} log records, "
                f"{self.items['metrics']} metric points; {self.already_shipped} lines skipped as already shipped")
        if self.bad_lines:
            text += f", {self.bad_lines} unreadable lines skipped"
        return "\n".join([text, *self.rejected])


Progress = Callable[[Summary], None]


def ship(paths: Iterable[str | os.PathLike[str]], target: Target, summary: Summary | None = None,
         warn: Warn = warn_on_stderr, signals: Iterable[str] = ALL_SIGNALS, batch_bytes: int = BATCH_BYTES,
         progress: Progress | None = None, workers: int | None = 1) -> Summary:
    """Send every line of `signals` not yet acknowledged, oldest first, in requests of up to
    `batch_bytes` of lines (a longer line goes alone); ShipError stops it (`summary` keeps the
    progress). `progress` is called after each acknowledged request. A traces-only backend is
    shipped to with `signals=("traces",)`. `workers` > 1 converts the lines in that many forked
    processes (call it so only from a process that runs no other thread, as the CLI does); None:
    one per CPU but the one this process needs, up to 4, for protobuf when the files hold enough to
    be worth forking for (http/json only decodes each line, about what passing it to a worker and
    back costs; on two CPUs, measured, a worker's passing of lines cost more than it gained)."""
    summary = summary if summary is not None else Summary()
    files = find_files(paths, tuple(signals))
    states: dict[Path, ShipState] = {}
    as_json = target.protocol == "http/json"
    if workers is None:
        workers = min(4, (os.cpu_count() or 1) - 1) if not as_json and _bytes_on_disk(files) >= FORK_BYTES else 1
    with _converter(as_json, workers) as convert:  # forked before the sender starts any thread
        sender = make_sender(target)
        delivery = _Delivery()
        try:
            for file in files:
                directory = file.path.resolve().parent
                state = states.get(directory) or states.setdefault(directory, ShipState(directory, target))
                _ship_file(file, _Shipment(sender, state, summary, warn, batch_bytes, progress, convert, delivery))
            delivery.finish()
        finally:
            delivery.close()
            sender.close()
    return summary


class _Delivery:
    """Sends the batches and records what was acknowledged, on a thread of its own, in order and
    one request at a time, so that the next batch is read and converted while the endpoint takes
    this one (waiting for its answer was a fifth of a ship). Everything that writes the resume
    state goes through it, so the state is written in order; the first error stops it, and is
    raised in the shipping thread at its next `put` or at `finish`."""

    def __init__(self) -> None:
        self._tasks: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=1)  # one batch ahead at most
        self._error: BaseException | None = None
        self._dropping = False  # stopped by an error of the shipping thread (Ctrl-C): what is queued is not sent
        self._thread = threading.Thread(target=self._run, name="aiw-otel-ship", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (task := self._tasks.get()) is not None:
            if self._error is None and not self._dropping:
                try:
                    task()
                except BaseException as error:  # handed to the shipping thread, which raises it
                    self._error = error

    def put(self, task: Callable[[], None]) -> None:
        self._raise()
        self._tasks.put(task)

    def finish(self) -> None:
        """Wait until everything put was done; raise what stopped it."""
        self._stop()
        self._raise()

    def close(self) -> None:
        """After `finish`, nothing to do; else only the request on its way is waited for."""
        self._dropping = True
        self._stop()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._tasks.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


class Converted(NamedTuple):
    """A line made ready to send: its protobuf (http/json: the text of its array of resources) and
    how many spans, records or points it holds; `kind` None when it is skipped, `warnings` saying why."""

    number: int
    size: int
    kind: str | None
    part: bytes
    items: int
    warnings: tuple[str, ...]


def _bytes_on_disk(files: Iterable[SignalFile]) -> int:
    total = 0
    for file in files:
        with contextlib.suppress(OSError):  # gone or unreadable: reading it will say so
            total += file.path.stat().st_size
    return total


#: Bytes of files (as stored: a gzip backup holds ~10x more) below which forking workers costs more
#: than it saves (starting them took 70 ms, a tenth of a 26 MB ship).
FORK_BYTES = 2 << 20
#: Lines in `CHUNK_BYTES` pieces -> their Converted, in order.
Convert = Callable[[Path, Iterable[tuple[int, bytes]]], Iterator[Converted]]
#: The lines a worker process is handed at once: enough to outweigh passing them, few enough to spread.
CHUNK_BYTES = 1 << 20
_KINDS = {kind.name: kind for kind in SIGNALS}


def convert_lines(path: Path, lines: list[tuple[int, bytes]], as_json: bool) -> list[Converted]:
    """Parse and convert each line (in a worker process, or here): the warnings travel with the lines,
    to be shown in order by the process that ships."""
    converted = []
    for number, raw in lines:
        warnings: list[str] = []
        where = f"{path}:{number}"
        document = parse_line(where, raw, warnings.append)
        kind = _kind_or_warn(where, document, warnings.append) if document is not None else None
        part = b""
        if document is not None and kind is not None:
            try:
                part = _json_part(kind, raw, document) if as_json else encode_request(document)[1]
            except ValueError as error:
                warnings.append(f"{where}: {error}; skipped")
                kind = None
        items = json_items(kind, document) if document is not None and kind is not None else 0
        converted.append(Converted(number, len(raw), kind.name if kind else None, part, items, tuple(warnings)))
    return converted


def _chunks(lines: Iterable[tuple[int, bytes]]) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    size = 0
    for line in lines:
        chunk.append(line)
        size += len(line[1])
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


@contextlib.contextmanager
def _converter(as_json: bool, workers: int) -> Iterator[Convert]:
    """Converting lines is most of a ship's work (decoding JSON, encoding protobuf), and lines are
    independent: with `workers` > 1 the chunks go to forked processes, at most two per worker in
    flight (memory stays bounded), and come back in order while this process sends."""
    if workers <= 1:
        def here(path: Path, lines: Iterable[tuple[int, bytes]]) -> Iterator[Converted]:
            for chunk in _chunks(lines):
                yield from convert_lines(path, chunk, as_json)

        yield here
        return
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # Ctrl-C reaches the whole process group: the workers leave it to this process, which stops them.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
        pool.submit(os.getpid).result()  # the first task forks every worker: now, while this is the only thread

        def in_workers(path: Path, lines: Iterable[tuple[int, bytes]]) -> Iterator[Converted]:
            pending: collections.deque[Future[list[Converted]]] = collections.deque()
            try:
                for chunk in _chunks(lines):
                    pending.append(pool.submit(convert_lines, path, chunk, as_json))
                    if len(pending) >= 2 * workers:
                        yield from pending.popleft().result()
                while pending:
                    yield from pending.popleft().result()
            except BrokenProcessPool:  # killed (out of memory?): what was sent stays acknowledged
                raise ShipError(f"a worker process converting {path} died; try again, or with --workers 1") from None

        yield in_workers


@dataclass
class _Shipment:
    sender: Sender
    state: ShipState
    summary: Summary
    warn: Warn
    batch_bytes: int
    progress: Progress | None
    convert: Convert
    delivery: _Delivery


def _ship_file(file: SignalFile, shipment: _Shipment) -> None:
    """The file's new lines in batches. A bad line is skipped with a warning and counted as done
    with the lines around it: at once when no batch is open, else when the open batch is acknowledged.
    What reading the file warns of (a torn last line) is said after the lines read before it, which
    are converted a chunk later."""
    read_warnings: list[str] = []
    try:
        _ship_lines(file, read_lines(file.path, read_warnings.append), shipment)
    finally:
        for warning in read_warnings:
            shipment.warn(warning)


def _ship_lines(file: SignalFile, lines: Iterator[tuple[int, bytes]], shipment: _Shipment) -> None:
    first = next(lines, None)
    if first is None:
        return
    identity = file_identity(file.signal, first[1])
    done = shipment.state.shipped(identity)
    summary = shipment.summary
    lines = itertools.chain([first], lines)
    if done:
        for number, _ in lines:
            summary.already_shipped += 1
            if number >= done:
                break
    batch: Batch | None = None
    for line in shipment.convert(file.path, lines):
        for warning in line.warnings:
            shipment.warn(warning)
        kind = _KINDS.get(line.kind or "")
        if kind is None:
            summary.bad_lines += 1
            if batch is None:
                shipment.delivery.put(functools.partial(shipment.state.record, identity, line.number))
            else:
                batch.last = line.number
            continue
        if batch is not None and (batch.kind is not kind or batch.size + line.size > shipment.batch_bytes):
            shipment.delivery.put(functools.partial(_send, file, batch, identity, shipment))
            batch = None
        batch = batch or Batch(kind, line.number)
        batch.parts.append(line.part)
        batch.items += line.items
        batch.last = line.number
        batch.lines += 1
        batch.size += line.size
    if batch is not None:
        shipment.delivery.put(functools.partial(_send, file, batch, identity, shipment))


def _kind_or_warn(where: str, document: dict[str, Any], warn: Warn) -> SignalKind | None:
    kind = next((k for k in SIGNALS if k.json_key in document), None)
    if kind is None:
        warn(f"{where}: not an OTLP export request (keys: {', '.join(sorted(document)) or 'none'}); skipped")
    return kind


def _send(file: SignalFile, batch: Batch, identity: str, shipment: _Shipment) -> None:
    where = f"{file.path}:{batch.where}"
    try:
        response = shipment.sender.send(batch)
    except ShipError as error:
        raise ShipError(f"{error} (sending {where})") from error
    summary = shipment.summary
    summary.requests += 1
    summary.lines += batch.lines
    summary.sent_bytes += batch.size
    summary.items[batch.kind.name] += batch.items
    _note_partial_success(batch.kind, response, where, summary)
    shipment.state.record(identity, batch.last)
    if shipment.progress is not None:
        shipment.progress(summary)


def _note_partial_success(kind: SignalKind, answer: Acknowledged, where: str, summary: Summary) -> None:
    """The endpoint took the request but dropped part of it: reported, not retried (it would drop it again)."""
    if answer.rejected:
        summary.rejected.append(f"{where}: the endpoint rejected {answer.rejected} {kind.name} items: {answer.message}")
