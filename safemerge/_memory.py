"""An in-process store: the fake the engine's own tests use, and a real store for tools."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ShaConflict, UnsafeInput
from ._result import Change
from ._store import Snapshot, git_blob_sha

__all__ = ["MemoryStore"]


def _serialise(document: Mapping[str, Any]) -> str:
    try:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UnsafeInput(f"a MemoryStore holds JSON data only: {exc}") from None


class MemoryStore:
    """A thread-safe store in memory, with SHAs like the remote ones.

    >>> from safemerge import apply
    >>> store = MemoryStore({"drata": {"workspace": "production"}})
    >>> apply(store, {"drata": {"user_email": "sec@example.com"}}).written
    True
    >>> store.read().document
    {'drata': {'workspace': 'production', 'user_email': 'sec@example.com'}}

    ``document=None`` starts with no file at all (``sha`` None), as a remote
    without the file would. The SHA is the git blob SHA of the document's
    compact JSON (keys in the document's order), which is also what is kept:
    a read parses it into a fresh document (faster than copying one), and a
    write serialises once for both the SHA and the keeping.
    """

    def __init__(self, document: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._text: str | None = None
        self._sha: str | None = None
        self.writes = 0
        if document is not None:
            self._text = _serialise(document)
            self._sha = git_blob_sha(self._text.encode())

    def __repr__(self) -> str:
        return f"MemoryStore(sha={self._sha!r})"

    def read(self) -> Snapshot:
        with self._lock:
            text, sha = self._text, self._sha
        # Parsing happens outside the lock: the text is never changed, only replaced.
        return Snapshot(json.loads(text) if text is not None else {}, sha, None)

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str:
        text = _serialise(document)
        sha = git_blob_sha(text.encode())
        with self._lock:
            if not force and self._sha != snapshot.sha:
                raise ShaConflict(expected=snapshot.sha, actual=self._sha)
            self._text, self._sha = text, sha
            self.writes += 1
        return sha
