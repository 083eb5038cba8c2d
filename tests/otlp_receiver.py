"""OTLP receivers on 127.0.0.1 that keep what they are sent, as opentelemetry-proto messages: over
HTTP (protobuf or JSON bodies) and over gRPC (the three OTLP services), in plain text or, given TLS
settings, over https. Fixtures `receiver` (HTTP) and `grpc_receiver` (a pytest plugin, see conftest)."""

from __future__ import annotations

import gzip
import http.server
import json
import ssl
import threading
import time
import zlib
from concurrent import futures
from typing import Any, Iterator

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from aiw_otel.readback.ship import encode_request

MESSAGES = {"/v1/traces": trace_service_pb2.ExportTraceServiceRequest,
            "/v1/logs": logs_service_pb2.ExportLogsServiceRequest,
            "/v1/metrics": metrics_service_pb2.ExportMetricsServiceRequest}


class Received:
    """What a receiver was sent: `received[path]` is [(headers, request)] per signal path."""

    received: dict[str, list[tuple[Any, Any]]]  # (headers: looked up case-insensitively, request)

    def spans(self) -> list[Any]:
        return [span for _, r in self.received["/v1/traces"] for rs in r.resource_spans for ss in rs.scope_spans
                for span in ss.spans]

    def log_records(self) -> list[Any]:
        return [record for _, r in self.received["/v1/logs"] for rl in r.resource_logs for sl in rl.scope_logs
                for record in sl.log_records]

    def metrics(self) -> list[Any]:
        return [m for _, r in self.received["/v1/metrics"] for rm in r.resource_metrics for sm in rm.scope_metrics
                for m in sm.metrics]

    def metric_points(self) -> int:
        return sum(len(getattr(m, m.WhichOneof("data")).data_points) for m in self.metrics())

    def requests(self) -> int:
        return sum(len(requests) for requests in self.received.values())


class Receiver(Received):
    """An OTLP/HTTP protobuf endpoint; it answers 503 once `accept` requests were taken (None: never),
    each answer `delay_s` late. `paths` maps the path a request is posted to to its signal's
    `/v1/<signal>` (add e.g. "/custom/path" for a signal's own endpoint); another path is a 404.
    Given `tls`, it serves https with it."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.received = {path: [] for path in MESSAGES}
        self.paths = {path: path for path in MESSAGES}
        self.accept: int | None = None
        self.delay_s = 0.0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay_s)
                path = receiver.paths.get(self.path)
                if path is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if self.headers["Content-Encoding"] == "gzip":
                    body = gzip.decompress(body)
                elif self.headers["Content-Encoding"] == "deflate":
                    body = zlib.decompress(body)
                if receiver.accept is not None and receiver.requests() >= receiver.accept:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"collector overloaded")
                    return
                if self.headers["Content-Type"] == "application/json":  # OTLP/JSON: hex ids, as the files hold them
                    request = MESSAGES[path].FromString(encode_request(json.loads(body))[1])
                else:
                    request = MESSAGES[path].FromString(body)
                receiver.received[path].append((self.headers, request))  # names case-insensitive, as in HTTP
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:  # handshakes in the handler threads: a refused client cannot stall the others
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
            self.server.handle_error = lambda request, address: None  # type: ignore[method-assign] # a refused handshake: no traceback
        self.endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def _servicer(base: type, path: str, receiver: GrpcReceiver) -> Any:
    class Servicer(base):  # type: ignore[misc, valid-type]
        def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (the proto's naming)
            receiver.received[path].append((dict(context.invocation_metadata()), request))
            return receiver.responses[path]

    return Servicer()


class GrpcReceiver(Received):
    """A real grpc.server implementing the three OTLP services; `responses[path]` is what each answers.
    Given `tls` (grpc.ssl_server_credentials), it serves over TLS."""

    def __init__(self, tls: grpc.ServerCredentials | None = None) -> None:
        self.responses: dict[str, Any] = {"/v1/traces": trace_service_pb2.ExportTraceServiceResponse(),
                                          "/v1/logs": logs_service_pb2.ExportLogsServiceResponse(),
                                          "/v1/metrics": metrics_service_pb2.ExportMetricsServiceResponse()}
        self.received = {path: [] for path in self.responses}
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        for module, name, path in ((trace_service_pb2_grpc, "Trace", "/v1/traces"),
                                   (logs_service_pb2_grpc, "Logs", "/v1/logs"),
                                   (metrics_service_pb2_grpc, "Metrics", "/v1/metrics")):
            servicer = _servicer(getattr(module, f"{name}ServiceServicer"), path, self)
            getattr(module, f"add_{name}ServiceServicer_to_server")(servicer, self.server)
        if tls is None:
            port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            port = self.server.add_secure_port("127.0.0.1:0", tls)
        self.server.start()
        self.endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.stop(grace=None)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def grpc_receiver() -> Iterator[GrpcReceiver]:
    server = GrpcReceiver()
    yield server
    server.close()
