"""FileStore on real files: guarded atomic writes, refusals, and concurrent writers.

No mocks: every test works on files in ``tmp_path``; concurrency is real threads
and real processes.
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from safemerge._errors import SafeMergeError, ShaConflict, StoreError, UnsafeInput
from safemerge._file import FileStore
from safemerge._result import Change, Op
from safemerge._store import Snapshot, Store, TransientError, git_blob_sha

SAMPLE = "aws:\n- account_id: '210987654321'\n  regions: [eu-west-1]\ndrata:\n  workspace: café\n"


def make(tmp_path: Path, text: str | bytes | None = SAMPLE, name: str = "jit.yml") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    elif isinstance(text, bytes):
        path.write_bytes(text)
    return path


def leftovers(folder: Path, name: str = "jit.yml") -> set[str]:
    """Everything in ``folder`` besides the file and its lock: temporary files, mostly."""
    return {p.name for p in folder.iterdir()} - {name, f".{name}.lock"}


def add(snapshot: Snapshot, key: str, value: Any = True) -> tuple[dict[str, Any], list[Change]]:
    """``snapshot.document`` with ``/keys/<key>`` added (a copy: the snapshot is not ours to change)."""
    document = copy.deepcopy(snapshot.document)
    keys = document.setdefault("keys", {})
    keys[key] = value
    return document, [Change(Op.ADD, f"/keys/{key}", None, value)]


# -- reading ----------------------------------------------------------------------------------


def test_is_a_store_with_a_plain_repr(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "jit.yml")
    assert isinstance(store, Store)
    assert repr(store) == f"FileStore({str(tmp_path / 'jit.yml')!r})"
    assert repr(FileStore("jit.yml")) == "FileStore('jit.yml')"


def test_missing_file_reads_as_empty_document_without_sha(tmp_path: Path) -> None:
    assert FileStore(tmp_path / "jit.yml").read() == Snapshot({}, None, None)


def test_sha_is_what_git_hash_object_prints(tmp_path: Path) -> None:
    path = make(tmp_path)
    git = subprocess.run(
        ["git", "hash-object", str(path)], capture_output=True, text=True, check=True
    )
    snapshot = FileStore(path).read()
    assert snapshot.sha == git.stdout.strip()
    assert snapshot.raw == SAMPLE
    assert snapshot.document["drata"] == {"workspace": "café"}


def test_empty_file_is_an_empty_document_with_a_sha(tmp_path: Path) -> None:
    snapshot = FileStore(make(tmp_path, "")).read()
    assert snapshot == Snapshot({}, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", "")


def test_invalid_utf8_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = make(tmp_path, b"aws: []\ndrata:\n  workspace: caf\xe9\n")
    with pytest.raises(UnsafeInput) as info:
        FileStore(path).read()
    assert info.value.line == 3
    assert "line 3" in str(info.value)
    assert "UTF-8" in str(info.value)
    assert str(path) in str(info.value)


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = make(tmp_path, "a: " + "x" * 62 + "\n")  # 66 bytes
    with pytest.raises(UnsafeInput) as info:
        FileStore(path, max_bytes=65).read()
    assert str(path) in str(info.value)
    assert "65 bytes" in str(info.value)
    assert FileStore(path, max_bytes=66).read().document == {"a": "x" * 62}


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = make(tmp_path, "a: [1, 2\n")
    with pytest.raises(UnsafeInput, match="not valid YAML"):
        FileStore(path).read()


def test_a_directory_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "jit.yml").mkdir()
    with pytest.raises(StoreError, match="directory"):
        FileStore(tmp_path / "jit.yml").read()


# -- writing ----------------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "jit.yml")
    first = store.read()
    document, changes = add(first, "a", {"b": [1, 2], "c": "é"})
    sha = store.write(first, document, changes)

    second = store.read()
    assert second.document == {"keys": {"a": {"b": [1, 2], "c": "é"}}}
    assert second.sha == sha == git_blob_sha((tmp_path / "jit.yml").read_bytes())
    assert first.document == {}  # the snapshot was not changed

    document, changes = add(second, "d")
    sha = store.write(second, document, changes)
    third = store.read()
    assert third.sha == sha
    assert third.document == {"keys": {"a": {"b": [1, 2], "c": "é"}, "d": True}}
    assert leftovers(tmp_path) == set()


def test_stale_snapshot_is_a_conflict_and_leaves_the_other_writers_file(tmp_path: Path) -> None:
    path = make(tmp_path)
    store = FileStore(path)
    snapshot = store.read()
    theirs = SAMPLE + "jira:\n  url: https://example.atlassian.net\n"
    path.write_text(theirs, encoding="utf-8")

    document, changes = add(snapshot, "mine")
    with pytest.raises(ShaConflict) as info:
        store.write(snapshot, document, changes)
    assert info.value.expected == snapshot.sha
    assert info.value.actual == git_blob_sha(theirs.encode())
    assert path.read_text(encoding="utf-8") == theirs
    assert leftovers(tmp_path) == set()


def test_missing_then_created_by_someone_else_is_a_conflict(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "jit.yml")
    snapshot = store.read()
    path = make(tmp_path, "theirs: 1\n")

    document, changes = add(snapshot, "mine")
    with pytest.raises(ShaConflict) as info:
        store.write(snapshot, document, changes)
    assert (info.value.expected, info.value.actual) == (None, git_blob_sha(b"theirs: 1\n"))
    assert path.read_text(encoding="utf-8") == "theirs: 1\n"


def test_deleted_since_read_is_a_conflict(tmp_path: Path) -> None:
    path = make(tmp_path)
    store = FileStore(path)
    snapshot = store.read()
    path.unlink()

    document, changes = add(snapshot, "mine")
    with pytest.raises(ShaConflict) as info:
        store.write(snapshot, document, changes)
    assert (info.value.expected, info.value.actual) == (snapshot.sha, None)
    assert not path.exists()


def test_force_writes_over_a_change(tmp_path: Path) -> None:
    path = make(tmp_path)
    store = FileStore(path)
    snapshot = store.read()
    path.write_text("theirs: 1\n", encoding="utf-8")

    document, changes = add(snapshot, "mine")
    sha = store.write(snapshot, document, changes, force=True)
    assert store.read().document == document
    assert sha == git_blob_sha(path.read_bytes())


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664, 0o755])
def test_permission_bits_are_kept(tmp_path: Path, mode: int) -> None:
    path = make(tmp_path)
    path.chmod(mode)
    store = FileStore(path)
    snapshot = store.read()
    store.write(snapshot, *add(snapshot, "x"))
    assert path.stat().st_mode & 0o7777 == mode


def test_new_file_is_0644_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        store = FileStore(tmp_path / "jit.yml")
        snapshot = store.read()
        store.write(snapshot, *add(snapshot, "x"))
    finally:
        os.umask(old)
    assert (tmp_path / "jit.yml").stat().st_mode & 0o7777 == 0o644


def test_writes_through_a_symlink(tmp_path: Path) -> None:
    real = make(tmp_path, name="real.yml")
    link = tmp_path / "jit.yml"
    link.symlink_to(real)
    store = FileStore(link)
    snapshot = store.read()
    store.write(snapshot, *add(snapshot, "x"))
    assert link.is_symlink()
    assert FileStore(real).read().document["keys"] == {"x": True}


def test_unwritable_document_fails_before_touching_the_disk(tmp_path: Path) -> None:
    path = make(tmp_path)
    store = FileStore(path)
    snapshot = store.read()
    before = {p.name for p in tmp_path.iterdir()}

    with pytest.raises(UnsafeInput, match="cannot be written as YAML") as info:
        store.write(snapshot, {"keys": {"x": object()}}, [])
    assert isinstance(info.value, SafeMergeError)
    assert path.read_text(encoding="utf-8") == SAMPLE
    assert {p.name for p in tmp_path.iterdir()} == before  # not even a lock file


def test_oversize_document_is_not_written(tmp_path: Path) -> None:
    path = make(tmp_path, "a: 1\n")
    store = FileStore(path, max_bytes=100)
    snapshot = store.read()
    with pytest.raises(UnsafeInput, match="more than 100"):
        store.write(snapshot, {"a": "x" * 200}, [])
    assert path.read_text(encoding="utf-8") == "a: 1\n"


def _write_with_file_size_limit(path: str, limit: int) -> str:
    """In a child process: write a document larger than RLIMIT_FSIZE allows; the error's repr."""
    # Without this the kernel kills the process with SIGXFSZ instead of failing write() with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    store = FileStore(path)
    snapshot = store.read()
    try:
        store.write(snapshot, {"big": "x" * (limit * 4)}, [])
    except StoreError as exc:
        return f"StoreError: {exc}"
    return "no error"


def test_failed_write_leaves_no_temporary_file_and_the_old_file_intact(tmp_path: Path) -> None:
    # A real failure between creating the temporary file and renaming it, that
    # works as root too (a read-only folder does not stop root): the file size
    # limit makes write() fail with EFBIG. Set in a child so that pytest keeps its own.
    path = make(tmp_path, "a: 1\n")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        outcome = pool.apply(_write_with_file_size_limit, (str(path), 200))
    assert outcome.startswith("StoreError: cannot write")
    assert str(path) in outcome
    assert "too large" in outcome.lower()  # strerror(EFBIG): "File too large"
    assert path.read_text(encoding="utf-8") == "a: 1\n"
    assert leftovers(tmp_path) == set()


def test_missing_folder_is_a_store_error_with_the_reason(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "nope" / "jit.yml")
    snapshot = store.read()
    assert snapshot == Snapshot({}, None, None)
    with pytest.raises(StoreError) as info:
        store.write(snapshot, *add(snapshot, "x"))
    assert "No such file or directory" in str(info.value)
    assert str(tmp_path / "nope") in str(info.value)
    assert info.value.hint


# -- locking ----------------------------------------------------------------------------------

_HOLD_LOCK = """
import fcntl, sys
with open(sys.argv[1], "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
"""


def test_lock_held_by_another_process_times_out_as_transient(tmp_path: Path) -> None:
    path = make(tmp_path)
    store = FileStore(path, lock_timeout=0.5)
    snapshot = store.read()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path / ".jit.yml.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        with pytest.raises(TransientError, match="lock") as info:
            store.write(snapshot, *add(snapshot, "x"))
        elapsed = time.monotonic() - started
        assert 0.5 <= elapsed < 2.0
        assert info.value.hint
        assert path.read_text(encoding="utf-8") == SAMPLE
        assert leftovers(tmp_path) == set()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    # Released when the holder exits: the same snapshot now writes.
    store.write(snapshot, *add(snapshot, "x"))
    assert store.read().document["keys"] == {"x": True}


# -- concurrency ------------------------------------------------------------------------------


def _add_until_written(
    store: FileStore, key: str
) -> tuple[list[tuple[str | None, str]], list[tuple[str | None, str | None]]]:
    """read → add ``key`` → write, again on every ShaConflict.

    Returns the successful write as ``(sha before, sha after)`` and every conflict
    as ``(expected, actual)``.
    """
    conflicts: list[tuple[str | None, str | None]] = []
    for _ in range(200):
        snapshot = store.read()
        document, changes = add(snapshot, key)
        try:
            after = store.write(snapshot, document, changes)
        except ShaConflict as exc:
            conflicts.append((exc.expected, exc.actual))
            continue
        return [(snapshot.sha, after)], conflicts
    raise AssertionError(f"{key} not written in 200 attempts")


def _worker(path: str, worker: int, writes: int, start: Any, results: Any) -> None:
    """In a child process: add ``writes`` keys, then report the history to the parent."""
    store = FileStore(path)
    done: list[tuple[str | None, str]] = []
    conflicts: list[tuple[str | None, str | None]] = []
    try:
        start.wait()  # all four start together, so that they really race
        for i in range(writes):
            d, c = _add_until_written(store, f"p{worker}-{i}")
            done += d
            conflicts += c
    except BaseException as exc:
        results.put(("error", repr(exc)))
        raise
    results.put((done, conflicts))


def _check_history(
    path: Path,
    initial: str | None,
    done: list[tuple[str | None, str]],
    conflicts: list[tuple[str | None, str | None]],
    keys: set[str],
) -> None:
    """No update was lost, and every conflict was real.

    The successful writes must form one chain from the initial SHA to the final
    file: each wrote over exactly the version the previous one made. A conflict
    is real when the file held another writer's version than the one read.
    """
    final = FileStore(path).read()
    assert set(final.document["keys"]) == keys
    assert final.document["base"] == {"kept": True}

    after_by_before = dict(done)
    assert len(after_by_before) == len(done) == len(keys)  # no version was written over twice
    sha = initial
    for _ in done:
        sha = after_by_before[sha]
    assert sha == final.sha

    versions = {initial} | {after for _, after in done}
    for expected, actual in conflicts:
        assert expected != actual
        assert expected in versions
        assert actual in versions


def test_threads_lose_nothing(tmp_path: Path) -> None:
    path = make(tmp_path, "base:\n  kept: true\n")
    initial = git_blob_sha(path.read_bytes())
    done: list[tuple[str | None, str]] = []
    conflicts: list[tuple[str | None, str | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def run(n: int) -> None:
        try:
            store = FileStore(path)  # one store per thread, and one shared below
            start.wait()
            for i in range(4):
                d, c = _add_until_written(store if i % 2 else shared, f"t{n}-{i}")
                with lock:
                    done.extend(d)
                    conflicts.extend(c)
        except BaseException as exc:
            errors.append(exc)

    shared = FileStore(path)
    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    keys = {f"t{n}-{i}" for n in range(8) for i in range(4)}
    _check_history(path, initial, done, conflicts, keys)
    assert leftovers(tmp_path) == set()


def test_processes_lose_nothing(tmp_path: Path) -> None:
    path = make(tmp_path, "base:\n  kept: true\n")
    initial = git_blob_sha(path.read_bytes())
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(str(path), w, 8, start, results)) for w in range(4)
    ]
    for p in workers:
        p.start()
    reports: list[Any] = []
    deadline = time.monotonic() + 60
    while len(reports) < len(workers):
        # Fail fast if a child died before reporting, rather than wait out the deadline.
        assert all(p.exitcode in (None, 0) for p in workers), [p.exitcode for p in workers]
        assert time.monotonic() < deadline, "the workers did not finish in 60 s"
        with contextlib.suppress(queue.Empty):
            reports.append(results.get(timeout=0.2))
    for p in workers:
        p.join(timeout=10)
        assert p.exitcode == 0
    assert all(r[0] != "error" for r in reports), reports
    done = [d for r in reports for d in r[0]]
    conflicts = [c for r in reports for c in r[1]]
    keys = {f"p{w}-{i}" for w in range(4) for i in range(8)}
    _check_history(path, initial, done, conflicts, keys)
    assert leftovers(tmp_path) == set()


def test_a_lone_writer_never_conflicts(tmp_path: Path) -> None:
    store = FileStore(make(tmp_path))
    for i in range(10):
        _, conflicts = _add_until_written(store, f"k{i}")
        assert conflicts == []
