"""The ``safemerge`` command line: the edge where strings become policies.

::

    safemerge get      [--target T] [--output json]          print the current file
    safemerge plan     FRAGMENT [--target T] [policy]         what apply would do; writes nothing
    safemerge apply    FRAGMENT [--target T] [policy]         merge, validate, write guarded by the SHA
    safemerge validate [FILE] [--schemas DIR] [--strict]      check a whole file against the schemas
    safemerge schemas  [NAME]                                 list the schemas, or print one
    safemerge serve    --file FILE [--port N] [--port-file F] the Jit API over a local file

Built on the public API (plus the local server). Strings are turned into
:class:`Policy`, stores and a :class:`SchemaRegistry` once, here; everything
after that is the library's. Output goes to injected streams; ``--output
json`` prints exactly one JSON object on stdout whatever happens.

Two rules hold for every byte this module prints: a value under a
secret-looking key (``client_secret``, ``api_token`` ...; the same rule as
:func:`safemerge._errors.show_value`) is shown as ``<redacted>``, and the
credentials found in the environment are scrubbed from any text that would
still carry them.
"""

from __future__ import annotations

import argparse
import difflib
import enum
import io
import json
import logging
import os
import pickle
import re
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

from . import (
    ApplyResult,
    AuthError,
    Change,
    Conflict,
    ConflictPolicy,
    FileStore,
    GitHubStore,
    JitStore,
    ListPolicy,
    MergeConflict,
    Op,
    PermissionDenied,
    Policy,
    PolicyError,
    RetriesExhausted,
    Retry,
    SafeMergeError,
    SchemaRegistry,
    ShaConflict,
    Snapshot,
    Store,
    StoreError,
    TransientError,
    UnsafeInput,
    ValidationFailed,
    __version__,
    apply,
    validate,
)
from ._errors import REDACTED, is_secret_pointer, redact, show_value
from ._parse import parse_fragment, parse_yaml
from ._pointer import join, unescape

__all__ = ["ExitCode", "exit_code_for", "main", "main_exit"]

log = logging.getLogger("safemerge")


# Environment variables whose values are credentials: never printed, and
# scrubbed from any text on its way out.
_CREDENTIAL_VARS = ("JIT_API_TOKEN", "JIT_CLIENT_SECRET", "GITHUB_TOKEN", "SAFEMERGE_SERVE_TOKEN")
_MIN_SCRUB = 4  # shorter "credentials" would scrub ordinary words out of the output


class ExitCode(enum.IntEnum):
    """What ``safemerge`` exits with; distinct, so scripts can tell the cases apart."""

    OK = 0
    """Success, including "nothing to do"."""
    MERGE_FAILED = 1
    """A merge conflict, a policy the merge cannot follow, or a validation failure: nothing written."""
    USAGE = 2
    """Bad arguments: an unknown option, a bad --list rule, no target, an unreadable input file."""
    WRITE_CONFLICTS = 3
    """Other writers kept changing the file: every guarded write lost the race (nothing written)."""
    AUTH = 4
    """Credentials missing, refused (401) or lacking a permission (403)."""
    STORE = 5
    """The network or the store failed, or kept failing after retries."""
    UNSAFE_INPUT = 6
    """Input refused before use: invalid YAML/JSON, duplicate keys, tags, too large or too deep."""
    INTERNAL = 70
    """A bug in safemerge (EX_SOFTWARE); please report it with the output of -v."""


_EXIT_TEXT = {
    ExitCode.OK: "success, or nothing to do",
    ExitCode.MERGE_FAILED: "merge conflict, policy error or validation failure (nothing written)",
    ExitCode.USAGE: "usage error (bad option, bad --list rule, no target, unreadable input)",
    ExitCode.WRITE_CONFLICTS: "write conflicts exhausted: the file kept changing (nothing written)",
    ExitCode.AUTH: "credentials missing, refused or lacking a permission",
    ExitCode.STORE: "network or store failure (after retries)",
    ExitCode.UNSAFE_INPUT: "unsafe or invalid input refused (YAML/JSON, tags, size, depth)",
    ExitCode.INTERNAL: "internal error (a bug: please report it)",
}


class _UsageError(Exception):
    """A problem with how safemerge was called; ``code`` is USAGE, or AUTH for a missing credential."""

    def __init__(self, message: str, *, hint: str | None = None, code: ExitCode = ExitCode.USAGE):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an error that ended a command.

    >>> exit_code_for(RetriesExhausted("gave up", attempts=3, last_error=ShaConflict()))
    <ExitCode.WRITE_CONFLICTS: 3>
    """
    if isinstance(exc, _UsageError):
        return exc.code
    if isinstance(exc, (MergeConflict, ValidationFailed, PolicyError)):
        return ExitCode.MERGE_FAILED
    if isinstance(exc, UnsafeInput):
        return ExitCode.UNSAFE_INPUT
    if isinstance(exc, (AuthError, PermissionDenied)):
        return ExitCode.AUTH
    if isinstance(exc, RetriesExhausted):
        if isinstance(exc.last_error, ShaConflict):
            return ExitCode.WRITE_CONFLICTS
        return ExitCode.STORE
    if isinstance(exc, ShaConflict):
        return ExitCode.WRITE_CONFLICTS
    if isinstance(exc, StoreError):
        return ExitCode.STORE
    if isinstance(exc, SafeMergeError):
        return ExitCode.MERGE_FAILED
    return ExitCode.INTERNAL


# -- redaction ------------------------------------------------------------------------------------


def _show(value: Any, pointer: str) -> str:
    return show_value(value, pointer)


def _change_text(change: Change) -> str:
    if change.op is Op.ADD:
        return f"+ {change.path}: {_show(change.new, change.path)}"
    if change.op is Op.REMOVE:
        return f"- {change.path}: {_show(change.old, change.path)}"
    return f"~ {change.path}: {_show(change.old, change.path)} -> {_show(change.new, change.path)}"


def _conflict_text(conflict: Conflict) -> str:
    return (
        f"{conflict.path}: file has {_show(conflict.base, conflict.path)}, "
        f"fragment has {_show(conflict.fragment, conflict.path)}"
    )


# -- output ---------------------------------------------------------------------------------------

_STYLES = {"add": "32", "remove": "31", "change": "33", "hunk": "36", "header": "1"}


class _Console:
    """Where output goes: stdout for results, stderr for errors, warnings and logs.

    Every line is scrubbed of the credentials in ``secrets`` before it is written.
    """

    def __init__(self, out: TextIO, err: TextIO, *, color: bool, secrets: Sequence[str]) -> None:
        self.out = out
        self.err = err
        self.color = color
        # Longest first, so that a secret containing another is replaced whole.
        found = {s for s in secrets if len(s) >= _MIN_SCRUB}
        found |= {json.dumps(s)[1:-1] for s in found}  # as it would appear inside JSON text
        self.secrets = sorted(found, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def paint(self, text: str, style: str) -> str:
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if self.color else text

    def print(self, text: str = "") -> None:
        self.out.write(self.scrub(text) + "\n")

    def note(self, text: str) -> None:
        self.err.write(self.scrub(text) + "\n")

    def warn(self, text: str) -> None:
        self.note(f"safemerge: warning: {text}")


def _wants_color(choice: str, out: TextIO, env: Mapping[str, str]) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    # https://no-color.org: NO_COLOR set and not empty turns colour off.
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


class _ScrubFilter(logging.Filter):
    def __init__(self, console: _Console) -> None:
        super().__init__()
        self.console = console

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.console.scrub(record.getMessage())
        record.args = None
        return True


@contextmanager
def _logging(verbosity: int, console: _Console) -> Iterator[None]:
    """-v: INFO from the ``safemerge`` logger on stderr; -vv: DEBUG. Scrubbed like everything else."""
    if verbosity <= 0:
        yield
        return
    handler = logging.StreamHandler(console.err)
    handler.setFormatter(logging.Formatter("safemerge: %(levelname)s: %(message)s"))
    handler.addFilter(_ScrubFilter(console))
    level = logging.DEBUG if verbosity > 1 else logging.INFO
    previous = log.level
    log.addHandler(handler)
    log.setLevel(level)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)


def _yaml_text(data: Mapping[str, Any]) -> str:
    """YAML for plain data, in the style of the integration file (2-space indent, dashes flush)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    out = io.StringIO()
    yaml.dump(dict(data), out)
    return out.getvalue()


def _redacted_text(raw: str, document: Mapping[str, Any], tree: Any) -> str | None:
    """The file's own text, byte for byte, but for the values under secret-looking keys.

    Each such value is replaced where it stands in the text (its span in the
    composed node tree), so comments, quoting and layout stay. ``None`` when the
    text cannot be composed (the caller renders the document instead).
    """
    if redact(document) == document:
        return raw  # nothing to hide
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

    root = tree
    if not isinstance(root, Node):
        try:
            root = YAML(typ="rt", pure=True).compose(raw)
        except Exception:  # any failure: fall back to rendering the (parsed) document
            return None
    spans: list[tuple[int, int]] = []
    seen: set[int] = set()  # an alias is its anchor's very node: walk each node once
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        node, pointer = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                here = join(pointer, str(key.value))
                if is_secret_pointer(here):
                    if redact(getattr(value, "value", None), here) is REDACTED:
                        spans.append((value.start_mark.index, value.end_mark.index))
                else:
                    stack.append((value, here))
        elif isinstance(node, SequenceNode):
            stack.extend((item, join(pointer, i)) for i, item in enumerate(node.value))
    pieces, done = [], 0
    for start, end in sorted(spans):
        if start < done or end > len(raw):
            continue  # inside a span already replaced (an alias), or not this text's positions
        pieces += [raw[done:start], REDACTED]
        done = end
    pieces.append(raw[done:])
    return "".join(pieces)


_PLAIN = re.compile(r"(?!<<)[A-Za-z_$</][^\x00-\x1f\x7f:#'\"]*")
_NOT_PLAIN = frozenset({"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"})


def _scalar(value: Any) -> str:
    """One YAML scalar: plain where it reads back as the same string, else quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text == text.strip() and text.lower() not in _NOT_PLAIN:
        return text
    if text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text, ensure_ascii=False)  # a YAML double-quoted scalar too


def _yaml_lines(value: Mapping[str, Any]) -> list[str]:
    """Block-style YAML lines for plain data, in the file's style, for diffs.

    ~20x faster than ruamel's pure-Python emitter, which matters on a 5,000-account
    ``/aws``: the diff renders the changed integrations twice.
    """
    lines: list[str] = []

    def mapping(node: Mapping[str, Any], pad: str, first: str) -> None:
        for i, (key, child) in enumerate(node.items()):
            lead = first if i == 0 else pad
            entry(f"{lead}{_scalar(key)}:", child, pad, nested=pad + "  ", dash=pad)

    def sequence(node: Sequence[Any], pad: str) -> None:
        for child in node:
            if isinstance(child, Mapping) and child:
                mapping(child, pad + "  ", first=f"{pad}- ")
            elif isinstance(child, (list, tuple)) and child:
                lines.append(f"{pad}-")
                sequence(child, pad + "  ")
            else:
                lines.append(f"{pad}- {_leaf(child)}")

    def entry(head: str, child: Any, pad: str, *, nested: str, dash: str) -> None:
        if isinstance(child, Mapping) and child:
            lines.append(head)
            mapping(child, nested, first=nested)
        elif isinstance(child, (list, tuple)) and child:
            lines.append(head)
            sequence(child, dash)
        else:
            lines.append(f"{head} {_leaf(child)}")

    def _leaf(child: Any) -> str:
        if isinstance(child, Mapping):
            return "{}"
        if isinstance(child, (list, tuple)):
            return "[]"
        return _scalar(child)

    mapping(value, "", first="")
    return lines


# -- targets ----------------------------------------------------------------------------------------

_TARGET_HELP = (
    "a Jit API URL (https://api.jit.io, https://api.eu.jit.io, or a local server such as "
    "http://127.0.0.1:8750), github:OWNER/REPO[/PATH][@BRANCH], or a file path"
)


@dataclass(frozen=True)
class _Target:
    kind: str  # "jit" | "github" | "file"
    label: str  # how it is shown: never carries a credential
    open: Callable[[], Store] = field(repr=False)


def _target(text: str | None, env: Mapping[str, str]) -> _Target:
    """Turn ``--target`` (or ``$SAFEMERGE_TARGET``) into a store, checking credentials first."""
    text = text or env.get("SAFEMERGE_TARGET") or ""
    if not text:
        raise _UsageError(f"no target: pass --target or set SAFEMERGE_TARGET to {_TARGET_HELP}")
    if text.startswith(("https://", "http://")):
        return _jit_target(text, env)
    if text.startswith("github:"):
        return _github_target(text, env)
    if "://" in text:
        raise _UsageError(
            f"unknown kind of target {text.split('://', 1)[0]}://...", hint=_TARGET_HELP
        )
    path = text.removeprefix("file:")
    return _Target("file", path, lambda: FileStore(path))


def _jit_target(text: str, env: Mapping[str, str]) -> _Target:
    parts = urlsplit(text)
    if parts.username or parts.password:
        raise _UsageError(
            "the target URL carries credentials; refusing to use (or print) it",
            hint="put the token in JIT_API_TOKEN, or JIT_CLIENT_ID and JIT_CLIENT_SECRET",
        )
    if not parts.hostname:
        raise _UsageError("the target URL has no host", hint=_TARGET_HELP)
    if parts.query or parts.fragment:
        raise _UsageError("a Jit API base URL has no query or fragment", hint=_TARGET_HELP)
    label = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
    token = env.get("JIT_API_TOKEN", "")
    client_id, secret = env.get("JIT_CLIENT_ID", ""), env.get("JIT_CLIENT_SECRET", "")
    if bool(client_id) != bool(secret) and not token:
        missing = "JIT_CLIENT_SECRET" if client_id else "JIT_CLIENT_ID"
        raise _UsageError(
            f"JIT_CLIENT_ID and JIT_CLIENT_SECRET go together: set {missing} too (or JIT_API_TOKEN)",
            code=ExitCode.AUTH,
        )
    if not token and not client_id and parts.scheme == "https":
        # Before any request: the API answers 401 anyway, and we can say what to set.
        # (Plain http is for a local `safemerge serve`, which may run without a token.)
        raise _UsageError(
            f"no Jit credentials for {label}: set JIT_API_TOKEN, or JIT_CLIENT_ID and JIT_CLIENT_SECRET",
            code=ExitCode.AUTH,
        )

    def open_store() -> Store:
        # "" rather than None: the store must not fall back to os.environ behind our env's back.
        return JitStore(
            text, token=token or "", client_id=client_id or "", client_secret=secret or ""
        )

    return _Target("jit", label, open_store)


def _github_target(text: str, env: Mapping[str, str]) -> _Target:
    spec = text.removeprefix("github:")
    spec, at, branch = spec.rpartition("@") if "@" in spec else (spec, "", "")
    parts = [p for p in spec.split("/") if p]
    if len(parts) < 2 or (at and not branch):
        raise _UsageError(
            f"a GitHub target is github:OWNER/REPO[/PATH][@BRANCH], not {text!r}",
            hint="e.g. github:acme/jit-config or github:acme/jit-config/.jit/jit-integration.yml@main",
        )
    repo, path = "/".join(parts[:2]), "/".join(parts[2:])
    token = env.get("GITHUB_TOKEN", "")
    if not token:
        raise _UsageError(
            f"no GitHub credentials for {repo}: set GITHUB_TOKEN (contents: write on the repository)",
            code=ExitCode.AUTH,
        )
    api_url = env.get("GITHUB_API_URL") or "https://api.github.com"
    label = f"github:{repo}" + (f"/{path}" if path else "") + (f"@{branch}" if branch else "")

    def open_store() -> Store:
        if path:
            return GitHubStore(repo, path, branch=branch or None, token=token, api_url=api_url)
        return GitHubStore(repo, branch=branch or None, token=token, api_url=api_url)

    return _Target("github", label, open_store)


@contextmanager
def _opened(target: _Target) -> Iterator[Store]:
    try:
        store = target.open()
    except SafeMergeError as exc:
        # Refused while being configured (a plain-http URL elsewhere, a bad repository name ...).
        raise _UsageError(exc.message, hint=exc.hint) from None
    try:
        yield store
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


class _Recorder:
    """A store that remembers what it read, so the plan can diff the file the write started from.

    ``apply`` merges into the snapshot it is handed, so the copy is taken before
    handing it over.
    """

    def __init__(self, store: Store, label: str) -> None:
        self.store = store
        self.label = label
        self.reads = 0
        self.first_sha: str | None = None
        self.base: dict[str, Any] | None = None  # what the last write started from
        self._last: tuple[Snapshot, dict[str, Any]] | None = None
        self.snapshot: Snapshot | None = None  # the last one read, as the store gave it

    def read(self) -> Snapshot:
        snapshot = self.snapshot = self.store.read()
        self.reads += 1
        if self.reads == 1:
            self.first_sha = snapshot.sha
        self._last = (snapshot, _copy(snapshot.document))
        log.info("read %s: sha %s", self.label, snapshot.sha or "(none)")
        return snapshot

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str | None:
        if self._last is not None and self._last[0] is snapshot:
            self.base = self._last[1]
        log.info(
            "write %s: %d change(s), guarded by sha %s",
            self.label,
            len(changes),
            "(none: forced)" if force else snapshot.sha or "(none: the remote has no SHA)",
        )
        return self.store.write(snapshot, document, changes, force=force)

    def before(self) -> dict[str, Any]:
        """The document the reported changes apply to."""
        if self.base is not None:
            return self.base
        return self._last[1] if self._last is not None else {}


def _read(store: Store, label: str, transient: int) -> Snapshot:
    """One read, with the write loop's retries of transient failures (and its backoff)."""
    recorder = _Recorder(store, label)
    apply(recorder, {}, validate=False, retry=Retry(transient=transient))  # nothing to merge
    assert recorder.snapshot is not None
    return recorder.snapshot


def _copy(document: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = pickle.loads(pickle.dumps(dict(document), pickle.HIGHEST_PROTOCOL))
    return copied


# -- inputs -------------------------------------------------------------------------------------------


def _read_input(name: str, what: str, stdin: TextIO) -> bytes:
    if name == "-":
        buffer = getattr(stdin, "buffer", None)
        return buffer.read() if buffer is not None else stdin.read().encode("utf-8")
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read {what} {name}: {exc.strerror or exc}") from None


def _parse(data: bytes, *, origin: str, fragment: bool = True) -> dict[str, Any]:
    """A fragment (or, with ``fragment=False``, a whole file) from YAML or JSON, refusing what is unsafe."""
    if fragment:
        return parse_fragment(data)
    return parse_yaml(data, origin=origin).document


_LIST_MODES = {
    "union": ListPolicy.UNION,
    "append": ListPolicy.APPEND,
    "replace": ListPolicy.REPLACE,
    "keep": ListPolicy.KEEP,
}


def _list_rule(text: str) -> tuple[str, ListPolicy]:
    """``POINTER=union|append|replace|keep|key:FIELD[,FIELD]`` -> ``(pointer, ListPolicy)``."""
    pointer, eq, mode = text.rpartition("=")
    if not eq or not pointer:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not POINTER=MODE (e.g. /aws/*/regions=replace or /gcp=key:project_id)"
        )
    if not pointer.startswith("/"):
        raise argparse.ArgumentTypeError(
            f"{pointer!r} is not a JSON Pointer: it starts with '/', e.g. /aws/*/regions"
        )
    mode = mode.strip()
    if mode.startswith("key:"):
        fields = [f.strip() for f in mode[4:].split(",")]
        if not all(fields):
            raise argparse.ArgumentTypeError(
                f"{text!r}: key: takes field names, e.g. {pointer}=key:account_id"
            )
        try:
            return pointer, ListPolicy.by_key(*fields)
        except PolicyError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc.message}") from None
    if mode not in _LIST_MODES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: unknown list mode {mode!r}; use union, append, replace, keep or key:FIELD[,FIELD]"
        )
    return pointer, _LIST_MODES[mode]


def _registry(directory: str | None) -> SchemaRegistry:
    if directory is None:
        return SchemaRegistry.bundled()
    if not Path(directory).is_dir():
        raise _UsageError(f"--schemas {directory}: no such directory")
    return SchemaRegistry(directory)


def _policy(args: argparse.Namespace, registry: SchemaRegistry) -> Policy:
    rules: dict[str, ListPolicy] = {}
    for pointer, rule in args.lists or ():
        if pointer in rules:
            raise _UsageError(f"--list {pointer} is given twice")
        rules[pointer] = rule
    try:
        return Policy(
            conflicts=ConflictPolicy(args.on_conflict),
            rules=rules,
            # A caller's schema directory brings its own x-merge-key rules.
            hints=None if args.schemas is None else registry.hints(),
        )
    except PolicyError as exc:
        raise _UsageError(exc.message, hint=exc.hint) from None


# -- reports ----------------------------------------------------------------------------------------


def _error_entries(exc: BaseException) -> list[dict[str, Any]]:
    """``exc`` as JSON-ready error objects: one per conflict or violation, else one."""
    if isinstance(exc, MergeConflict):
        return [
            {
                "type": "MergeConflict",
                "message": _conflict_text(c),
                "pointer": c.path,
                "path": c.path,
                "base": redact(c.base, c.path),
                "fragment": redact(c.fragment, c.path),
                "hint": _CONFLICT_HINT,
            }
            for c in exc.conflicts
        ]
    if isinstance(exc, ValidationFailed):
        return [
            {
                "type": "ValidationFailed",
                "message": getattr(v, "message", str(v)),
                "pointer": getattr(v, "pointer", None),
                "integration": getattr(v, "integration", None),
                "schema_path": getattr(v, "schema_path", None),
                "keyword": getattr(v, "keyword", None),
                "hint": getattr(v, "hint", None),
            }
            for v in exc.errors
        ]
    if isinstance(exc, _UsageError):
        return [{"type": "UsageError", "message": exc.message, "pointer": None, "hint": exc.hint}]
    if isinstance(exc, SafeMergeError):
        entry: dict[str, Any] = {
            "type": type(exc).__name__,
            "message": exc.message,
            "pointer": exc.pointer,
            "hint": _cli_hint(exc),
        }
        if isinstance(exc, RetriesExhausted):
            entry["attempts"] = exc.attempts
            last = exc.last_error
            entry["last_error"] = (
                None
                if last is None
                else {"type": type(last).__name__, "message": getattr(last, "message", str(last))}
            )
        if isinstance(exc, PermissionDenied):
            entry["missing_permissions"] = list(exc.missing_permissions)
        if isinstance(exc, UnsafeInput):
            entry["line"] = exc.line
        return [entry]
    return [
        {
            "type": "InternalError",
            "message": f"{type(exc).__name__}: {exc}",
            "pointer": None,
            "hint": "this is a bug in safemerge; please report it with the output of -v",
        }
    ]


def _error_lines(exc: BaseException) -> list[str]:
    """``exc`` for a person: what happened (every conflict, every violation), then how to fix it."""
    if isinstance(exc, MergeConflict):
        n = len(exc.conflicts)
        lines = [f"{n} conflict{'s' if n != 1 else ''} between the file and the fragment:"]
        lines += [f"  {_conflict_text(c)}" for c in exc.conflicts]
    elif isinstance(exc, SafeMergeError | _UsageError):
        lines = exc.message.splitlines() or [""]
        last = exc.last_error if isinstance(exc, RetriesExhausted) else None
        if last is not None and getattr(last, "message", str(last)) not in exc.message:
            lines.append(f"  last error: {getattr(last, 'message', str(last))}")
    else:
        return [f"internal error: {type(exc).__name__}: {exc}", "  this is a bug in safemerge; "
                "please report it with the output of -v"]  # fmt: skip
    hint = _cli_hint(exc)
    if hint:
        lines.append(f"  how to fix: {hint}")
    if exit_code_for(exc) in (ExitCode.MERGE_FAILED, ExitCode.WRITE_CONFLICTS):
        lines.append("  nothing was written")
    return lines


_RACES_HINT = (
    "other writers kept changing the file; run again, or allow more attempts with --max-conflicts N"
)
_FAILURES_HINT = (
    "the target kept failing (network, timeouts, 429 or 5xx): check it and run again, "
    "or allow more attempts with --max-transient N"
)


_CONFLICT_HINT = (
    "change the fragment to agree with the file, or choose who wins: "
    "--on-conflict fragment (the fragment's values) or --on-conflict base (the file's)"
)


def _cli_hint(exc: SafeMergeError | _UsageError) -> str | None:
    """The library's hint, or the command-line spelling of it where the library names Python."""
    if isinstance(exc, RetriesExhausted):
        return _RACES_HINT if isinstance(exc.last_error, ShaConflict) else _FAILURES_HINT
    if isinstance(exc, TransientError):
        return _FAILURES_HINT
    if isinstance(exc, MergeConflict):
        return _CONFLICT_HINT
    return exc.hint


def _json_text(report: Mapping[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, default=repr)


# -- the commands -------------------------------------------------------------------------------------


@dataclass
class _Run:
    """One invocation: its arguments, streams, environment and (for --output json) its report."""

    args: argparse.Namespace
    console: _Console
    env: Mapping[str, str]
    stdin: TextIO
    report: dict[str, Any]

    @property
    def json(self) -> bool:
        return bool(self.args.output == "json")


def _cmd_get(run: _Run) -> ExitCode:
    target = _target(run.args.target, run.env)
    run.report.update(target=target.label, sha=None, document=None)
    with _opened(target) as store:
        snapshot = _read(store, target.label, run.args.max_transient)
    run.report.update(sha=snapshot.sha, document=redact(snapshot.document))
    if not run.json:
        text = (
            _redacted_text(snapshot.raw, snapshot.document, snapshot.tree) if snapshot.raw else None
        )
        if text is None and snapshot.document:
            text = _yaml_text(redact(snapshot.document))
        elif text is None:
            text = ""
            run.console.note(f"safemerge: {target.label} holds no integration file yet")
        if text:
            run.console.out.write(run.console.scrub(text if text.endswith("\n") else text + "\n"))
    return ExitCode.OK


def _cmd_plan(run: _Run) -> ExitCode:
    return _merge_command(run, dry_run=True)


def _cmd_apply(run: _Run) -> ExitCode:
    return _merge_command(run, dry_run=bool(run.args.dry_run))


def _merge_command(run: _Run, *, dry_run: bool) -> ExitCode:
    args = run.args
    run.report.update(
        target=None, dry_run=dry_run, changed=False, written=False, guarded=None, attempts=0,
        sha_before=None, sha_after=None, changes=[], skipped=[],
    )  # fmt: skip
    fragment = _parse(_read_input(args.fragment, "fragment", run.stdin), origin=args.fragment)
    registry = _registry(args.schemas)
    policy = _policy(args, registry)
    retry = Retry(conflicts=args.max_conflicts, transient=args.max_transient)
    target = _target(args.target, run.env)
    run.report["target"] = target.label
    if args.no_validate:
        _loud(
            run, "no-validate", "--no-validate: the merged file is NOT checked against the schemas"
        )
    if args.force:
        _loud(run, "force", "--force: writing WITHOUT the SHA guard: a change someone else "
              "makes between our read and our write is lost")  # fmt: skip
    log.info("target %s; %s", target.label, _describe(policy))
    with _opened(target) as store:
        recorder = _Recorder(store, target.label)
        try:
            result = apply(
                recorder, fragment, policy, dry_run=dry_run, validate=not args.no_validate,
                retry=retry, registry=registry, strict=args.strict, force=args.force,
            )  # fmt: skip
        finally:
            run.report["sha_before"] = recorder.first_sha
    _record(run, result)
    if not run.json:
        _print_plan(run, target.label, result, recorder.before())
    return ExitCode.OK


def _describe(policy: Policy) -> str:
    rules = ", ".join(f"{p}={_rule_text(r)}" for p, r in policy.rules.items())
    text = f"on conflict: {policy.conflicts.value}; lists: {rules or 'by the schemas, else union'}"
    return text + ("; schema hints from --schemas" if policy.hints is not None else "")


def _rule_text(rule: ListPolicy) -> str:
    return f"key:{','.join(rule.fields)}" if rule.fields else rule.mode.value


def _loud(run: _Run, kind: str, message: str) -> None:
    run.console.warn(message)  # on stderr even with --output json: it must be seen
    run.report["warnings"].append({"kind": kind, "message": message, "pointer": None})


def _record(run: _Run, result: ApplyResult) -> None:
    run.report.update(
        changed=result.changed,
        written=result.written,
        guarded=result.guarded,
        attempts=result.attempts,
        sha_before=result.sha_before,
        sha_after=result.sha_after,
        changes=[
            {
                "op": str(c.op),
                "path": c.path,
                "old": redact(c.old, c.path),
                "new": redact(c.new, c.path),
            }
            for c in result.changes
        ],
        skipped=[
            {"path": c.path, "base": redact(c.base, c.path), "fragment": redact(c.fragment, c.path)}
            for c in result.skipped
        ],
    )
    run.report["warnings"] += [
        {"kind": w.kind, "message": w.message, "pointer": w.pointer} for w in result.warnings
    ]


def _print_plan(run: _Run, label: str, result: ApplyResult, before: Mapping[str, Any]) -> None:
    console = run.console
    for warning in result.warnings:
        console.warn(str(warning))
    if result.skipped:
        n = len(result.skipped)
        console.print(
            f"kept the file's value at {n} conflict{'s' if n != 1 else ''} (--on-conflict base):"
        )
        for conflict in result.skipped:
            console.print(f"  {_conflict_text(conflict)}")
    if not result.changes:
        if result.written:
            console.print(
                f"{label}: the write landed (confirmed by reading it back); sha {result.sha_after}"
            )
        else:
            console.print(
                f"nothing to do: {label} already holds everything in the fragment "
                f"(sha {result.sha_after or '(none)'})"
            )
        return
    console.print(console.paint(f"{label} (sha {result.sha_before or '(none)'}):", "header"))
    for line in _diff(before, result.document, result.changes):
        console.print(_painted_diff_line(console, line))
    n = len(result.changes)
    console.print(f"{n} change{'s' if n != 1 else ''}:")
    for change in result.changes:
        style = {Op.ADD: "add", Op.REMOVE: "remove", Op.REPLACE: "change"}[change.op]
        console.print("  " + console.paint(_change_text(change), style))
    if result.dry_run:
        console.print(
            "dry run: nothing written (`safemerge apply` with the same arguments writes it)"
        )
        return
    attempts = f"{result.attempts} attempt{'s' if result.attempts != 1 else ''}"
    if result.guarded:
        guard = "guarded by the file SHA"
    else:
        guard = (
            "UNGUARDED (forced)"
            if run.args.force
            else "UNGUARDED (the remote has no file SHA; verified by reading back)"
        )
    console.print(
        f"written in {attempts}, {guard}: sha {result.sha_before or '(none)'} -> {result.sha_after or '(none)'}"
    )


def _diff(
    before: Mapping[str, Any], after: Mapping[str, Any], changes: Sequence[Change]
) -> Iterator[str]:
    """A unified diff of the YAML of each integration the changes touch, redacted."""
    names = list(dict.fromkeys(c.path.split("/")[1] for c in changes if c.path.count("/") >= 1))
    for escaped in names:
        name = unescape(escaped)
        old = _yaml_lines(redact({name: before[name]})) if name in before else []
        new = _yaml_lines(redact({name: after[name]})) if name in after else []
        yield from difflib.unified_diff(
            old,
            new,
            f"{name} (now)" if name in before else f"{name} (absent now)",
            f"{name} (after)" if name in after else f"{name} (removed)",
            lineterm="",
        )


def _painted_diff_line(console: _Console, line: str) -> str:
    if line.startswith(("---", "+++")):
        return console.paint(line, "header")
    if line.startswith("@@"):
        return console.paint(line, "hunk")
    if line.startswith("+"):
        return console.paint(line, "add")
    if line.startswith("-"):
        return console.paint(line, "remove")
    return line


def _cmd_validate(run: _Run) -> ExitCode:
    args = run.args
    registry = _registry(args.schemas)
    if args.file is not None:
        run.report.update(file=args.file, target=None)
        where = "standard input" if args.file == "-" else args.file
        document = _parse(_read_input(args.file, "file", run.stdin), origin=where, fragment=False)
    else:
        target = _target(args.target, run.env)
        run.report.update(file=None, target=target.label)
        with _opened(target) as store:
            document = _read(store, target.label, args.max_transient).document
        where = target.label
    checked = [n for n in document if n in registry and not n.startswith("_")]
    unchecked = [n for n in document if n not in checked]
    run.report.update(valid=False, checked=checked, unchecked=unchecked)
    validate(document, registry, strict=args.strict)
    run.report["valid"] = True
    if not run.json:
        run.console.print(
            f"{where}: valid"
            + (f" ({', '.join(checked)} checked against the schemas)" if checked else "")
        )
    if unchecked:
        message = f"no schema for {', '.join(unchecked)}: not checked (--strict refuses them)"
        run.report["warnings"].append({"kind": "unchecked", "message": message, "pointer": None})
        if not run.json:
            run.console.warn(message)
    return ExitCode.OK


def _cmd_schemas(run: _Run) -> ExitCode:
    registry = _registry(run.args.schemas)
    source = "bundled" if run.args.schemas is None else f"bundled + {run.args.schemas}"
    name = run.args.name
    if name is not None:
        if name not in registry:
            raise _UsageError(
                f"no schema named {name!r}",
                hint=f"one of: {', '.join(registry.integrations)} (run `safemerge schemas`)",
            )
        schema = dict(registry.schema(name))
        run.report.update(name=name, schema=schema)
        if not run.json:
            run.console.print(json.dumps(schema, indent=2, ensure_ascii=False))
        return ExitCode.OK
    hints = registry.hints()
    entries: list[dict[str, Any]] = []
    lines = [f"schemas ({source}); `safemerge schemas NAME` prints one:"]
    width = max((len(n) for n in registry.integrations), default=0)
    for integration in registry.integrations:
        about = registry.schema(integration)
        keys = {
            path: list(rule.fields)
            for path, rule in hints.items()
            if path == f"/{integration}" or path.startswith(f"/{integration}/")
        }
        entries.append(
            {
                "name": integration,
                "title": about.get("title"),
                "description": about.get("description"),
                "merge_keys": keys,
            }
        )
        line = f"  {integration:<{width}}  {about.get('title') or ''}"
        if keys:
            line += " (lists merged by key: "
            line += "; ".join(f"{p} by {', '.join(f)}" for p, f in keys.items()) + ")"
        lines.append(line)
    run.report.update(source=source, schemas=entries)
    if not run.json:
        for line in lines:
            run.console.print(line)
    return ExitCode.OK


def _cmd_serve(run: _Run) -> ExitCode:
    from ._server import make_server

    args = run.args
    token = args.token or run.env.get("SAFEMERGE_SERVE_TOKEN")
    if token:
        run.console.secrets = sorted({*run.console.secrets, token}, key=len, reverse=True)
    try:
        server = make_server(
            args.file, host=args.host, port=args.port, token=token, validate=not args.no_validate
        )
    except OSError as exc:
        raise _UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file, "w", encoding="utf-8") as handle:
            handle.write(f"{port}\n")
    if run.json:
        report = {"command": "serve", "file": args.file, "url": server.url, "port": port}
        run.console.print(_json_text(report))
    else:
        run.console.print(f"serving {args.file} at {server.url} (Ctrl-C to stop)")
    run.console.out.flush()
    run.report.clear()  # the one JSON object was the line above

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return ExitCode.OK


# -- the parser --------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are raised (so --output json can still answer in JSON)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message, hint=f"see `{self.prog} --help`")


_GLOBAL_DEFAULTS: dict[str, Any] = {"verbose": 0, "output": "text", "color": "auto"}


def _add_globals(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: an option given before the command must survive the subcommand's parse.
    group = parser.add_argument_group("output")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log what happens to stderr (-vv for more); credentials are never shown",
    )
    group.add_argument(
        "--output",
        choices=("text", "yaml", "json"),
        default=argparse.SUPPRESS,
        help="text (the default; YAML for get) or json: exactly one JSON object on stdout",
    )
    group.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default=argparse.SUPPRESS,
        help="colour the diff: auto (the default) colours on a terminal unless NO_COLOR is set",
    )


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        metavar="TARGET",
        help=f"where the file lives (default: $SAFEMERGE_TARGET): {_TARGET_HELP}",
    )


def _add_policy(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("merge policy")
    group.add_argument(
        "--on-conflict",
        choices=[p.value for p in ConflictPolicy],
        default=ConflictPolicy.ERROR.value,
        help="when file and fragment differ at a path: error (the default: list every conflict, "
        "write nothing), fragment (the fragment wins) or base (the file wins)",
    )
    group.add_argument(
        "--list",
        dest="lists",
        action="append",
        type=_list_rule,
        metavar="POINTER=MODE",
        help="how the lists at POINTER merge (repeatable; '*' matches any key or index): "
        "union, append (not idempotent), replace, keep, or key:FIELD[,FIELD]; "
        "e.g. --list '/aws/*/regions=replace'. /aws merges by account_id already",
    )
    group.add_argument(
        "--strict", action="store_true", help="refuse integrations that have no schema"
    )
    group.add_argument(
        "--no-validate",
        action="store_true",
        help="skip schema validation (loud: says so on stderr)",
    )
    group.add_argument(
        "--force",
        action="store_true",
        help="write without the SHA guard, over whatever the file holds (loud)",
    )
    group.add_argument(
        "--schemas",
        metavar="DIR",
        help="a directory of <integration>.schema.json to add or override",
    )
    _add_retries(parser, conflicts=True)


def _add_retries(parser: argparse.ArgumentParser, *, conflicts: bool) -> None:
    group = parser.add_argument_group("retries")
    if conflicts:
        group.add_argument(
            "--max-conflicts",
            type=_positive,
            default=Retry().conflicts,
            metavar="N",
            help=f"give up after N writes lost to other writers (default {Retry().conflicts})",
        )
    group.add_argument(
        "--max-transient",
        type=_non_negative,
        default=Retry().transient,
        metavar="N",
        help="transient failures (timeouts, 429, 5xx, refused connections) retried before "
        f"giving up (default {Retry().transient})",
    )


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _epilog() -> str:
    codes = "\n".join(f"  {int(code):>2}  {_EXIT_TEXT[code]}" for code in ExitCode)
    return f"""\
targets (--target, or SAFEMERGE_TARGET):
  https://api.jit.io, https://api.eu.jit.io   the Jit API; credentials from JIT_API_TOKEN,
                                             or JIT_CLIENT_ID + JIT_CLIENT_SECRET
  http://127.0.0.1:PORT                      a local `safemerge serve` (credentials optional)
  github:OWNER/REPO[/PATH][@BRANCH]          the file in a GitHub repository (GITHUB_TOKEN;
                                             PATH defaults to .jit/jit-integration.yml)
  PATH                                       a local file

exit codes:
{codes}

Values under secret-looking keys (client_secret, api_token ...) are shown as <redacted>,
and credentials never appear in any output.
"""


def _parser() -> _Parser:
    parser = _Parser(
        prog="safemerge",
        description=textwrap.fill(
            "Safe, non-destructive updates of a Jit integration file (.jit/jit-integration.yml): "
            "read, merge, validate, write guarded by the file's SHA.",
            88,
        ),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"safemerge {__version__}")
    _add_globals(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[_Run], ExitCode], help: str, description: str) -> _Parser:
        sub: _Parser = commands.add_parser(
            name,
            help=help,
            description=textwrap.fill(description, 88),
            epilog=_epilog(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_globals(sub)
        sub.set_defaults(run=run)
        return sub

    get = command(
        "get",
        _cmd_get,
        "print the current file",
        "Print the target's integration file: its YAML as stored (comments kept), or with "
        "--output json the document and its SHA.",
    )
    _add_target(get)
    _add_retries(get, conflicts=False)

    for name, run, help, description in (
        (
            "plan",
            _cmd_plan,
            "show what apply would do, writing nothing",
            "Merge FRAGMENT into the target's file and show the result without writing: a diff "
            "of the changed integrations and every change with its JSON Pointer. Conflicts and "
            "validation errors are listed all at once.",
        ),
        (
            "apply",
            _cmd_apply,
            "merge a fragment in and write it, guarded by the file's SHA",
            "Merge FRAGMENT into the target's file, validate what changed and write it back "
            "guarded by the SHA that was read; if someone else wrote first, read, merge and "
            "validate again. Prints the plan, the attempts and the new SHA. Nothing to merge: "
            "nothing is written.",
        ),
    ):
        sub = command(name, run, help, description)
        sub.add_argument(
            "fragment",
            metavar="FRAGMENT",
            help="a YAML or JSON file holding the part to merge in, or - for standard input",
        )
        _add_target(sub)
        _add_policy(sub)
        if name == "apply":
            sub.add_argument(
                "--dry-run", action="store_true", help="write nothing: the same as `plan`"
            )

    check = command(
        "validate",
        _cmd_validate,
        "check a whole file against the schemas",
        "Check FILE (or, without FILE, the target's current file) against the schemas of "
        "its integrations; every problem is listed.",
    )
    check.add_argument(
        "file", metavar="FILE", nargs="?", help="a YAML or JSON file, or - for standard input"
    )
    _add_target(check)
    _add_retries(check, conflicts=False)
    check.add_argument("--schemas", metavar="DIR", help="a directory of extra schemas")
    check.add_argument(
        "--strict", action="store_true", help="refuse integrations that have no schema"
    )

    schemas = command(
        "schemas",
        _cmd_schemas,
        "list the schemas, or print one",
        "List the schemas safemerge validates with, or print the one named NAME.",
    )
    schemas.add_argument("name", metavar="NAME", nargs="?", help="e.g. aws")
    schemas.add_argument("--schemas", metavar="DIR", help="a directory of extra schemas")

    serve = command(
        "serve",
        _cmd_serve,
        "serve a local file over the Jit integration-file API",
        "Serve FILE at /plans/integration-file, as the Jit API does, on loopback.",
    )
    serve.add_argument(
        "--file", required=True, help="the YAML file to serve (created on the first PUT)"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    serve.add_argument("--token", help="require this bearer token (or set SAFEMERGE_SERVE_TOKEN)")
    serve.add_argument("--port-file", help="write the chosen port to this file (for scripts)")
    serve.add_argument(
        "--no-validate", action="store_true", help="accept content that breaks the schemas"
    )
    return parser


_COMMANDS = ("get", "plan", "apply", "validate", "schemas", "serve")


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether --output json was asked for, read before (and despite) a parse error."""
    for i, arg in enumerate(argv):
        if arg == "--":
            return False
        if arg == "--output=json" or (arg == "--output" and argv[i + 1 : i + 2] == ["json"]):
            return True
    return False


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the CLI; returns the exit code (see :class:`ExitCode`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    env = os.environ if env is None else env
    secrets = [env.get(name, "") for name in _CREDENTIAL_VARS]
    report: dict[str, Any] = {
        "command": None, "version": __version__, "exit_code": None, "ok": False,
        "warnings": [], "errors": [],
    }  # fmt: skip
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        report["command"] = next((a for a in argv if a in _COMMANDS), None)
        console = _Console(out, err, color=False, secrets=secrets)
        return _finish(console, report, exc, json_mode=_wants_json(argv))
    for name, default in _GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    json_mode = args.output == "json"
    console = _Console(
        out, err, color=not json_mode and _wants_color(args.color, out, env), secrets=secrets
    )
    report["command"] = args.command
    run = _Run(args, console, env, sys.stdin if stdin is None else stdin, report)
    with _logging(args.verbose, console):
        try:
            code = args.run(run)
        except KeyboardInterrupt:
            console.note("safemerge: interrupted")
            return 130
        except BrokenPipeError:
            return ExitCode.OK
        except Exception as exc:
            if exit_code_for(exc) is ExitCode.INTERNAL and args.verbose:
                log.exception("internal error")  # the traceback, scrubbed, with -v only
            return _finish(console, report, exc, json_mode=json_mode)
    return _finish(console, report, None, json_mode=json_mode, code=code)


def _finish(
    console: _Console,
    report: dict[str, Any],
    exc: BaseException | None,
    *,
    json_mode: bool,
    code: ExitCode = ExitCode.OK,
) -> int:
    if exc is not None:
        code = exit_code_for(exc)
        report["errors"] += _error_entries(exc)
        if not json_mode:
            lines = _error_lines(exc)
            console.note(f"safemerge: error: {lines[0]}")
            for line in lines[1:]:
                console.note(line)
    if json_mode and report:
        report.update(exit_code=int(code), ok=code is ExitCode.OK)
        console.print(_json_text(report))
    return int(code)


def main_exit() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    main_exit()
