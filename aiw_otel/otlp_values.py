"""The OTLP exporter settings every front end treats the same way: an endpoint URL, `k=v` pairs, TLS
files, and gRPC's own logging (the runner's exporters and `ship` both open gRPC channels).

Apart from `config_yaml` (which re-exports them) because `aiw-otel ship` needs them and must not
pay for loading the whole configuration machinery (YAML included) to check one URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence
from urllib.parse import unquote, urlsplit


def one_of(choices: Sequence[str], text: str) -> str:
    """`text` when it is one of `choices` (a protocol, a compression...), else ValueError listing them."""
    if text in choices:
        return text
    raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")


def parse_endpoint(text: str) -> str:
    """Reject what the exporters would only fail on at the first export, long after start-up."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parsing the port is what raises for `host:abc`
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {text!r}")
    return text


def parse_pairs(text: str) -> dict[str, str]:
    """`k=v,k2=v2` with percent-encoded keys and values: the W3C baggage-like format of
    OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS."""
    pairs = {}
    for item in filter(str.strip, text.split(",")):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ValueError(
                f"expected comma-separated key=value pairs, got {item.strip()!r} "
                "(percent-encode ',' and '=' inside keys and values)"
            )
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of OTEL_EXPORTER_OTLP_[<SIGNAL>_]CERTIFICATE, _CLIENT_KEY and _CLIENT_CERTIFICATE:
    the CA that signs the collector's certificate (None: the system's), and the client's key and
    certificate for mutual TLS. Paths only: a key's content is read when a connection needs it."""

    certificate: str | None = None
    client_key: str | None = None
    client_certificate: str | None = None

    def contents(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(CA, client key, client certificate) as gRPC's channel credentials take them."""
        return _contents(self.certificate), _contents(self.client_key), _contents(self.client_certificate)


def _contents(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as file:
        return file.read()


def check_readable(path: str) -> str:
    """A TLS file is read at the first export, long after start-up: refuse a wrong path at once."""
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise ValueError(f"cannot read {path!r}: {error.strerror or error}") from None
    return path


#: Variables aiw-otel itself put in this process's environment (not the user): the commands a run
#: starts get the user's environment, so they leave these out (a plan's own gRPC program logs as usual).
SET_IN_ENVIRON: set[str] = set()


def quiet_grpc() -> None:
    """Call before gRPC is first imported: its C core then logs errors only, unless GRPC_VERBOSITY
    says otherwise. By default it prints a line of its own on stderr for every failed TLS handshake
    (a wrong CA, a missing client certificate) and every retry, across the live console; the export's
    failure is reported once by us, as for any other collector that does not answer."""
    if "GRPC_VERBOSITY" not in os.environ:
        os.environ["GRPC_VERBOSITY"] = "ERROR"
        SET_IN_ENVIRON.add("GRPC_VERBOSITY")
