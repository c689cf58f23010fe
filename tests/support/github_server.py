"""A small stand-in for GitHub's contents API, served over loopback for the store tests.

It speaks the part of ``GET``/``PUT /repos/{owner}/{repo}/contents/{path}`` that
:class:`safemerge._github.GitHubStore` uses, with GitHub's answers:

- ``GET``: the file object (``type``, ``encoding``, ``size``, ``sha``, base64
  ``content`` in 60-character lines); over ``large_threshold`` bytes,
  ``content`` is empty and ``encoding`` is ``"none"``, as GitHub does past 1 MB;
  ``Accept: application/vnd.github.raw`` answers the bytes themselves. A
  directory answers a list; a missing file ``404``; an unknown ``ref``
  ``404 "No commit found for the ref ..."``.
- ``PUT``: compare-and-set on the blob SHA under :attr:`lock`: ``409 "<path> does
  not match <sha>"`` on a stale (or no longer existing) SHA, ``422 '"sha" wasn't
  supplied.'`` when an existing file is written without one, ``201`` on create,
  ``200`` on update, ``404`` for an unknown branch.
- ``401 "Bad credentials"`` unless ``Authorization: Bearer <token>`` matches
  (``token=None`` switches authentication off).
- Injected answers for the error paths: :meth:`fail_next`,
  :meth:`redirect_next_put`, :meth:`stall_next_put`.

Example::

    with GitHubContentsServer(token="t0ken") as server:
        server.put(".jit/jit-integration.yml", b"drata: {}\\n")
        server.fail_next(503, headers={"Retry-After": "1"})
        ...  # point GitHubStore(api_url=server.url, token="t0ken") at it
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["GitHubContentsServer"]


def blob_sha(data: bytes) -> str:
    """Git's blob SHA-1, computed here independently of the code under test."""
    return hashlib.sha1(b"blob " + str(len(data)).encode() + b"\0" + data).hexdigest()


@dataclass(frozen=True)
class _Injected:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    method: str | None = None  # None: the next request of any method takes it


class GitHubContentsServer:
    """A GitHub-contents-compatible HTTP server on ``127.0.0.1`` and a free port.

    ``files`` maps ``(branch, path)`` to bytes; ``requests`` records every request as
    ``(method, path with query, has Authorization header)`` and ``request_headers``
    its headers, in the same order. Hold :attr:`lock` to change ``files`` while
    requests may be in flight. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        token: str | None = "t0ken",
        large_threshold: int = 1_000_000,
        *,
        repo: str = "owner/name",
        default_branch: str = "main",
    ) -> None:
        self.token = token
        self.large_threshold = large_threshold
        self.repo = repo
        self.default_branch = default_branch
        self.branches: set[str] = {default_branch}
        self.files: dict[tuple[str, str], bytes] = {}
        self.requests: list[tuple[str, str, bool]] = []
        self.request_headers: list[dict[str, str]] = []
        self.commits: list[tuple[str, str, str]] = []  # (branch, path, message) per accepted PUT
        self.lock = threading.Lock()
        self._injected: deque[_Injected] = deque()
        self._stalls: deque[float] = deque()
        self._closing = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # close() waits at most this long
            name="github-contents-server",
            daemon=True,
        )
        self._thread.start()

    # -- set-up helpers -------------------------------------------------------------

    def put(self, path: str, data: bytes, *, branch: str | None = None) -> str:
        """Store ``data`` at ``path`` (creating the branch) and return its blob SHA."""
        branch = branch or self.default_branch
        with self.lock:
            self.branches.add(branch)
            self.files[(branch, path)] = data
        return blob_sha(data)

    def get(self, path: str, *, branch: str | None = None) -> bytes | None:
        """The bytes stored at ``path``, or ``None``."""
        with self.lock:
            return self.files.get((branch or self.default_branch, path))

    def fail_next(
        self,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        method: str | None = None,
    ) -> None:
        """Answer the next request (of ``method``, or any) with ``status`` instead of serving it.

        ``body`` is JSON (default ``{"message": <reason phrase>}``) or ``bytes``.
        Calls queue up, first in first out.
        """
        if body is None:
            body = {"message": HTTPStatus(status).phrase}
        with self.lock:
            self._injected.append(_Injected(status, dict(headers or {}), body, method))

    def redirect_next_put(self, to_url: str, status: int = 302) -> None:
        """Answer the next ``PUT`` with a redirect to ``to_url``; the write is not applied."""
        self.fail_next(status, headers={"Location": to_url}, body=b"", method="PUT")

    def stall_next_put(self, seconds: float) -> None:
        """Apply the next ``PUT``, then wait ``seconds`` before answering: a write whose answer is lost."""
        with self.lock:
            self._stalls.append(seconds)

    def paths_requested(self) -> list[str]:
        """The path (without query) of every request so far."""
        return [urlsplit(path).path for _, path, _ in self.requests]

    # -- life cycle -----------------------------------------------------------------

    def close(self) -> None:
        """Stop serving, wake stalled answers, and release the socket."""
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the handler threads (block_on_close)
        self._thread.join()

    def __enter__(self) -> GitHubContentsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GitHubContentsServer({self.url!r}, repo={self.repo!r})"

    # -- what the handler calls -----------------------------------------------------

    def _take_injected(self, method: str) -> _Injected | None:
        with self.lock:
            for item in self._injected:
                if item.method is None or item.method == method:
                    self._injected.remove(item)
                    return item
        return None

    def _take_stall(self) -> float:
        with self.lock:
            return self._stalls.popleft() if self._stalls else 0.0

    def _authorised(self, header: str | None) -> bool:
        if self.token is None:
            return True
        return header in (f"Bearer {self.token}", f"token {self.token}")


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close, so no request outlives the server.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        app: GitHubContentsServer,
    ) -> None:
        self.app = app
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is part of the tests, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so closing the server never waits on keep-alive.
    protocol_version = "HTTP/1.0"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per response
    timeout = 10
    server: BaseServer

    @property
    def app(self) -> GitHubContentsServer:
        return cast(_Server, self.server).app

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read app.requests instead

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    # -- plumbing -------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        app = self.app
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with app.lock:
            app.requests.append((method, self.path, "Authorization" in self.headers))
            app.request_headers.append(dict(self.headers.items()))
        injected = app._take_injected(method)
        if injected is not None:
            self._reply(injected.status, injected.body, injected.headers)
            return
        if not app._authorised(self.headers.get("Authorization")):
            self._reply(401, {"message": "Bad credentials"})
            return
        parts = urlsplit(self.path)
        repo_root = f"/repos/{app.repo}"
        if parts.path == repo_root and method == "GET":
            self._reply(200, {"full_name": app.repo, "default_branch": app.default_branch})
            return
        prefix = f"{repo_root}/contents/"
        if not parts.path.startswith(prefix):
            self._reply(404, {"message": "Not Found"})
            return
        path = unquote(parts.path[len(prefix) :])
        if method == "GET":
            ref = parse_qs(parts.query).get("ref", [app.default_branch])[0]
            self._get(path, ref)
        else:
            self._put(path, body)

    def _reply(
        self, status: int, body: Any, headers: dict[str, str] | None = None, *, raw: bool = False
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        content_type = "application/vnd.github.raw" if raw else "application/json; charset=utf-8"
        if data:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- the contents API -----------------------------------------------------------

    def _get(self, path: str, ref: str) -> None:
        app = self.app
        with app.lock:
            known_ref = ref in app.branches
            data = app.files.get((ref, path))
            listing = [
                {"type": "file", "name": p.rsplit("/", 1)[-1], "path": p, "sha": blob_sha(d)}
                for (b, p), d in sorted(app.files.items())
                if b == ref and p.startswith(path + "/")
            ]
        if not known_ref:
            self._reply(404, {"message": f"No commit found for the ref {ref}"})
            return
        if data is None:
            if listing:
                self._reply(200, listing)  # a directory: GitHub answers a list
            else:
                self._reply(404, {"message": "Not Found"})
            return
        accept = self.headers.get("Accept", "")
        if "vnd.github.raw" in accept or "vnd.github.v3.raw" in accept:
            self._reply(200, data, raw=True)
            return
        large = len(data) > app.large_threshold
        encoded = base64.b64encode(data).decode("ascii")
        content = (
            "" if large else "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
        )
        self._reply(
            200,
            {
                "type": "file",
                "encoding": "none" if large else "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": content,
                "sha": blob_sha(data),
                "url": f"{app.url}/repos/{app.repo}/contents/{path}?ref={ref}",
            },
        )

    def _put(self, path: str, body: bytes) -> None:
        app = self.app
        try:
            request = json.loads(body)
        except ValueError:
            self._reply(400, {"message": "Problems parsing JSON"})
            return
        if not isinstance(request, dict) or not isinstance(request.get("message"), str):
            self._reply(422, {"message": 'Invalid request.\n\n"message" wasn\'t supplied.'})
            return
        try:
            data = base64.b64decode(str(request.get("content")), validate=True)
        except (binascii.Error, ValueError):
            self._reply(422, {"message": "content is not valid Base64"})
            return
        branch = request.get("branch") or app.default_branch
        given = request.get("sha")
        with app.lock:
            existing = app.files.get((branch, path))
            refusal = self._refuse_put(path, branch, given, existing)
            if refusal is None:
                app.files[(branch, path)] = data
                app.commits.append((branch, path, request["message"]))
        if refusal is not None:
            self._reply(*refusal)
            return
        sha = blob_sha(data)
        commit = hashlib.sha1(f"{path}:{sha}:{request['message']}".encode()).hexdigest()
        stall = app._take_stall()
        if stall:
            app._closing.wait(stall)
        self._reply(
            201 if existing is None else 200,
            {
                "content": {
                    "type": "file",
                    "name": path.rsplit("/", 1)[-1],
                    "path": path,
                    "sha": sha,
                    "size": len(data),
                },
                "commit": {"sha": commit, "message": request["message"]},
            },
        )

    def _refuse_put(
        self, path: str, branch: str, given: Any, existing: bytes | None
    ) -> tuple[int, dict[str, str]] | None:
        """GitHub's answer to a PUT it will not apply (called under the lock), or ``None``."""
        if branch not in self.app.branches:
            return 404, {"message": f"Branch {branch} not found"}
        if existing is not None and given is None:
            return 422, {"message": 'Invalid request.\n\n"sha" wasn\'t supplied.'}
        if given is not None and (existing is None or blob_sha(existing) != given):
            return 409, {"message": f"{path} does not match {given}"}
        return None
