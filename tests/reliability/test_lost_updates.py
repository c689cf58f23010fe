"""Lost updates, measured: many writers add unique items through ``apply``; nothing may be lost.

A Jepsen-style set workload (:mod:`tests.support.set_workload`) against
``safemerge serve`` (its own process) with writer threads, one local file with
writer processes, and the GitHub contents test server with writer threads.
Checked after each run: every acknowledged add is in the file exactly once,
nothing is there that no one added, an add whose apply gave up after SHA
conflicts only is absent, no untyped exception escaped, and - counted
server-side by a recording proxy - every accepted PUT was guarded by the SHA
current at that moment (the accepted PUTs form one chain from the initial SHA).

The checker is checked too: a store that ignores the SHA guard loses updates,
and the checker says so; a forked or stale chain is reported.

``-m soak`` runs the same workloads at larger sizes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from safemerge import MemoryStore, RetriesExhausted, Retry, Snapshot
from safemerge._result import Change
from tests.support.recording_proxy import put_chain
from tests.support.set_workload import (
    INITIAL_ID,
    SetResult,
    run_file_processes,
    run_github_threads,
    run_serve_threads,
    run_threads,
)


def no_sleep(seconds: float) -> None:
    del seconds


def assert_clean(result: SetResult, *, may_give_up: bool = False) -> None:
    """No violation; every apply acknowledged (or, under heavy contention, given up typed)."""
    assert result.problems() == [], result.problems()
    total = result.writers * result.applies
    if may_give_up:
        # Many writers on one file can starve one of them past the conflict budget: that
        # apply raises RetriesExhausted (typed, nothing of it written), which is allowed.
        assert {o.error for o in result.gave_up} <= {RetriesExhausted.__name__}
        assert all(o.definite for o in result.gave_up)
        assert len(result.acknowledged) + len(result.gave_up) == total
    else:
        assert len(result.acknowledged) == total
    assert result.writes_accepted == len(result.acknowledged)
    print(
        f"\n{result.backend}: {result.writers}x{result.applies}, attempts median "
        f"{result.attempts_median()} max {result.attempts_max()}, "
        f"{result.writes_refused} stale writes refused, {len(result.gave_up)} gave up, "
        f"lost {len(result.lost)}"
    )


def test_threads_against_safemerge_serve_lose_nothing(tmp_path: Path) -> None:
    assert_clean(run_serve_threads(tmp_path, writers=6, applies=5))


def test_processes_against_one_file_lose_nothing(tmp_path: Path) -> None:
    assert_clean(run_file_processes(tmp_path, writers=4, applies=6))


def test_threads_against_the_github_contents_api_lose_nothing() -> None:
    assert_clean(run_github_threads(writers=6, applies=5))


def test_a_writer_that_gives_up_raises_a_typed_error_and_its_add_is_absent(
    tmp_path: Path,
) -> None:
    # One write attempt each, no waiting: with 8 writers at once, some lose and give up.
    result = run_serve_threads(
        tmp_path, writers=8, applies=4, retry=Retry(conflicts=1, sleep=no_sleep)
    )
    assert result.problems() == [], result.problems()
    assert result.gave_up, "no writer gave up: the load produced no conflict at all"
    assert {o.error for o in result.gave_up} == {RetriesExhausted.__name__}
    assert all(o.definite for o in result.gave_up)
    assert not any(result.stored[o.item] for o in result.gave_up), "a given-up add was stored"
    assert len(result.acknowledged) + len(result.gave_up) == 8 * 4


# -- the checker catches what it should ------------------------------------------------------


class BlindStore(MemoryStore):
    """A store that ignores the SHA guard (a remote without one): the lost update, on purpose."""

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str:
        time.sleep(0.002)  # widen the window between the read and the write
        return super().write(snapshot, document, changes, force=True)


class _Shared:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def __enter__(self) -> MemoryStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        pass


def _lost_with(store: MemoryStore) -> list[str]:
    outcomes = run_threads(6, 5, lambda: _Shared(store), Retry(sleep=no_sleep))
    stored = Counter(a["account_id"] for a in store.read().document["aws"])
    return [o.item for o in outcomes if o.written and stored[o.item] != 1]


def test_the_checker_sees_lost_updates_when_the_guard_is_ignored() -> None:
    initial = {"aws": [{"account_id": INITIAL_ID, "regions": ["us-east-1"], "type": "account"}]}
    assert _lost_with(MemoryStore(initial)) == []
    assert _lost_with(BlindStore(initial)), "a store without a guard lost nothing?"


def test_the_chain_check_sees_forks_stale_and_unguarded_writes() -> None:
    assert put_chain("a", [("a", "b", None), ("b", "c", None)]) == ([], "c")
    fork, _ = put_chain("a", [("a", "b", None), ("a", "c", None)])
    assert any("fork" in p for p in fork)
    stale, _ = put_chain("a", [("a", "b", None), ("x", "y", None)])
    assert any("not current" in p for p in stale)
    unguarded, _ = put_chain("a", [(None, "b", None)])
    assert any("no SHA" in p for p in unguarded)


# -- by hand: -m soak ------------------------------------------------------------------------


@pytest.mark.soak
def test_soak_serve_16_threads_x_20(tmp_path: Path) -> None:
    assert_clean(run_serve_threads(tmp_path, writers=16, applies=20), may_give_up=True)


@pytest.mark.soak
def test_soak_file_8_processes_x_25(tmp_path: Path) -> None:
    assert_clean(run_file_processes(tmp_path, writers=8, applies=25), may_give_up=True)


@pytest.mark.soak
def test_soak_github_12_threads_x_15() -> None:
    assert_clean(run_github_threads(writers=12, applies=15), may_give_up=True)


@pytest.mark.soak
def test_soak_many_rounds_of_a_small_load(tmp_path: Path) -> None:
    for round_ in range(20):
        folder = tmp_path / str(round_)
        folder.mkdir()
        assert_clean(run_serve_threads(folder, writers=4, applies=4))
