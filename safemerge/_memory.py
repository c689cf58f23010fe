"""An in-process store: the fake the engine's own tests use, and a real store for tools."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import ShaConflict
from ._result import Change
from ._store import Snapshot, git_blob_sha
from ._values import copy_document

__all__ = ["MemoryStore"]


def canonical_sha(document: Mapping[str, Any]) -> str:
    """The git blob SHA of the document's canonical JSON (sorted keys, no spaces)."""
    data = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return git_blob_sha(data)


class MemoryStore:
    """A thread-safe store in memory, with SHAs like the remote ones.

    >>> from safemerge import apply
    >>> store = MemoryStore({"drata": {"workspace": "production"}})
    >>> apply(store, {"drata": {"user_email": "sec@example.com"}}).written
    True
    >>> store.read().document
    {'drata': {'workspace': 'production', 'user_email': 'sec@example.com'}}

    ``document=None`` starts with no file at all (``sha`` None), as a remote
    without the file would.
    """

    def __init__(self, document: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._document: dict[str, Any] | None = None
        self._sha: str | None = None
        self.writes = 0
        if document is not None:
            self._document = copy_document(document)
            self._sha = canonical_sha(self._document)

    def __repr__(self) -> str:
        return f"MemoryStore(sha={self._sha!r})"

    def read(self) -> Snapshot:
        with self._lock:
            document, sha = self._document, self._sha
        # The stored document is never changed in place (writes replace it),
        # so it can be copied outside the lock.
        return Snapshot(copy_document(document) if document is not None else {}, sha, None)

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str:
        mine = copy_document(document)
        sha = canonical_sha(mine)
        with self._lock:
            if not force and self._sha != snapshot.sha:
                raise ShaConflict(expected=snapshot.sha, actual=self._sha)
            self._document, self._sha = mine, sha
            self.writes += 1
        return sha
