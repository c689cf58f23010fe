"""The store protocol: read a snapshot, write guarded by it.

A store only knows how to read and write one integration file. Everything
else (merging, validating, retrying) lives in :func:`safemerge.apply`, so a new
store is two methods::

    class Store(Protocol):
        def read(self) -> Snapshot: ...
        def write(self, snapshot, document, changes, *, force=False) -> str | None: ...

``write`` must refuse (:class:`ShaConflict`) when the remote no longer holds
``snapshot.sha``, unless ``force`` is set; it returns the new SHA (``None`` where
the remote has none), as a plain ``str`` or as a :class:`Written` (a ``str``
that also carries what the writer had to say, e.g. lines it normalised). Transient failures raise :class:`TransientError`; a write
whose outcome is unknown (the request may or may not have landed) raises
:class:`OutcomeUnknown`, which the write loop settles by reading again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._errors import StoreError
from ._result import Change

__all__ = ["OutcomeUnknown", "Snapshot", "Store", "TransientError", "Written", "git_blob_sha"]


def git_blob_sha(data: bytes) -> str:
    """The git blob SHA-1 of ``data``: what ``git hash-object`` prints and GitHub calls ``sha``.

    >>> git_blob_sha(b"")
    'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'
    """
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class Written(str):
    """A new SHA that also carries the writer's ``warnings``.

    A ``str`` subclass so that every store can keep returning "the new SHA";
    :func:`apply` reads the warnings into :attr:`ApplyResult.warnings`.

    >>> sha = Written("3b18e512dba79e4c8300dd08aeb37f8e728b8dad", ("line 4 was re-indented",))
    >>> sha == "3b18e512dba79e4c8300dd08aeb37f8e728b8dad", sha.warnings
    (True, ('line 4 was re-indented',))
    """

    warnings: tuple[str, ...]

    def __new__(cls, sha: str, warnings: tuple[str, ...] = ()) -> Written:
        self = super().__new__(cls, sha)
        self.warnings = tuple(warnings)
        return self


@dataclass(frozen=True)
class Snapshot:
    """What a store read: the ``document``, its ``sha`` (``None`` where the remote has none) and ``raw`` text.

    ``document`` belongs to the snapshot: stores hand out a fresh one per read,
    and nothing in safemerge changes it.
    """

    document: dict[str, Any]
    sha: str | None
    raw: str | None = None
    tree: Any = field(default=None, repr=False, compare=False)
    """What a YAML store parsed ``raw`` into (the composed node tree), for its own writer."""


@runtime_checkable
class Store(Protocol):
    """Anything that can read and guardedly write one integration file."""

    def read(self) -> Snapshot:
        """Read the current file."""
        ...

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str | None:
        """Write ``document`` (``snapshot`` + ``changes``) if the remote still holds ``snapshot.sha``.

        Returns the new SHA. Raises :class:`ShaConflict` if someone else wrote first.
        """
        ...


class TransientError(StoreError):
    """A failure that may pass: a connection error, a timeout, HTTP 429 or 5xx.

    ``retry_after`` is the server's ``Retry-After`` in seconds, where it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None):
        super().__init__(message, hint=hint or "try again later; apply() retries these on its own")
        self.retry_after = retry_after


class OutcomeUnknown(TransientError):
    """A write was sent but no answer came back: it may or may not have landed.

    Never retried blindly: the write loop reads again and checks.
    """
