"""Injected faults between a store and its server, counted by kind, with every apply's outcome.

:data:`JIT_FAULTS` lists what a proxy can do to a request on its way to
``safemerge serve`` (or to the GitHub contents test server): 503 and 429 with
``Retry-After`` in seconds and as an HTTP-date, dropped connections, slow
answers (within and past the client's timeout), a PUT that commits upstream
but whose answer is lost (after the client's timeout, or replaced by a 502),
and a 302 to another host on PUT.

:func:`run_chaos` runs a sequence of applies, each adding a unique item,
through a :class:`tests.support.recording_proxy.RecordingProxy` whose seeded
plan injects a fault into a fraction of requests. Waits cost nothing: ``Retry``
gets a fake sleep that records what it was asked to wait.

The checker (:meth:`ChaosResult.problems`): every apply either succeeded and its
item is in the file exactly once, or raised a ``SafeMergeError``; nothing else
escapes. An item of a failed apply is in the file only if upstream accepted a
PUT carrying it whose answer the client never got (the indeterminate case).
Accepted PUTs chain from the initial SHA (none was accepted with a stale SHA).
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemerge import GitHubStore, JitStore, Retry, SafeMergeError, Store, apply
from tests.support.fault_proxy import Fault
from tests.support.github_server import GitHubContentsServer, blob_sha
from tests.support.recording_proxy import Exchange, accepted_puts, put_chain, recording_proxy
from tests.support.servers import jit_server_thread
from tests.support.set_workload import GITHUB_PATH, GITHUB_TOKEN, INITIAL_FILE, TOKEN, account

__all__ = ["FAULTS", "ChaosResult", "FaultKind", "run_chaos"]

CLIENT_TIMEOUT = 0.25  # seconds; the "past the timeout" faults wait a little longer than this
ELSEWHERE = "http://127.0.0.2:9/plans/integration-file"
ERROR_BODY = json.dumps({"error": "INTERNAL_SERVER_ERROR"})


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: its name, the method it hits, and how to make it (at request time)."""

    name: str
    method: str
    make: Callable[[], Fault]
    costs_time: bool = False  # makes the client wait out its timeout for real


def _http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


FAULTS: tuple[FaultKind, ...] = (
    FaultKind("GET 503", "GET", lambda: Fault.reply(503, ERROR_BODY)),
    FaultKind(
        "GET 429, Retry-After: 3 (seconds)",
        "GET",
        lambda: Fault.reply(429, "{}", {"Retry-After": "3"}),
    ),
    FaultKind(
        "GET 429, Retry-After: HTTP-date (+5 s)",
        "GET",
        lambda: Fault.reply(429, "{}", {"Retry-After": _http_date(5)}),
    ),
    FaultKind(
        "GET 502 with an HTML body",
        "GET",
        lambda: Fault.reply(502, "<html>bad gateway</html>", {"Content-Type": "text/html"}),
    ),
    FaultKind("GET connection dropped", "GET", Fault.drop),
    FaultKind("GET slow answer (within timeout)", "GET", lambda: Fault.slow(0.02)),
    FaultKind(
        "GET slow answer (past timeout)",
        "GET",
        lambda: Fault.slow(CLIENT_TIMEOUT + 0.1),
        costs_time=True,
    ),
    FaultKind("PUT 503, not committed", "PUT", lambda: Fault.reply(503, ERROR_BODY)),
    FaultKind(
        "PUT 429, Retry-After: 3 (seconds)",
        "PUT",
        lambda: Fault.reply(429, "{}", {"Retry-After": "3"}),
    ),
    FaultKind(
        "PUT 429, Retry-After: HTTP-date (+5 s)",
        "PUT",
        lambda: Fault.reply(429, "{}", {"Retry-After": _http_date(5)}),
    ),
    FaultKind("PUT connection dropped, not committed", "PUT", Fault.drop),
    FaultKind(
        "PUT committed, answer lost past timeout",
        "PUT",
        lambda: Fault.commit_then_stall(CLIENT_TIMEOUT + 0.15),
        costs_time=True,
    ),
    FaultKind(
        "PUT committed, answered 502",
        "PUT",
        lambda: Fault("commit_then_reply", status=502),
    ),
    FaultKind(
        "PUT slow past timeout (lands late)",
        "PUT",
        lambda: Fault.slow(CLIENT_TIMEOUT + 0.1),
        costs_time=True,
    ),
    FaultKind("PUT 302 to another host", "PUT", lambda: Fault.redirect(ELSEWHERE)),
)


@dataclass
class ApplyRecord:
    item: str
    outcome: str  # "written", "not written", or the SafeMergeError type name, or "UNTYPED ..."
    attempts: int
    faults: list[str]  # fault labels injected into this apply's requests
    exchanges: list[Exchange] = field(default_factory=list)


@dataclass
class ChaosResult:
    backend: str
    seed: int
    rate: float
    records: list[ApplyRecord]
    stored: Counter[str]
    chain_problems: list[str]
    waits: list[float]
    injected: Counter[str]
    seconds: float

    def outcomes_by_fault(self) -> dict[str, Counter[str]]:
        """For each fault kind, how the applies it was injected into ended."""
        table: dict[str, Counter[str]] = {}
        for record in self.records:
            for label in record.faults:
                table.setdefault(label, Counter())[record.outcome] += 1
        return table

    def outcomes(self) -> Counter[str]:
        return Counter(r.outcome for r in self.records)

    def problems(self) -> list[str]:
        found = [f"chain: {p}" for p in self.chain_problems]
        for record in self.records:
            n = self.stored[record.item]
            if record.outcome.startswith("UNTYPED"):
                found.append(f"{record.item}: a raw exception escaped: {record.outcome}")
            elif record.outcome == "written" and n != 1:
                found.append(f"{record.item}: acknowledged but stored {n} times")
            elif record.outcome == "not written":
                # A fresh unique item was reported as needing no change: only an
                # earlier answer-lost write of this very apply could explain it.
                found.append(f"{record.item}: reported 'not written', stored {n} times")
            elif record.outcome not in ("written",) and n:
                unseen = [
                    e
                    for e in record.exchanges
                    if e.method == "PUT"
                    and e.status is not None
                    and 200 <= e.status < 300
                    and not e.delivered
                ]
                if n != 1 or not unseen:
                    found.append(
                        f"{record.item}: the apply failed ({record.outcome}) yet the item is "
                        f"stored {n} times with no accepted-but-unanswered PUT to explain it"
                    )
        tried = {r.item for r in self.records}
        found += [
            f"unexpected item {i}" for i in self.stored if i not in tried and i != "123456789012"
        ]
        return found


class _Plan:
    """A seeded plan: each request gets a fault of its method with probability ``rate``."""

    def __init__(self, seed: int, rate: float, kinds: Sequence[FaultKind]) -> None:
        self.random = random.Random(seed)
        self.rate = rate
        self.kinds = kinds
        self.lock = threading.Lock()

    def __call__(self, method: str) -> tuple[str, Fault] | None:
        with self.lock:
            choices = [k for k in self.kinds if k.method == method]
            if not choices or self.random.random() >= self.rate:
                return None
            kind = self.random.choice(choices)
        return kind.name, kind.make()


def _stored_ids(document: dict[str, Any]) -> Counter[str]:
    return Counter(str(a.get("account_id")) for a in document.get("aws", []))


def run_chaos(
    workdir: Path,
    *,
    seed: int = 7,
    applies: int = 60,
    rate: float = 0.3,
    kinds: Sequence[FaultKind] = FAULTS,
    backend: str = "jit",
) -> ChaosResult:
    """``applies`` sequential applies through a chaos proxy; see the module docstring."""
    waits: list[float] = []
    retry = Retry(sleep=waits.append, random=random.Random(seed + 1).random)
    plan = _Plan(seed, rate, kinds)
    records: list[ApplyRecord] = []
    began = time.monotonic()
    if backend == "jit":
        path = workdir / f"chaos-{seed}.yml"
        path.write_text(INITIAL_FILE)
        with (
            jit_server_thread(path, token=TOKEN) as server,
            recording_proxy(server.url, plan) as proxy,
        ):
            initial = server.store.read().sha
            with JitStore(proxy.url, token=TOKEN, timeout=CLIENT_TIMEOUT) as store:
                _drive(store, proxy.exchanges, applies, retry, records)
            time.sleep(CLIENT_TIMEOUT + 0.2)  # let late PUTs land (or be refused) before checking
            final = server.store.read()
            exchanges = list(proxy.exchanges)
        sha_of = "file_sha"
        puts = accepted_puts(
            exchanges,
            sent=lambda r: r.get(sha_of) if isinstance(r, dict) else None,
            answered=lambda a: a.get(sha_of) if isinstance(a, dict) else None,
        )
        final_sha, document = final.sha, final.document
    else:
        with GitHubContentsServer(token=GITHUB_TOKEN) as github:
            initial = github.put(GITHUB_PATH, INITIAL_FILE.encode())
            with recording_proxy(github.url, plan) as proxy:
                with GitHubStore(
                    "owner/name",
                    GITHUB_PATH,
                    token=GITHUB_TOKEN,
                    api_url=proxy.url,
                    timeout=CLIENT_TIMEOUT,
                ) as store:
                    _drive(store, proxy.exchanges, applies, retry, records)
                time.sleep(CLIENT_TIMEOUT + 0.2)
                exchanges = list(proxy.exchanges)
            with GitHubStore(
                "owner/name", GITHUB_PATH, token=GITHUB_TOKEN, api_url=github.url
            ) as reader:
                snapshot = reader.read()
            final_sha, document = blob_sha(github.get(GITHUB_PATH) or b""), snapshot.document
        puts = accepted_puts(
            exchanges,
            sent=lambda r: r.get("sha") if isinstance(r, dict) else None,
            answered=lambda a: a.get("content", {}).get("sha") if isinstance(a, dict) else None,
        )
    problems, last = put_chain(initial, puts)
    if puts and last != final_sha:
        problems.append(f"the chain of accepted PUTs ends at {last}, the file is at {final_sha}")
    injected = Counter(e.label for e in exchanges if e.label != "pass")
    return ChaosResult(
        backend,
        seed,
        rate,
        records,
        _stored_ids(document),
        problems,
        waits,
        injected,
        time.monotonic() - began,
    )


def _drive(
    store: Store, exchanges: list[Exchange], applies: int, retry: Retry, records: list[ApplyRecord]
) -> None:
    for n in range(applies):
        item = account(50, n)
        first = len(exchanges)
        attempts = 0
        try:
            result = apply(store, {"aws": [item]}, retry=retry)
            outcome = "written" if result.written else "not written"
            attempts = result.attempts
        except SafeMergeError as exc:
            outcome = type(exc).__name__
            attempts = getattr(exc, "attempts", 0)
        except Exception as exc:  # recorded; the checker fails on it
            outcome = f"UNTYPED {type(exc).__name__}: {exc}"
        mine = exchanges[first:]
        records.append(
            ApplyRecord(
                item["account_id"],
                outcome,
                attempts,
                [e.label for e in mine if e.label != "pass"],
                mine,
            )
        )
