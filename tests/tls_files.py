"""Throwaway PEM files for TLS tests, made with the `openssl` command: a CA, a certificate it signs
for the server on 127.0.0.1, and one for a client (mutual TLS)."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import grpc


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _signed(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    """A key and a certificate for `name` signed by `ca` (its certificate, its key)."""
    key, request, certificate = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    config = directory / f"{name}.ext"
    config.write_text(extensions + "\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(request), "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
             "-out", str(certificate), "-days", "2", "-extfile", str(config))
    return key, certificate


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_key: Path
    server_certificate: Path
    client_key: Path
    client_certificate: Path

    def http_server(self, require_client: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_certificate, self.server_key)
        if require_client:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.ca)
        return context

    def grpc_server(self, require_client: bool = False) -> grpc.ServerCredentials:
        pair = (self.server_key.read_bytes(), self.server_certificate.read_bytes())
        return grpc.ssl_server_credentials([pair], root_certificates=self.ca.read_bytes() if require_client else None,
                                           require_client_auth=require_client)


def make_pki(directory: Path, name: str = "ca") -> Pki:
    """A CA called `name` (two of them are strangers to each other) and the certificates it signs."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / f"{name}.key", directory / f"{name}.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
             "-days", "2", "-subj", f"/CN={name} test CA")
    server = _signed(directory, f"{name}-server", (ca, ca_key),
                     "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
    client = _signed(directory, f"{name}-client", (ca, ca_key), "extendedKeyUsage=clientAuth")
    return Pki(ca, *server, *client)
