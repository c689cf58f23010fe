"""The write loop: read, merge, validate, write guarded by the SHA read; on conflict, again.

::

    read ──> merge ──> nothing changed? ──> done, nothing written
                 │
                 └──> validate what changed ──> write(sha read) ──> done
                                                   │
                        ShaConflict ───────────────┤ read again, merge the same fragment again
                        transient (429/5xx/...) ───┤ back off (Retry-After), then the same
                        outcome unknown (timeout) ─┘ read again: fragment present? it landed

Nothing is written after a failed merge, a failed validation or a refused
input: those raise before :meth:`Store.write` is called.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._errors import RetriesExhausted, ShaConflict, StoreError, ValidationFailed
from ._merge import merge, merge_into
from ._pointer import parse
from ._policy import ListMode, ListPolicy, Policy
from ._result import Change, Conflict, MergeResult
from ._retry import Retry
from ._schemas import SchemaRegistry
from ._store import OutcomeUnknown, Snapshot, Store, TransientError
from ._validate import Violation, check_changes, check_memoized

__all__ = ["ApplyResult", "ApplyWarning", "apply"]

log = logging.getLogger("safemerge")


@dataclass(frozen=True)
class ApplyWarning:
    """Something the caller should know that did not stop the write.

    ``kind`` is ``"invalid-untouched"`` (a problem that was already in the file,
    outside what this change touched), ``"unguarded"`` (the write could not be
    guarded by a SHA) or ``"yaml-normalised"`` (lines the YAML writer rewrote).
    """

    kind: str
    message: str
    pointer: str | None = None

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}" if self.pointer is not None else self.message


@dataclass(frozen=True)
class ApplyResult:
    """What :func:`apply` did.

    - ``changes``: the changes of the merge that was written (or would be, in a dry run);
    - ``written``: whether the store now holds them because of this call;
    - ``attempts``: write attempts made (0 when nothing needed writing);
    - ``sha_before``/``sha_after``: the SHA first read, and the SHA after the write;
    - ``document``: the merged document;
    - ``guarded``: False where the remote had no SHA or the write was forced;
    - ``warnings``: problems already in the file outside what changed, and other notices;
    - ``skipped``: conflicts left to the file under ``ConflictPolicy.BASE``;
    - ``dry_run``: True when nothing was meant to be written.
    """

    changes: tuple[Change, ...]
    written: bool
    attempts: int
    sha_before: str | None
    sha_after: str | None
    document: dict[str, Any]
    guarded: bool
    warnings: tuple[ApplyWarning, ...] = ()
    skipped: tuple[Conflict, ...] = ()
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        """True when the merge had anything to change."""
        return bool(self.changes)


def apply(
    store: Store,
    fragment: Mapping[str, Any],
    policy: Policy | None = None,
    *,
    dry_run: bool = False,
    validate: bool = True,
    retry: Retry | None = None,
    registry: SchemaRegistry | None = None,
    strict: bool = False,
    force: bool = False,
) -> ApplyResult:
    """Merge ``fragment`` into the store's file and write it back safely.

    >>> from safemerge import MemoryStore, apply
    >>> store = MemoryStore({"aws": [{"account_id": "123456789012", "regions": ["us-east-1"], "type": "account"}]})
    >>> first = apply(store, {"aws": [{"account_id": "123456789012", "regions": ["eu-west-1"]}]})
    >>> first.written, [str(c) for c in first.changes]
    (True, ["+ /aws/0/regions/1: 'eu-west-1'"])
    >>> apply(store, {"aws": [{"account_id": "123456789012", "regions": ["eu-west-1"]}]}).written
    False

    ``validate=False`` skips schema checks (the CLI says so loudly);
    ``force=True`` writes without the SHA guard (likewise). ``registry`` and
    ``strict`` are passed to validation. Raises :class:`MergeConflict`,
    :class:`PolicyError`, :class:`ValidationFailed`, :class:`UnsafeInput` (nothing
    written), :class:`RetriesExhausted` (budgets spent; ``.last_error`` says why),
    or a :class:`StoreError` that retrying cannot fix (auth, permission, a bad request).
    """
    retry = Retry() if retry is None else retry
    if registry is None:
        registry = SchemaRegistry.bundled()
    elif policy is None or policy.hints is None:
        # One source of truth: the registry that validates also says how lists merge.
        policy = replace(policy or Policy(), hints=registry.hints())
    idempotent = not _appends(policy)
    attempts = conflicts = failures = 0
    sha_before: str | None = None
    first_read = True
    unknown: OutcomeUnknown | None = None  # a write that may have landed

    while True:
        try:
            snapshot = store.read()
        except TransientError as exc:
            failures = _back_off(retry, failures, exc, attempts)
            continue
        if first_read:
            sha_before, first_read = snapshot.sha, False
        # The snapshot is ours alone (stores hand out a fresh document per read),
        # so merge into it rather than copy it again.
        result = merge_into(snapshot.document, fragment, policy)
        if not result.changed:
            # Nothing to do, or our earlier write whose answer was lost did land.
            return _result(result, written=unknown is not None, attempts=attempts, sha_before=sha_before,
                           sha_after=snapshot.sha, guarded=snapshot.sha is not None and not force)  # fmt: skip
        if unknown is not None and not idempotent:
            raise StoreError(
                "a write's outcome is unknown and the policy APPENDs, so merging again could add twice",
                hint="read the file and check whether the change is there; APPEND is not idempotent",
            ) from unknown
        warnings = _validate(snapshot, result, registry, strict) if validate else ()
        if dry_run:
            return _result(result, written=False, attempts=0, sha_before=sha_before, sha_after=snapshot.sha,
                           guarded=snapshot.sha is not None and not force, warnings=warnings, dry_run=True)  # fmt: skip
        attempts += 1
        try:
            sha_after = store.write(snapshot, result.document, result.changes, force=force)
        except ShaConflict as exc:
            conflicts += 1
            log.info(
                "apply: attempt %d lost to another writer (sha %s moved)", attempts, snapshot.sha
            )
            if conflicts >= retry.conflicts:
                raise RetriesExhausted(
                    f"gave up after {attempts} write attempts: the file kept changing underneath",
                    attempts=attempts,
                    last_error=exc,
                ) from exc
            retry.sleep(retry.conflict_delay(conflicts - 1))
            continue
        except OutcomeUnknown as exc:
            unknown = exc
            failures = _back_off(retry, failures, exc, attempts)
            continue
        except TransientError as exc:
            failures = _back_off(retry, failures, exc, attempts)
            continue
        guarded = snapshot.sha is not None and not force
        warnings = (
            *warnings,
            *(ApplyWarning("yaml-normalised", w) for w in getattr(sha_after, "warnings", ())),
        )
        sha_after = str(sha_after) if sha_after is not None else None
        if not guarded:
            warnings = (*warnings, _unguarded_warning(snapshot, force))
            if idempotent and not _landed(store, fragment, policy):
                # Unguarded, so another writer could have replaced our write
                # unseen. We saw it: treat it as a lost race and go again.
                conflicts += 1
                if conflicts >= retry.conflicts:
                    raise RetriesExhausted(
                        "unguarded writes kept being overwritten",
                        attempts=attempts,
                        last_error=ShaConflict("the write was not found when read back"),
                    )
                retry.sleep(retry.conflict_delay(conflicts - 1))
                continue
        return _result(result, written=True, attempts=attempts, sha_before=sha_before, sha_after=sha_after,
                       guarded=guarded, warnings=warnings)  # fmt: skip


def _back_off(retry: Retry, failures: int, exc: TransientError, attempts: int) -> int:
    if failures >= retry.transient:
        raise RetriesExhausted(
            f"gave up after {failures + 1} transient failures: {exc.message}",
            attempts=attempts,
            last_error=exc,
        ) from exc
    if exc.retry_after is not None and exc.retry_after > retry.max_retry_after:
        raise RetriesExhausted(
            f"the server asked to wait {exc.retry_after:.0f}s, more than max_retry_after "
            f"({retry.max_retry_after:.0f}s): {exc.message}",
            attempts=attempts,
            last_error=exc,
        ) from exc
    delay = retry.transient_delay(failures, exc.retry_after)
    log.info("apply: %s; waiting %.2fs", exc.message, delay)
    retry.sleep(delay)
    return failures + 1


def _landed(store: Store, fragment: Mapping[str, Any], policy: Policy | None) -> bool:
    try:
        return not merge(store.read().document, fragment, policy).changed
    except TransientError:
        return False


def _unguarded_warning(snapshot: Snapshot, force: bool) -> ApplyWarning:
    if force:
        return ApplyWarning(
            "unguarded", "written with force: another writer's change since the read would be lost"
        )
    return ApplyWarning(
        "unguarded",
        "the remote has no file SHA, so the write could not be guarded; it was read back and verified",
    )


def _appends(policy: Policy | None) -> bool:
    if policy is None:
        return False
    rules: list[ListPolicy | None] = [
        *policy.rules.values(),
        policy.lists,
        *(policy.hints or {}).values(),
    ]
    return any(rule is not None and rule.mode is ListMode.APPEND for rule in rules)


def _result(result: MergeResult, *, written: bool, attempts: int, sha_before: str | None, sha_after: str | None,
            guarded: bool, warnings: Sequence[ApplyWarning] = (), dry_run: bool = False) -> ApplyResult:  # fmt: skip
    return ApplyResult(
        changes=result.changes,
        written=written,
        attempts=attempts,
        sha_before=sha_before,
        sha_after=sha_after,
        document=result.document,
        guarded=guarded,
        warnings=tuple(warnings),
        skipped=result.skipped,
        dry_run=dry_run,
    )


# -- validation -------------------------------------------------------------------------------


def _validate(
    snapshot: Snapshot, result: MergeResult, registry: SchemaRegistry, strict: bool
) -> tuple[ApplyWarning, ...]:
    """Raise for problems the change could have caused; return the others as warnings.

    A problem at pointer P is the change's if some change path is P, above P or
    below P (a change inside P can break P's ``required`` or ``uniqueItems``).
    Anything else was already in the file: the caller's unrelated change is not
    refused for it.
    """
    found = check_changes(result.document, result.changes, registry, strict=strict)
    paths = {c.path for c in result.changes}
    mine = [v for v in found if _related(v.pointer, paths)]
    if mine:
        raise ValidationFailed(mine)
    warnings = [_as_warning(v) for v in found]
    touched = {parse(c.path)[0] for c in result.changes}
    for name in result.document:
        if name not in touched:
            warnings += [
                _as_warning(v)
                for v in check_memoized(result.document, name, registry, strict=strict)
            ]
    return tuple(warnings)


def _related(pointer: str, paths: Iterable[str]) -> bool:
    return any(
        p == pointer or p.startswith(pointer + "/") or pointer.startswith(p + "/") for p in paths
    )


def _as_warning(violation: Violation) -> ApplyWarning:
    return ApplyWarning(
        "invalid-untouched", f"already in the file: {violation.message}", violation.pointer
    )
