"""Store benchmark: an apply through ``JitStore`` over HTTP, and writers racing on one file.

Run ``python benchmarks/bench_store.py`` (``--quick`` for a smoke run with few
repeats, ``--json`` to print the figures as JSON on stdout; the report then
goes to stderr). The server is safemerge's local Jit API server
(``safemerge._server.make_server``, token set) serving a temporary copy of a
small integration file (``workload.make_document(10, cloud_entries=10)``: 10
AWS accounts, 10 GCP and 10 Azure entries, a drata block) on a thread of this
process, on loopback.

Regressions guarded (the exit code is non-zero if any fails):

a. **HTTP overhead** -- one small ``apply`` through ``JitStore`` (GET, check,
   merge, validate, PUT with ``file_sha``) must cost at most 1.5x a bare
   ``requests`` GET + PUT doing the same HTTP work on the same server in the
   same run: a ``requests.Session`` GET of ``/plans/integration-file`` (the
   JSON body parsed for ``file_sha``), then a PUT of ``{"content": <the very
   document the apply writes>, "file_sha": <the sha read>}``, with the same
   headers (bearer token, ``Accept: application/json``). Both write every
   round: the file alternates between two states (account X added, account X
   deleted with ``{"account_id": X, "$patch": "delete"}``), and each call, of
   either contender, moves it to the other one, so the server does the same
   write for both. Client-side work that grows (a second GET, a copy of the
   document, validation of untouched integrations on every call) shows here.
b. **Concurrent writers** -- 1, 4, 8 and 16 threads, each with its own
   ``JitStore``, each applying N fragments that add one new account each, all
   at once, to a fresh copy of the file. Reported: attempts per apply
   (median, p90, max), applies that gave up, wall time; gated: the final file
   holds every acknowledged account exactly once and every original account
   (lost = 0, duplicated = 0). A write guard that lets a stale PUT land shows
   here as lost accounts.
c. **Correctness** -- an apply writes exactly the document the bare PUT sends,
   every timed apply and PUT wrote (one attempt, status 200), and the file
   ends in the expected state.

Timing (a): the method and helpers of ``bench_merge.py`` (imported from it):
``time.perf_counter``; the garbage collector is run before and disabled during
each timed call (for the server thread too: it is the same process);
contenders interleaved round by round in rotating order after warm-up rounds;
medians and minimums reported, the target uses the ratio of medians. The
server shares the interpreter (and the GIL) with the clients, so its work is
in both contenders' times alike.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import requests
from bench_merge import Case, Target, Timing, code_version, script_main, time_cases
from workload import account_id, make_document

import safemerge
from safemerge import FileStore, JitStore, MemoryStore, SafeMergeError, Snapshot, apply, merge
from safemerge._server import JitServer, make_server

TOKEN = "bench-token-not-a-secret"
PATH = "/plans/integration-file"
ACCOUNTS = 10
CLOUD_ENTRIES = 10
OVERHEAD_LIMIT = 1.5  # JitStore apply / bare GET + PUT
WRITERS = (1, 4, 8, 16)
ACCOUNT_X = account_id(999_999_000_000)
FIRST_NEW_ACCOUNT = 999_000_000_000  # writers' accounts: FIRST_NEW_ACCOUNT + level/writer/index

APPLY = "JitStore apply"
BARE = "bare requests GET + PUT"
IN_MEMORY = "the same apply, MemoryStore"
NODELAY = ", TCP_NODELAY server"  # label suffix of the what-if rows


@dataclass(frozen=True)
class Settings:
    """Rounds for target (a) and for its what-if rows (warm-up not counted); applies per writer for (b)."""

    name: str
    repeats: int
    warmup: int
    nodelay_repeats: int
    applies_per_writer: int


FULL = Settings("full", 51, 3, nodelay_repeats=21, applies_per_writer=3)
QUICK = Settings("quick", 7, 2, nodelay_repeats=5, applies_per_writer=1)


# -- the server -----------------------------------------------------------------------------------


def write_file(path: Path, document: Mapping[str, Any]) -> None:
    """``document`` as a new YAML integration file at ``path`` (as a user's file would be)."""
    FileStore(path).write(Snapshot({}, None, None), document, ())


@contextmanager
def serving(path: Path, *, nodelay: bool = False) -> Iterator[JitServer]:
    """``make_server`` over ``path`` with a token, serving on a thread of this process.

    ``nodelay`` swaps in a handler that sets ``TCP_NODELAY`` (the what-if rows only):
    the shipped handler sends a response's headers and body in two writes, and with
    Nagle's algorithm on, the second waits for the client's delayed ACK (~40 ms on Linux).
    """
    server = make_server(path, token=TOKEN)
    if nodelay:
        handler = server.RequestHandlerClass
        if not isinstance(handler, type):
            raise TypeError(f"the server's handler is {handler!r}, not a class")
        server.RequestHandlerClass = type(
            "NoDelayHandler", (handler,), {"disable_nagle_algorithm": True}
        )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}


def bare_session() -> requests.Session:
    """A plain session. ``trust_env`` off, as ``JitStore``'s own session has it: otherwise
    each request would also look up proxies and ``~/.netrc``, work the apply does not do."""
    session = requests.Session()
    session.trust_env = False
    return session


def get_content(session: requests.Session, url: str) -> tuple[dict[str, Any], str]:
    response = session.get(url + PATH, headers=headers(), timeout=30)
    response.raise_for_status()
    body = response.json()
    return body["content"], body["file_sha"]


# -- target (a): one apply against a bare GET + PUT -------------------------------------------------


class Toggle:
    """The file's state for target (a): account X present or not. Every call moves it over.

    Both contenders write the same two documents: ``with_x`` (what applying
    ``add`` to ``without_x`` writes) and ``without_x`` (what applying
    ``delete`` to ``with_x`` writes, the original content).
    """

    def __init__(self, url: str, without_x: dict[str, Any]) -> None:
        self.url = url
        self.add: dict[str, Any] = {
            "aws": [
                {
                    "account_id": ACCOUNT_X,
                    "account_name": "bench-x",
                    "regions": ["eu-west-1"],
                    "type": "account",
                }
            ]
        }
        self.delete: dict[str, Any] = {"aws": [{"account_id": ACCOUNT_X, "$patch": "delete"}]}
        self.without_x = without_x
        self.with_x = merge(without_x, self.add).document
        if merge(self.with_x, self.delete).document != without_x:
            raise AssertionError("deleting account X does not restore the file")
        self.present = False
        self.store = JitStore(url, token=TOKEN)
        self.session = bare_session()
        self.problems: list[str] = []

    def expected(self) -> dict[str, Any]:
        return self.with_x if self.present else self.without_x

    def prepare_apply(self) -> Callable[[], object]:
        fragment = self.delete if self.present else self.add

        def call() -> object:
            result = apply(self.store, fragment)
            if not result.written or result.attempts != 1:
                self.problems.append(
                    f"{APPLY}: written={result.written}, attempts={result.attempts}"
                )
            self.present = not self.present
            return result

        return call

    def prepare_bare(self) -> Callable[[], object]:
        target = self.without_x if self.present else self.with_x
        session, url = self.session, self.url + PATH

        def call() -> object:
            got = session.get(url, headers=headers(), timeout=30)
            if got.status_code != 200:
                self.problems.append(f"{BARE}: GET answered {got.status_code}")
            sha = got.json()["file_sha"]
            put = session.put(
                url, json={"content": target, "file_sha": sha}, headers=headers(), timeout=30
            )
            if put.status_code != 200:
                self.problems.append(f"{BARE}: PUT answered {put.status_code}: {put.text[:200]}")
            self.present = not self.present
            return put

        return call

    def close(self) -> None:
        self.store.close()
        self.session.close()


def check_same_write(toggle: Toggle) -> list[str]:
    """The apply writes exactly the document the bare PUT sends (both ways); run untimed."""
    problems: list[str] = []
    for _ in range(2):
        expected_after = toggle.without_x if toggle.present else toggle.with_x
        toggle.prepare_apply()()
        content, _ = get_content(toggle.session, toggle.url)
        if content != expected_after or list(content) != list(expected_after):
            problems.append(
                f"the apply wrote another document than the bare PUT sends "
                f"(X {'present' if toggle.present else 'absent'} after it)"
            )
    return problems


# -- target (b): concurrent writers ---------------------------------------------------------------


@dataclass
class Race:
    writers: int
    applies: int  # attempted: writers x applies per writer
    acknowledged: int
    gave_up: int  # raised (RetriesExhausted or another store error)
    attempts_median: float
    attempts_p90: float
    attempts_max: int
    seconds: float
    lost: int  # acknowledged accounts missing from the final file
    duplicated: int  # accounts held more than once
    originals_kept: int
    unacknowledged_present: int  # gave up, yet the account is in the file
    errors: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.originals_kept == ACCOUNTS


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in (0, 1]) of ``values``."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil
    return float(ordered[int(rank) - 1])


def race(folder: Path, document: Mapping[str, Any], writers: int, per_writer: int) -> Race:
    """``writers`` threads, each with its own JitStore, each applying ``per_writer`` new accounts."""
    path = folder / f"race-{writers}.yml"
    write_file(path, document)
    attempts: list[int] = []
    acknowledged: list[str] = []
    refused: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(writers + 1)

    def writer(number: int, url: str) -> None:
        with JitStore(url, token=TOKEN) as store:
            start.wait()
            for index in range(per_writer):
                ident = account_id(FIRST_NEW_ACCOUNT + writers * 100_000 + number * 1_000 + index)
                fragment = {
                    "aws": [
                        {
                            "account_id": ident,
                            "account_name": f"writer-{number}-{index}",
                            "regions": ["us-east-1"],
                            "type": "account",
                        }
                    ]
                }
                try:
                    result = apply(store, fragment)
                except SafeMergeError as exc:
                    with lock:
                        refused.append(ident)
                        errors.append(f"writer {number}: {type(exc).__name__}: {exc.message}")
                    continue
                with lock:
                    attempts.append(result.attempts)
                    if result.written:
                        acknowledged.append(ident)
                    else:
                        errors.append(f"writer {number}: apply returned written=False")

    with serving(path) as server:
        threads = [
            threading.Thread(target=writer, args=(n, server.url), daemon=True)
            for n in range(writers)
        ]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        with requests.Session() as session:
            session.trust_env = False
            content, _ = get_content(session, server.url)

    held = Counter(item["account_id"] for item in content["aws"])
    originals = [item["account_id"] for item in document["aws"]]
    return Race(
        writers=writers,
        applies=writers * per_writer,
        acknowledged=len(acknowledged),
        gave_up=len(refused),
        attempts_median=percentile(attempts, 0.5) if attempts else 0.0,
        attempts_p90=percentile(attempts, 0.9) if attempts else 0.0,
        attempts_max=max(attempts, default=0),
        seconds=seconds,
        lost=sum(1 for ident in acknowledged if held[ident] == 0),
        duplicated=sum(1 for count in held.values() if count > 1),
        originals_kept=sum(1 for ident in originals if held[ident] == 1),
        unacknowledged_present=sum(1 for ident in refused if held[ident]),
        errors=errors[:5],
    )


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Report:
    settings: Settings
    code: str = field(default_factory=code_version)
    timings: dict[str, Timing] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    races: list[Race] = field(default_factory=list)
    file_bytes: int = 0

    @property
    def passed_all(self) -> bool:
        return (
            all(t.passed for t in self.targets)
            and not self.checks
            and all(r.sound for r in self.races)
        )


def head_to_head(
    report: Report, path: Path, repeats: int, warmup: int, *, nodelay: bool = False
) -> None:
    """Time target (a) on a server over ``path``; the file starts and ends without account X."""
    suffix = NODELAY if nodelay else ""
    with serving(path, nodelay=nodelay) as server:
        with bare_session() as session:
            original, _ = get_content(session, server.url)
        if ACCOUNT_X in {item["account_id"] for item in original["aws"]}:
            raise AssertionError("account X is already in the file")
        toggle = Toggle(server.url, original)
        # The client's own work, without HTTP or the server: adding X to the same document.
        in_memory = Case(
            IN_MEMORY,
            lambda: partial(apply, MemoryStore(original), toggle.add),
            "client work alone, no HTTP",
        )
        try:
            report.checks.extend(check_same_write(toggle))
            report.timings.update(
                time_cases(
                    [
                        Case(APPLY + suffix, toggle.prepare_apply, "GET, merge, validate, PUT"),
                        Case(BARE + suffix, toggle.prepare_bare, "same GET and PUT bodies"),
                        *([] if nodelay else [in_memory]),
                    ],
                    repeats=repeats,
                    warmup=warmup,
                )
            )
            report.checks.extend(toggle.problems)
            content, _ = get_content(toggle.session, server.url)
            if content != toggle.expected():
                report.checks.append(f"the file does not end in the expected state{suffix}")
        finally:
            toggle.close()
        writes = server.writes
    expected_writes = 2 + 2 * (repeats + warmup)
    if writes != expected_writes:
        report.checks.append(
            f"the server counted {writes} writes, {expected_writes} expected{suffix}"
        )


def run(settings: Settings, say: Callable[[str], None]) -> Report:
    report = Report(settings)
    document = make_document(ACCOUNTS, cloud_entries=CLOUD_ENTRIES)
    if ACCOUNT_X in {item["account_id"] for item in document["aws"]}:
        raise AssertionError("account X is already in the workload")
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory(prefix="safemerge-bench-") as name:
        folder = Path(name)
        path = folder / "jit-integration.yml"
        write_file(path, document)
        report.file_bytes = path.stat().st_size

        say(f"target a: apply through JitStore vs bare GET + PUT ({settings.repeats} rounds) ...")
        head_to_head(report, path, settings.repeats, settings.warmup)
        say(
            f"what-if: the same on a server with TCP_NODELAY ({settings.nodelay_repeats} rounds) ..."
        )
        head_to_head(report, path, settings.nodelay_repeats, settings.warmup, nodelay=True)

        for writers in WRITERS:
            say(
                f"target b: {writers} concurrent writer(s) x {settings.applies_per_writer} applies ..."
            )
            report.races.append(race(folder, document, writers, settings.applies_per_writer))

    apply_t, bare_t = report.timings[APPLY], report.timings[BARE]
    fast_apply, fast_bare = report.timings[APPLY + NODELAY], report.timings[BARE + NODELAY]
    report.targets = [
        Target(
            "a http overhead",
            "JitStore apply / bare GET + PUT",
            apply_t.median_ms / bare_t.median_ms,
            OVERHEAD_LIMIT,
            at_least=False,
            detail=f"ratio of mins {apply_t.min_ms / bare_t.min_ms:.2f}; "
            f"{apply_t.median_ms - bare_t.median_ms:+.2f} ms per apply (medians); what-if, "
            f"TCP_NODELAY server: {fast_apply.median_ms / fast_bare.median_ms:.2f}",
        )
    ]
    return report


# -- output ---------------------------------------------------------------------------------------


def print_report(report: Report, out: TextIO) -> None:
    def line(text: str = "") -> None:
        print(text, file=out)

    line()
    line(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; requests "
        f"{requests.__version__}; mode: {report.settings.name}"
    )
    line(f"safemerge {safemerge.__version__} at commit {report.code}")
    line(
        f"file: make_document({ACCOUNTS}, cloud_entries={CLOUD_ENTRIES}), {report.file_bytes:,} "
        "bytes of YAML, served by make_server(token=...) on a thread of this process"
    )
    line()
    line(f"{'benchmark':<44} {'median ms':>10} {'min ms':>10} {'runs':>5}  note")
    for t in report.timings.values():
        line(f"{t.label:<44} {t.median_ms:>10.2f} {t.min_ms:>10.2f} {t.runs:>5}  {t.note}".rstrip())
    line(
        "  both contenders pay the server alike: each GET parses the YAML file, each PUT parses "
        "and renders it\n  (ruamel.yaml, pure Python), and the shipped handler sends headers and "
        "body in two writes\n  without TCP_NODELAY, so a response can wait ~40 ms for the "
        "client's delayed ACK. The TCP_NODELAY\n  rows swap in a handler with "
        "disable_nagle_algorithm = True (a what-if, not gated); the MemoryStore\n  row is the "
        "apply's own work on the same document, without HTTP."
    )
    line()
    line(
        f"concurrent writers ({report.settings.applies_per_writer} applies each, one new account "
        "per apply, default Retry):"
    )
    line(
        f"{'writers':>7} {'applies':>7} {'acked':>6} {'gave up':>7} {'attempts med':>12} "
        f"{'p90':>5} {'max':>4} {'seconds':>8} {'lost':>5} {'dupes':>5} {'originals':>9}"
    )
    for r in report.races:
        line(
            f"{r.writers:>7} {r.applies:>7} {r.acknowledged:>6} {r.gave_up:>7} "
            f"{r.attempts_median:>12.1f} {r.attempts_p90:>5.0f} {r.attempts_max:>4} "
            f"{r.seconds:>8.2f} {r.lost:>5} {r.duplicated:>5} {f'{r.originals_kept}/{ACCOUNTS}':>9}"
        )
        if r.unacknowledged_present:
            line(f"        {r.unacknowledged_present} applies that gave up landed anyway")
        for error in r.errors:
            line(f"        {error}")
    line(
        "  attempts: write attempts per acknowledged apply (1 = no lost race); lost: acknowledged "
        "accounts missing\n  from the final file; dupes: accounts held twice; originals: the "
        "file's own accounts still held once."
    )
    line()
    for target in report.targets:
        verdict = "PASS" if target.passed else "FAIL"
        line(
            f"{verdict}  {target.name:<17} {target.what:<34} {target.value:>6.2f}x  "
            f"(limit <= {target.limit:g}; {target.detail})"
        )
    sound = all(r.sound for r in report.races)
    line(
        f"{'PASS' if sound else 'FAIL'}  {'b writers':<17} lost = "
        f"{sum(r.lost for r in report.races)}, duplicated = "
        f"{sum(r.duplicated for r in report.races)} at "
        f"{', '.join(str(r.writers) for r in report.races)} writers "
        f"({sum(r.acknowledged for r in report.races)} acknowledged applies, "
        f"{sum(r.gave_up for r in report.races)} gave up)"
    )
    verdict = "PASS" if not report.checks else "FAIL"
    line(
        f"{verdict}  {'c correctness':<17} the apply writes the bare PUT's document; every "
        "timed call wrote once"
    )
    for problem in report.checks:
        line(f"      {problem}")


def report_json(report: Report) -> dict[str, Any]:
    return {
        "machine": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
            "requests": requests.__version__,
        },
        "mode": report.settings.name,
        "safemerge": {"version": safemerge.__version__, "commit": report.code},
        "file_bytes": report.file_bytes,
        "timings_ms": {
            t.label: {"median": t.median_ms, "min": t.min_ms, "runs": t.runs, "note": t.note}
            for t in report.timings.values()
        },
        "targets": [
            {
                "name": t.name,
                "what": t.what,
                "value": t.value,
                "limit": t.limit,
                "op": ">=" if t.at_least else "<=",
                "passed": t.passed,
                "detail": t.detail,
            }
            for t in report.targets
        ],
        "races": [{**asdict(r), "sound": r.sound} for r in report.races],
        "correctness_problems": report.checks,
        "passed": report.passed_all,
    }


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(argv, __doc__, run, print_report, report_json, quick=QUICK, full=FULL)


if __name__ == "__main__":
    sys.exit(main())
