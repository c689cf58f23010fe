"""Validation benchmark: checking what a merge changed, and a whole in-memory apply.

Run ``python benchmarks/bench_validate.py`` (``--quick`` for a smoke run with
few repeats, ``--json`` to print the figures as JSON on stdout; the report then
goes to stderr). One workload, in one run: ``workload.make_workload(5000)``
(5,000 AWS accounts, 1,000 GCP and 1,000 Azure entries, a drata block) and its
standard fragment (100 new accounts, one new region on 50 existing accounts, a
new ``jira`` integration: 151 changes).

Regressions guarded (the exit code is non-zero if any fails):

a. **Incremental validation** -- ``check_changes(result.document,
   result.changes)`` with the bundled registry (validating only what the
   fragment changed) must cost at most 10% of a *full jsonschema validation*
   of the merged document, as a user would write it: a plain
   ``jsonschema.Draft202012Validator`` over each integration with the raw
   bundled schema files (``$ref``s resolved through a ``referencing.Registry``
   of those files; validators built once, outside the timed region), plus the
   document schema over the whole. A validation whose cost follows the file
   rather than the change (a unit chosen too high, ``/aws`` validated whole
   for one account) shows here. safemerge's own full ``check(document)`` is
   timed too, and incremental / our full is printed beside the gate.
b. **Apply overhead** -- a whole in-memory ``apply(MemoryStore(document),
   fragment)`` (read, merge, validate, write; a fresh store each round, made
   outside the timed region) must cost at most 4x ``merge(document,
   fragment)`` alone, **warm**: ``apply`` checks the integrations the fragment
   did not touch, and remembers each answer on the registry by a digest of the
   integration's content, so a long-lived process pays that check once per
   content. The **cold** apply (the first in a fresh ``SchemaRegistry()``
   passed as ``registry=``, so every untouched integration is validated in
   full) is reported, not gated: it is what a one-shot CLI run pays, plus
   building the registry (also reported).
c. **Correctness** -- the three validations find no problem in the valid
   merged document, and each finds a bad region planted in an added account;
   the warm and cold applies write the document ``merge`` returns, with the
   same changes and no warnings.

Timing: the method and helpers of ``bench_merge.py`` (imported from it):
``time.perf_counter``; the garbage collector is run before and disabled during
each timed call (the workload is ``gc.freeze()``-d); results are freed outside
the timed region; cases compared with each other are interleaved round by
round in rotating order, after warm-up rounds; medians and minimums are
reported, targets use ratios of medians.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import referencing
from bench_merge import Case, Target, Timing, code_version, script_main, time_cases
from jsonschema import Draft202012Validator
from referencing.jsonschema import DRAFT202012
from workload import make_workload

import safemerge
from safemerge import MemoryStore, MergeResult, SchemaRegistry, apply, merge
from safemerge._validate import check, check_changes

ACCOUNTS = 5_000
INCREMENTAL_LIMIT = 0.10  # check_changes / plain jsonschema full validation
APPLY_LIMIT = 4.0  # warm apply / merge

SCHEMA_DIR = Path(safemerge.__file__).resolve().parent / "schemas"
SCHEMA_SUFFIX = ".schema.json"
DOCUMENT_SCHEMA = "_document"

# Labels.
INCREMENTAL = "check_changes (151 changes)"
OUR_FULL = "safemerge check(document)"
PLAIN_FULL = "plain jsonschema, whole document"
MERGE = "merge"
APPLY_WARM = "apply, warm registry"
APPLY_COLD = "apply, cold registry"
REGISTRY = "SchemaRegistry() build"


@dataclass(frozen=True)
class Settings:
    """Repeats per group of cases (warm-up rounds are not counted)."""

    name: str
    validate_repeats: int
    validate_warmup: int
    apply_repeats: int
    apply_warmup: int


FULL = Settings("full", 21, 2, apply_repeats=41, apply_warmup=3)
QUICK = Settings("quick", 3, 1, apply_repeats=5, apply_warmup=1)


# -- the contenders ---------------------------------------------------------------------------


class PlainValidation:
    """A full validation as a user would write it with jsonschema and the raw bundled schema files.

    Every ``*.schema.json`` shipped with safemerge is registered by its own
    ``$id`` in a ``referencing.Registry``, so ``$ref`` (``_secret.schema.json``,
    ``#/$defs/...``) resolves as jsonschema normally resolves it: a lookup each
    time it is met. One validator per schema, built once.
    """

    def __init__(self, folder: Path = SCHEMA_DIR) -> None:
        schemas: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob(f"*{SCHEMA_SUFFIX}")):
            schemas[path.name[: -len(SCHEMA_SUFFIX)]] = json.loads(path.read_text("utf-8"))
        resources = [(s["$id"], DRAFT202012.create_resource(s)) for s in schemas.values()]
        registry: referencing.Registry[Any] = referencing.Registry().with_resources(resources)
        registry = registry.crawl()
        self.names = tuple(schemas)
        self.validators = {
            name: Draft202012Validator(schema, registry=registry)
            for name, schema in schemas.items()
        }

    def errors(self, document: Mapping[str, Any]) -> list[Any]:
        """Every jsonschema error in ``document``: the document schema, then each integration."""
        found: list[Any] = []
        if DOCUMENT_SCHEMA in self.validators:
            found.extend(self.validators[DOCUMENT_SCHEMA].iter_errors(document))
        for name, value in document.items():
            validator = self.validators.get(name)
            if validator is not None and not name.startswith("_"):
                found.extend(validator.iter_errors(value))
        return found


def fresh_store_apply(
    document: Mapping[str, Any], fragment: Mapping[str, Any], *, cold: bool
) -> Callable[[], Callable[[], object]]:
    """A ``Case.prepare``: a new ``MemoryStore`` (and for ``cold`` a new registry), made untimed."""

    def prepare() -> Callable[[], object]:
        store = MemoryStore(document)
        if cold:
            return partial(apply, store, fragment, registry=SchemaRegistry())
        return partial(apply, store, fragment)

    return prepare


# -- correctness --------------------------------------------------------------------------------


def planted_fragment(fragment: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """``fragment`` with a bad region in its first *added* account."""
    planted = copy.deepcopy(dict(fragment))
    existing = {item["account_id"] for item in base["aws"]}
    for item in planted["aws"]:
        if item["account_id"] not in existing:
            item["regions"] = [*item["regions"], "mars-north-1x"]
            return planted
    raise AssertionError("the fragment adds no account")


def check_correctness(
    document: Mapping[str, Any],
    fragment: Mapping[str, Any],
    result: MergeResult,
    plain: PlainValidation,
) -> list[str]:
    """Every way the validations or the applies are wrong (empty when they are right)."""
    problems: list[str] = []
    merged = result.document
    for label, count in (
        (INCREMENTAL, len(check_changes(merged, result.changes))),
        (OUR_FULL, len(check(merged))),
        (PLAIN_FULL, len(plain.errors(merged))),
    ):
        if count:
            problems.append(f"{label}: {count} problems in the valid merged document")

    bad = merge(document, planted_fragment(fragment, document))
    found = check_changes(bad.document, bad.changes)
    if not any("/regions/" in v.pointer for v in found):
        problems.append(f"{INCREMENTAL} missed the planted bad region (found {found})")
    if not any("/regions/" in v.pointer for v in check(bad.document)):
        problems.append(f"{OUR_FULL} missed the planted bad region")
    if not plain.errors(bad.document):
        problems.append(f"{PLAIN_FULL} missed the planted bad region")

    for label, registry in ((APPLY_WARM, None), (APPLY_COLD, SchemaRegistry())):
        store = MemoryStore(document)
        applied = apply(store, fragment, registry=registry)
        if not applied.written or applied.attempts != 1:
            problems.append(f"{label}: written={applied.written}, attempts={applied.attempts}")
        if applied.warnings:
            problems.append(f"{label}: {len(applied.warnings)} warnings, none expected")
        if applied.changes != result.changes:
            problems.append(f"{label}: its changes differ from merge's")
        if store.read().document != merged:
            problems.append(f"{label}: the store does not hold the document merge returns")
    return problems


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Report:
    settings: Settings
    code: str = field(default_factory=code_version)
    timings: dict[str, Timing] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def ratio(self, a: str, b: str) -> float:
        return self.timings[a].median_ms / self.timings[b].median_ms

    def min_ratio(self, a: str, b: str) -> float:
        return self.timings[a].min_ms / self.timings[b].min_ms

    @property
    def passed_all(self) -> bool:
        return all(t.passed for t in self.targets) and not self.checks


def run(settings: Settings, say: Callable[[str], None]) -> Report:
    report = Report(settings)
    say(f"generating the workload ({ACCOUNTS:,} accounts) ...")
    work = make_workload(ACCOUNTS)
    document, fragment = work
    result = merge(document, fragment)
    merged = result.document
    plain = PlainValidation()
    registry = SchemaRegistry.bundled()
    report.notes.append(
        f"{len(result.changes)} changes; schemas: {', '.join(plain.names)}; the merged document "
        f"holds {', '.join(merged)} (no schema for gcp: no validator checks it)"
    )
    # The workload and the merged document live for the whole run: keep them out of the
    # collector's way, so the gc.collect() before each timed call stays cheap.
    gc.collect()
    gc.freeze()

    say("checking the validations and the applies ...")
    report.checks.extend(check_correctness(document, fragment, result, plain))

    say(f"timing validation at {ACCOUNTS:,} accounts ...")
    report.timings.update(
        time_cases(
            [
                Case.plain(INCREMENTAL, partial(check_changes, merged, result.changes, registry)),
                Case.plain(OUR_FULL, partial(check, merged, registry)),
                Case.plain(
                    PLAIN_FULL, partial(plain.errors, merged), "raw schema files, $ref looked up"
                ),
            ],
            repeats=settings.validate_repeats,
            warmup=settings.validate_warmup,
        )
    )

    say(f"timing merge and apply at {ACCOUNTS:,} accounts ...")
    report.timings.update(
        time_cases(
            [
                Case.plain(MERGE, partial(merge, document, fragment)),
                Case(
                    APPLY_WARM,
                    fresh_store_apply(document, fragment, cold=False),
                    "steady state of a long-lived process",
                ),
                Case(
                    APPLY_COLD,
                    fresh_store_apply(document, fragment, cold=True),
                    "one-shot CLI run (registry build excluded)",
                ),
                Case.plain(REGISTRY, SchemaRegistry, "a one-shot CLI run pays it too"),
            ],
            repeats=settings.apply_repeats,
            warmup=settings.apply_warmup,
        )
    )

    cold_cli = report.timings[APPLY_COLD].median_ms + report.timings[REGISTRY].median_ms
    report.targets = [
        Target(
            "a incremental",
            "check_changes / plain jsonschema full",
            report.ratio(INCREMENTAL, PLAIN_FULL),
            INCREMENTAL_LIMIT,
            at_least=False,
            detail=f"ratio of mins {report.min_ratio(INCREMENTAL, PLAIN_FULL):.2%}; "
            f"check_changes / safemerge check(document) {report.ratio(INCREMENTAL, OUR_FULL):.2%}",
        ),
        Target(
            "b apply (warm)",
            "warm apply / merge",
            report.ratio(APPLY_WARM, MERGE),
            APPLY_LIMIT,
            at_least=False,
            detail=f"ratio of mins {report.min_ratio(APPLY_WARM, MERGE):.2f}; not gated: cold "
            f"apply / merge {report.ratio(APPLY_COLD, MERGE):.2f} (+ registry build: "
            f"{cold_cli / report.timings[MERGE].median_ms:.2f})",
        ),
    ]
    return report


# -- output ---------------------------------------------------------------------------------------


def _value(target: Target) -> str:
    return f"{target.value:.2%}" if target.limit < 1 else f"{target.value:.2f}x"


def _limit(target: Target) -> str:
    return f"{target.limit:.0%}" if target.limit < 1 else f"{target.limit:g}x"


def print_report(report: Report, out: TextIO) -> None:
    def line(text: str = "") -> None:
        print(text, file=out)

    line()
    line(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; mode: {report.settings.name}"
    )
    line(f"safemerge {safemerge.__version__} at commit {report.code}")
    line(f"workload: make_workload({ACCOUNTS}); {report.notes[0]}")
    line()
    line(f"{'benchmark':<36} {'median ms':>10} {'min ms':>10} {'runs':>5}  note")
    for t in report.timings.values():
        line(f"{t.label:<36} {t.median_ms:>10.2f} {t.min_ms:>10.2f} {t.runs:>5}  {t.note}".rstrip())
    line()
    ms = {label: timing.median_ms for label, timing in report.timings.items()}
    line(
        f"warm apply: the registry remembers its check of each untouched integration (azure, "
        f"drata) by content digest;\n  that is the normal steady state in a long-lived process. "
        f"cold apply: the first apply with a fresh\n  registry validates azure (1,000 entries) "
        f"and drata in full: that is the cost of a one-shot CLI run,\n  {ms[APPLY_COLD]:.1f} ms "
        f"+ {ms[REGISTRY]:.1f} ms to build the registry = "
        f"{ms[APPLY_COLD] + ms[REGISTRY]:.1f} ms (median), against "
        f"{ms[APPLY_WARM]:.1f} ms warm."
    )
    line()
    for target in report.targets:
        verdict = "PASS" if target.passed else "FAIL"
        op = ">=" if target.at_least else "<="
        line(
            f"{verdict}  {target.name:<15} {target.what:<38} {_value(target):>8}  "
            f"(limit {op} {_limit(target)}; {target.detail})"
        )
    verdict = "PASS" if not report.checks else "FAIL"
    line(
        f"{verdict}  {'c correctness':<15} no problem in the valid document, planted bad region "
        "found by all three; applies write merge's document"
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
        "accounts": ACCOUNTS,
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
        "notes": report.notes,
        "passed": report.passed_all,
    }


def main(argv: Sequence[str] | None = None) -> int:
    return script_main(argv, __doc__, run, print_report, report_json, quick=QUICK, full=FULL)


if __name__ == "__main__":
    sys.exit(main())
