"""Servers that only *record* what reached them: for redirect and TLS checks.

- :func:`sink_server`: plain HTTP on any loopback address (``127.0.0.2`` is a
  different host from ``127.0.0.1`` to an HTTP client, though it is the same
  machine); it answers every request with a valid, empty Jit file (or GitHub
  file object) and records the method, path and headers it was sent.
- :func:`tls_server`: the same over HTTPS with a self-signed certificate for
  ``127.0.0.1``, made by :func:`self_signed` with ``openssl req`` (the
  ``cryptography`` package is not a dependency; ``openssl`` is asked for only
  when a test needs it, and the test is skipped without it).
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Sink", "loopback_alias_available", "self_signed", "sink_server", "tls_server"]

JIT_FILE = json.dumps(
    {"content": {}, "raw_content": "", "file_sha": "0" * 40, "status": "valid"}
).encode()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Sink:
    url: str
    received: list[Received] = field(default_factory=list)

    def saw_authorization(self) -> bool:
        return any(k.lower() == "authorization" for r in self.received for k in r.headers)


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sink: Sink) -> None:
        super().__init__(address, _Handler)
        self.sink = sink

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that refused our certificate hangs up mid-handshake: that is the test passing.
        if isinstance(sys.exc_info()[1], (OSError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)  # pragma: no cover


class _Handler(BaseHTTPRequestHandler):
    server: _SinkServer
    protocol_version = "HTTP/1.0"

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.sink.received.append(
            Received(self.command, self.path, dict(self.headers.items()), body)
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(JIT_FILE)))
        self.end_headers()
        self.wfile.write(JIT_FILE)

    do_GET = do_PUT = do_POST = _record

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serving(server: _SinkServer) -> Iterator[None]:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def loopback_alias_available(host: str = "127.0.0.2") -> bool:
    """Whether this machine can listen on ``host`` (Linux routes all of 127/8; macOS does not)."""
    try:
        with socket.socket() as probe:
            probe.bind((host, 0))
    except OSError:
        return False
    return True


@contextmanager
def sink_server(host: str = "127.0.0.2", url_host: str | None = None) -> Iterator[Sink]:
    """A recording HTTP server on ``host``; its URL names ``url_host`` (e.g. ``localhost``)."""
    sink = Sink("")
    server = _SinkServer((host, 0), sink)
    sink.url = f"http://{url_host or host}:{server.server_address[1]}"
    with _serving(server):
        yield sink


def self_signed(folder: Path) -> tuple[Path, Path] | None:
    """``(cert, key)`` for ``127.0.0.1``, self-signed, made by ``openssl``; ``None`` without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[Sink]:
    """A recording HTTPS server on ``127.0.0.1`` presenting ``cert``."""
    sink = Sink("")
    server = _SinkServer(("127.0.0.1", 0), sink)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    sink.url = f"https://127.0.0.1:{server.server_address[1]}"
    with _serving(server):
        yield sink
