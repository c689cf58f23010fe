"""A local server that speaks the Jit integration-file API, backed by a YAML file.

It is how :class:`JitStore` is tested over real HTTP, how ``make demo`` runs,
and how anyone can try safemerge offline::

    safemerge serve --file jit-integration.yml --port 8750 --token t0ken

What it answers, as the real API does:

- ``GET /plans/integration-file`` -> ``{"content", "raw_content", "file_sha", "status", "vendor_response"}``
- ``PUT /plans/integration-file`` with ``{"content", "file_sha"}``: ``409
  FILE_SHA_CONFLICT`` on a stale SHA, an unguarded overwrite without one,
  ``409 INVALID_FILE`` when the content breaks a schema
- ``401 {"Message": "Unauthorized"}`` for a missing or wrong bearer token
  (when started with one)

Requests are served on threads; the :class:`FileStore` underneath serialises
writes with a file lock, so the server is safe under concurrent PUTs (and
beside other processes writing the same file through safemerge).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from ._diff import diff
from ._errors import SafeMergeError, ShaConflict
from ._file import FileStore
from ._schemas import SchemaRegistry
from ._store import Snapshot
from ._validate import Violation, check_memoized
from ._values import check_fragment
from ._yaml import read_yaml

__all__ = ["JitServer", "make_server"]

log = logging.getLogger("safemerge.server")

PATH: Final = "/plans/integration-file"
MAX_BODY: Final = 16 << 20


class JitServer(ThreadingHTTPServer):
    """The server; ``url`` is where it listens. Use as a context manager, or ``serve_forever()``."""

    daemon_threads = True
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        store: FileStore,
        *,
        token: str | None,
        registry: SchemaRegistry,
        validate: bool,
    ) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.token = token
        self.registry = registry
        self.validate = validate
        self.writes = 0
        self._count = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def count_write(self) -> None:
        with self._count:
            self.writes += 1

    def __repr__(self) -> str:
        return f"JitServer({self.url!r}, file={str(self.store.path)!r})"


def make_server(
    file: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    registry: SchemaRegistry | None = None,
    validate: bool = True,
) -> JitServer:
    """A :class:`JitServer` over ``file`` (``port=0`` picks a free port; see ``.url``).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "jit-integration.yml"
    >>> with make_server(path) as server:
    ...     server.url.startswith("http://127.0.0.1:")
    True
    """
    return JitServer(
        (host, port),
        FileStore(file),
        token=token,
        registry=SchemaRegistry.bundled() if registry is None else registry,
        validate=validate,
    )


class _Handler(BaseHTTPRequestHandler):
    server: JitServer
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API gateway would
    # Headers and body go out in two writes; without TCP_NODELAY the body waits
    # ~40 ms for the client's delayed ACK (Nagle), on every response.
    disable_nagle_algorithm = True

    # -- routing --------------------------------------------------------------------------------

    def do_GET(self) -> None:
        if self._route():
            self._get()

    def do_PUT(self) -> None:
        if self._route():
            self._put()

    def do_POST(self) -> None:
        self._drain()
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "METHOD_NOT_ALLOWED"})

    do_DELETE = do_PATCH = do_POST

    def _route(self) -> bool:
        if self.path.split("?", 1)[0] != PATH:
            self._drain()
            self._reply(
                HTTPStatus.NOT_FOUND,
                {"error": "NOT_FOUND", "message": f"no route {self.command} {self.path}"},
            )
            return False
        if self.server.token is not None:
            given = self.headers.get("Authorization", "")
            expected = f"Bearer {self.server.token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                self._drain()
                self._reply(HTTPStatus.UNAUTHORIZED, {"Message": "Unauthorized"})
                return False
        return True

    # -- the API --------------------------------------------------------------------------------

    def _get(self) -> None:
        try:
            snapshot = self.server.store.read()
        except SafeMergeError as exc:
            self._reply(HTTPStatus.CONFLICT, {"error": "MALFORMED_FILE", "message": exc.message})
            return
        problems = self._problems(snapshot.document)
        self._reply(
            HTTPStatus.OK,
            {
                "content": snapshot.document,
                "raw_content": snapshot.raw or "",
                "file_sha": snapshot.sha,
                "status": "invalid" if problems else "valid",
                "vendor_response": {},
            },
        )

    def _put(self) -> None:
        body = self._body()
        if body is None:
            return
        content = body.get("content")
        try:
            if isinstance(content, str):  # "a valid YAML string", as the API documents it
                content, _ = read_yaml(content, origin="content")
            if not isinstance(content, Mapping):
                raise _BadRequest(
                    "content must be a mapping of integrations (or a YAML string of one)"
                )
            check_fragment(content)
        except (SafeMergeError, _BadRequest) as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "MALFORMED_FILE", "message": str(exc)})
            return
        sha = body.get("file_sha")
        if sha is not None and not isinstance(sha, str):
            self._reply(
                HTTPStatus.BAD_REQUEST,
                {"error": "BAD_REQUEST", "message": "file_sha must be a string"},
            )
            return
        problems = self._problems(content)
        if problems:
            self._reply(
                HTTPStatus.CONFLICT,
                {
                    "error": "INVALID_FILE",
                    "message": "; ".join(str(p) for p in problems[:20]),
                    "errors": [{"pointer": p.pointer, "message": p.message} for p in problems],
                },
            )
            return
        try:
            current = self.server.store.read()
            # The SHA check and the write happen under the FileStore's lock: a
            # PUT with a stale file_sha can never land.
            guard = Snapshot(current.document, sha, current.raw, current.tree)
            # The PUT carries the whole file; its difference from what is on disk
            # lets the writer change only those lines.
            changes = diff(current.document, content)
            new_sha = self.server.store.write(guard, dict(content), changes, force=sha is None)
        except ShaConflict:
            self._reply(
                HTTPStatus.CONFLICT,
                {
                    "error": "FILE_SHA_CONFLICT",
                    "message": "file_sha does not match the current file",
                },
            )
            return
        except SafeMergeError as exc:
            log.warning("write failed: %s", exc.message)
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "INTERNAL_SERVER_ERROR"})
            return
        self.server.count_write()
        self._reply(HTTPStatus.OK, {"file_sha": str(new_sha), "status": "valid"})

    def _problems(self, document: Mapping[str, Any]) -> tuple[Violation, ...]:
        if not self.server.validate:
            return ()
        # Unchanged integrations are remembered by content digest, so a PUT costs
        # what changed, not the whole file.
        found: list[Violation] = []
        for name in document:
            found += check_memoized(document, name, self.server.registry)
        return tuple(found)

    # -- HTTP plumbing --------------------------------------------------------------------------

    def _body(self) -> dict[str, Any] | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._reply(
                HTTPStatus.LENGTH_REQUIRED,
                {"error": "BAD_REQUEST", "message": "Content-Length required"},
            )
            return None
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": "BAD_REQUEST", "message": "body too large"},
            )
            return None
        raw = self.rfile.read(int(length))
        try:
            body = json.loads(raw, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            self._reply(
                HTTPStatus.BAD_REQUEST,
                {"error": "MALFORMED_FILE", "message": f"body is not JSON: {exc}"},
            )
            return None
        if not isinstance(body, dict):
            self._reply(
                HTTPStatus.BAD_REQUEST,
                {"error": "MALFORMED_FILE", "message": "body must be a JSON object"},
            )
            return None
        return body

    def _drain(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= MAX_BODY:
            self.rfile.read(int(length))
        elif length:
            self.close_connection = True

    def _reply(self, status: HTTPStatus, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # The request line only (never headers: they carry the token).
        log.info("%s %s", self.address_string(), format % args)


class _BadRequest(Exception):
    pass


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
