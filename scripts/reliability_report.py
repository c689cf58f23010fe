"""Measure safemerge's reliability and security claims and print RELIABILITY.md.

Run from the repository root::

    python scripts/reliability_report.py > RELIABILITY.md

It runs, with fixed seeds: the lost-update set workload against three backends,
the Hypothesis interleaving machines, a storm of injected faults against two
backends, every hostile input in ``tests/support/hostile.py`` (timed, and
measured with ``tracemalloc``), fuzzing of ``parse_fragment``/``merge``/``apply``,
and the pytest tests named in the threat table. Progress goes to stderr; the
Markdown goes to stdout. Takes two to three minutes on two cores.

Figures that depend on timing (attempts, seconds) vary from run to run; the
invariants (lost = 0, unexpected = 0, no untyped error) must not.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Imported after the path is set: the workloads live in the test support package.
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import safemerge  # noqa: E402
from safemerge import MemoryStore, Retry, SafeMergeError, apply, merge  # noqa: E402
from tests.support import chaos, hostile, set_workload  # noqa: E402

COMMAND = "python scripts/reliability_report.py > RELIABILITY.md"
HOSTILE_TIMEOUT = 60  # seconds; a case that takes longer is reported as such


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cell(text: object, limit: int = 0) -> str:
    """Text safe for a Markdown table cell."""
    value = " ".join(str(text).split()).replace("|", "\\|")
    if limit and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def no_sleep(seconds: float) -> None:
    del seconds


# -- 1. lost updates ----------------------------------------------------------------------------


def load_section(workdir: Path) -> str:
    runs: list[tuple[str, set_workload.SetResult]] = []
    progress("load: safemerge serve, 8 threads x 6 applies")
    runs.append(("default Retry", set_workload.run_serve_threads(workdir, writers=8, applies=6)))
    progress("load: one file, 4 processes x 10 applies")
    runs.append(("default Retry", set_workload.run_file_processes(workdir, writers=4, applies=10)))
    progress("load: GitHub contents API, 8 threads x 6 applies")
    runs.append(("default Retry", set_workload.run_github_threads(writers=8, applies=6)))
    progress("load: giving up (one attempt each)")
    give_up = Retry(conflicts=1, sleep=no_sleep)
    runs.append(
        (
            "Retry(conflicts=1): give up at once",
            set_workload.run_serve_threads(workdir, writers=8, applies=5, retry=give_up),
        )
    )
    rows: list[list[object]] = []
    for budget, r in runs:
        gave_up = Counter(o.error for o in r.gave_up)
        rows.append(
            [
                r.backend,
                budget,
                f"{r.writers} x {r.applies}",
                len(r.acknowledged),
                ", ".join(f"{n} {e}" for e, n in gave_up.items()) or "0",
                f"{r.attempts_median():g} / {r.attempts_max()}",
                r.writes_accepted,
                r.writes_refused,
                "yes" if not r.chain_problems else "; ".join(r.chain_problems),
                len(r.lost),
                len(r.unexpected),
                len(r.failed_but_stored),
                len(r.untyped),
                f"{r.seconds:.1f}",
            ]
        )
    header = [
        "backend",
        "retry budget",
        "writers x applies",
        "acknowledged",
        "gave up (typed)",
        "attempts median / max",
        "writes accepted",
        "stale writes refused",
        "accepted writes chain from the first SHA",
        "lost",
        "unexpected",
        "given up, yet stored",
        "untyped errors",
        "seconds",
    ]
    return table(header, rows)


# -- 2. interleavings -------------------------------------------------------------------------


def interleavings_section() -> str:
    from tests.reliability import test_interleavings as machines

    rows = []
    for name, machine, examples, steps in [
        ("MemoryStore", machines.Interleavings, 300, 40),
        ("FileStore (tmpfs)", machines.FileInterleavings, 15, 30),
    ]:
        progress(f"interleavings: {name}, {examples} examples x {steps} steps")
        machines.TALLY.clear()
        case = machine.TestCase
        case.settings = settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        began = time.monotonic()
        outcome = "invariants held"
        try:
            case("runTest").runTest()
        except AssertionError as exc:
            outcome = f"FAILED: {str(exc).splitlines()[0]}"
        tally = ", ".join(f"{k}: {v}" for k, v in sorted(machines.TALLY.items()))
        rows.append(
            [name, f"{examples} x up to {steps}", outcome, tally, f"{time.monotonic() - began:.1f}"]
        )
    return table(
        ["store", "examples x steps", "outcome", "what happened (all examples)", "seconds"], rows
    )


# -- 3. faults --------------------------------------------------------------------------------


def faults_section(workdir: Path) -> tuple[str, str]:
    results = []
    for backend, seed in (("jit", 1001), ("github", 1002)):
        progress(f"faults: a seeded storm against {backend}")
        results.append(chaos.run_chaos(workdir, seed=seed, applies=80, rate=0.3, backend=backend))
    rows = []
    for kind in chaos.FAULTS:
        row: list[object] = [kind.name]
        for r in results:
            seen = r.outcomes_by_fault().get(kind.name, Counter())
            row.append(r.injected.get(kind.name, 0))
            row.append(", ".join(f"{n} {o}" for o, n in sorted(seen.items())) or "-")
        rows.append(row)
    per_kind = table(
        [
            "fault (one request)",
            "injected (Jit)",
            "outcome of those applies (Jit)",
            "injected (GitHub)",
            "outcome of those applies (GitHub)",
        ],
        rows,
    )
    paths = {"jit": "JitStore -> safemerge serve", "github": "GitHubStore -> contents API"}
    summary_rows: list[list[object]] = [
        [
            paths[r.backend],
            f"{len(r.records)} applies, rate {r.rate:g}, seed {r.seed}",
            sum(r.injected.values()),
            ", ".join(f"{n} {o}" for o, n in sorted(r.outcomes().items())),
            f"{len(r.waits)} waits, longest {max(r.waits, default=0):.1f} s, "
            f"{sum(r.waits):.0f} s in all (not slept)",
            "; ".join(f"{n} x {p}" for p, n in Counter(_kind_of(p) for p in r.problems()).items())
            or "none",
            f"{r.seconds:.1f}",
        ]
        for r in results
    ]
    summary = table(
        [
            "path",
            "run",
            "faults injected",
            "apply outcomes",
            "backoff asked for",
            "violations",
            "seconds",
        ],
        summary_rows,
    )
    return summary, per_kind


# -- 4. hostile inputs --------------------------------------------------------------------------


def _kind_of(problem: str) -> str:
    """A problem without the item id it names, so that equal problems can be counted."""
    return re.sub(r"^\d{12}: ", "", problem)


class _TimedOut(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: FrameType | None) -> None:
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _measure(case: hostile.Case) -> tuple[hostile.Attempt | None, float, float]:
    """The attempt, its time in ms (untraced), and its peak traced memory in MiB (a second run)."""
    with tempfile.TemporaryDirectory() as folder:
        gc.collect()
        began = time.perf_counter()
        try:
            with _deadline(HOSTILE_TIMEOUT):
                outcome: hostile.Attempt | None = hostile.attempt(case, Path(folder))
        except _TimedOut:
            return None, HOSTILE_TIMEOUT * 1000.0, float("nan")
        elapsed = (time.perf_counter() - began) * 1000
    with tempfile.TemporaryDirectory() as folder:
        gc.collect()
        tracemalloc.start()
        try:
            with _deadline(HOSTILE_TIMEOUT):
                hostile.attempt(case, Path(folder))
            peak = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
        except _TimedOut:
            peak = float("nan")
        finally:
            tracemalloc.stop()
    return outcome, elapsed, peak


def hostile_section() -> tuple[str, int, int]:
    rows = []
    refused = gaps = 0
    for n, case in enumerate(hostile.CASES, 1):
        if n % 20 == 1:
            progress(f"hostile inputs: {n}/{len(hostile.CASES)}")
        outcome, ms, peak = _measure(case)
        if outcome is None:
            result, message, where, written = f"no answer in {HOSTILE_TIMEOUT} s", "", "", "?"
        else:
            error = outcome.error
            result = type(error).__name__ if error is not None else "accepted"
            message = re.sub(r"/tmp/[^/ ]+/", "<tmp>/", outcome.message())
            where = cell(outcome.where(), 40)
            written = "yes" if outcome.written else "no"
            ok = (
                isinstance(error, SafeMergeError)
                and isinstance(error, case.expect)
                and not outcome.written
            )
            refused += ok
        if case.gap is not None:
            gaps += 1
            result += " (known gap)"
        rows.append(
            [
                case.target,
                case.kind,
                result,
                cell(message, 120),
                where or "-",
                written,
                f"{ms:,.0f}",
                f"{peak:,.1f}",
            ]
        )
    header = [
        "enters as",
        "input",
        "outcome",
        "message (first 120 characters)",
        "where",
        "written",
        "ms",
        "peak MiB",
    ]
    return table(header, rows), refused, gaps


# -- 5. fuzzing -------------------------------------------------------------------------------


def fuzz_section() -> str:
    from safemerge._parse import parse_fragment
    from tests.reliability import test_fuzz as fz

    rows = []

    def run(
        name: str,
        strategy: st.SearchStrategy[Any],
        examples: int,
        call: Callable[[Any], object],
    ) -> None:
        progress(f"fuzz: {name}")
        tally: Counter[str] = Counter()

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def body(value: Any) -> None:
            try:
                call(value)
                tally["accepted"] += 1
            except SafeMergeError as exc:
                tally[type(exc).__name__] += 1
            except Exception as exc:
                tally[f"UNTYPED {type(exc).__name__}"] += 1

        began = time.monotonic()
        body()
        untyped = sum(n for k, n in tally.items() if k.startswith("UNTYPED"))
        rows.append(
            [
                name,
                sum(tally.values()),
                ", ".join(f"{n} {k}" for k, n in tally.most_common()),
                untyped,
                f"{time.monotonic() - began:.1f}",
            ]
        )

    def merge_call(args: Any) -> None:
        merge(*args)

    def apply_call(value: Any) -> None:
        fragment = value if isinstance(value, dict) else {"drata": value}
        store = MemoryStore({"drata": {"user_email": "a@b.cc", "workspace": "w"}, "a": [1]})
        apply(store, fragment, retry=Retry(sleep=no_sleep))

    run("parse_fragment: arbitrary text and bytes", st.text() | st.binary(), 2000, parse_fragment)
    run(
        "parse_fragment: structured garbage (YAML/JSON tokens)",
        fz.garbage | fz.garbage.map(lambda s: s.encode("utf-8", "surrogatepass")),
        2000,
        parse_fragment,
    )
    run(
        "parse_fragment: valid documents, a few bytes changed",
        fz.mutated_documents(),
        500,
        parse_fragment,
    )
    values = fz.python_values(fz.LARGE_INTS)
    run(
        "merge: arbitrary Python values, every policy",
        st.tuples(fz.bases(values), fz.bases(values), fz.POLICIES),
        1500,
        merge_call,
    )
    run("apply: arbitrary fragments into a MemoryStore", values, 500, apply_call)
    huge = fz.python_values(fz.HUGE_INTS)
    run(
        "merge: with ints over 4,300 digits (a bug until 5d0e7e6)",
        st.tuples(fz.bases(huge), fz.bases(huge), fz.POLICIES),
        300,
        merge_call,
    )
    return table(["target", "inputs", "outcomes", "untyped exceptions", "seconds"], rows)


# -- 6. threats, controls, tests ----------------------------------------------------------------

R = "tests/reliability/"
S = R + "test_secrets_and_transport.py::"
# Evidence is a pytest node id (run for the table) or a pointer to a section of this report
# (measured above, by tests that are too slow to run twice).
THREATS: list[tuple[str, str, list[str]]] = [
    (
        "Two writers read the same version; the second write erases the first (lost update)",
        "Every write is guarded by the SHA it read; a stale SHA is refused and apply reads, "
        "merges and validates again (bounded, jittered)",
        [
            "§1 (`test_lost_updates.py`), §2 (`test_interleavings.py`)",
            "tests/integration/test_apply.py::test_a_conflict_is_read_again_merged_again_and_keeps_the_other_change",
        ],
    ),
    (
        "A server (or a store) accepts a write guarded by a stale SHA",
        "Counted server-side: accepted PUTs must chain from the first SHA; FileStore checks "
        "the SHA under an exclusive lock",
        [
            "§1 (chain column)",
            "tests/stores/test_file.py::test_stale_snapshot_is_a_conflict_and_leaves_the_other_writers_file",
            "tests/stores/test_github.py::test_stale_snapshot_conflicts_and_keeps_the_other_writers_content",
        ],
    ),
    (
        "A write whose answer is lost is sent again and applied twice",
        "OutcomeUnknown is settled by reading: a fragment already present means it landed; "
        "APPEND policies, which are not idempotent, stop instead",
        [
            "§3 (`test_faults.py`: PUT committed, answer lost)",
            "tests/integration/test_apply.py::test_an_unknown_outcome_that_landed_is_settled_by_reading",
            "tests/integration/test_apply.py::test_an_unknown_outcome_with_append_is_not_retried",
        ],
    ),
    (
        "A retry loop hammers a struggling server or hangs on Retry-After",
        "Separate bounded budgets for conflicts and transient failures; Retry-After honoured "
        "(seconds or HTTP-date) up to max_retry_after, beyond which apply gives up",
        [
            "§3 (backoff column)",
            "tests/integration/test_apply.py::test_a_retry_after_beyond_the_maximum_gives_up_rather_than_hang",
            "tests/integration/test_apply.py::test_the_transient_budget_ends_in_retries_exhausted_and_nothing_written",
        ],
    ),
    (
        "A transport failure escapes as a raw requests/socket exception",
        "Every requests exception is mapped to a SafeMergeError subclass in one place (_http.send)",
        ["§3 (no untyped outcome)", "§5 (untyped exceptions column)"],
    ),
    (
        "A hostile file or fragment exhausts memory or CPU, or constructs objects "
        "(billion laughs, deep nesting, language tags)",
        "Guarded parser: size, depth, expanded-node and alias bounds checked before anything "
        "is built; only core-schema scalars; duplicate and non-string keys refused",
        ["§4 (`test_hostile_inputs.py`)", "§5 (`test_fuzz.py`)"],
    ),
    (
        "A hostile or broken server answer is taken as the file",
        "Strict JSON (no NaN), content must be a mapping, bounded depth; GitHub content checked "
        "against its blob SHA",
        ["§4 (Jit API answer, GitHub API answer rows)"],
    ),
    (
        "A schema makes safemerge fetch from the network (SSRF)",
        "Every $ref is resolved inside the registry when it is built; the resolver refuses retrieval",
        ["§4 (schema rows: no socket opened)"],
    ),
    (
        "The token or client secret shows up in logs, errors or reprs",
        "Credentials travel in a Secret whose repr/str are redacted; server messages are "
        "scrubbed; errors are raised `from None`",
        [
            S + "test_jit_credentials_never_show_in_logs_errors_or_reprs",
            S + "test_jit_credentials_never_show_on_success_with_a_relogin",
            S + "test_github_token_never_shows_in_logs_errors_or_reprs",
            "tests/stores/test_jit.py::test_the_token_never_shows",
        ],
    ),
    (
        "The token shows up in CLI output (text or JSON, any verbosity)",
        "The CLI scrubs the credentials it read from the environment from everything it prints",
        [S + "test_cli_output_never_shows_credentials"],
    ),
    (
        "A redirect carries the token (or a login's secret) to another host",
        "Reads follow redirects with requests' host check (Authorization dropped); writes and "
        "logins never follow one; ~/.netrc is ignored (trust_env off)",
        [
            S + "test_a_redirected_read_does_not_carry_the_token_to_another_host",
            S + "test_a_netrc_for_the_other_host_is_not_used",
            S + "test_a_github_read_redirected_elsewhere_does_not_carry_the_token",
            S + "test_a_login_is_never_redirected_so_the_secret_stays",
            S + "test_a_write_is_never_redirected",
        ],
    ),
    (
        "TLS verification is turned off by a caller's session or the environment",
        "send() passes verify=True unless the session names a CA bundle; the environment is not read",
        [
            S + "test_tls_verification_cannot_be_turned_off_by_the_session",
            S + "test_the_ca_bundle_environment_cannot_turn_verification_off",
            S + "test_a_ca_bundle_path_is_honoured",
            S + "test_an_empty_ca_bundle_path_does_not_turn_verification_off",
        ],
    ),
    (
        "The token travels in clear",
        "Plain http:// is refused except to loopback",
        [
            "tests/stores/test_jit.py::test_plain_http_is_refused_off_loopback",
            "tests/stores/test_github.py::test_api_url_must_be_safe_for_the_token",
        ],
    ),
    (
        "A crash mid-write leaves a torn file",
        "FileStore writes a temporary file, fsyncs it, renames it over the file, fsyncs the folder",
        [
            "tests/stores/test_file.py::test_failed_write_leaves_no_temporary_file_and_the_old_file_intact"
        ],
    ),
    (
        "A merge silently overwrites or drops what was in the file",
        "Conflicts are errors by default (every one listed); deletion only by explicit "
        "directive; what changed is validated before any write",
        [
            "tests/integration/test_apply.py::test_a_failed_merge_or_validation_writes_nothing",
            "tests/unit/test_merge.py",
        ],
    ),
    (
        "A forced or unguarded write (a tenant without a file SHA) loses another writer's change",
        "force is explicit and reported (guarded=False, a warning); without a SHA the write is "
        "read back and redone if it was overwritten - a narrower window, not a guarantee",
        [
            "tests/integration/test_apply.py::test_force_writes_unguarded_and_says_so",
            "tests/integration/test_apply.py::test_an_unguarded_write_that_was_overwritten_is_written_again",
        ],
    ),
]


def _junit_outcomes(path: Path) -> list[tuple[str, str, str]]:
    """``(module path without .py, possibly with /Class, test name, outcome)`` per test case."""
    found = []
    for case in ET.parse(path).getroot().iter("testcase"):
        where = (case.get("classname") or "").replace(".", "/")
        name = (case.get("name") or "").split("[", 1)[0]
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "FAILED"
        elif (skipped := case.find("skipped")) is not None:
            outcome = "xfail" if (skipped.get("type") or "").endswith("xfail") else "skipped"
        else:
            outcome = "passed"
        found.append((where, name, outcome))
    return found


def _status(node: str, outcomes: list[tuple[str, str, str]]) -> str:
    file, _, function = node.partition("::")
    stem = file.removesuffix(".py")
    total: Counter[str] = Counter(
        outcome
        for where, name, outcome in outcomes
        if (where == stem or where.startswith(stem + "/")) and (not function or name == function)
    )
    if not total:
        return "not run"
    return ", ".join(f"{n} {o}" for o, n in sorted(total.items()))


def threats_section() -> str:
    nodes = sorted({e for _, _, evidence in THREATS for e in evidence if not e.startswith("§")})
    progress(f"threat table: running {len(nodes)} pytest node ids")
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={junit}",
                *nodes,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        outcomes = _junit_outcomes(junit)
    lines = ["| threat | control | evidence (pytest result in this run) |", "|---|---|---|"]
    for threat, control, evidence in THREATS:
        shown = "<br>".join(
            e if e.startswith("§") else f"`{e.split('::')[-1]}`: {_status(e, outcomes)}"
            for e in evidence
        )
        lines.append(f"| {cell(threat)} | {cell(control)} | {shown} |")
    return "\n".join(lines)


# -- the document -------------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="safemerge-reliability-") as folder:
        workdir = Path(folder)
        load = load_section(workdir)
        interleavings = interleavings_section()
        faults_summary, faults_kinds = faults_section(workdir)
    hostile_table, refused, gaps = hostile_section()
    fuzz = fuzz_section()
    threats = threats_section()
    elapsed = time.monotonic() - started
    progress(f"done in {elapsed:.0f} s")
    sys.stdout.write(
        TEMPLATE.format(
            command=COMMAND,
            version=safemerge.__version__,
            python=platform.python_version(),
            system=f"{platform.system()} {platform.machine()}",
            cores=os.cpu_count(),
            elapsed=f"{elapsed:.0f}",
            load=load,
            interleavings=interleavings,
            faults_summary=faults_summary,
            faults_kinds=faults_kinds,
            hostile=hostile_table,
            hostile_total=len(hostile.CASES),
            hostile_refused=refused,
            hostile_gaps=gaps,
            fuzz=fuzz,
            threats=threats,
        )
    )
    return 0


TEMPLATE = """\
# Reliability and security of safemerge: what is measured, and what is not

"Safe" is a claim; this page measures it. Every figure below was produced by

```sh
{command}
```

on safemerge {version}, Python {python}, {system}, {cores} cores, in {elapsed} s. The same
checks run in CI, smaller, as `pytest tests/reliability` (`-m soak` for longer runs by
hand). Seeds are fixed; figures that depend on timing (attempts, seconds) vary between
runs, the invariants (nothing lost, nothing unexpected, no untyped error) must not.
Everything runs on one machine over loopback against local stand-ins for the Jit API
(`safemerge serve`) and for GitHub's contents API (`tests/support/github_server.py`):
these figures say how safemerge behaves against servers that keep their side of the
contract, not what the real Jit or GitHub servers guarantee.

## 1. Load held: lost updates

A set workload in the manner of Jepsen's set checker: each writer adds accounts with
unique ids, one `apply` per account, all writers at once. After the run the file is read
once and compared with what the writers were told. *Lost* is an acknowledged add that is
not in the file exactly once; *unexpected* an id in the file no one tried to add; *given
up, yet stored* an add whose `apply` raised after nothing but SHA conflicts but is there
anyway. A recording proxy in front of the server logs every PUT's SHA and the server's
answer, so the check that no write was accepted with a stale SHA is made server-side: the
accepted writes must form one chain from the first SHA (for the local file, the chain is
recorded around `FileStore.write` in each process). Retries sleep for real here (default
`Retry`), except in the give-up row.

{load}

A control shows the checker is not blind: `test_the_checker_sees_lost_updates_when_the_guard_is_ignored`
runs the same workload against a store that ignores the SHA, and the checker reports
lost adds.

## 2. Interleavings explored by Hypothesis

A `RuleBasedStateMachine` (`tests/reliability/test_interleavings.py`) runs the protocol
`apply` follows one step at a time for three clients (read; merge; write guarded by the
snapshot; on `ShaConflict` read again; on `OutcomeUnknown` read again and treat "nothing
left to merge" as landed), interleaved with a rival writer (unguarded, or guarded by a
snapshot it took earlier) and with injected failures (a write that raises
`TransientError` before landing; one that lands, then raises `OutcomeUnknown`), plus
whole `apply` calls with scripted faults and a rival writing after each of their reads.
After every step: every acknowledged item is stored exactly once, nothing is stored that
no one wrote, nothing is stored whose every attempt definitely failed, and the
integration no one touched is unchanged.

{interleavings}

## 3. Faults survived

A proxy between the store and the server injects one fault into about 30% of requests,
chosen by a seeded random plan from the kinds below; each `apply` adds one unique item.
Client timeout 0.25 s; `Retry(sleep=...)` records the backoff instead of sleeping. The
checker: every `apply` either succeeded with its item in the file exactly once, or raised
a `SafeMergeError` subclass; an item of a failed `apply` may be in the file only if the
server accepted a PUT carrying it whose answer never reached the client; accepted PUTs
chain from the first SHA; no raw `requests`/socket exception escaped.

{faults_summary}

Per kind of fault (an `apply` that met several faults is counted under each; "not
written" for a fresh item means `apply` reported no write although its own change is in
the file):

{faults_kinds}

A `RetriesExhausted` outcome is the transient budget (6 failures) running out under a
30% fault rate: typed, with nothing of that apply written (or, after an unanswered PUT
that landed, its change present once). A 302 on PUT is never followed: `StoreError`,
nothing written.

## 4. Bad inputs tried

{hostile_total} inputs, each entered the way a user would meet it: as fragment text
(`parse_fragment`, then `apply`), as the local file (`FileStore`), as the file in GitHub
(`GitHubStore`), as a server's answer to the read, as a Python value handed to `apply`,
or as a schema directory. {hostile_refused} were refused as intended: the expected
`SafeMergeError` subclass, naming the line (text) or the pointer (data) or what was being
read (answers), with nothing written; {hostile_gaps} are known gaps (strict xfails in
`tests/reliability/test_hostile_inputs.py`). Time is wall
time of one attempt (including any local test server's work); peak MiB is the
`tracemalloc` peak of a second attempt (Python allocations only, all threads).

{hostile}

## 5. Fuzzing

Hypothesis, derandomized. The only acceptable exception is a `SafeMergeError`.

{fuzz}

## 6. Threats, controls, tests

What a reviewer deciding whether to let this run unattended against production would
ask, the control that answers it, and the tests that check the control (with their
result in this run).

{threats}

## How this compares

- **Kubernetes client-go `retry.RetryOnConflict`** with `retry.DefaultRetry` (5 steps,
  10 ms, factor 1.0, jitter 0.1) re-runs the caller's whole read-modify-write when the
  API server answers 409 Conflict (a stale `resourceVersion`), and returns the last
  conflict after five tries; other errors are returned at once (`retry.OnError` is for
  those). The API server's compare-and-swap on `resourceVersion` is what prevents the
  lost update. safemerge's loop has the same shape (the remote's SHA check does the
  preventing; the client re-reads, re-merges and re-validates), with a larger default
  budget (50 conflicts, full-jitter exponential waits from 20 ms capped at 1 s) and a
  separate budget for transient failures (6, honouring `Retry-After`), and it settles a
  write whose answer was lost by reading, which `RetryOnConflict` leaves to the caller.
- **GitHub's contents API** (`PUT /repos/{{owner}}/{{repo}}/contents/{{path}}`) checks the
  `sha` of the blob being replaced: a stale one is refused with 409, a missing one for an
  existing file with 422. It does not retry or merge; GitHub's documentation warns that
  concurrent writes through it conflict and asks for serial use. `GitHubStore` turns
  both answers into `ShaConflict`, so `apply` retries the merge; the test server used
  here implements the same checks under a lock.
- **Jepsen's set checker** adds unique elements, reads once at the end and reports
  acknowledged adds that were lost, elements that were never added (unexpected) and
  indeterminate adds that appeared (recovered). Sections 1 to 3 use the same
  classification (an `apply` that met a write whose answer was lost is indeterminate). Jepsen tests real
  distributed systems under network partitions, process crashes and clock faults;
  nothing here partitions a network, kills a writer mid-write or tests the real Jit
  service, so these figures are much narrower than a Jepsen analysis.

## Found by this suite, and fixed

The first runs of this suite found the following; each was fixed (commit 5d0e7e6) and
its test, a strict xfail until then, is now an ordinary test that must keep passing.

- An `int` of more than 4,300 digits in a Python fragment passed `check_fragment`;
  rendering it (a `MergeConflict` message, jsonschema's own messages during validation,
  `str(Change)`) raised Python's int-to-str `ValueError`, which escaped `merge`/`apply`
  untyped. Now integers past 256 bits are refused as `UnsafeInput` naming the pointer
  (`test_merge_with_huge_ints_raises_only_safemerge_errors`; section 4, "an int of
  5,001 digits").
- `GitHubStore` took a 5xx answer to a PUT as a transient failure, not an unknown
  outcome: when that PUT had committed, `apply` re-read, found its change present and
  returned `written=False`. Nothing was lost or doubled, but the report was wrong
  (section 3, "PUT committed, answered 502").
- A `requests.Session` whose `verify` was the empty string turned TLS verification off
  (requests takes `""` as false) and the token went to an unverified server
  (`test_an_empty_ca_bundle_path_does_not_turn_verification_off`).
- `JitStore` read an answer of any size into memory, and kept the last of two equal keys
  in its JSON; answers are now streamed and refused past 16 MiB, and duplicate keys are
  refused (section 4, "Jit API answer" rows).

## Observations (not failures)

- Fragment text that starts with `{{` but is not valid JSON is read as YAML flow style
  (`parse_fragment` falls back on purpose, for `{{aws: [...]}}`), so `{{"a": }}` means
  `a: null`. A merge conflict or a schema usually stops such a value; it is not refused
  as invalid JSON.
- A too-deep JSON answer from the Jit API is reported as "not JSON" (`json` raises
  `RecursionError`): typed and nothing written, but the message names the wrong cause.
- A PUT answered 200 with a body that is not JSON raises `StoreError` after the write
  landed; `apply` does not retry it, so the caller sees a failure for a write that
  happened (the file is consistent).
- There is no fairness between writers: under heavy contention one writer can lose the
  race again and again. In a soak run by hand (`pytest -m soak`; 16 threads x 20 applies
  against the GitHub test server, everything in one process, each read-merge-write taking
  a large share of a second), one apply of 320 lost 50 times and raised
  `RetriesExhausted` (typed, nothing of it written); nothing was lost. `Retry(conflicts=...)`
  is the knob.
- `FileStore.read` asks for `max_bytes + 1` bytes in one `read()`, so every read
  allocates a 16 MiB buffer for a moment, whatever the file's size (the 16 MiB peaks in
  the "local file" rows of section 4). Bounded, but wasteful.
- Not covered here: the real Jit and GitHub services, crashes of a writer process in the
  middle of a write, network partitions, NFS (the file lock is local), and writers that
  bypass safemerge without a SHA.
"""


if __name__ == "__main__":
    sys.exit(main())
