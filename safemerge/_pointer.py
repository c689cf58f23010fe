"""RFC 6901 JSON Pointers: the one way safemerge names a place in a document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["escape", "join", "parse", "resolve", "unescape"]


def escape(segment: str | int) -> str:
    """Escape one reference token: ``~`` becomes ``~0`` and ``/`` becomes ``~1``.

    >>> escape("a/b~c")
    'a~1b~0c'
    """
    s = str(segment)
    if "~" in s or "/" in s:
        # Order matters (RFC 6901 §4): escape "~" first so "/" -> "~1" is not re-escaped.
        s = s.replace("~", "~0").replace("/", "~1")
    return s


def unescape(token: str) -> str:
    """Undo :func:`escape` (``~1`` first, then ``~0``, as RFC 6901 §4 requires)."""
    if "~" in token:
        return token.replace("~1", "/").replace("~0", "~")
    return token


def join(pointer: str, segment: str | int) -> str:
    """Append one segment to a pointer.

    >>> join("/aws/0", "regions")
    '/aws/0/regions'
    """
    return f"{pointer}/{escape(segment)}"


def parse(pointer: str) -> tuple[str, ...]:
    """Split a pointer into its unescaped reference tokens.

    >>> parse("/azure/a~1b/auth")
    ('azure', 'a/b', 'auth')
    >>> parse("")
    ()
    """
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON Pointer is empty or starts with '/': {pointer!r}")
    return tuple(unescape(t) for t in pointer[1:].split("/"))


def resolve(document: Any, pointer: str) -> Any:
    """Return the value ``pointer`` names in ``document``; ``KeyError`` if it names nothing.

    >>> resolve({"aws": [{"account_id": "1"}]}, "/aws/0/account_id")
    '1'
    """
    node = document
    for token in parse(pointer):
        if isinstance(node, Mapping):
            if token not in node:
                raise KeyError(pointer)
            node = node[token]
        elif isinstance(node, Sequence) and not isinstance(node, str):
            if not token.isdigit() or (token != "0" and token.startswith("0")):
                raise KeyError(pointer)
            index = int(token)
            if index >= len(node):
                raise KeyError(pointer)
            node = node[index]
        else:
            raise KeyError(pointer)
    return node
