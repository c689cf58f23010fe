"""A catalogue of hostile inputs, each tried the way a user would meet it, and what happened.

Every :class:`Case` feeds one bad input to safemerge through a public entry
point, then checks that nothing was written:

- ``fragment text``: ``parse_fragment(text)`` then ``apply`` into a local file
  (the parse refuses; the file's bytes are compared before and after);
- ``local file``: the integration file on disk holds the text; ``apply`` a good
  fragment through ``FileStore``;
- ``GitHub file``: the same file in the GitHub contents test server, through
  ``GitHubStore`` (no commit may be made);
- ``Jit API answer`` / ``GitHub API answer``: the server's answer to the read is
  hostile (through a fault proxy, or the GitHub test server's injected answer); the
  store's ``read`` must refuse it, since that read is the first thing ``apply`` does
  and ``apply`` does not retry these errors;
- ``fragment value``: a Python value handed to ``apply`` (``MemoryStore``);
- ``schema``: a schema directory handed to ``SchemaRegistry`` (no socket may
  be opened while it is read).

:func:`attempt` runs one case and returns an :class:`Attempt`; the reliability
tests assert on it, and ``scripts/reliability_report.py`` times it and measures
its peak memory (never the tests: timing asserts make flaky CI).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemerge import (
    DELETE,
    FileStore,
    GitHubStore,
    JitStore,
    MemoryStore,
    PolicyError,
    Retry,
    SafeMergeError,
    SchemaRegistry,
    StoreError,
    UnsafeInput,
    apply,
)
from tests.support.fault_proxy import Fault
from tests.support.github_server import GitHubContentsServer
from tests.support.recording_proxy import recording_proxy
from tests.support.servers import jit_server_thread

__all__ = ["CASES", "Attempt", "Case", "attempt"]

GOOD = {"drata": {"user_email": "security@example.com", "workspace": "production"}}
GOOD_FILE = "drata:\n  user_email: security@example.com\n  workspace: production\n"
ADD = {"aws": [{"account_id": "210987654321", "regions": ["us-east-1"], "type": "account"}]}
GH_TOKEN = "ghp_HostileInputsT0kenValue0123456789"
GH_PATH = ".jit/jit-integration.yml"
MIB = 1024 * 1024


def _no_sleep(seconds: float) -> None:
    del seconds


NO_WAIT = Retry(sleep=_no_sleep, random=lambda: 0.5)


@dataclass
class Attempt:
    """What one hostile input led to."""

    error: BaseException | None
    written: bool  # something was written (file bytes, a commit, a PUT, a store write)
    side_effect: bool = False  # something the input asked for happened (a file, a socket)

    def where(self) -> str:
        """``line N`` and/or ``at /pointer``, as the error names them ('' if it names neither)."""
        if self.error is None:
            return ""
        parts = []
        line = getattr(self.error, "line", None)
        if line is not None:
            parts.append(f"line {line}")
        pointer = getattr(self.error, "pointer", None)
        if pointer:
            parts.append(f"at {pointer}")
        return ", ".join(parts)

    def message(self) -> str:
        if self.error is None:
            return "(accepted)"
        text = getattr(self.error, "message", None) or str(self.error)
        return " ".join(str(text).split())


@dataclass(frozen=True)
class Case:
    """One hostile input: where it enters, what it is, and what must come of it."""

    target: str
    kind: str
    run: Callable[[Path], Attempt]
    expect: type[BaseException]
    line: int | None = None  # the line the error must name (text inputs)
    pointer: str | None = None  # the pointer the error must name (data inputs)
    words: str | None = None  # a phrase the message must hold (server answers: what was read)
    gap: str | None = None  # a known gap: the reason the test is a strict xfail

    @property
    def id(self) -> str:
        return f"{self.target}: {self.kind}"


# -- the texts ------------------------------------------------------------------------------


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The classic: ``width ** levels`` strings from a few hundred bytes of aliases."""
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [
        f"lol{n}: &lol{n} [" + ", ".join([f"*lol{n - 1}"] * width) + "]" for n in range(1, levels)
    ]
    lines.append(f"drata: {{workspace: *lol{levels - 1}}}")
    return "\n".join(lines) + "\n"


def many_aliases(n: int = 10_001) -> str:
    return "s: &s x\nlist: [" + ", ".join(["*s"] * n) + "]\n"


@dataclass(frozen=True)
class Text:
    kind: str
    text: str | bytes
    line: int | None
    json_only: bool = False  # a JSON-only problem: YAML reads the same bytes differently


TEXTS: tuple[Text, ...] = (
    Text("invalid YAML (unclosed flow list)", "drata:\n  workspace: [production\n", 3),
    Text(
        "invalid JSON (unclosed object)", '{"drata": {"workspace": "production"}', 1, json_only=True
    ),
    Text("invalid UTF-8", b"drata:\n  workspace: caf\xe9\n", 2),
    Text("a top-level list", "- drata\n- aws\n", 1),
    Text("a top-level string", "just some words\n", 1),
    Text(
        "duplicate keys",
        "drata:\n  workspace: a\n  user_email: a@b.cc\n  workspace: b\n",
        4,
    ),
    Text(
        "duplicate keys (JSON)",
        '{"drata": {"workspace": "a",\n "workspace": "b"}}',
        2,
        json_only=True,
    ),
    Text("a number as a key", "drata:\n  1: one\n", 2),
    Text("a list as a key", "drata:\n  ? [a, b]\n  : c\n", 2),
    Text("billion laughs (9 levels x 9 aliases)", billion_laughs(), 7),  # where 5M is passed
    Text("10,000 aliases to one scalar", many_aliases(), 2),
    Text("10,000-deep nesting (lists)", "drata: " + "[" * 10_000 + "]" * 10_000 + "\n", 1),
    Text(
        "10,000-deep nesting (JSON objects)",
        '{"drata": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001,
        1,
    ),
    Text("!!python/object/apply tag", "drata: !!python/object/apply:os.system ['true']\n", 1),
    Text("!!python/name tag", "drata: !!python/name:os.system\n", 1),
    Text("!ruby/object tag", "drata: !ruby/object:Gem::Installer {i: x}\n", 1),
    Text("a custom local tag", "drata:\n  workspace: !vault secret/prod\n", 2),
    Text("!!binary", "drata:\n  workspace: !!binary aGVsbG8=\n", 2),
    Text("NaN (.nan)", "drata:\n  score: .nan\n", 2),
    Text("Infinity (-.inf)", "drata:\n  score: -.inf\n", 2),
    Text("NaN (JSON)", '{"drata": {"score": NaN}}', 1, json_only=True),
    Text("Infinity (JSON)", '{"drata": {"score": Infinity}}', 1, json_only=True),
    Text("a merge key (<<)", "base: &b {workspace: x}\ndrata:\n  <<: *b\n", 3),
    Text("two documents in one stream", "drata: {}\n---\naws: []\n", 2),
    Text("a NUL character", "drata:\n  workspace: a\x00b\n", 2),
    Text("a %YAML 1.1 directive", "%YAML 1.1\n---\ndrata: {workspace: yes}\n", 1),
)


def _oversized() -> str:
    return "drata:\n  workspace: '" + "x" * (16 * MIB + 1) + "'\n"


# -- running one case -----------------------------------------------------------------------


@contextmanager
def _no_sockets() -> Iterator[list[Any]]:
    """Record (and refuse) every outgoing connection while the block runs."""
    tried: list[Any] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        tried.append(address)
        raise OSError("test: no network while reading a schema")

    socket.socket.connect = connect  # type: ignore[method-assign, assignment]
    try:
        yield tried
    finally:
        socket.socket.connect = real  # type: ignore[method-assign]


def _catch(call: Callable[[], object]) -> BaseException | None:
    try:
        call()
    except BaseException as exc:  # recorded: the tests decide what was acceptable
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return exc
    return None


def _fragment_text(text: str | bytes) -> Callable[[Path], Attempt]:
    def run(workdir: Path) -> Attempt:
        from safemerge._parse import parse_fragment

        path = workdir / "jit-integration.yml"
        path.write_text(GOOD_FILE)
        before = path.read_bytes()
        error = _catch(lambda: apply(FileStore(path), parse_fragment(text), retry=NO_WAIT))
        return Attempt(error, path.read_bytes() != before)

    return run


def _local_file(text: str | bytes) -> Callable[[Path], Attempt]:
    def run(workdir: Path) -> Attempt:
        path = workdir / "jit-integration.yml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        before = path.read_bytes()
        error = _catch(lambda: apply(FileStore(path), ADD, retry=NO_WAIT))
        return Attempt(error, path.read_bytes() != before)

    return run


def _github_file(text: str | bytes) -> Callable[[Path], Attempt]:
    def run(workdir: Path) -> Attempt:
        del workdir
        data = text if isinstance(text, bytes) else text.encode()
        with GitHubContentsServer(token=GH_TOKEN) as server:
            server.put(GH_PATH, data)
            with GitHubStore("owner/name", token=GH_TOKEN, api_url=server.url) as store:
                error = _catch(store.read)
            written = bool(server.commits) or server.get(GH_PATH) != data
        return Attempt(error, written)

    return run


def _jit_answer(
    body: str | bytes, headers: dict[str, str] | None = None
) -> Callable[[Path], Attempt]:
    def run(workdir: Path) -> Attempt:
        path = workdir / "jit-integration.yml"
        path.write_text(GOOD_FILE)
        with jit_server_thread(path) as server, recording_proxy(server.url) as proxy:
            proxy.inject("GET", "hostile answer", Fault.reply(200, body, headers or {}))
            with JitStore(proxy.url, token="t0ken", timeout=30) as store:
                # apply() reads first and does not retry these: the read is where it must stop.
                error = _catch(store.read)
            written = server.writes > 0
        return Attempt(error, written)

    return run


def _github_answer(status: int, body: Any) -> Callable[[Path], Attempt]:
    def run(workdir: Path) -> Attempt:
        del workdir
        with GitHubContentsServer(token=GH_TOKEN) as server:
            server.put(GH_PATH, GOOD_FILE.encode())
            server.fail_next(status, body=body, method="GET")
            with GitHubStore("owner/name", token=GH_TOKEN, api_url=server.url) as store:
                error = _catch(store.read)
            written = bool(server.commits)
        return Attempt(error, written)

    return run


def _fragment_value(value: Any) -> Callable[[Path], Attempt]:
    def run(workdir: Path) -> Attempt:
        del workdir
        store = MemoryStore(GOOD)
        error = _catch(lambda: apply(store, value, retry=NO_WAIT))
        return Attempt(error, store.writes > 0)

    return run


def _schema(schema: dict[str, Any]) -> Callable[[Path], Attempt]:
    def run(workdir: Path) -> Attempt:
        folder = workdir / "schemas"
        folder.mkdir(exist_ok=True)
        (folder / "drata.schema.json").write_text(json.dumps(schema))
        with _no_sockets() as tried:
            error = _catch(lambda: SchemaRegistry(folder))
        return Attempt(error, False, side_effect=bool(tried))

    return run


def _deep_value(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    top = value
    for _ in range(depth):
        value["a"] = {}
        value = value["a"]
    return {"drata": top}


def _gh_file_object(**fields: Any) -> dict[str, Any]:
    base = {"type": "file", "name": "jit-integration.yml", "path": GH_PATH, "size": 10}
    base.update(fields)
    return base


def _cases() -> list[Case]:
    cases: list[Case] = []
    for t in TEXTS:
        cases.append(Case("fragment text", t.kind, _fragment_text(t.text), UnsafeInput, t.line))
        if t.json_only:
            continue
        cases.append(Case("local file", t.kind, _local_file(t.text), UnsafeInput, t.line))
        cases.append(Case("GitHub file", t.kind, _github_file(t.text), UnsafeInput, t.line))
    big = "oversized (16 MiB + 1 byte)"
    cases += [
        Case("fragment text", big, lambda w: _fragment_text(_oversized())(w), UnsafeInput),
        Case("local file", big, lambda w: _local_file(_oversized())(w), UnsafeInput),
        Case("GitHub file", big, lambda w: _github_file(_oversized())(w), UnsafeInput),
    ]
    sha = "a" * 40
    cases += [
        Case(
            "Jit API answer",
            "HTML instead of JSON",
            _jit_answer("<html>Service Unavailable</html>", {"Content-Type": "text/html"}),
            StoreError,
            words="not JSON",
        ),
        Case(
            "Jit API answer",
            "a JSON body without content",
            _jit_answer(json.dumps({"file_sha": sha, "status": "valid"})),
            StoreError,
            words="no 'content'",
        ),
        Case(
            "Jit API answer",
            "a 200 with an empty body",
            _jit_answer(b""),
            StoreError,
            words="empty body",
        ),
        Case(
            "Jit API answer",
            "content is a list",
            _jit_answer(json.dumps({"content": ["drata"], "file_sha": sha})),
            UnsafeInput,
            words="not a mapping",
        ),
        Case(
            "Jit API answer",
            "NaN in content",
            _jit_answer('{"content": {"drata": {"score": NaN}}, "file_sha": "' + sha + '"}'),
            StoreError,
            words="not JSON",
        ),
        Case(
            "Jit API answer",
            "10,000-deep content",
            _jit_answer(
                '{"content": '
                + '{"a": ' * 10_000
                + "1"
                + "}" * 10_000
                + ', "file_sha": "'
                + sha
                + '"}'
            ),
            SafeMergeError,
            words="reading the integration file",
        ),
        Case(
            "Jit API answer",
            "file_sha is a number",
            _jit_answer(json.dumps({"content": {}, "file_sha": 5})),
            StoreError,
            words="file_sha",
        ),
        Case(
            "Jit API answer",
            "duplicate keys in content",
            _jit_answer(
                '{"content": {"drata": {"workspace": "a", "workspace": "b"}}, "file_sha": "'
                + sha
                + '"}'
            ),
            UnsafeInput,
            words="twice",
        ),
        Case(
            "Jit API answer",
            "a 20 MiB answer",
            _jit_answer(
                '{"content": {"drata": {"workspace": "'
                + "x" * (20 * MIB)
                + '"}}, "file_sha": "'
                + sha
                + '"}'
            ),
            UnsafeInput,
            words="refused unread",
        ),
    ]
    cases += [
        Case(
            "GitHub API answer",
            "HTML instead of JSON",
            _github_answer(200, b"<html>oops</html>"),
            StoreError,
            words="not JSON",
        ),
        Case(
            "GitHub API answer",
            "a file object without content",
            _github_answer(200, _gh_file_object(sha=sha)),
            StoreError,
            words="encoding",
        ),
        Case(
            "GitHub API answer",
            "a 200 with an empty body",
            _github_answer(200, b""),
            StoreError,
            words="empty body",
        ),
        Case(
            "GitHub API answer",
            "content that is not base64",
            _github_answer(200, _gh_file_object(sha=sha, encoding="base64", content="@@@")),
            StoreError,
            words="not base64",
        ),
        Case(
            "GitHub API answer",
            "content that does not match its sha",
            _github_answer(
                200, _gh_file_object(sha=sha, encoding="base64", content="ZHJhdGE6IHt9Cg==")
            ),
            StoreError,
            words="does not match",
        ),
        Case(
            "GitHub API answer",
            "no valid blob sha",
            _github_answer(200, _gh_file_object(sha="../../etc", encoding="base64", content="")),
            StoreError,
            words="sha",
        ),
    ]
    values: list[tuple[str, Any, type[BaseException], str | None, str | None]] = [
        ("NaN", {"drata": {"score": float("nan")}}, UnsafeInput, "/drata/score", None),
        ("Infinity", {"drata": {"score": float("inf")}}, UnsafeInput, "/drata/score", None),
        ("a number as a key", {"drata": {1: "one"}}, UnsafeInput, "/drata", None),
        ("None as a key", {"drata": {None: "x"}}, UnsafeInput, "/drata", None),
        ("DELETE as a key", {"drata": {DELETE: "x"}}, UnsafeInput, "/drata", None),
        ("a set", {"drata": {"workspace": {"a", "b"}}}, UnsafeInput, "/drata/workspace", None),
        ("bytes", {"drata": {"workspace": b"prod"}}, UnsafeInput, "/drata/workspace", None),
        (
            "an arbitrary object",
            {"drata": {"workspace": object()}},
            UnsafeInput,
            "/drata/workspace",
            None,
        ),
        ("a complex number", {"drata": {"score": 1j}}, UnsafeInput, "/drata/score", None),
        ("10,000-deep nesting", _deep_value(10_000), UnsafeInput, None, None),
        ("a list, not a mapping", [GOOD], UnsafeInput, None, None),
        (
            "an unknown $patch directive",
            {"drata": {"$patch": "replace"}},
            PolicyError,
            "/drata/$patch",
            None,
        ),
        (
            "an int of 5,001 digits",
            {"drata": {"workspace": 10**5000}},
            UnsafeInput,
            "/drata/workspace",
            None,
        ),
        (
            "an int of 5,001 digits in a new integration",
            {"aws": [{"account_id": 10**5000}]},
            UnsafeInput,
            "/aws/0/account_id",
            None,
        ),
    ]
    for kind, value, expect, pointer, gap in values:
        cases.append(
            Case("fragment value", kind, _fragment_value(value), expect, None, pointer, gap=gap)
        )
    ref = "https://schemas.example.com/evil.json"
    cases += [
        Case(
            "schema",
            "a remote $ref",
            _schema({"type": "object", "properties": {"workspace": {"$ref": ref}}}),
            UnsafeInput,
            words="$ref",
        ),
        Case(
            "schema",
            "a remote $ref through $id",
            _schema({"$id": "https://schemas.example.com/", "$ref": "evil.json"}),
            UnsafeInput,
            words="$ref",
        ),
        Case(
            "schema",
            "a file:// $ref",
            _schema({"$ref": "file:///etc/passwd"}),
            UnsafeInput,
            words="$ref",
        ),
        Case(
            "schema",
            "a $dynamicRef elsewhere",
            _schema({"$dynamicRef": "https://schemas.example.com/x#meta"}),
            UnsafeInput,
            words="outside the registry",
        ),
    ]
    return cases


CASES: tuple[Case, ...] = tuple(_cases())


def attempt(case: Case, workdir: Path) -> Attempt:
    """Run ``case`` in ``workdir`` (an empty folder)."""
    return case.run(workdir)
