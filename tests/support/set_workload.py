"""A Jepsen-style set workload for safemerge: many writers add unique items through ``apply``.

Each writer adds AWS accounts with unique ids, one ``apply`` per account. At the
end the checker compares what the writers were told with what the file holds:

- **lost**: an acknowledged add (``apply`` returned ``written``) that is not in
  the file exactly once;
- **unexpected**: an id in the file that no one tried to add;
- **gave up, yet stored**: an add whose ``apply`` raised after only definite
  failures (SHA conflicts) that is in the file anyway;
- **untyped**: an ``apply`` that raised something other than a ``SafeMergeError``;
- **chain**: server-side (or, for the local file, store-side), every accepted
  write was guarded by the SHA current at that moment: from the initial SHA,
  "guarded by X, answered Y" links visit every accepted write once
  (:func:`tests.support.recording_proxy.put_chain`).

Three backends: ``safemerge serve`` in its own process with writer *threads*
(through a recording proxy), one local file with writer *processes*
(``FileStore``), and the GitHub contents API test server with writer threads
(``GitHubStore``, through a recording proxy). The report script and the
reliability tests share these functions.
"""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from safemerge import (
    FileStore,
    GitHubStore,
    JitStore,
    OutcomeUnknown,
    RetriesExhausted,
    Retry,
    SafeMergeError,
    ShaConflict,
    Snapshot,
    Store,
    apply,
)
from safemerge._result import Change
from tests.support.github_server import GitHubContentsServer, blob_sha
from tests.support.recording_proxy import accepted_puts, put_chain, recording_proxy
from tests.support.servers import jit_server_process

__all__ = [
    "INITIAL_FILE",
    "SetResult",
    "account",
    "run_file_processes",
    "run_github_threads",
    "run_serve_threads",
    "run_threads",
]

TOKEN = "t0ken-for-reliability-5c1e"
GITHUB_TOKEN = "ghp_Reliab1lityT0kenValue0123456789"
GITHUB_PATH = ".jit/jit-integration.yml"
INITIAL_ID = "123456789012"
INITIAL_FILE = f"""\
# Jit integration file, for the set workload.
aws:
- account_id: '{INITIAL_ID}'
  account_name: prod-main
  regions:
  - us-east-1
  type: account
drata:
  user_email: security@example.com
  workspace: production
"""
DRATA = {"user_email": "security@example.com", "workspace": "production"}


def account(writer: int, n: int) -> dict[str, Any]:
    """A schema-valid AWS account whose id is unique to ``(writer, n)``."""
    return {"account_id": f"{writer:02d}{n:010d}", "regions": ["us-east-1"], "type": "account"}


@dataclass
class Outcome:
    """What one ``apply`` ended in."""

    item: str
    written: bool
    attempts: int
    error: str | None = None  # the SafeMergeError's type name
    definite: bool = False  # the error says nothing was written (only SHA conflicts were seen)
    untyped: str | None = None  # repr of an exception that is not a SafeMergeError


@dataclass
class SetResult:
    """Everything the checker needs, and the figures the report prints."""

    backend: str
    writers: int
    applies: int
    outcomes: list[Outcome]
    stored: Counter[str]
    final: dict[str, Any]
    chain_problems: list[str]
    writes_accepted: int
    writes_refused: int  # refused for a stale SHA
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> list[str]:
        return [o.item for o in self.outcomes if o.written]

    @property
    def gave_up(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error is not None]

    @property
    def lost(self) -> list[str]:
        """Acknowledged adds not in the file exactly once."""
        return [i for i in self.acknowledged if self.stored[i] != 1]

    @property
    def duplicated(self) -> list[str]:
        return [i for i, n in self.stored.items() if n > 1]

    @property
    def unexpected(self) -> list[str]:
        """Ids in the file that no writer tried to add."""
        tried = {o.item for o in self.outcomes} | {INITIAL_ID}
        return [i for i in self.stored if i not in tried]

    @property
    def failed_but_stored(self) -> list[str]:
        """Adds whose apply failed definitely (only SHA conflicts) but that are in the file."""
        return [o.item for o in self.outcomes if o.definite and self.stored[o.item]]

    @property
    def untyped(self) -> list[str]:
        return [o.untyped for o in self.outcomes if o.untyped is not None]

    @property
    def attempts(self) -> list[int]:
        return [o.attempts for o in self.outcomes]

    def attempts_median(self) -> float:
        return float(statistics.median(self.attempts)) if self.outcomes else 0.0

    def attempts_max(self) -> int:
        return max(self.attempts, default=0)

    def problems(self) -> list[str]:
        """Every violation found; empty when the run is clean."""
        found = [f"chain: {p}" for p in self.chain_problems]
        found += [f"lost: {i}" for i in self.lost]
        found += [f"duplicated: {i}" for i in self.duplicated]
        found += [f"unexpected: {i}" for i in self.unexpected]
        found += [f"failed but stored: {i}" for i in self.failed_but_stored]
        found += [f"untyped error: {t}" for t in self.untyped]
        if self.final.get("drata") != DRATA:
            found.append(f"an untouched integration changed: {self.final.get('drata')!r}")
        if INITIAL_ID not in self.stored:
            found.append("the account that was there first is gone")
        if len(self.outcomes) != self.writers * self.applies:
            found.append(f"{len(self.outcomes)} outcomes for {self.writers * self.applies} applies")
        return found


def _ids(document: Mapping[str, Any]) -> Counter[str]:
    return Counter(str(a.get("account_id")) for a in document.get("aws", []))


def _one_apply(store: Store, item: dict[str, Any], retry: Retry | None) -> Outcome:
    watched = _Watched(store)
    try:
        result = apply(watched, {"aws": [item]}, retry=retry)
    except SafeMergeError as exc:
        attempts = exc.attempts if isinstance(exc, RetriesExhausted) else 0
        # Definite: no write of this apply could have landed unseen.
        return Outcome(
            item["account_id"], False, attempts, type(exc).__name__, definite=not watched.unknown
        )
    except Exception as exc:  # a raw exception escaping the public API: recorded, then failed on
        return Outcome(item["account_id"], False, 0, untyped=repr(exc))
    return Outcome(item["account_id"], result.written, result.attempts)


class _Watched:
    """A store seen by the checker: it notes writes whose outcome was unknown, and accepted writes."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.unknown = False
        self.accepted: list[tuple[str | None, str | None]] = []
        self.refused = 0

    def read(self) -> Snapshot:
        return self.inner.read()

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str | None:
        try:
            sha = self.inner.write(snapshot, document, changes, force=force)
        except ShaConflict:
            self.refused += 1
            raise
        except OutcomeUnknown:
            self.unknown = True
            raise
        self.accepted.append((snapshot.sha, None if sha is None else str(sha)))
        return sha


def run_threads(
    writers: int, applies: int, make_store: Callable[[], Any], retry: Retry | None
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    start = threading.Barrier(writers)

    def writer(w: int) -> None:
        with make_store() as store:
            start.wait()
            for n in range(applies):
                outcome = _one_apply(store, account(w, n), retry)
                with lock:
                    outcomes.append(outcome)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return outcomes


def run_serve_threads(
    workdir: Path, writers: int = 8, applies: int = 5, retry: Retry | None = None
) -> SetResult:
    """``safemerge serve`` in its own process; ``writers`` threads, each with its own JitStore."""
    path = workdir / "serve-jit-integration.yml"
    path.write_text(INITIAL_FILE)
    began = time.monotonic()
    with jit_server_process(path, token=TOKEN) as url, recording_proxy(url) as proxy:
        with JitStore(url, token=TOKEN, timeout=10) as reader:
            initial = reader.read().sha
        outcomes = run_threads(
            writers, applies, lambda: JitStore(proxy.url, token=TOKEN, timeout=10), retry
        )
        with JitStore(url, token=TOKEN, timeout=10) as reader:
            final = reader.read()
        exchanges = list(proxy.exchanges)
    seconds = time.monotonic() - began
    puts = accepted_puts(
        exchanges,
        sent=lambda r: r.get("file_sha") if isinstance(r, dict) else None,
        answered=lambda a: a.get("file_sha") if isinstance(a, dict) else None,
    )
    problems, last = put_chain(initial, puts)
    if puts and last != final.sha:
        problems.append(f"the chain of accepted PUTs ends at {last}, the file is at {final.sha}")
    refused = sum(
        1
        for e in exchanges
        if e.method == "PUT" and e.status == 409 and _error_code(e.answer) == "FILE_SHA_CONFLICT"
    )
    return SetResult(
        "safemerge serve (HTTP), threads",
        writers,
        applies,
        outcomes,
        _ids(final.document),
        final.document,
        problems,
        len(puts),
        refused,
        seconds,
    )


def _error_code(answer: Any) -> Any:
    return answer.get("error") if isinstance(answer, dict) else None


def run_github_threads(writers: int = 6, applies: int = 5, retry: Retry | None = None) -> SetResult:
    """The GitHub contents API test server; ``writers`` threads, each with its own GitHubStore."""
    began = time.monotonic()
    with GitHubContentsServer(token=GITHUB_TOKEN) as server:
        initial = server.put(GITHUB_PATH, INITIAL_FILE.encode())
        with recording_proxy(server.url) as proxy:

            def make() -> GitHubStore:
                return GitHubStore(
                    "owner/name", GITHUB_PATH, token=GITHUB_TOKEN, api_url=proxy.url, timeout=10
                )

            outcomes = run_threads(writers, applies, make, retry)
            exchanges = list(proxy.exchanges)
        data = server.get(GITHUB_PATH) or b""
        with GitHubStore(
            "owner/name", GITHUB_PATH, token=GITHUB_TOKEN, api_url=server.url
        ) as reader:
            final = reader.read()
    seconds = time.monotonic() - began
    puts = accepted_puts(
        exchanges,
        sent=lambda r: r.get("sha") if isinstance(r, dict) else None,
        answered=lambda a: a.get("content", {}).get("sha") if isinstance(a, dict) else None,
    )
    problems, last = put_chain(initial, puts)
    if puts and last != blob_sha(data):
        problems.append(
            f"the chain of accepted PUTs ends at {last}, the file is at {blob_sha(data)}"
        )
    refused = sum(1 for e in exchanges if e.method == "PUT" and e.status in (409, 422))
    return SetResult(
        "GitHub contents API (test server), threads",
        writers,
        applies,
        outcomes,
        _ids(final.document),
        final.document,
        problems,
        len(puts),
        refused,
        seconds,
    )


# -- one local file, many processes -----------------------------------------------------------


def _process_writer(path: str, writer: int, applies: int, retry: Retry | None, queue: Any) -> None:
    store = _Watched(FileStore(path))
    outcomes = [_one_apply(store, account(writer, n), retry) for n in range(applies)]
    queue.put((outcomes, store.accepted, store.refused))


def run_file_processes(
    workdir: Path, writers: int = 4, applies: int = 8, retry: Retry | None = None
) -> SetResult:
    """One file on the local disk; ``writers`` processes (spawned), each with its own FileStore.

    The chain is recorded by each process around ``FileStore.write`` (there is no
    server to watch): for a file, "accepted" means ``write`` returned a SHA.
    """
    path = workdir / "file-jit-integration.yml"
    path.write_text(INITIAL_FILE)
    initial = FileStore(path).read().sha
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    began = time.monotonic()
    processes = [
        context.Process(target=_process_writer, args=(str(path), w, applies, retry, queue))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    outcomes: list[Outcome] = []
    accepted: list[tuple[str | None, str | None]] = []
    refused = 0
    deadline = time.monotonic() + 300
    received = 0
    while received < writers and time.monotonic() < deadline:
        try:
            got, chain, lost_races = queue.get(timeout=0.5)
        except Empty:
            if not any(p.is_alive() for p in processes) and queue.empty():
                break  # a writer died without reporting: the problems below say which
            continue
        received += 1
        outcomes += got
        accepted += chain
        refused += lost_races
    for process in processes:
        process.join(60)
    queue.close()
    queue.join_thread()
    seconds = time.monotonic() - began
    final = FileStore(path).read()
    problems, last = put_chain(initial, [(a, b, None) for a, b in accepted])
    if accepted and last != final.sha:
        problems.append(f"the chain of accepted writes ends at {last}, the file is at {final.sha}")
    problems += [f"writer process exited with {p.exitcode}" for p in processes if p.exitcode != 0]
    return SetResult(
        "one local file (FileStore), processes",
        writers,
        applies,
        outcomes,
        _ids(final.document),
        final.document,
        problems,
        len(accepted),
        refused,
        seconds,
    )
