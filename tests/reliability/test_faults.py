"""Injected faults between the store and its server: every apply succeeds once or fails typed.

A recording proxy (:mod:`tests.support.recording_proxy`) sits between
``JitStore`` and ``safemerge serve``, or between ``GitHubStore`` and the GitHub
contents test server, and injects each kind of fault in :data:`FAULTS`: 503 and
429 with ``Retry-After`` in seconds and as an HTTP-date, dropped connections,
slow answers within and past the client's timeout, a PUT that commits upstream
but is answered after the client's timeout (or answered 502), a PUT that
arrives after the client gave up, and a 302 to another host on PUT.

Each kind alone, then all of them at random (seeded) over a run of applies.
Every apply either succeeds, with its item in the file exactly once, or raises
a ``SafeMergeError``; no raw ``requests``/socket exception escapes. Waits cost
nothing (``Retry(sleep=...)`` records them) and must honour ``Retry-After``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safemerge import GitHubStore, JitStore, Retry, SafeMergeError, StoreError, apply
from tests.support.chaos import CLIENT_TIMEOUT, FAULTS, FaultKind, run_chaos
from tests.support.github_server import GitHubContentsServer
from tests.support.recording_proxy import RecordingProxy, accepted_puts, put_chain, recording_proxy
from tests.support.servers import jit_server_thread
from tests.support.set_workload import GITHUB_PATH, GITHUB_TOKEN, INITIAL_FILE, TOKEN, account

REDIRECT = "PUT 302 to another host"


class Backend:
    """A server behind a recording proxy, and how to read back what it holds."""

    def __init__(self, proxy: RecordingProxy, kind: str, read_final: Any, initial: str) -> None:
        self.proxy, self.kind, self.read_final, self.initial = proxy, kind, read_final, initial

    def store(self) -> Any:
        if self.kind == "jit":
            return JitStore(self.proxy.url, token=TOKEN, timeout=CLIENT_TIMEOUT)
        return GitHubStore(
            "owner/name",
            GITHUB_PATH,
            token=GITHUB_TOKEN,
            api_url=self.proxy.url,
            timeout=CLIENT_TIMEOUT,
        )

    def chain_problems(self) -> list[str]:
        if self.kind == "jit":
            puts = accepted_puts(
                self.proxy.exchanges,
                sent=lambda r: r.get("file_sha"),
                answered=lambda a: a.get("file_sha"),
            )
        else:
            puts = accepted_puts(
                self.proxy.exchanges,
                sent=lambda r: r.get("sha"),
                answered=lambda a: a["content"]["sha"],
            )
        return put_chain(self.initial, puts)[0]


@pytest.fixture(params=["jit", "github"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "jit":
        path = tmp_path / "jit-integration.yml"
        path.write_text(INITIAL_FILE)
        with jit_server_thread(path, token=TOKEN) as server, recording_proxy(server.url) as proxy:
            initial = server.store.read().sha
            assert initial is not None
            yield Backend(proxy, "jit", lambda: server.store.read().document, initial)
    else:
        with GitHubContentsServer(token=GITHUB_TOKEN) as github:
            initial = github.put(GITHUB_PATH, INITIAL_FILE.encode())

            def read_final() -> dict[str, Any]:
                with GitHubStore(
                    "owner/name", GITHUB_PATH, token=GITHUB_TOKEN, api_url=github.url
                ) as reader:
                    return reader.read().document

            with recording_proxy(github.url) as proxy:
                yield Backend(proxy, "github", read_final, initial)


def _params() -> list[Any]:
    return [pytest.param(kind, id=kind.name) for kind in FAULTS]


@pytest.mark.parametrize("kind", _params())
def test_each_fault_alone_ends_in_one_write_or_a_typed_error(
    backend: Backend, kind: FaultKind
) -> None:
    waits: list[float] = []
    backend.proxy.inject(kind.method, kind.name, kind.make())
    item = account(60, 1)
    error: BaseException | None = None
    with backend.store() as store:
        try:
            result = apply(
                store, {"aws": [item]}, retry=Retry(sleep=waits.append, random=lambda: 0.5)
            )
        except SafeMergeError as exc:
            error = exc
    ids = Counter(a["account_id"] for a in backend.read_final()["aws"])
    assert backend.proxy.injected()[kind.name] == 1, "the fault was not injected"
    assert backend.chain_problems() == []
    if kind.name == REDIRECT:
        assert isinstance(error, StoreError)
        assert "never redirected" in str(error)
        assert ids[item["account_id"]] == 0
        return
    assert error is None, f"{type(error).__name__}: {error}"
    assert result.written, "the change is in the file but apply said it wrote nothing"
    assert ids[item["account_id"]] == 1
    if "Retry-After: 3" in kind.name:
        assert any(w >= 3.0 for w in waits), waits
    if "HTTP-date" in kind.name:
        assert any(2.5 <= w <= 5.5 for w in waits), waits


def test_a_seeded_storm_of_every_fault_against_safemerge_serve(tmp_path: Path) -> None:
    result = run_chaos(tmp_path, seed=20240601, applies=40, rate=0.3, backend="jit")
    assert result.problems() == []
    assert sum(result.injected.values()) >= 20
    assert len(result.injected) >= 10, "the storm injected too few kinds of fault"
    assert all(not o.startswith("UNTYPED") for o in result.outcomes())


def test_a_seeded_storm_against_the_github_contents_api(tmp_path: Path) -> None:
    result = run_chaos(tmp_path, seed=20240602, applies=40, rate=0.3, backend="github")
    assert result.problems() == []
    assert sum(result.injected.values()) >= 20


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(3))
def test_soak_storms(tmp_path: Path, seed: int) -> None:
    for backend in ("jit", "github"):
        result = run_chaos(
            tmp_path,
            seed=seed,
            applies=150,
            rate=random.Random(seed).uniform(0.1, 0.5),
            backend=backend,
        )
        assert result.problems() == [], json.dumps(result.problems()[:5])
