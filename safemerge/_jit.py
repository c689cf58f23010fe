"""The Jit API store: ``GET``/``PUT /plans/integration-file``, guarded by ``file_sha``."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import requests

from ._errors import (
    AuthError,
    PermissionDenied,
    SafeMergeError,
    ShaConflict,
    StoreError,
    UnsafeInput,
)
from ._http import DEFAULT_TIMEOUT, Secret, json_body, new_session, send, transient_for
from ._result import Change
from ._store import OutcomeUnknown, Snapshot
from ._values import check_fragment

__all__ = ["JitStore"]

DEFAULT_URL: Final = "https://api.jit.io"
EU_URL: Final = "https://api.eu.jit.io"
FILE_PATH: Final = "/plans/integration-file"
LOGIN_PATH: Final = "/authentication/login"
_CREDENTIALS_HINT: Final = "set JIT_API_TOKEN, or JIT_CLIENT_ID and JIT_CLIENT_SECRET (an API key with jit.integrations.write)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class JitStore:
    """The tenant's integration file through the Jit API.

    >>> store = JitStore("https://api.eu.jit.io", token="eyJ...")
    >>> store
    JitStore('https://api.eu.jit.io', auth='token')

    Credentials: ``token`` (a bearer JWT), or ``client_id``/``client_secret`` (an
    API key, exchanged at ``POST /authentication/login``, and again once if the
    token is refused mid-way). Unset arguments fall back to ``JIT_API_URL``,
    ``JIT_API_TOKEN``, ``JIT_CLIENT_ID`` and ``JIT_CLIENT_SECRET``. Plain ``http://``
    is refused except on loopback (a token is never sent in clear), and TLS
    certificates are always verified.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        url = (base_url or os.environ.get("JIT_API_URL") or DEFAULT_URL).rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise StoreError(f"not a Jit API URL: {url!r}", hint=f"use {DEFAULT_URL} or {EU_URL}")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise StoreError(
                f"refusing plain http to {parts.hostname}: the token would travel in clear",
                hint="use https://; plain http is only for a local server on 127.0.0.1",
            )
        self.base_url = url
        self.timeout = timeout
        token = token if token is not None else os.environ.get("JIT_API_TOKEN")
        client_id = client_id if client_id is not None else os.environ.get("JIT_CLIENT_ID")
        secret = client_secret if client_secret is not None else os.environ.get("JIT_CLIENT_SECRET")
        self._token = Secret(token) if token else None
        self._client = (client_id, Secret(secret)) if client_id and secret else None
        self._session = session if session is not None else new_session()

    def __repr__(self) -> str:
        auth = "token" if self._token else "client credentials" if self._client else "none"
        return f"JitStore({self.base_url!r}, auth={auth!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> JitStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol ---------------------------------------------------------------------------

    def read(self) -> Snapshot:
        response = self._request("GET", what="reading the integration file")
        if response.status_code == 409:
            body = _error_body(response)
            if body.get("error") == "FILE_NOT_FOUND":
                return Snapshot({}, None, None)  # no file yet: the write creates it
            raise self._other_error(response, "reading the integration file")
        if response.status_code != 200:
            raise self._other_error(response, "reading the integration file")
        body = json_body(response, what="reading the integration file")
        if not isinstance(body, Mapping) or "content" not in body:
            raise StoreError("reading the integration file: the answer has no 'content'")
        content = body["content"]
        if content is None:
            content = {}
        if not isinstance(content, Mapping):
            raise UnsafeInput(f"the server's content is {type(content).__name__}, not a mapping")
        check_fragment(content)  # JSON data, no NaN, bounded depth: what merge may rely on
        sha = body.get("file_sha")
        if sha is not None and not isinstance(sha, str):
            raise StoreError(
                f"reading the integration file: file_sha is {type(sha).__name__}, not a string"
            )
        raw = body.get("raw_content")
        # Parsed from this response alone, so already a fresh document: no copy needed.
        return Snapshot(dict(content), sha or None, raw if isinstance(raw, str) else None)

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str | None:
        payload: dict[str, Any] = {"content": document}
        if snapshot.sha is not None and not force:
            payload["file_sha"] = snapshot.sha
        what = "writing the integration file"
        response = self._request("PUT", what=what, body=payload)
        status = response.status_code
        if status in (200, 201, 204):
            # The write landed; an answer we cannot read only means its new SHA is unknown.
            try:
                body = json_body(response, what=what) if response.content else None
            except SafeMergeError:
                body = None
            sha = body.get("file_sha") if isinstance(body, Mapping) else None
            return sha if isinstance(sha, str) and sha else None
        if status == 409 and _error_body(response).get("error") == "FILE_SHA_CONFLICT":
            raise ShaConflict(
                "the integration file changed since it was read (409 FILE_SHA_CONFLICT)",
                expected=snapshot.sha,
            )
        if status >= 500:
            # A gateway error can hide a write that committed: settle it by reading.
            raise OutcomeUnknown(f"{what}: the server answered {status}")
        raise self._other_error(response, what)

    # -- plumbing -------------------------------------------------------------------------------

    def _request(self, method: str, *, what: str, body: Any = None) -> requests.Response:
        if self._token is None and self._client is not None:
            self._login()
        response = self._send(method, what, body)
        if response.status_code == 401 and self._client is not None:
            # The token may have expired mid-run (they last a day): log in once more, once.
            response.close()
            self._login()
            response = self._send(method, what, body)
        return response

    def _send(self, method: str, what: str, body: Any) -> requests.Response:
        headers = {"Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        response = send(
            self._session,
            method,
            self.base_url + FILE_PATH,
            what=what,
            timeout=self.timeout,
            headers=headers,
            body=body,
            is_write=method != "GET",
        )
        if response.status_code == 429 or (response.status_code >= 500 and method == "GET"):
            raise transient_for(response, what=what)
        return response

    def _login(self) -> None:
        assert self._client is not None
        client_id, secret = self._client
        response = send(
            self._session,
            "POST",
            self.base_url + LOGIN_PATH,
            what="logging in",
            timeout=self.timeout,
            headers={"Accept": "application/json"},
            body={"clientId": client_id, "secret": secret.reveal()},
            is_write=True,  # never redirect the secret elsewhere
        )
        if response.status_code in (401, 403):
            raise AuthError(
                f"logging in: the API key was refused ({response.status_code})",
                hint=_CREDENTIALS_HINT,
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise transient_for(response, what="logging in")
        if response.status_code != 200:
            raise self._other_error(response, "logging in")
        body = json_body(response, what="logging in")
        token = body.get("accessToken") if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise AuthError("logging in: the answer has no accessToken", hint=_CREDENTIALS_HINT)
        self._token = Secret(token)

    def _other_error(self, response: requests.Response, what: str) -> StoreError:
        status = response.status_code
        body = _error_body(response)
        code = body.get("error")
        message = self._scrub(
            str(body.get("message") or body.get("Message") or response.reason or "")
        )
        if status == 401:
            return AuthError(f"{what}: unauthorized (401)", hint=_CREDENTIALS_HINT)
        if status == 403:
            missing = body.get("missing_permissions")
            names = [str(m) for m in missing] if isinstance(missing, list) else []
            return PermissionDenied(
                f"{what}: forbidden (403)" + (f"; missing {', '.join(names)}" if names else ""),
                missing_permissions=names,
                hint="give the API key the role that grants "
                + (", ".join(names) or "jit.integrations.write"),
            )
        label = f"{status} {code}" if isinstance(code, str) else str(status)
        return StoreError(f"{what}: the server answered {label}: {message}".rstrip(": "))

    def _scrub(self, text: str) -> str:
        # Belt and braces: a server that echoes credentials back must not make us print them.
        for secret in (self._token, self._client[1] if self._client else None):
            if secret is not None and secret.reveal() and secret.reveal() in text:
                text = text.replace(secret.reveal(), "<redacted>")
        return text[:500]


def _error_body(response: requests.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, Mapping) else {}
