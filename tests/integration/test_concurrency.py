"""Many writers, one file: every acknowledged apply is in the final file exactly once.

A Jepsen-style set workload: each writer adds unique keyed items through
``apply``; afterwards the file must hold every item some apply acknowledged
(``written``), exactly once, and nothing else.
"""

from __future__ import annotations

import multiprocessing
import statistics
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from safemerge import FileStore, apply
from safemerge._jit import JitStore
from tests.conftest import TOKEN
from tests.support.servers import jit_server_process


def account(writer: int, n: int) -> dict[str, Any]:
    return {"account_id": f"{writer:02d}{n:010d}", "regions": ["us-east-1"], "type": "account"}


def ids_in(document: dict[str, Any]) -> Counter[str]:
    return Counter(a["account_id"] for a in document.get("aws", []))


def test_8_threads_x_5_applies_against_safemerge_serve_lose_nothing(integration_file: Path) -> None:
    writers, applies = 8, 5
    attempts: list[int] = []
    acknowledged: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(writers)

    with jit_server_process(integration_file, token=TOKEN) as url:

        def writer(w: int) -> None:
            try:
                with JitStore(url, token=TOKEN, timeout=10) as store:
                    start.wait()
                    for n in range(applies):
                        item = account(w, n)
                        result = apply(store, {"aws": [item]})
                        with lock:
                            attempts.append(result.attempts)
                            if result.written:
                                acknowledged.append(item["account_id"])
            except BaseException as exc:  # surfaced below: a thread must not swallow it
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        with JitStore(url, token=TOKEN) as store:
            final = store.read().document

    assert errors == []
    stored = ids_in(final)
    assert len(acknowledged) == writers * applies
    assert all(stored[i] == 1 for i in acknowledged), "an acknowledged add is missing or doubled"
    assert set(stored) == set(acknowledged) | {"123456789012"}, (
        "the file holds something nobody wrote"
    )
    assert final["drata"] == {"user_email": "security@example.com", "workspace": "production"}
    assert max(attempts) >= 1
    print(f"\n8x5 serve: attempts median {statistics.median(attempts)} max {max(attempts)}")


def _process_writer(path: str, writer: int, applies: int, queue: Any) -> None:
    store = FileStore(path)
    for n in range(applies):
        item = account(writer, n)
        result = apply(store, {"aws": [item]})
        queue.put((item["account_id"], result.written, result.attempts))


def test_4_processes_x_8_applies_against_one_file_lose_nothing(integration_file: Path) -> None:
    writers, applies = 4, 8
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_process_writer, args=(str(integration_file), w, applies, queue))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=120) for _ in range(writers * applies)]
    for process in processes:
        process.join(30)
        assert process.exitcode == 0
    queue.close()
    queue.join_thread()

    acknowledged = [i for i, written, _ in results if written]
    stored = ids_in(FileStore(integration_file).read().document)
    assert len(acknowledged) == writers * applies
    assert all(stored[i] == 1 for i in acknowledged)
    assert set(stored) == set(acknowledged) | {"123456789012"}
    attempts = [a for _, _, a in results]
    print(f"\n4x8 file: attempts median {statistics.median(attempts)} max {max(attempts)}")
