"""The write loop (apply) against real stores: memory, files, and `safemerge serve` over HTTP."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from safemerge import (
    DELETE,
    AuthError,
    ConflictPolicy,
    ListPolicy,
    MemoryStore,
    MergeConflict,
    Policy,
    PolicyError,
    RetriesExhausted,
    Retry,
    ShaConflict,
    Snapshot,
    StoreError,
    TransientError,
    ValidationFailed,
    apply,
)
from safemerge._jit import JitStore
from safemerge._result import Change
from safemerge._server import JitServer
from tests.conftest import TOKEN
from tests.support.fault_proxy import Fault, FaultProxy, fault_proxy

ACCOUNT = {
    "account_id": "210987654321",
    "account_name": "sandbox",
    "regions": ["us-east-1"],
    "type": "account",
}
ADD_ACCOUNT = {"aws": [ACCOUNT]}


class Waits:
    """A fake sleep that records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def fast_retry(waits: Waits | None = None, **kwargs: Any) -> Retry:
    return Retry(sleep=waits or Waits(), random=lambda: 0.5, **kwargs)


@pytest.fixture
def proxy(jit_server: JitServer) -> Iterator[FaultProxy]:
    with fault_proxy(jit_server.url) as p:
        yield p


def jit(url: str, timeout: float = 5.0) -> JitStore:
    return JitStore(url, token=TOKEN, timeout=timeout)


# -- the basic loop ---------------------------------------------------------------------------


def test_apply_writes_once_and_a_rerun_writes_nothing(jit_server: JitServer) -> None:
    with jit(jit_server.url) as store:
        first = apply(store, ADD_ACCOUNT)
        second = apply(store, ADD_ACCOUNT)
    assert (first.written, first.attempts, first.guarded) == (True, 1, True)
    assert first.sha_before != first.sha_after
    assert [c.path for c in first.changes] == ["/aws/1"]
    assert (second.written, second.attempts, second.changes) == (False, 0, ())
    assert second.sha_before == first.sha_after
    assert jit_server.writes == 1


def test_dry_run_writes_nothing(jit_server: JitServer, integration_file: Path) -> None:
    before = integration_file.read_bytes()
    with jit(jit_server.url) as store:
        result = apply(store, ADD_ACCOUNT, dry_run=True)
    assert result.dry_run
    assert not result.written
    assert [c.path for c in result.changes] == ["/aws/1"]
    assert result.document["aws"][1] == ACCOUNT
    assert integration_file.read_bytes() == before
    assert jit_server.writes == 0


@pytest.mark.parametrize(
    ("fragment", "error"),
    [
        ({"drata": {"workspace": "staging"}}, MergeConflict),
        (
            {"aws": [{"account_id": "1", "regions": ["us-east-1"], "type": "account"}]},
            ValidationFailed,
        ),
        ({"gcp": [{"a": 1}], "jira": {"x": [{"a": 1}]}}, None),
        ({"aws": [{"regions": ["us-east-1"]}]}, PolicyError),
    ],
)
def test_a_failed_merge_or_validation_writes_nothing(
    jit_server: JitServer,
    integration_file: Path,
    fragment: dict[str, Any],
    error: type[Exception] | None,
) -> None:
    before = integration_file.read_bytes()
    with jit(jit_server.url) as store:
        if error is None:
            # A new list of mappings is fine (nothing to guess); Jira's shape is not.
            with pytest.raises(ValidationFailed):
                apply(store, fragment)
        else:
            with pytest.raises(error):
                apply(store, fragment)
    assert integration_file.read_bytes() == before
    assert jit_server.writes == 0


def test_validate_false_writes_what_the_schemas_would_refuse(tmp_path: Path) -> None:
    store = MemoryStore({})
    result = apply(store, {"drata": {"user_email": "not an email"}}, validate=False)
    assert result.written


def test_problems_already_in_the_file_are_warnings_not_refusals() -> None:
    store = MemoryStore(
        {
            "aws": [{"account_id": "123456789012", "regions": ["moon-base-1"], "type": "account"}],
            "drata": {"user_email": "security@example.com"},  # no workspace: already broken
        }
    )
    result = apply(store, ADD_ACCOUNT)
    assert result.written
    assert {(w.kind, w.pointer) for w in result.warnings} == {("invalid-untouched", "/drata")}
    # A change beside the broken value, in the same account, is not refused for it either...
    renamed = apply(store, {"aws": [{"account_id": "123456789012", "account_name": "renamed"}]})
    assert renamed.written
    assert ("invalid-untouched", "/aws/0/regions/0") in {
        (w.kind, w.pointer) for w in renamed.warnings
    }
    # ...but a change that makes it worse is: the duplicate is this change's doing.
    with pytest.raises(ValidationFailed) as caught:
        apply(
            store,
            {"aws": [{"account_id": "123456789012", "regions": ["moon-base-1", "us-east-1"]}]},
            Policy(rules={"/aws/*/regions": ListPolicy.APPEND}),
        )
    assert {(e.pointer, e.keyword) for e in caught.value.errors} == {
        ("/aws/0/regions", "uniqueItems"),
        ("/aws/0/regions/1", "pattern"),
    }


# -- conflicts --------------------------------------------------------------------------------


class RacingStore:
    """A real store with a rival: after our read, another client writes before we do."""

    def __init__(
        self, store: JitStore, rival: JitStore, rival_fragments: Sequence[Mapping[str, Any]]
    ) -> None:
        self.store, self.rival, self.rival_fragments = store, rival, list(rival_fragments)
        self.times = 0

    def read(self) -> Snapshot:
        snapshot = self.store.read()
        if self.rival_fragments:
            apply(self.rival, self.rival_fragments.pop(0))
        return snapshot

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str | None:
        return self.store.write(snapshot, document, changes, force=force)


def test_a_conflict_is_read_again_merged_again_and_keeps_the_other_change(
    jit_server: JitServer,
) -> None:
    waits = Waits()
    others = [
        {"aws": [{"account_id": "333333333333", "regions": ["eu-west-1"], "type": "account"}]},
        {"aws": [{"account_id": "123456789012", "regions": ["ap-south-1"]}]},
    ]
    with jit(jit_server.url) as store, jit(jit_server.url) as rival:
        result = apply(RacingStore(store, rival, others), ADD_ACCOUNT, retry=fast_retry(waits))
        final = store.read().document
    assert result.written
    assert result.attempts == 3
    assert len(waits.waits) == 2
    assert all(0 <= w <= Retry().conflict_cap for w in waits.waits)
    ids = [a["account_id"] for a in final["aws"]]
    assert ids == ["123456789012", "333333333333", "210987654321"]
    assert final["aws"][0]["regions"] == ["us-east-1", "ap-south-1"]
    assert jit_server.writes == 3  # the rival's two, then ours; our lost attempts wrote nothing


class AlwaysRacingStore(RacingStore):
    """The rival writes something new after every one of our reads."""

    def read(self) -> Snapshot:
        snapshot = self.store.read()
        self.times += 1
        fragment = {"drata": {"workspace": f"w{self.times}"}}
        apply(self.rival, fragment, Policy(conflicts=ConflictPolicy.FRAGMENT))
        return snapshot


def test_the_conflict_budget_ends_in_retries_exhausted_with_the_last_error(
    jit_server: JitServer,
) -> None:
    with (
        jit(jit_server.url) as store,
        jit(jit_server.url) as rival,
        pytest.raises(RetriesExhausted) as caught,
    ):
        apply(AlwaysRacingStore(store, rival, []), ADD_ACCOUNT, retry=fast_retry(conflicts=3))
    assert caught.value.attempts == 3
    assert isinstance(caught.value.last_error, ShaConflict)
    assert "210987654321" not in json.dumps(jit_server.store.read().document)


# -- transient failures and Retry-After ------------------------------------------------------


def test_retry_after_in_seconds_is_honoured(proxy: FaultProxy) -> None:
    waits = Waits()
    proxy.inject(
        "GET",
        Fault.reply(429, "{}", {"Retry-After": "4"}),
        Fault.reply(503, "{}", {"Retry-After": "2"}),
    )
    with jit(proxy.url) as store:
        result = apply(store, ADD_ACCOUNT, retry=fast_retry(waits))
    assert result.written
    base = Retry().transient_base
    assert len(waits.waits) == 2
    assert 4 <= waits.waits[0] <= 4 + base / 10
    assert 2 <= waits.waits[1] <= 2 + base / 10


def test_retry_after_as_an_http_date_is_honoured(proxy: FaultProxy) -> None:
    waits = Waits()
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    proxy.inject("PUT", Fault.reply(429, "{}", {"Retry-After": when}))
    with jit(proxy.url) as store:
        result = apply(store, ADD_ACCOUNT, retry=fast_retry(waits))
    assert result.written
    assert result.attempts == 2
    assert len(waits.waits) == 1
    assert 28 <= waits.waits[0] <= 30 + Retry().transient_base / 10  # the date has 1 s resolution


def test_transient_backoff_is_capped_exponential_full_jitter(proxy: FaultProxy) -> None:
    waits = Waits()
    proxy.inject("GET", *[Fault.reply(503, "{}")] * 4)
    with jit(proxy.url) as store:
        apply(store, ADD_ACCOUNT, retry=fast_retry(waits, transient_base=1.0, transient_cap=3.0))
    assert waits.waits == [0.5 * 1.0, 0.5 * 2.0, 0.5 * 3.0, 0.5 * 3.0]


def test_the_transient_budget_ends_in_retries_exhausted_and_nothing_written(
    proxy: FaultProxy, jit_server: JitServer
) -> None:
    proxy.inject("GET", *[Fault.reply(503, "{}")] * 10)
    with jit(proxy.url) as store, pytest.raises(RetriesExhausted) as caught:
        apply(store, ADD_ACCOUNT, retry=fast_retry(transient=2))
    assert isinstance(caught.value.last_error, TransientError)
    assert jit_server.writes == 0


def test_a_retry_after_beyond_the_maximum_gives_up_rather_than_hang(proxy: FaultProxy) -> None:
    waits = Waits()
    proxy.inject("GET", Fault.reply(429, "{}", {"Retry-After": "86400"}))
    with jit(proxy.url) as store, pytest.raises(RetriesExhausted, match="max_retry_after"):
        apply(store, ADD_ACCOUNT, retry=fast_retry(waits))
    assert waits.waits == []


def test_auth_errors_are_not_retried(jit_server: JitServer) -> None:
    waits = Waits()
    with JitStore(jit_server.url, token="wrong") as store, pytest.raises(AuthError):
        apply(store, ADD_ACCOUNT, retry=fast_retry(waits))
    assert waits.waits == []


# -- writes whose outcome is unknown ----------------------------------------------------------


def test_an_unknown_outcome_that_landed_is_settled_by_reading(
    proxy: FaultProxy, jit_server: JitServer
) -> None:
    proxy.inject("PUT", Fault.commit_then_stall(1.0))
    with jit(proxy.url, timeout=0.3) as store:
        result = apply(store, ADD_ACCOUNT, retry=fast_retry())
    assert result.written
    assert result.attempts == 1
    assert jit_server.writes == 1
    assert json.dumps(jit_server.store.read().document).count("210987654321") == 1


def test_an_unknown_outcome_that_did_not_land_is_written_again(
    proxy: FaultProxy, jit_server: JitServer
) -> None:
    proxy.inject("PUT", Fault.drop())
    with jit(proxy.url) as store:
        result = apply(store, ADD_ACCOUNT, retry=fast_retry())
    assert result.written
    assert result.attempts == 2
    assert jit_server.writes == 1
    assert json.dumps(jit_server.store.read().document).count("210987654321") == 1


def test_an_unknown_outcome_with_append_is_not_retried(
    proxy: FaultProxy, jit_server: JitServer
) -> None:
    proxy.inject("PUT", Fault.commit_then_stall(1.0))
    policy = Policy(rules={"/aws/*/regions": ListPolicy.APPEND})
    with jit(proxy.url, timeout=0.3) as store, pytest.raises(StoreError, match="APPEND"):
        apply(
            store,
            {"aws": [{"account_id": "123456789012", "regions": ["eu-west-1"]}]},
            policy,
            retry=fast_retry(),
        )
    assert json.dumps(jit_server.store.read().document).count("eu-west-1") == 1


def test_a_redirect_on_put_fails_the_apply(proxy: FaultProxy, jit_server: JitServer) -> None:
    proxy.inject("PUT", Fault.redirect("http://127.0.0.1:9/elsewhere"))
    with jit(proxy.url) as store, pytest.raises(StoreError, match="never redirected"):
        apply(store, ADD_ACCOUNT, retry=fast_retry())
    assert jit_server.writes == 0


# -- remotes without a SHA --------------------------------------------------------------------


class ShalessStore:
    """A real MemoryStore seen through a remote that has no file SHA (a tenant without GitHub)."""

    def __init__(
        self, document: Mapping[str, Any], overwrite_after_write: Mapping[str, Any] | None = None
    ) -> None:
        self.inner = MemoryStore(document)
        self.overwrite = overwrite_after_write

    def read(self) -> Snapshot:
        snapshot = self.inner.read()
        return Snapshot(snapshot.document, None, None)

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str | None:
        self.inner.write(snapshot, document, changes, force=True)
        if self.overwrite is not None:  # someone else's unguarded write lands right after ours
            self.inner.write(snapshot, self.overwrite, (), force=True)
            self.overwrite = None
        return None


def test_an_unguarded_write_is_read_back_and_said_to_be_unguarded() -> None:
    store = ShalessStore({"drata": {"user_email": "a@b.cc", "workspace": "w"}})
    result = apply(store, ADD_ACCOUNT, retry=fast_retry())
    assert (result.written, result.guarded, result.sha_after) == (True, False, None)
    assert [w.kind for w in result.warnings] == ["unguarded"]
    assert store.inner.read().document["aws"] == [ACCOUNT]


def test_an_unguarded_write_that_was_overwritten_is_written_again() -> None:
    base = {"drata": {"user_email": "a@b.cc", "workspace": "w"}}
    store = ShalessStore(base, overwrite_after_write=base)
    result = apply(store, ADD_ACCOUNT, retry=fast_retry())
    assert result.attempts == 2
    assert store.inner.read().document["aws"] == [ACCOUNT]


def test_force_writes_unguarded_and_says_so() -> None:
    store = MemoryStore({"drata": {"user_email": "a@b.cc", "workspace": "w"}})
    result = apply(store, {"drata": {"workspace": DELETE}}, validate=False, force=True)
    assert result.written
    assert not result.guarded
    assert [w.kind for w in result.warnings] == ["unguarded"]


def test_a_registry_given_to_apply_also_supplies_the_list_rules(tmp_path: Path) -> None:
    (tmp_path / "gcp.schema.json").write_text(
        json.dumps({"type": "array", "x-merge-key": ["project"]})
    )
    from safemerge import SchemaRegistry

    store = MemoryStore({"gcp": [{"project": "a", "labels": ["x"]}]})
    result = apply(
        store, {"gcp": [{"project": "a", "labels": ["y"]}]}, registry=SchemaRegistry(tmp_path)
    )
    assert result.document == {"gcp": [{"project": "a", "labels": ["x", "y"]}]}
    with pytest.raises(PolicyError):  # without that registry, nothing says how /gcp merges
        apply(store, {"gcp": [{"project": "b"}]})
