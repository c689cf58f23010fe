"""A thin fault-injecting wrapper around any store, for step-wise interleaving tests.

``FaultyStore(inner)`` passes reads and writes through, except that the next
write(s) can be told to fail in one of two ways a real remote fails:

- ``"transient"``: the write raises :class:`TransientError` *before* reaching
  ``inner`` (a 503, a refused connection): nothing landed;
- ``"unknown"``: the write reaches ``inner`` and lands, then raises
  :class:`OutcomeUnknown` (a timeout after the server committed).

``on_read`` (if set) runs after every read: a rival writer can act between a
client's read and its write.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from safemerge import OutcomeUnknown, Snapshot, Store, TransientError
from safemerge._result import Change

__all__ = ["FaultyStore"]


class FaultyStore:
    """A :class:`safemerge.Store` around ``inner`` whose next writes fail as scripted."""

    def __init__(self, inner: Store, on_read: Callable[[], None] | None = None) -> None:
        self.inner = inner
        self.on_read = on_read
        self.faults: deque[str] = deque()
        self.injected: list[str] = []  # every fault that was used, in order
        self.landed_unknown = 0  # writes that landed but were answered OutcomeUnknown

    def script(self, faults: Iterable[str]) -> None:
        """Queue faults (``"transient"``, ``"unknown"`` or ``"none"``) for the next writes."""
        self.faults.extend(faults)

    def read(self) -> Snapshot:
        snapshot = self.inner.read()
        if self.on_read is not None:
            self.on_read()
        return snapshot

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str | None:
        fault = self.faults.popleft() if self.faults else "none"
        if fault == "transient":
            self.injected.append(fault)
            raise TransientError("injected: the write failed before it was sent")
        sha = self.inner.write(snapshot, document, changes, force=force)
        if fault == "unknown":
            self.injected.append(fault)
            self.landed_unknown += 1
            raise OutcomeUnknown("injected: the write landed but its answer was lost")
        return sha
