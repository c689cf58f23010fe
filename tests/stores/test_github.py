"""GitHubStore against a GitHub-contents-compatible server on loopback (no mocked HTTP).

Every test also checks that the token never leaks: not in ``repr(store)``, not in
any raised error (its ``str``, ``repr``, hint or chained exceptions), and not in
any log record down to DEBUG.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from safemerge import (
    AuthError,
    PermissionDenied,
    SafeMergeError,
    ShaConflict,
    StoreError,
    UnsafeInput,
    merge,
)
from safemerge._github import GitHubStore
from safemerge._store import OutcomeUnknown, Snapshot, Store, TransientError, git_blob_sha
from tests.support.github_server import GitHubContentsServer, blob_sha

TOKEN = "ghp_Sup3rS3cretT0kenValue0123456789"
PATH = ".jit/jit-integration.yml"
NOW = 1_700_000_000.0

E = TypeVar("E", bound=SafeMergeError)


@pytest.fixture(autouse=True)
def _no_token_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.args)


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)


@pytest.fixture
def server() -> Iterator[GitHubContentsServer]:
    with GitHubContentsServer(token=TOKEN) as srv:
        yield srv


@pytest.fixture
def connect(server: GitHubContentsServer) -> Iterator[Callable[..., GitHubStore]]:
    """Make stores pointed at the server; they are closed after the test."""
    stores: list[GitHubStore] = []

    def make(**kwargs: Any) -> GitHubStore:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("timeout", 5.0)
        kwargs.setdefault("clock", lambda: NOW)
        store = GitHubStore(kwargs.pop("repo", "owner/name"), api_url=server.url, **kwargs)
        assert TOKEN not in repr(store)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(connect: Callable[..., GitHubStore]) -> GitHubStore:
    return connect()


def raises(kind: type[E], call: Callable[[], object]) -> E:
    """Run ``call``, expect ``kind``, and check that nothing about the error shows the token."""
    with pytest.raises(kind) as info:
        call()
    error: BaseException | None = info.value
    while error is not None:
        for text in (str(error), repr(error), str(getattr(error, "hint", ""))):
            assert TOKEN not in text
        error = error.__cause__ or error.__context__
    return info.value


def add(store: Store, fragment: dict[str, Any]) -> tuple[Snapshot, str | None]:
    """Read, merge ``fragment``, write: one guarded round."""
    snapshot = store.read()
    result = merge(snapshot.document, fragment)
    return snapshot, store.write(snapshot, result.document, result.changes)


def landed(store: Store, fragment: dict[str, Any]) -> bool:
    """One guarded round; ``False`` when someone else wrote first."""
    try:
        add(store, fragment)
    except ShaConflict:
        return False
    return True


# -- reading and writing ----------------------------------------------------------------


def test_is_a_store(store: GitHubStore) -> None:
    assert isinstance(store, Store)


def test_missing_file_reads_as_empty_without_sha(store: GitHubStore) -> None:
    assert store.read() == Snapshot({}, None, None)


def test_write_creates_the_file_and_reads_back(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    _, sha = add(store, {"drata": {"workspace": "production"}})
    stored = server.get(PATH)
    assert stored is not None
    assert sha == git_blob_sha(stored) == blob_sha(stored)
    again = store.read()
    assert again.document == {"drata": {"workspace": "production"}}
    assert again.sha == sha
    assert again.raw == stored.decode()
    assert server.commits == [("main", PATH, "safemerge: update .jit/jit-integration.yml")]


def test_update_is_guarded_by_the_sha_read(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.put(PATH, b"aws:\n- account_id: '012345678901'\n  regions: [us-east-1]\n")
    before, sha = add(store, {"drata": {"workspace": "production"}})
    assert before.sha is not None
    assert sha != before.sha
    assert [m for m, _, _ in server.requests].count("PUT") == 1
    assert store.read().document == {
        "aws": [{"account_id": "012345678901", "regions": ["us-east-1"]}],
        "drata": {"workspace": "production"},
    }


def test_sends_githubs_headers(store: GitHubStore, server: GitHubContentsServer) -> None:
    server.put(PATH, b"drata: {}\n")
    store.read()
    headers = server.request_headers[-1]
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_path_segments_are_quoted(
    connect: Callable[..., GitHubStore], server: GitHubContentsServer
) -> None:
    server.put("conf dir/a#b.yml", b"drata: {}\n")
    store = connect(path="conf dir/a#b.yml")
    assert store.read().document == {"drata": {}}
    assert server.requests[-1][1] == "/repos/owner/name/contents/conf%20dir/a%23b.yml"


def test_token_falls_back_to_github_token(
    connect: Callable[..., GitHubStore],
    server: GitHubContentsServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    server.put(PATH, b"drata: {}\n")
    assert connect(token=None).read().document == {"drata": {}}
    assert server.requests[-1][2]


def test_branch_is_honoured(
    connect: Callable[..., GitHubStore], server: GitHubContentsServer
) -> None:
    server.put(PATH, b"drata: {workspace: main}\n")
    server.put(PATH, b"drata: {workspace: dev}\n", branch="feature/x")
    store = connect(branch="feature/x")
    snapshot = store.read()
    assert snapshot.document == {"drata": {"workspace": "dev"}}
    result = merge(snapshot.document, {"drata": {"user_email": "sec@example.com"}})
    store.write(snapshot, result.document, result.changes)
    assert server.get(PATH) == b"drata: {workspace: main}\n"
    on_branch = server.get(PATH, branch="feature/x")
    assert on_branch is not None
    assert b"sec@example.com" in on_branch
    assert server.commits[-1][0] == "feature/x"
    assert all(p.endswith("?ref=feature%2Fx") for m, p, _ in server.requests if m == "GET")


def test_large_file_is_read_through_the_raw_media_type(server: GitHubContentsServer) -> None:
    server.large_threshold = 16
    text = "aws:\n- account_id: '012345678901'\n  regions: [us-east-1, us-west-2]\n"
    sha = server.put(PATH, text.encode())
    with GitHubStore("owner/name", api_url=server.url, token=TOKEN) as store:
        snapshot = store.read()
    assert snapshot == Snapshot(
        {"aws": [{"account_id": "012345678901", "regions": ["us-east-1", "us-west-2"]}]},
        sha,
        text,
    )
    accepts = [h["Accept"] for h in server.request_headers]
    assert accepts == ["application/vnd.github+json", "application/vnd.github.raw"]


def test_raw_read_racing_a_write_is_transient(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    # The metadata names the old blob; by the raw read the file holds new bytes.
    server.put(PATH, b"drata: {workspace: new}\n")
    old = b"drata: {workspace: old}\n"
    server.fail_next(
        200,
        method="GET",
        body={
            "type": "file",
            "encoding": "none",
            "size": len(old),
            "content": "",
            "sha": blob_sha(old),
        },
    )
    raises(TransientError, store.read)


def test_invalid_utf8_is_refused(store: GitHubStore, server: GitHubContentsServer) -> None:
    server.put(PATH, b"drata:\n  workspace: \xff\n")
    error = raises(UnsafeInput, store.read)
    assert error.line == 2


def test_a_directory_is_not_the_file(store: GitHubStore, server: GitHubContentsServer) -> None:
    server.put(f"{PATH}/inner.yml", b"x: 1\n")
    assert "directory" in str(raises(StoreError, store.read))


def test_missing_branch_is_an_error_not_an_empty_file(
    connect: Callable[..., GitHubStore],
) -> None:
    error = raises(StoreError, connect(branch="nope").read)
    assert "nope" in str(error)


def test_missing_repository_is_an_error_not_an_empty_file(
    connect: Callable[..., GitHubStore],
) -> None:
    error = raises(StoreError, connect(repo="owner/other").read)
    assert "owner/other" in str(error)


# -- guarded writes ---------------------------------------------------------------------


def test_stale_snapshot_conflicts_and_keeps_the_other_writers_content(
    connect: Callable[..., GitHubStore], server: GitHubContentsServer
) -> None:
    server.put(PATH, b"drata: {}\n")
    mine, theirs = connect(), connect()
    stale = mine.read()
    add(theirs, {"drata": {"workspace": "theirs"}})
    after_theirs = server.get(PATH)
    result = merge(stale.document, {"drata": {"workspace": "mine"}})
    error = raises(ShaConflict, lambda: mine.write(stale, result.document, result.changes))
    assert error.expected == stale.sha
    assert server.get(PATH) == after_theirs
    assert mine.read().document == {"drata": {"workspace": "theirs"}}


def test_missing_sha_for_an_existing_file_conflicts(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.put(PATH, b"drata: {workspace: theirs}\n")
    stale = Snapshot({}, None, None)  # read before the file was created
    raises(ShaConflict, lambda: store.write(stale, {"jira": {}}, ()))
    assert server.get(PATH) == b"drata: {workspace: theirs}\n"


def test_file_deleted_since_read_conflicts(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.put(PATH, b"drata: {}\n")
    snapshot = store.read()
    with server.lock:
        del server.files[("main", PATH)]
    raises(ShaConflict, lambda: store.write(snapshot, {"drata": {"workspace": "x"}}, ()))
    assert server.get(PATH) is None


def test_force_writes_over_a_changed_file(store: GitHubStore, server: GitHubContentsServer) -> None:
    server.put(PATH, b"drata: {}\n")
    stale = store.read()
    server.put(PATH, b"drata: {workspace: theirs}\n")
    sha = store.write(stale, {"drata": {"workspace": "forced"}}, (), force=True)
    assert store.read() == Snapshot(
        {"drata": {"workspace": "forced"}}, sha, "drata:\n  workspace: forced\n"
    )


def test_force_creates_a_missing_file(store: GitHubStore, server: GitHubContentsServer) -> None:
    sha = store.write(Snapshot({"x": 1}, "0" * 40, None), {"drata": {}}, (), force=True)
    stored = server.get(PATH)
    assert stored is not None
    assert sha == blob_sha(stored)


def test_concurrent_writers_lose_nothing(
    connect: Callable[..., GitHubStore], server: GitHubContentsServer
) -> None:
    writers = 6
    stores = [connect() for _ in range(writers)]
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            if not any(landed(stores[n], {f"integration{n}": {"n": n}}) for _ in range(50)):
                raise AssertionError(f"writer {n} never got through")
        except BaseException as exc:  # handed to the main thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert stores[0].read().document == {f"integration{n}": {"n": n} for n in range(writers)}


# -- error mapping ----------------------------------------------------------------------


def test_bad_token_is_an_auth_error(connect: Callable[..., GitHubStore]) -> None:
    error = raises(AuthError, connect(token="ghp_wrong").read)
    assert "GITHUB_TOKEN" in str(error)


def test_no_token_sends_no_authorization(
    connect: Callable[..., GitHubStore], server: GitHubContentsServer
) -> None:
    raises(AuthError, connect(token=None).read)
    assert [has_auth for _, _, has_auth in server.requests] == [False]


def test_401_on_write_is_an_auth_error(store: GitHubStore, server: GitHubContentsServer) -> None:
    server.fail_next(401, method="PUT", body={"message": "Bad credentials"})
    raises(AuthError, lambda: store.write(Snapshot({}, None, None), {"drata": {}}, ()))


def test_403_is_permission_denied_with_a_hint(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(
        403, method="PUT", body={"message": "Resource not accessible by personal access token"}
    )
    error = raises(PermissionDenied, lambda: store.write(Snapshot({}, None, None), {"a": 1}, ()))
    assert error.missing_permissions == ("contents: write",)
    assert "contents: write" in str(error)
    assert "Resource not accessible" in str(error)
    assert server.get(PATH) is None


def test_403_rate_limit_is_transient_until_the_reset(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)},
        body={"message": "API rate limit exceeded for user ID 1."},
    )
    error = raises(TransientError, store.read)
    assert error.retry_after == 42.0


def test_secondary_rate_limit_honours_retry_after(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(
        403,
        method="PUT",
        headers={"Retry-After": "7"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    error = raises(TransientError, lambda: store.write(Snapshot({}, None, None), {"a": 1}, ()))
    assert error.retry_after == 7.0
    assert not isinstance(error, OutcomeUnknown)


def test_secondary_rate_limit_without_headers_waits_a_minute(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(429, body={"message": "You have exceeded a secondary rate limit."})
    assert raises(TransientError, store.read).retry_after == 60.0


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_503_is_transient_with_retry_after(
    store: GitHubStore, server: GitHubContentsServer, method: str
) -> None:
    server.fail_next(503, method=method, headers={"Retry-After": "1"})
    if method == "GET":
        error = raises(TransientError, store.read)
    else:
        error = raises(TransientError, lambda: store.write(Snapshot({}, None, None), {"a": 1}, ()))
    assert error.retry_after == 1.0


def test_5xx_with_an_html_body_is_transient(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(502, body=b"<html>Bad gateway</html>")
    assert raises(TransientError, store.read).retry_after is None


def test_redirect_on_put_is_refused_and_not_followed(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.put(PATH, b"drata: {}\n")
    snapshot = store.read()
    server.redirect_next_put(f"{server.url}/elsewhere/contents/{PATH}")
    error = raises(StoreError, lambda: store.write(snapshot, {"drata": {"workspace": "x"}}, ()))
    assert "302" in str(error)
    assert not any(p.startswith("/elsewhere") for p in server.paths_requested())
    assert [m for m, _, _ in server.requests] == ["GET", "PUT"]
    assert server.get(PATH) == b"drata: {}\n"


def test_put_that_times_out_is_outcome_unknown(
    connect: Callable[..., GitHubStore], server: GitHubContentsServer
) -> None:
    store = connect(timeout=0.3)
    server.stall_next_put(10)
    raises(OutcomeUnknown, lambda: store.write(Snapshot({}, None, None), {"drata": {}}, ()))
    assert store.read().document == {"drata": {}}  # it landed: reading again settles it


def test_404_on_put_is_a_store_error(
    connect: Callable[..., GitHubStore], server: GitHubContentsServer
) -> None:
    store = connect(branch="gone")
    error = raises(StoreError, lambda: store.write(Snapshot({}, None, None), {"a": 1}, ()))
    assert "404" in str(error)
    assert not isinstance(error, ShaConflict)


def test_other_422_is_a_store_error_with_githubs_message(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(422, method="PUT", body={"message": "Invalid request.\n\npath is too long"})
    error = raises(StoreError, lambda: store.write(Snapshot({}, None, None), {"a": 1}, ()))
    assert "path is too long" in str(error)


def test_422_about_a_mismatched_sha_conflicts(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(422, method="PUT", body={"message": "sha does not match"})
    raises(ShaConflict, lambda: store.write(Snapshot({}, "0" * 40, None), {"a": 1}, ()))


def test_branch_protection_is_not_a_conflict(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(
        409,
        method="PUT",
        body={
            "message": "Repository rule violations found\n\nChanges must be made through a pull request."
        },
    )
    error = raises(StoreError, lambda: store.write(Snapshot({}, None, None), {"a": 1}, ()))
    assert not isinstance(error, ShaConflict)
    assert "pull request" in str(error)


def test_unexpected_status_names_status_and_message(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(418, body={"message": "I'm a teapot"})
    error = raises(StoreError, store.read)
    assert "418" in str(error)
    assert "teapot" in str(error)


def test_githubs_message_never_echoes_the_token(
    store: GitHubStore, server: GitHubContentsServer
) -> None:
    server.fail_next(400, body={"message": f"bad header Bearer {TOKEN}"})
    assert "<redacted>" in str(raises(StoreError, store.read))


# -- construction -----------------------------------------------------------------------


@pytest.mark.parametrize("repo", ["name", "owner/name/extra", "/name", "owner/", "owner/.."])
def test_repo_must_be_owner_slash_name(repo: str) -> None:
    error = raises(StoreError, lambda: GitHubStore(repo, token=TOKEN))
    assert "owner/name" in str(error)


@pytest.mark.parametrize("path", ["", "a//b", "../x.yml", "a/./b"])
def test_path_must_be_inside_the_repository(path: str) -> None:
    raises(StoreError, lambda: GitHubStore("owner/name", path, token=TOKEN))


@pytest.mark.parametrize(
    "api_url", ["http://api.github.com", "ftp://example.com", "https://u:p@ghe.example.com/api"]
)
def test_api_url_must_be_safe_for_the_token(api_url: str) -> None:
    raises(StoreError, lambda: GitHubStore("owner/name", token=TOKEN, api_url=api_url))


def test_repr_shows_where_not_the_token() -> None:
    with GitHubStore("acme/cfg", branch="dev", token=TOKEN) as store:
        shown = repr(store)
    assert shown == (
        "GitHubStore(repo='acme/cfg', path='.jit/jit-integration.yml', branch='dev', "
        "api_url='https://api.github.com')"
    )
    assert TOKEN not in shown
    assert TOKEN not in repr(vars(store))


def test_a_session_passed_in_is_left_open(server: GitHubContentsServer) -> None:
    import requests

    with requests.Session() as session:
        with GitHubStore("owner/name", api_url=server.url, token=TOKEN, session=session) as store:
            store.read()
        store.read()  # still usable: the caller owns it
