"""GitHubStore: the integration file in a GitHub repository, through the REST contents API.

``GET /repos/{owner}/{repo}/contents/{path}`` reads the file and its blob SHA;
``PUT`` to the same URL writes it guarded by that SHA, which GitHub checks:
``409`` when the file moved on, ``422`` when an existing file is written without
a SHA. Both become :class:`ShaConflict`, which the write loop answers by reading
and merging again.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, urlsplit

import requests

from ._errors import (
    AuthError,
    PermissionDenied,
    SafeMergeError,
    ShaConflict,
    StoreError,
    UnsafeInput,
)
from ._http import (
    DEFAULT_TIMEOUT,
    Secret,
    json_body,
    new_session,
    parse_retry_after,
    send,
    transient_for,
)
from ._result import Change
from ._store import OutcomeUnknown, Snapshot, TransientError, Written, git_blob_sha
from ._yaml import read_yaml, render_document

__all__ = ["GitHubStore"]

log = logging.getLogger("safemerge")

DEFAULT_PATH: Final = ".jit/jit-integration.yml"
API_VERSION: Final = "2022-11-28"
_ACCEPT_JSON: Final = "application/vnd.github+json"
_ACCEPT_RAW: Final = "application/vnd.github.raw"
# GitHub: on a secondary rate limit without Retry-After, "wait at least one minute".
_SECONDARY_LIMIT_WAIT: Final = 60.0
_FORCE_ATTEMPTS: Final = 3

_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
_SHA = re.compile(r"[0-9a-f]{40}")
_SHA_WORD = re.compile(r"\bsha\b", re.I)
# Branch protection and rulesets refuse a write for good: retrying will not help.
_RULES = re.compile(r"rule violation|protected branch", re.I)
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class GitHubStore:
    """The integration file in a GitHub repository (default ``.jit/jit-integration.yml``).

    Reads through the contents API (falling back to the raw media type for files
    over 1 MB) and writes guarded by the blob SHA it read. ``token`` defaults to
    ``$GITHUB_TOKEN``; it needs ``contents: read`` to read and ``contents: write``
    to write. ``branch`` defaults to the repository's default branch. A
    ``session`` passed in is used and left open; one the store made is closed by
    :meth:`close` (or by leaving a ``with`` block).

    >>> store = GitHubStore("acme/jit-config", branch="main", token="ghp_example")
    >>> store
    GitHubStore(repo='acme/jit-config', path='.jit/jit-integration.yml', branch='main', api_url='https://api.github.com')
    >>> store.close()

    Then ``apply(store, fragment)`` reads, merges and writes it back.
    """

    def __init__(
        self,
        repo: str = "owner/name",
        path: str = DEFAULT_PATH,
        *,
        branch: str | None = None,
        token: str | Secret | None = None,
        api_url: str = "https://api.github.com",
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        message: str = f"safemerge: update {DEFAULT_PATH}",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _REPO.fullmatch(repo) or repo.split("/")[1] in {".", ".."}:
            raise StoreError(
                f"GitHub repository {repo!r} is not of the form owner/name",
                hint="pass repo='owner/name', e.g. repo='acme/jit-config'",
            )
        segments = path.strip("/").split("/")
        if any(s in {"", ".", ".."} or not s.isprintable() for s in segments):
            raise StoreError(
                f"{path!r} is not a file path inside the repository",
                hint=f"pass a path relative to the repository root, e.g. path={DEFAULT_PATH!r}",
            )
        if branch is not None and not branch.strip():
            raise StoreError(
                "branch is empty", hint="pass a branch name, or branch=None for the default branch"
            )
        self.repo = repo
        self.path = "/".join(segments)
        self.branch = branch
        self.api_url = _checked_api_url(api_url)
        self.timeout = timeout
        self.message = message
        if token is None:
            token = os.environ.get("GITHUB_TOKEN") or None
        self._token = token if isinstance(token, Secret) or token is None else Secret(token)
        self._clock = clock
        self._owns_session = session is None
        self._session = session if session is not None else new_session()
        self._url = f"{self.api_url}/repos/{repo}/contents/" + "/".join(
            quote(s, safe="") for s in segments
        )
        self._where = f"{repo}:{self.path}" + (f"@{branch}" if branch else "")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(repo={self.repo!r}, path={self.path!r}, "
            f"branch={self.branch!r}, api_url={self.api_url!r})"
        )

    # -- the Store protocol ---------------------------------------------------------

    def read(self) -> Snapshot:
        """The file, its blob SHA and its text; a missing file is an empty document with no SHA."""
        what = f"GitHub: reading {self._where}"
        meta = self._metadata(what)
        if meta is None:
            log.debug("%s: no such file", what)
            return Snapshot({}, None, None)
        sha: str = meta["sha"]
        data = self._content(meta, sha, what)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnsafeInput(
                f"{self._where} is not UTF-8 text",
                line=data[: exc.start].count(b"\n") + 1,
                hint="save the file as UTF-8",
            ) from None
        log.debug("%s: sha %s, %d bytes", what, sha, len(data))
        document, tree = read_yaml(text, origin=self._where)
        return Snapshot(document, sha, text, tree)

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str:
        """Commit ``document`` if the file still has ``snapshot.sha``; return the new blob SHA.

        With ``force``, write over whatever the file holds now (GitHub still needs
        its current SHA, so it is read first).
        """
        rendered = render_document(document, snapshot.raw, changes, snapshot.tree)
        text = rendered.text
        content = base64.b64encode(text.encode("utf-8")).decode("ascii")
        what = f"GitHub: writing {self._where}"
        if not force:
            return Written(self._put(content, snapshot.sha, what), rendered.warnings)
        for attempt in range(1, _FORCE_ATTEMPTS + 1):
            meta = self._metadata(what)
            try:
                sha = self._put(content, None if meta is None else meta["sha"], what)
                return Written(sha, rendered.warnings)
            except ShaConflict:
                # Someone wrote between our read of the SHA and the PUT: forced, so go again.
                if attempt == _FORCE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- life cycle -----------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP session, if the store made it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> GitHubStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------

    def _headers(self, accept: str = _ACCEPT_JSON) -> dict[str, str]:
        headers = {"Accept": accept, "X-GitHub-Api-Version": API_VERSION}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return headers

    def _get(self, url: str, what: str, accept: str = _ACCEPT_JSON) -> requests.Response:
        return send(
            self._session,
            "GET",
            url,
            what=what,
            timeout=self.timeout,
            headers=self._headers(accept),
        )

    def _ref_url(self) -> str:
        return (
            self._url if self.branch is None else f"{self._url}?ref={quote(self.branch, safe='')}"
        )

    def _metadata(self, what: str) -> dict[str, Any] | None:
        """The contents API's file object (with a valid ``sha``), or ``None`` if there is no such file."""
        response = self._get(self._ref_url(), what)
        if response.status_code == 404:
            self._check_missing(response, what)
            return None
        if response.status_code != 200:
            raise self._error(response, what)
        meta = json_body(response, what=what)
        if isinstance(meta, list):
            raise StoreError(
                f"{what}: {self.path} is a directory",
                hint="point path at the integration file itself",
            )
        if not isinstance(meta, dict) or meta.get("type") != "file":
            kind = meta.get("type") if isinstance(meta, dict) else type(meta).__name__
            raise StoreError(
                f"{what}: {self.path} is not a file (GitHub says {kind!r})",
                hint="point path at a regular file, not a symlink or submodule",
            )
        if not isinstance(meta.get("sha"), str) or not _SHA.fullmatch(meta["sha"]):
            raise StoreError(f"{what}: GitHub sent no valid blob sha for the file")
        return meta

    def _check_missing(self, response: requests.Response, what: str) -> None:
        """Tell a missing file (fine: it is created) from a missing branch or repository (not fine)."""
        message = self._github_message(response)
        if "no commit found for the ref" in message.lower():
            raise StoreError(
                f"{what}: branch {self.branch!r} does not exist",
                hint="create the branch first, or pass branch=None for the default branch",
            )
        # GitHub answers the same 404 for a missing file and for a repository the
        # token cannot see; only the first may be treated as an empty document.
        repo_what = f"GitHub: looking up {self.repo}"
        probe = self._get(f"{self.api_url}/repos/{self.repo}", repo_what)
        if probe.status_code == 404:
            raise StoreError(
                f"{what}: repository {self.repo} not found, or the token cannot see it",
                hint="check the owner/name, and that the token is granted access to this repository",
            )
        if probe.status_code != 200:
            raise self._error(probe, repo_what)

    def _content(self, meta: Mapping[str, Any], sha: str, what: str) -> bytes:
        encoding, content, size = meta.get("encoding"), meta.get("content"), meta.get("size")
        if encoding == "base64" and isinstance(content, str) and (content or size == 0):
            try:
                data = base64.b64decode("".join(content.split()), validate=True)
            except (binascii.Error, ValueError):
                raise StoreError(f"{what}: GitHub sent content that is not base64") from None
            if git_blob_sha(data) != sha:
                raise StoreError(f"{what}: the content GitHub sent does not match its sha {sha}")
            return data
        if encoding not in ("base64", "none"):
            raise StoreError(f"{what}: GitHub sent the content in an unknown encoding {encoding!r}")
        # Over 1 MB the contents API leaves ``content`` empty: fetch the bytes
        # themselves, never mistake the file for an empty one.
        raw_what = f"{what} (raw)"
        response = self._get(self._ref_url(), raw_what, accept=_ACCEPT_RAW)
        if response.status_code == 404:
            raise TransientError(f"{raw_what}: the file vanished between two reads")
        if response.status_code != 200:
            raise self._error(response, raw_what)
        data = response.content
        if git_blob_sha(data) != sha:
            raise TransientError(
                f"{raw_what}: the file changed between two reads (expected sha {sha})"
            )
        return data

    # -- writing --------------------------------------------------------------------

    def _put(self, content: str, sha: str | None, what: str) -> str:
        body: dict[str, str] = {"message": self.message, "content": content}
        if sha is not None:
            body["sha"] = sha
        if self.branch is not None:
            body["branch"] = self.branch
        response = send(
            self._session,
            "PUT",
            self._url,
            what=what,
            timeout=self.timeout,
            headers=self._headers(),
            body=body,
            is_write=True,
        )
        status = response.status_code
        if status in (200, 201):
            answer = json_body(response, what=what)
            new_sha = answer.get("content", {}).get("sha") if isinstance(answer, dict) else None
            if not isinstance(new_sha, str) or not _SHA.fullmatch(new_sha):
                raise StoreError(f"{what}: GitHub answered {status} without the new blob sha")
            log.debug("%s: sha %s -> %s", what, sha, new_sha)
            return new_sha
        message = self._github_message(response)
        if status in (409, 422) and _RULES.search(message):
            raise StoreError(
                f"{what}: GitHub refused the commit: {message}",
                hint="the branch is protected: write to another branch (branch=...) and open a pull request",
            )
        if status == 409 or (status == 422 and _SHA_WORD.search(message)):
            raise ShaConflict(
                f"{what}: the file changed since it was read (GitHub: {message or status})",
                expected=sha,
            )
        if status == 404:
            raise StoreError(
                f"{what}: GitHub answered 404: the repository or branch does not exist, "
                "or the token cannot see it",
                hint="check repo and branch, and that the token is granted access to this repository",
            )
        raise self._error(response, what, writing=True)

    # -- errors ---------------------------------------------------------------------

    def _error(
        self, response: requests.Response, what: str, *, writing: bool = False
    ) -> SafeMergeError:
        """The error for an answer that is neither success nor one the caller handles itself."""
        status = response.status_code
        message = self._github_message(response)
        said = f" ({message})" if message else ""
        if status == 401:
            return AuthError(
                f"{what}: GitHub refused the credentials{said}",
                hint="set GITHUB_TOKEN (or pass token=) to a valid token for this repository",
            )
        if status == 429 or (status == 403 and self._rate_limited(response, message)):
            return TransientError(
                f"{what}: GitHub's rate limit was hit{said}",
                retry_after=self._rate_limit_wait(response),
            )
        if status == 403:
            permission = "contents: write" if writing else "contents: read"
            return PermissionDenied(
                f"{what}: GitHub answered 403{said}",
                missing_permissions=(permission,),
                hint=f"the token needs {permission} on {self.repo}",
            )
        if status >= 500 and writing:
            # A gateway error can hide a commit that landed: settle it by reading.
            return OutcomeUnknown(
                f"{what}: GitHub answered {status}{said}",
                retry_after=parse_retry_after(response.headers.get("Retry-After"), self._clock),
            )
        if status >= 500:
            return transient_for(response, what=what, now=self._clock)
        return StoreError(f"{what}: GitHub answered {status}{said}")

    @staticmethod
    def _rate_limited(response: requests.Response, message: str) -> bool:
        return (
            response.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in message.lower()
        )

    def _rate_limit_wait(self, response: requests.Response) -> float:
        # GitHub's rule: Retry-After if sent; else, with the quota spent, until
        # x-ratelimit-reset (epoch seconds); else at least a minute.
        after = parse_retry_after(response.headers.get("Retry-After"), self._clock)
        if after is not None:
            return after
        reset = response.headers.get("x-ratelimit-reset", "")
        if response.headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
            return max(0.0, float(reset) - self._clock())
        return _SECONDARY_LIMIT_WAIT

    def _github_message(self, response: requests.Response) -> str:
        """GitHub's ``message``, short, on one line, and never holding the token."""
        try:
            answer = response.json()
        except ValueError:
            return ""
        message = answer.get("message") if isinstance(answer, dict) else None
        if not isinstance(message, str):
            return ""
        message = " ".join(message.split())[:300]
        if self._token is not None and self._token.reveal():
            message = message.replace(self._token.reveal(), "<redacted>")
        return message


def _checked_api_url(api_url: str) -> str:
    """``api_url`` without a trailing slash; plain http only to this machine (the token travels)."""
    parts = urlsplit(api_url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        if parts.query or parts.fragment or parts.username or parts.password:
            raise StoreError(
                "api_url must not carry a query, fragment or credentials",
                hint="pass the API root, e.g. https://api.github.com or https://ghe.example.com/api/v3",
            )
        return api_url.rstrip("/")
    raise StoreError(
        f"api_url must be an https:// URL, not {parts.scheme or 'no scheme'}://",
        hint="pass the API root, e.g. https://api.github.com or https://ghe.example.com/api/v3",
    )
