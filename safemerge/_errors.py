"""Every error safemerge raises, in one place.

The tree::

    SafeMergeError                 base class: catch this to catch everything we raise
    ├── MergeConflict              fragment and file disagree (.conflicts, every one)
    ├── PolicyError                the merge needs a decision the policy does not make
    ├── ValidationFailed           the merged document breaks a schema (.errors)
    ├── UnsafeInput                input refused before use (size, depth, aliases, tags, types)
    ├── ShaConflict                someone else wrote first (.expected, .actual)
    ├── RetriesExhausted           the write loop gave up (.attempts, .last_error)
    └── StoreError                 reading or writing the file failed
        ├── AuthError              the credentials were refused
        └── PermissionDenied       the credentials lack a permission (.missing_permissions)

Each error carries the JSON Pointer it is about (``.pointer``, or ``None``) and a
``.hint`` that says how to fix it; ``str()`` shows both. Values that live under
secret-looking keys (``client_secret``, ``api_token`` ...) are never repeated in
a message: they are shown as ``<redacted>``.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._result import Conflict

__all__ = [
    "AuthError",
    "MergeConflict",
    "PermissionDenied",
    "PolicyError",
    "RetriesExhausted",
    "SafeMergeError",
    "ShaConflict",
    "StoreError",
    "UnsafeInput",
    "ValidationFailed",
    "is_secret_pointer",
    "redact",
    "show_value",
]

# A key under which a value must never be echoed back. Matched against the
# last segment of a pointer, case-insensitively.
_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|credential|private[_-]?key|api[_-]?key)", re.I
)

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = 6
_repr.maxdict = 6
_repr.maxlevel = 3


REDACTED: Final[str] = "<redacted>"

# A reference to a Jit secret is not a secret: it is safe (and useful) to show.
_SECRET_REFERENCE = re.compile(r"^\$\{\{ *jit_secrets\.[A-Za-z_][A-Za-z0-9_]* *\}\}$")


def is_secret_pointer(pointer: str | None) -> bool:
    """Whether the value at ``pointer`` must not be shown: its key looks like a secret's.

    >>> is_secret_pointer("/azure/prod/auth/client_secret"), is_secret_pointer("/drata/workspace")
    (True, False)
    """
    return bool(pointer) and _SECRET_KEY.search(str(pointer).rsplit("/", 1)[-1]) is not None


def redact(value: Any, pointer: str = "") -> Any:
    """``value`` (found at ``pointer``) with every value under a secret-looking key replaced.

    ``${{ jit_secrets.NAME }}`` references are kept: they name a secret, they are not one.

    >>> redact({"auth": {"client_id": "abc", "client_secret": "hunter2"}}, "/azure/prod")
    {'auth': {'client_id': 'abc', 'client_secret': '<redacted>'}}
    >>> redact("${{ jit_secrets.azure_secret }}", "/azure/prod/auth/client_secret")
    '${{ jit_secrets.azure_secret }}'
    """
    if is_secret_pointer(pointer):
        if isinstance(value, str) and _SECRET_REFERENCE.match(value):
            return value
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redact(v, f"{pointer}/{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, f"{pointer}/{i}") for i, v in enumerate(value)]
    return value


def show_value(value: Any, pointer: str | None = None) -> str:
    """Render ``value`` for a message: short, and redacted under a secret key, at any depth.

    >>> show_value("hunter2", "/azure/prod/auth/client_secret")
    '<redacted>'
    >>> show_value({"auth": {"client_secret": "hunter2"}}, "/azure/dev")
    "{'auth': {'client_secret': '<redacted>'}}"
    >>> show_value("production", "/drata/workspace")
    "'production'"
    """
    shown = redact(value, pointer or "")
    if shown is REDACTED:
        return REDACTED
    try:
        return str(_repr.repr(shown))
    except ValueError:  # an int past Python's int-to-str limit
        return f"<{type(shown).__name__} too large to show>"


class SafeMergeError(Exception):
    """Base class of every error safemerge raises.

    >>> try:
    ...     raise PolicyError("no rule", pointer="/x", hint="add one")
    ... except SafeMergeError as e:
    ...     (e.pointer, e.hint)
    ('/x', 'add one')
    """

    def __init__(self, message: str, *, pointer: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.pointer = pointer
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  how to fix: {self.hint}"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, pointer={self.pointer!r})"


class MergeConflict(SafeMergeError):
    """The fragment and the document hold different values at one or more paths.

    Raised under ``ConflictPolicy.ERROR`` with **every** conflict of the merge in
    ``.conflicts`` (each a :class:`Conflict` with ``path``, ``base``, ``fragment``),
    so one run shows everything to resolve.
    """

    def __init__(self, conflicts: Sequence[Conflict]):
        self.conflicts: tuple[Conflict, ...] = tuple(conflicts)
        n = len(self.conflicts)
        lines = [f"{n} conflict{'s' if n != 1 else ''} between the file and the fragment:"]
        lines += [
            f"  {c.path}: file has {show_value(c.base, c.path)}, "
            f"fragment has {show_value(c.fragment, c.path)}"
            for c in self.conflicts
        ]
        super().__init__(
            "\n".join(lines),
            pointer=self.conflicts[0].path if self.conflicts else None,
            hint=(
                "change the fragment to agree with the file, or choose who wins: "
                "Policy(conflicts=ConflictPolicy.FRAGMENT) (CLI: --on-conflict fragment) "
                "or ConflictPolicy.BASE (--on-conflict base)"
            ),
        )

    @property
    def paths(self) -> tuple[str, ...]:
        """The JSON Pointers of every conflict, in document order."""
        return tuple(c.path for c in self.conflicts)


class PolicyError(SafeMergeError):
    """The merge reached a place the policy does not decide (or decides badly).

    Examples: a list of mappings with no key rule, a keyed item missing its key,
    duplicate keys, a malformed ``$patch`` directive. ``.pointer`` names the place;
    ``.hint`` names the rule to declare.
    """


class UnsafeInput(SafeMergeError):
    """An input was refused before anything used it.

    ``.line`` is the 1-based line in the text (where the input was text), and
    ``.pointer`` the JSON Pointer (where one is known).
    """

    def __init__(
        self,
        message: str,
        *,
        pointer: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ):
        if line is not None:
            message = f"line {line}: {message}"
        super().__init__(message, pointer=pointer, hint=hint)
        self.line = line


class ValidationFailed(SafeMergeError):
    """The document breaks one or more schemas; nothing was written.

    ``.errors`` holds every problem, most relevant first.
    """

    def __init__(self, errors: Iterable[Any], *, hint: str | None = None):
        self.errors: tuple[Any, ...] = tuple(errors)
        n = len(self.errors)
        lines = [f"{n} validation error{'s' if n != 1 else ''}:"]
        lines += [f"  {e}" for e in self.errors]
        first = self.errors[0] if self.errors else None
        super().__init__(
            "\n".join(lines),
            pointer=getattr(first, "pointer", None),
            hint=hint or "fix the values named above (or the fragment that set them)",
        )


class ShaConflict(SafeMergeError):
    """The file changed since it was read: the guarded write was refused.

    The write loop answers this by reading again and merging again.
    """

    def __init__(
        self,
        message: str = "the file changed since it was read",
        *,
        expected: str | None = None,
        actual: str | None = None,
    ):
        super().__init__(
            message,
            hint="read the file again and merge again (apply() does this for you)",
        )
        self.expected = expected
        self.actual = actual


class RetriesExhausted(SafeMergeError):
    """The write loop ran out of attempts; ``.last_error`` says why the last one failed."""

    def __init__(self, message: str, *, attempts: int, last_error: BaseException | None):
        super().__init__(
            message,
            hint="nothing of this fragment was written; run again, or raise the Retry budget",
        )
        self.attempts = attempts
        self.last_error = last_error


class StoreError(SafeMergeError):
    """Reading or writing the file failed for a reason that is not a SHA conflict."""


class AuthError(StoreError):
    """The credentials were refused (HTTP 401)."""


class PermissionDenied(StoreError):
    """The credentials lack a permission (HTTP 403); ``.missing_permissions`` names it."""

    def __init__(
        self, message: str, *, missing_permissions: Sequence[str] = (), hint: str | None = None
    ):
        super().__init__(message, hint=hint)
        self.missing_permissions: tuple[str, ...] = tuple(missing_permissions)
