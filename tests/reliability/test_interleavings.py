"""Hypothesis interleaves several clients' reads, merges and writes with a rival and faults.

The protocol ``apply`` follows is run here one step at a time, so Hypothesis
chooses the interleaving: client *i* reads a snapshot; client *i* merges its
pending item into it; client *i* writes guarded by its snapshot (on
``ShaConflict`` it must read again; on ``OutcomeUnknown`` it reads again and a
merge that changes nothing means the write landed). Between any two steps an
outside writer may write, unguarded (force) or guarded by a snapshot it took
earlier, and writes may fail before landing (``TransientError``) or land and
then fail (``OutcomeUnknown``). A further rule runs a whole ``apply`` with
scripted faults and a rival that writes after each of its reads.

Invariants, after every step (Jepsen's set checker, applied continuously):

- every acknowledged item is in the file exactly once;
- the file holds nothing no one tried to write, and nothing whose every
  attempt definitely failed;
- the integration no one touched is untouched.

At teardown every client finishes its pending item through ``apply``, and the
invariants are checked once more (no client is stuck).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from safemerge import (
    FileStore,
    MemoryStore,
    MergeResult,
    OutcomeUnknown,
    Retry,
    SafeMergeError,
    ShaConflict,
    Snapshot,
    Store,
    TransientError,
    apply,
    merge,
)
from tests.support.faulty_store import FaultyStore

CLIENTS = 3
INITIAL_ID = "123456789012"
DRATA = {"user_email": "security@example.com", "workspace": "production"}
INITIAL = {
    "aws": [{"account_id": INITIAL_ID, "regions": ["us-east-1"], "type": "account"}],
    "drata": DRATA,
}
FAULTS = st.sampled_from(["none", "none", "transient", "unknown"])
TALLY: Counter[str] = Counter()
"""What the machines did, across every example (the report script prints it)."""


def account(account_id: str) -> dict[str, Any]:
    return {"account_id": account_id, "regions": ["us-east-1"], "type": "account"}


def no_sleep(seconds: float) -> None:
    del seconds


@dataclass
class Client:
    item: str | None = None
    snapshot: Snapshot | None = None
    merged: MergeResult | None = None
    unknown: bool = False  # a write of ``item`` may have landed unseen


class Interleavings(RuleBasedStateMachine):
    """Clients, a rival and faults around one store; see the module docstring."""

    def make_store(self) -> Store:
        return MemoryStore(INITIAL)

    def __init__(self) -> None:
        super().__init__()
        self.inner = self.make_store()
        self.store = FaultyStore(self.inner)
        self.clients = [Client() for _ in range(CLIENTS)]
        self.acknowledged: set[str] = {INITIAL_ID}
        self.tried: set[str] = {INITIAL_ID}
        self.definitely_failed: set[str] = set()
        self.counter = 0
        self.rival_snapshot: Snapshot | None = None

    def new_id(self, prefix: int) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:011d}"

    # -- the step-wise clients ---------------------------------------------------------------

    @rule(i=st.integers(0, CLIENTS - 1))
    def client_reads(self, i: int) -> None:
        client = self.clients[i]
        if client.item is None:
            client.item = self.new_id(1 + i)
        client.snapshot, client.merged = self.store.read(), None

    @precondition(
        lambda self: any(c.snapshot is not None and c.merged is None for c in self.clients)
    )
    @rule(data=st.data())
    def client_merges(self, data: st.DataObject) -> None:
        i = data.draw(
            st.sampled_from(
                [
                    n
                    for n, c in enumerate(self.clients)
                    if c.snapshot is not None and c.merged is None
                ]
            )
        )
        client = self.clients[i]
        assert client.snapshot is not None
        assert client.item is not None
        result = merge(client.snapshot.document, {"aws": [account(client.item)]})
        if not result.changed:
            # Already there: only a write of ours whose answer was lost can explain it.
            assert client.unknown, f"{client.item} is in the file, but no write of it landed"
            TALLY["answer lost, then found landed by reading again"] += 1
            self.acknowledged.add(client.item)
            self.clients[i] = Client()
            return
        client.merged = result

    @precondition(lambda self: any(c.merged is not None for c in self.clients))
    @rule(data=st.data(), fault=FAULTS)
    def client_writes(self, data: st.DataObject, fault: str) -> None:
        i = data.draw(st.sampled_from([n for n, c in enumerate(self.clients) if c.merged]))
        client = self.clients[i]
        assert client.snapshot is not None
        assert client.merged is not None
        assert client.item is not None
        self.tried.add(client.item)
        before = self.inner.read().sha
        self.store.script([fault])
        try:
            self.store.write(client.snapshot, client.merged.document, client.merged.changes)
        except ShaConflict:
            assert before != client.snapshot.sha, "a conflict was raised though the SHA was current"
            assert self.inner.read().sha == before, "a refused write changed the file"
            TALLY["stale write refused (client reads again)"] += 1
            client.snapshot = client.merged = None  # must read again
            return
        except OutcomeUnknown:
            TALLY["write landed, answer lost (OutcomeUnknown)"] += 1
            client.unknown = True
            client.snapshot = client.merged = None  # settle it by reading again
            return
        except TransientError:
            assert self.inner.read().sha == before, (
                "a write that failed before landing changed the file"
            )
            TALLY["write failed before landing (TransientError)"] += 1
            return  # the snapshot still guards a retry
        assert before == client.snapshot.sha, "a write guarded by a stale SHA was accepted"
        TALLY["client write accepted"] += 1
        self.acknowledged.add(client.item)
        self.clients[i] = Client()

    # -- the rival ---------------------------------------------------------------------------

    def _rival_adds_unguarded(self) -> None:
        snapshot = self.inner.read()
        item = self.new_id(9)
        result = merge(snapshot.document, {"aws": [account(item)]})
        self.tried.add(item)
        self.inner.write(snapshot, result.document, result.changes, force=True)
        TALLY["rival write, unguarded"] += 1
        self.acknowledged.add(item)

    @rule()
    def rival_writes_unguarded(self) -> None:
        self._rival_adds_unguarded()

    @rule()
    def rival_reads(self) -> None:
        self.rival_snapshot = self.inner.read()

    @precondition(lambda self: self.rival_snapshot is not None)
    @rule()
    def rival_writes_guarded(self) -> None:
        snapshot = self.rival_snapshot
        assert snapshot is not None
        self.rival_snapshot = None
        item = self.new_id(8)
        result = merge(snapshot.document, {"aws": [account(item)]})
        self.tried.add(item)
        before = self.inner.read().sha
        try:
            self.inner.write(snapshot, result.document, result.changes)
        except ShaConflict:
            assert before != snapshot.sha
            TALLY["rival write, guarded, refused as stale"] += 1
            self.definitely_failed.add(item)
            return
        assert before == snapshot.sha, "a write guarded by a stale SHA was accepted"
        self.acknowledged.add(item)

    # -- a whole apply, with scripted faults and a rival between its reads and writes --------

    @rule(
        faults=st.lists(FAULTS, max_size=4),
        rivals=st.lists(st.booleans(), max_size=4),
    )
    def whole_apply(self, faults: list[str], rivals: list[bool]) -> None:
        pending = list(rivals)

        def rival() -> None:
            if pending and pending.pop(0):
                self._rival_adds_unguarded()

        store = FaultyStore(self.inner, on_read=rival)
        store.script(faults)
        item = self.new_id(7)
        self.tried.add(item)
        retry = Retry(conflicts=3, transient=2, sleep=no_sleep, random=lambda: 0.5)
        try:
            result = apply(store, {"aws": [account(item)]}, retry=retry)
        except SafeMergeError as exc:
            TALLY[f"whole apply gave up ({type(exc).__name__})"] += 1
            if store.landed_unknown == 0:
                self.definitely_failed.add(item)
            return
        TALLY["whole apply written"] += 1
        assert result.written
        self.acknowledged.add(item)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def the_set_is_intact(self) -> None:
        document = self.inner.read().document
        ids = Counter(a["account_id"] for a in document.get("aws", []))
        missing = {i: ids[i] for i in self.acknowledged if ids[i] != 1}
        assert not missing, f"acknowledged but not stored exactly once: {missing}"
        assert set(ids) <= self.tried, f"stored but never written: {set(ids) - self.tried}"
        assert not set(ids) & self.definitely_failed, "a definitely failed write is in the file"
        assert all(n == 1 for n in ids.values()), f"duplicated: {ids}"
        assert document["drata"] == DRATA, "the integration no one touched changed"

    def teardown(self) -> None:
        try:
            for client in self.clients:
                if client.item is None:
                    continue
                retry = Retry(sleep=no_sleep)
                result = apply(self.inner, {"aws": [account(client.item)]}, retry=retry)
                assert result.written or client.unknown, f"{client.item} was already there"
                self.acknowledged.add(client.item)
                self.tried.add(client.item)
            self.the_set_is_intact()
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        pass


class FileInterleavings(Interleavings):
    """The same, against a real file (atomic replace under a lock)."""

    def make_store(self) -> Store:
        # On tmpfs where there is one: fsync is what costs here, and it is not what is tested.
        shm = Path("/dev/shm")
        where = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.folder = Path(tempfile.mkdtemp(prefix="safemerge-interleavings-", dir=where))
        store = FileStore(self.folder / "jit-integration.yml")
        store.write(Snapshot({}, None, None), INITIAL, ())
        return store

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


TestInterleavingsInMemory = Interleavings.TestCase
TestInterleavingsInMemory.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, print_blob=True
)

TestInterleavingsOnAFile = FileInterleavings.TestCase
TestInterleavingsOnAFile.settings = settings(
    max_examples=10, stateful_step_count=25, deadline=None, print_blob=True
)
