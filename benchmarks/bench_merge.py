"""Merge benchmark: safemerge against its copy floor, against itself at scale, and against peers.

Run ``python benchmarks/bench_merge.py`` (``--quick`` for a smoke run with few
repeats, ``--json`` to print the figures as JSON on stdout; the report then goes
to stderr). The workload is ``workload.make_workload``: N AWS accounts, 1,000
GCP and 1,000 Azure entries and a drata block, merged with the standard
fragment (100 new accounts, one new region on 50 existing accounts, a new
``jira`` integration: 150 ``/aws`` items).

Regressions guarded (the exit code is non-zero if any fails):

1. **Copy floor** -- ``merge`` on 5,000 accounts must cost at most 2.0x a
   ``pickle`` round-trip of the same base. ``merge`` copies the base once
   (with pickle) and then does work proportional to the fragment plus one
   index of ``/aws``; anything more (a second copy, a walk of the whole
   document, per-item overhead on untouched items) shows here.
2. **Scaling** -- ``merge`` on 50,000 accounts must cost at most 12x ``merge``
   on 5,000 (10x the data). A scan of ``/aws`` per fragment item, or any
   other superlinear step, shows here.
3. **Against jsonmerge** -- on 2,000 accounts safemerge must be at least 200x
   faster than ``jsonmerge`` with an ``arrayMergeById`` schema (``idRef``
   ``/account_id``; regions merged as a set with ``idRef: "/"``). The two
   results are compared first and the comparison is printed.
4. **Correctness** -- on every workload, safemerge's result must equal a
   reference keyed merge (same values, same key and list order), record one
   change per added account / region / integration, round-trip as an RFC 6902
   patch (``jsonpatch``), leave both inputs untouched and share no container
   with them.

Also reported, not gated: ``deepmerge`` (``always_merger``) and ``mergedeep``
(default ``REPLACE`` and ``ADDITIVE``) on the 2,000-account input, with how
their results differ from a keyed merge. Both mutate their first argument, so
they are given a fresh pickle copy of the base; the copy is made *outside* the
timed region (the pickle round-trip row gives its cost, to add for a like-for-like
non-destructive call; safemerge's own times always include its copy).

Timing: ``time.perf_counter``; the garbage collector is run before and
disabled during each timed call (the workloads themselves are ``gc.freeze()``-d); results are freed outside the timed region;
cases measured together are interleaved round by round (so machine noise hits
them alike), after warm-up rounds; medians and minimums are reported, ratios
are of medians.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import pickle
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TextIO

import deepmerge
import jsonmerge
import jsonpatch
import mergedeep
from workload import Workload, make_workload

import safemerge
from safemerge import merge

SMALL, MEDIUM, LARGE = 2_000, 5_000, 50_000
FREED = " +free"  # label suffix: freeing the result is inside the timed region

COPY_FLOOR_LIMIT = 2.0
SCALING_LIMIT = 12.0
JSONMERGE_SPEEDUP = 200.0

JSONMERGE_SCHEMA: dict[str, Any] = {
    "properties": {
        "aws": {
            "mergeStrategy": "arrayMergeById",
            "mergeOptions": {"idRef": "/account_id"},
            "items": {
                "properties": {
                    # idRef "/" treats a list of strings as a set (jsonmerge's documented idiom).
                    "regions": {"mergeStrategy": "arrayMergeById", "mergeOptions": {"idRef": "/"}}
                }
            },
        }
    }
}


@dataclass(frozen=True)
class Settings:
    """Repeats per group of cases (warm-up rounds are not counted)."""

    name: str
    repeats: int
    warmup: int
    peer_repeats: int
    peer_warmup: int
    jsonmerge_repeats: int
    jsonmerge_warmup: int


FULL = Settings(
    "full", 41, 3, peer_repeats=31, peer_warmup=3, jsonmerge_repeats=3, jsonmerge_warmup=1
)
QUICK = Settings(
    "quick", 5, 1, peer_repeats=5, peer_warmup=1, jsonmerge_repeats=1, jsonmerge_warmup=0
)


# -- timing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One thing to time. ``prepare`` (untimed) returns the call to time.

    The call's result is freed after the clock stops, unless ``free_inside``
    (then freeing it is timed too, as ``timeit`` would).
    """

    label: str
    prepare: Callable[[], Callable[[], object]]
    note: str = ""
    free_inside: bool = False

    @classmethod
    def plain(
        cls, label: str, call: Callable[[], object], note: str = "", *, free_inside: bool = False
    ) -> Case:
        """Time ``call()`` as it is."""
        return cls(label, lambda: call, note, free_inside)

    @classmethod
    def on_copy(cls, label: str, base: Mapping[str, Any], into: Mutator) -> Case:
        """Time ``into(copy)`` for a mutating merge; the copy of ``base`` is made untimed."""

        def prepare() -> Callable[[], object]:
            return partial(into, pickle_copy(base))

        return cls(label, prepare, "copy excluded")


@dataclass(frozen=True)
class Timing:
    label: str
    median_ms: float
    min_ms: float
    runs: int
    note: str = ""


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _time_once(call: Callable[[], object], *, free_inside: bool = False) -> float:
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    result: object = None
    try:
        start = time.perf_counter()
        if free_inside:
            call()
        else:
            result = call()
        elapsed = time.perf_counter() - start
    finally:
        if was_enabled:
            gc.enable()
    del result  # freed outside the timed region
    return elapsed


def time_cases(cases: Sequence[Case], *, repeats: int, warmup: int) -> dict[str, Timing]:
    """Time ``cases`` interleaved: each round runs every case once, in a rotating order."""
    samples: dict[str, list[float]] = {case.label: [] for case in cases}
    for round_no in range(warmup + repeats):
        shift = round_no % len(cases)
        for case in [*cases[shift:], *cases[:shift]]:
            elapsed = _time_once(case.prepare(), free_inside=case.free_inside)
            if round_no >= warmup:
                samples[case.label].append(elapsed)
    return {
        case.label: Timing(
            case.label,
            _median(samples[case.label]) * 1e3,
            min(samples[case.label]) * 1e3,
            repeats,
            case.note,
        )
        for case in cases
    }


def pickle_copy(document: Mapping[str, Any]) -> dict[str, Any]:
    """``pickle.loads(pickle.dumps(document))``: the fastest deep copy of plain data (safemerge's floor)."""
    copied: dict[str, Any] = pickle.loads(pickle.dumps(document))
    return copied


# -- peers ----------------------------------------------------------------------------------


Mutator = Callable[[dict[str, Any]], Any]
"""A peer's merge of a fixed fragment into (and modifying) a given document."""


def deepmerge_always(fragment: Mapping[str, Any]) -> Mutator:
    """deepmerge's ``always_merger`` (lists append, dicts merge, conflicts override)."""
    return lambda target: deepmerge.always_merger.merge(target, fragment)


def mergedeep_into(
    fragment: Mapping[str, Any], strategy: Any = mergedeep.Strategy.REPLACE
) -> Mutator:
    """mergedeep's ``merge`` (default strategy ``REPLACE``: lists are replaced)."""
    return lambda target: mergedeep.merge(target, fragment, strategy=strategy)


# -- comparing results ----------------------------------------------------------------------


def differences(a: Any, b: Any, path: str = "", *, limit: int = 5) -> list[str]:
    """Where ``a`` and ``b`` differ, as JSON Pointers (key order and list order count)."""
    found: list[str] = []
    _diff(a, b, path, found, limit)
    return found


def _diff(a: Any, b: Any, path: str, found: list[str], limit: int) -> None:
    if len(found) >= limit:
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if list(a) != list(b):
            missing, extra = [k for k in a if k not in b], [k for k in b if k not in a]
            if missing or extra:
                found.append(
                    f"{path or '/'}: keys only in first {missing[:3]}, only in second {extra[:3]}"
                )
            else:
                found.append(f"{path or '/'}: same keys, different order")
        for key in a:
            if key in b:
                _diff(a[key], b[key], f"{path}/{key}", found, limit)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            found.append(f"{path}: {len(a)} items vs {len(b)}")
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{path}/{index}", found, limit)
    elif type(a) is not type(b) or a != b:
        found.append(f"{path}: {a!r} vs {b!r}")


def _containers(value: Any) -> Iterator[int]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield id(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            yield id(item)
            stack.extend(item)


def shared_containers(result: Any, *inputs: Any) -> int:
    """How many dicts/lists of ``result`` are also objects inside ``inputs``."""
    theirs: set[int] = set()
    for value in inputs:
        theirs.update(_containers(value))
    return sum(1 for ident in _containers(result) if ident in theirs)


@dataclass(frozen=True)
class AwsSummary:
    """What a merge did to ``/aws``, measured against the base and the fragment."""

    items: int
    distinct_ids: int
    duplicate_items: int
    base_accounts_lost: int
    partial_items: int  # items without "type": fragment region updates stored as accounts
    region_updates_applied: int  # of the fragment's region updates: new region present, old kept
    region_updates: int
    other_keys_equal: bool  # every top-level key but /aws equals safemerge's
    shared_with_inputs: int
    equal_to_safemerge: bool


def summarize(result: Mapping[str, Any], work: Workload, expected: Mapping[str, Any]) -> AwsSummary:
    items: list[Mapping[str, Any]] = list(result.get("aws", []))
    ids = [item.get("account_id") for item in items]
    first: dict[Any, Mapping[str, Any]] = {}
    for item in items:
        first.setdefault(item.get("account_id"), item)
    base_by_id = {item["account_id"]: item for item in work.document["aws"]}
    updates = [item for item in work.fragment["aws"] if item["account_id"] in base_by_id]
    applied = 0
    for update in updates:
        got = first.get(update["account_id"])
        if got is None:
            continue
        regions = got.get("regions", [])
        wanted = [*base_by_id[update["account_id"]]["regions"], *update["regions"]]
        applied += all(region in regions for region in wanted)
    return AwsSummary(
        items=len(items),
        distinct_ids=len(set(ids)),
        duplicate_items=len(ids) - len(set(ids)),
        base_accounts_lost=len(set(base_by_id) - set(ids)),
        partial_items=sum(1 for item in items if "type" not in item),
        region_updates_applied=applied,
        region_updates=len(updates),
        other_keys_equal=all(
            result.get(key) == value for key, value in expected.items() if key != "aws"
        )
        and set(result) == set(expected),
        shared_with_inputs=shared_containers(result, work.document, work.fragment),
        equal_to_safemerge=dict(result) == dict(expected),
    )


# -- correctness of safemerge ---------------------------------------------------------------


def reference_merge(base: Mapping[str, Any], fragment: Mapping[str, Any]) -> dict[str, Any]:
    """A plain keyed merge for this workload's shape, written for clarity, not speed.

    ``/aws`` items match on ``account_id`` (new ones appended in fragment order,
    regions unioned in order, other fields added if absent and otherwise
    required equal); other top-level keys must be new and are added.
    """
    document = copy.deepcopy(dict(base))
    by_id = {item["account_id"]: item for item in document["aws"]}
    for item in fragment.get("aws", []):
        target = by_id.get(item["account_id"])
        if target is None:
            new = copy.deepcopy(item)
            document["aws"].append(new)
            by_id[new["account_id"]] = new
            continue
        for key, value in item.items():
            if key == "regions":
                target["regions"].extend(r for r in value if r not in target["regions"])
            elif key not in target:
                target[key] = copy.deepcopy(value)
            elif target[key] != value:
                raise AssertionError(f"the workload holds a conflict at {key}")
    for key, value in fragment.items():
        if key != "aws":
            if key in document:
                raise AssertionError(f"the workload's fragment changes existing key {key}")
            document[key] = copy.deepcopy(value)
    return document


def check_safemerge(work: Workload, size: int) -> list[str]:
    """Every way safemerge's result on ``work`` is wrong (empty when it is right)."""
    problems: list[str] = []
    base_before = pickle.dumps(work.document)
    fragment_before = pickle.dumps(work.fragment)
    result = merge(work.document, work.fragment)
    where = f"{size:,} accounts"
    expected = reference_merge(work.document, work.fragment)
    diff = differences(result.document, expected)
    if diff:
        problems.append(f"{where}: result differs from the reference merge: {diff}")
    aws_items = work.fragment["aws"]
    existing = {item["account_id"] for item in work.document["aws"]}
    wanted = (
        sum(len(item["regions"]) for item in aws_items if item["account_id"] in existing)
        + sum(1 for item in aws_items if item["account_id"] not in existing)
        + sum(1 for key in work.fragment if key not in work.document)
    )
    if len(result.changes) != wanted:
        problems.append(f"{where}: {len(result.changes)} changes recorded, {wanted} expected")
    if result.skipped:
        problems.append(f"{where}: {len(result.skipped)} conflicts skipped, none expected")
    patched = jsonpatch.apply_patch(work.document, result.to_patch())
    if patched != result.document:
        problems.append(
            f"{where}: the patch does not reproduce the result: {differences(patched, result.document)}"
        )
    if pickle.dumps(work.document) != base_before:
        problems.append(f"{where}: the base was modified")
    if pickle.dumps(work.fragment) != fragment_before:
        problems.append(f"{where}: the fragment was modified")
    shared = shared_containers(result.document, work.document, work.fragment)
    if shared:
        problems.append(f"{where}: the result shares {shared} containers with the inputs")
    return problems


# -- the run --------------------------------------------------------------------------------


def code_version() -> str:
    """The commit safemerge was measured at, ``+dirty`` if ``safemerge/`` has local changes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "safemerge"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{head}{'+dirty' if dirty else ''}"


@dataclass
class Target:
    name: str
    what: str
    value: float
    limit: float
    at_least: bool  # True: value >= limit passes; False: value <= limit passes
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit


@dataclass
class Report:
    settings: Settings
    code: str = field(default_factory=code_version)
    timings: dict[str, Timing] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # correctness problems
    peers: dict[str, AwsSummary] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def ratio(self, a: str, b: str) -> float:
        return self.timings[a].median_ms / self.timings[b].median_ms

    def min_ratio(self, a: str, b: str) -> float:
        return self.timings[a].min_ms / self.timings[b].min_ms

    @property
    def passed_all(self) -> bool:
        return all(t.passed for t in self.targets) and not self.checks


def _label(what: str, size: int) -> str:
    return f"{what} @{size:,}"


def run(settings: Settings, say: Callable[[str], None]) -> Report:
    report = Report(settings)
    say(f"generating workloads ({SMALL:,}, {MEDIUM:,} and {LARGE:,} accounts) ...")
    works = {size: make_workload(size) for size in (SMALL, MEDIUM, LARGE)}
    # The workloads live for the whole run: keep them out of the collector's way, so the
    # gc.collect() before each timed call stays cheap and does not depend on their size.
    gc.collect()
    gc.freeze()

    say("checking safemerge's results ...")
    for size, work in works.items():
        report.checks.extend(check_safemerge(work, size))

    # Targets 1 and 2: merge against its copy floor, at 5,000 and 50,000 accounts.
    say(f"timing merge and pickle at {MEDIUM:,} and {LARGE:,} accounts ...")
    cases: list[Case] = []
    for size in (MEDIUM, LARGE):
        doc, frag = works[size]
        cases.append(Case.plain(_label("safemerge.merge", size), partial(merge, doc, frag)))
        cases.append(Case.plain(_label("pickle round-trip", size), partial(pickle_copy, doc)))
    # The same at 5,000 with freeing the result timed too (as timeit does): context for target 1.
    doc, frag = works[MEDIUM]
    for label, call in (
        ("safemerge.merge", partial(merge, doc, frag)),
        ("pickle round-trip", partial(pickle_copy, doc)),
    ):
        cases.append(
            Case.plain(
                _label(label, MEDIUM) + FREED, call, "result freed in timing", free_inside=True
            )
        )
    report.timings.update(time_cases(cases, repeats=settings.repeats, warmup=settings.warmup))

    # Target 3 and the peers, on 2,000 accounts.
    doc, frag = works[SMALL]
    ours = merge(doc, frag).document
    with warnings.catch_warnings():
        # jsonmerge uses jsonschema.RefResolver, deprecated since jsonschema 4.18.
        warnings.simplefilter("ignore", DeprecationWarning)
        merger = jsonmerge.Merger(JSONMERGE_SCHEMA)
        base_before = pickle.dumps(doc)
        theirs = merger.merge(doc, frag)
        if pickle.dumps(doc) != base_before:
            report.notes.append("jsonmerge modified its base")
        diff = differences(theirs, ours)
        if diff:
            report.notes.append(f"jsonmerge's result differs from safemerge's: {diff}")
        else:
            report.notes.append(
                f"jsonmerge's result equals safemerge's on {SMALL:,} accounts "
                "(same values, same key and list order)"
            )
        report.peers["jsonmerge arrayMergeById"] = summarize(theirs, works[SMALL], ours)
        del theirs

        say(f"timing safemerge and peers at {SMALL:,} accounts ...")
        peer_cases = [
            Case.plain(_label("safemerge.merge", SMALL), partial(merge, doc, frag)),
            Case.plain(_label("pickle round-trip", SMALL), partial(pickle_copy, doc)),
            Case.on_copy(_label("deepmerge always_merger", SMALL), doc, deepmerge_always(frag)),
            Case.on_copy(_label("mergedeep REPLACE", SMALL), doc, mergedeep_into(frag)),
            Case.on_copy(
                _label("mergedeep ADDITIVE", SMALL),
                doc,
                mergedeep_into(frag, mergedeep.Strategy.ADDITIVE),
            ),
        ]
        report.timings.update(
            time_cases(peer_cases, repeats=settings.peer_repeats, warmup=settings.peer_warmup)
        )
        say(f"timing jsonmerge at {SMALL:,} accounts (slow: {settings.jsonmerge_repeats} runs) ...")
        report.timings.update(
            time_cases(
                [
                    Case.plain(
                        _label("jsonmerge arrayMergeById", SMALL), partial(merger.merge, doc, frag)
                    )
                ],
                repeats=settings.jsonmerge_repeats,
                warmup=settings.jsonmerge_warmup,
            )
        )

    for name, into in (
        ("deepmerge always_merger", deepmerge_always(frag)),
        ("mergedeep REPLACE", mergedeep_into(frag)),
        ("mergedeep ADDITIVE", mergedeep_into(frag, mergedeep.Strategy.ADDITIVE)),
    ):
        report.peers[name] = summarize(into(pickle_copy(doc)), works[SMALL], ours)
    report.peers["safemerge (keyed by account_id)"] = summarize(ours, works[SMALL], ours)

    merge_m, merge_l, merge_s = (_label("safemerge.merge", s) for s in (MEDIUM, LARGE, SMALL))
    pickle_m, json_s = (
        _label("pickle round-trip", MEDIUM),
        _label("jsonmerge arrayMergeById", SMALL),
    )
    report.targets = [
        Target(
            "1 copy floor",
            f"merge / pickle round-trip @{MEDIUM:,}",
            report.ratio(merge_m, pickle_m),
            COPY_FLOOR_LIMIT,
            at_least=False,
            detail=f"ratio of mins {report.min_ratio(merge_m, pickle_m):.2f}; with the result "
            f"freed in timing {report.ratio(merge_m + FREED, pickle_m + FREED):.2f}",
        ),
        Target(
            "2 scaling",
            f"merge @{LARGE:,} / merge @{MEDIUM:,}",
            report.ratio(merge_l, merge_m),
            SCALING_LIMIT,
            at_least=False,
            detail=f"ratio of mins {report.min_ratio(merge_l, merge_m):.2f}; pickle alone "
            f"{report.ratio(_label('pickle round-trip', LARGE), pickle_m):.2f}",
        ),
        Target(
            "3 vs jsonmerge",
            f"jsonmerge / merge @{SMALL:,}",
            report.ratio(json_s, merge_s),
            JSONMERGE_SPEEDUP,
            at_least=True,
            detail=f"ratio of mins {report.min_ratio(json_s, merge_s):.0f}",
        ),
    ]
    return report


# -- output ---------------------------------------------------------------------------------


def print_report(report: Report, out: TextIO) -> None:
    def line(text: str = "") -> None:
        print(text, file=out)

    line()
    line(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; mode: {report.settings.name}"
    )
    line(f"safemerge {safemerge.__version__} at commit {report.code}")
    line()
    line(f"{'benchmark':<36} {'median ms':>10} {'min ms':>10} {'runs':>5}  note")
    for t in report.timings.values():
        line(f"{t.label:<36} {t.median_ms:>10.2f} {t.min_ms:>10.2f} {t.runs:>5}  {t.note}".rstrip())
    line()
    line("what the peers' results hold on /aws (2,000 base accounts + 100 new; 50 region updates):")
    line(
        f"{'merger':<32} {'items':>6} {'dupes':>6} {'lost':>5} {'partial':>7} "
        f"{'regions ok':>10} {'rest ok':>7} {'shared':>6}  equal to safemerge"
    )
    for name, s in report.peers.items():
        line(
            f"{name:<32} {s.items:>6} {s.duplicate_items:>6} {s.base_accounts_lost:>5} "
            f"{s.partial_items:>7} {f'{s.region_updates_applied}/{s.region_updates}':>10} "
            f"{'yes' if s.other_keys_equal else 'no':>7} {s.shared_with_inputs:>6}  "
            f"{'yes' if s.equal_to_safemerge else 'no'}"
        )
    line(
        "  dupes: items whose account_id repeats; lost: base accounts missing; partial: items "
        "without 'type'\n  (a region update stored as an account); regions ok: updated accounts "
        "holding old and new regions;\n  rest ok: gcp/azure/drata/jira as safemerge has them; "
        "shared: containers shared with the inputs."
    )
    line(
        "  deepmerge and mergedeep mutate their first argument: they were given a pickle copy, "
        "made outside the\n  timed region (add the pickle round-trip row for a non-destructive "
        "call); safemerge's times include its copy."
    )
    for note in report.notes:
        line(f"  note: {note}")
    line()
    for target in report.targets:
        verdict = "PASS" if target.passed else "FAIL"
        op = ">=" if target.at_least else "<="
        line(
            f"{verdict}  {target.name:<15} {target.what:<40} {target.value:>8.2f}x  "
            f"(limit {op} {target.limit:g}; {target.detail})"
        )
    verdict = "PASS" if not report.checks else "FAIL"
    line(
        f"{verdict}  {'4 correctness':<15} safemerge's results on {SMALL:,} / {MEDIUM:,} / {LARGE:,} accounts"
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
        },
        "mode": report.settings.name,
        "safemerge": {"version": safemerge.__version__, "commit": report.code},
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
        "correctness_problems": report.checks,
        "peers": {name: asdict(s) for name, s in report.peers.items()},
        "notes": report.notes,
        "passed": report.passed_all,
    }


def script_main(
    argv: Sequence[str] | None,
    doc: str | None,
    run: Callable[[Any, Callable[[str], None]], Any],
    print_report: Callable[[Any, TextIO], None],
    report_json: Callable[[Any], dict[str, Any]],
    *,
    quick: Any,
    full: Any,
) -> int:
    """The command line every benchmark script shares: ``--quick``, ``--json``, exit 1 on a miss."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (few repeats)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args(argv)
    settings = quick if args.quick else full
    out = sys.stderr if args.json else sys.stdout

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    started = time.perf_counter()
    report = run(settings, say)
    say(f"({time.perf_counter() - started:.0f} s in all)")
    print_report(report, out)
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    return 0 if report.passed_all else 1


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(argv, __doc__, run, print_report, report_json, quick=QUICK, full=FULL)


if __name__ == "__main__":
    sys.exit(main())
