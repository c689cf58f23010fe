"""A fault-injecting HTTP proxy for tests: real sockets, scripted misbehaviour.

Sits between a client and a real upstream (``safemerge serve``). Each request
takes the next scripted :class:`Fault` for its method (or passes through
untouched when none is queued):

- ``Fault.reply(status, body, headers)``: answer without asking upstream;
- ``Fault.drop()``: close the connection without answering (upstream not asked);
- ``Fault.slow(seconds)``: wait, then pass through;
- ``Fault.commit_then_stall(seconds)``: forward upstream (the write lands),
  then hold the answer past the client's timeout, then drop it;
- ``Fault.redirect(location, status)``: answer a redirect.

``proxy.log`` records what happened to every request, ``proxy.upstream_hits``
how many reached upstream.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Fault", "FaultProxy", "ProxyHandler", "fault_proxy"]

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 0
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def reply(
        cls, status: int, body: bytes | str = b"", headers: Mapping[str, str] | None = None
    ) -> Fault:
        data = body.encode() if isinstance(body, str) else body
        return cls("reply", status=status, body=data, headers=dict(headers or {}))

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls("slow", seconds=seconds)

    @classmethod
    def commit_then_stall(cls, seconds: float) -> Fault:
        return cls("commit_then_stall", seconds=seconds)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Fault:
        return cls("reply", status=status, headers={"Location": location})


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.faults: dict[str, deque[Fault]] = {}
        self.log: list[tuple[str, str]] = []
        self.upstream_hits = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def inject(self, method: str, *faults: Fault) -> None:
        with self.lock:
            self.faults.setdefault(method, deque()).extend(faults)

    def next_fault(self, method: str) -> Fault | None:
        with self.lock:
            queue = self.faults.get(method)
            return queue.popleft() if queue else None

    def pending(self) -> int:
        with self.lock:
            return sum(len(q) for q in self.faults.values())


class ProxyHandler(BaseHTTPRequestHandler):
    """What both test proxies do with a request: ask upstream, answer, or drop the line.

    The server it belongs to has ``upstream_host`` and ``upstream_port``.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per response

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def ask_upstream(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send this request upstream; its status, the headers worth passing on, and its body."""
        server: Any = self.server
        connection = http.client.HTTPConnection(
            server.upstream_host, server.upstream_port, timeout=30
        )
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            passed = {k: v for k, v in response.getheaders() if k.lower() not in _HOP}
            return response.status, passed, data
        finally:
            connection.close()

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(2)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Handler(ProxyHandler):
    server: FaultProxy

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.read_body()
        fault = self.server.next_fault(self.command)
        kind = fault.kind if fault else "pass"
        with self.server.lock:
            self.server.log.append((self.command, kind))
        if fault is None:
            self._forward(body)
        elif fault.kind == "reply":
            self._send(fault.status, fault.body, fault.headers)
        elif fault.kind == "drop":
            self._drop()
        elif fault.kind == "slow":
            time.sleep(fault.seconds)
            self._forward(body)
        elif fault.kind == "commit_then_stall":
            self._forward(body, answer=False)
            time.sleep(fault.seconds)
            self._drop()
        else:  # pragma: no cover - a test asked for something this proxy does not know
            raise AssertionError(fault.kind)

    def _forward(self, body: bytes, *, answer: bool = True) -> None:
        status, headers, data = self.ask_upstream(body)
        with self.server.lock:
            self.server.upstream_hits += 1
        if answer:
            self._send(status, data, headers)


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    thread = threading.Thread(
        target=proxy.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)
