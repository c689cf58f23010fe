"""A recording, fault-injecting HTTP proxy: what each request asked, what upstream said.

Where :mod:`tests.support.fault_proxy` scripts misbehaviour, this proxy also
*keeps the evidence* a lost-update checker needs: for every request, the JSON
body sent, whether it reached upstream, upstream's status and JSON answer, and
whether the client was given that answer. With it a test can check, server-side,
that every PUT upstream accepted was guarded by the SHA current at that moment
(:func:`put_chain`), and which accepted writes a client never heard about.

Faults are :class:`tests.support.fault_proxy.Fault` values, plus two kinds only
this proxy knows:

- ``Fault("commit_then_reply", status=502)``: forward (the write lands), then
  answer ``status`` instead of upstream's answer (a gateway that lost the reply);
- ``Fault("slow", seconds=s)`` past the client's timeout: the request is still
  forwarded after the client gave up, and lands if its SHA is still current.

A fault comes from :meth:`RecordingProxy.inject` (a queue per method, first) or
from ``plan(method)`` (e.g. a seeded random chaos plan), else the request passes.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support.fault_proxy import Fault, ProxyHandler

__all__ = [
    "Exchange",
    "Plan",
    "RecordingProxy",
    "accepted_puts",
    "put_chain",
    "recording_proxy",
]


Plan = Callable[[str], "tuple[str, Fault] | None"]
"""Given the request method, the fault to inject as ``(label, fault)``, or ``None`` to pass."""


@dataclass
class Exchange:
    """One request through the proxy."""

    method: str
    path: str
    label: str  # "pass" or the fault's label
    request: Any  # the parsed JSON body (None when empty or not JSON)
    authorization: bool  # whether the client sent an Authorization header
    status: int | None = None  # upstream's status; None when upstream was not asked
    answer: Any = None  # upstream's parsed JSON answer
    delivered: bool = False  # whether the client was sent upstream's answer
    started: float = field(default_factory=time.monotonic)


def _json(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


class RecordingProxy(ThreadingHTTPServer):
    """The proxy; ``url`` is where it listens, ``exchanges`` what went through it."""

    daemon_threads = True

    def __init__(self, upstream: str, plan: Plan | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.plan = plan
        self.queued: dict[str, deque[tuple[str, Fault]]] = {}
        self.exchanges: list[Exchange] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def inject(self, method: str, label: str, fault: Fault) -> None:
        """Queue ``fault`` for the next ``method`` request (before the plan is asked)."""
        with self.lock:
            self.queued.setdefault(method, deque()).append((label, fault))

    def choose(self, method: str) -> tuple[str, Fault] | None:
        with self.lock:
            queue = self.queued.get(method)
            if queue:
                return queue.popleft()
            return self.plan(method) if self.plan is not None else None

    def injected(self) -> Counter[str]:
        """How many times each fault label was injected (``pass`` excluded)."""
        with self.lock:
            return Counter(e.label for e in self.exchanges if e.label != "pass")

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is part of these tests, not an error.
        if isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            return
        super().handle_error(request, client_address)  # pragma: no cover


class _Handler(ProxyHandler):
    server: RecordingProxy

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.read_body()
        chosen = self.server.choose(self.command)
        label, fault = chosen if chosen is not None else ("pass", None)
        exchange = Exchange(
            self.command, self.path, label, _json(body), "Authorization" in self.headers
        )
        with self.server.lock:
            self.server.exchanges.append(exchange)
        if fault is None:
            self._forward(body, exchange)
        elif fault.kind == "reply":
            self._send(fault.status, fault.body, fault.headers)
        elif fault.kind == "drop":
            self._drop()
        elif fault.kind == "slow":
            time.sleep(fault.seconds)
            self._forward(body, exchange)
        elif fault.kind == "commit_then_stall":
            self._forward(body, exchange, answer=False)
            time.sleep(fault.seconds)
            self._drop()
        elif fault.kind == "commit_then_reply":
            self._forward(body, exchange, answer=False)
            self._send(fault.status, fault.body or b'{"error": "BAD_GATEWAY"}', {})
        else:  # pragma: no cover - a test asked for something this proxy does not know
            raise AssertionError(fault.kind)

    def _forward(self, body: bytes, exchange: Exchange, *, answer: bool = True) -> None:
        status, headers, data = self.ask_upstream(body)
        with self.server.lock:
            exchange.status = status
            exchange.answer = _json(data)
        if answer:
            self._send(status, data, headers)
            with self.server.lock:
                exchange.delivered = True


@contextmanager
def recording_proxy(upstream: str, plan: Plan | None = None) -> Iterator[RecordingProxy]:
    """A :class:`RecordingProxy` serving on a thread for the ``with`` block."""
    proxy = RecordingProxy(upstream, plan)
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


# -- the server-side lost-update check --------------------------------------------------------


def accepted_puts(
    exchanges: Sequence[Exchange], *, sent: Callable[[Any], Any], answered: Callable[[Any], Any]
) -> list[tuple[Any, Any, Exchange]]:
    """``(sha sent, sha answered, exchange)`` for every PUT upstream accepted (2xx).

    ``sent`` and ``answered`` pick the SHA out of the request and the answer:
    ``file_sha`` for the Jit API, ``sha`` and ``content.sha`` for GitHub.
    """
    return [
        (sent(e.request), answered(e.answer), e)
        for e in exchanges
        if e.method == "PUT" and e.status is not None and 200 <= e.status < 300
    ]


def put_chain(initial: str | None, puts: Sequence[tuple[Any, Any, Any]]) -> tuple[list[str], Any]:
    """Check that accepted PUTs form one chain of SHAs from ``initial``; return ``(problems, last sha)``.

    Each accepted PUT carried the SHA it was guarded by and was answered with the
    new SHA. If every accepted PUT was guarded by the SHA current at that moment,
    then, from ``initial``, following "guarded by X -> answered Y" visits every
    accepted PUT exactly once. Two accepted PUTs guarded by the same SHA are a
    fork: the second overwrote the first without having read it (a lost update).
    An accepted PUT without a SHA was unguarded. (Content only grows in the
    workloads that use this, so a SHA never comes back: no ABA.)
    """
    problems: list[str] = []
    following: dict[Any, Any] = {}
    for sha_sent, sha_answered, _ in puts:
        if sha_sent is None:
            problems.append(f"an accepted PUT carried no SHA (answered {sha_answered})")
            continue
        if sha_sent in following:
            problems.append(f"two accepted PUTs were guarded by the same SHA {sha_sent} (a fork)")
            continue
        following[sha_sent] = sha_answered
    current, visited = initial, 0
    while current in following and visited <= len(following):
        current = following[current]
        visited += 1
    if visited != len(following):
        problems.append(
            f"only {visited} of {len(following)} accepted PUTs chain from the initial SHA: "
            "some PUT was accepted with a SHA that was not current"
        )
    return problems, current
