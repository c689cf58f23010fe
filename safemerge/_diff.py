"""The change list between two documents, for writers that are handed a whole new document.

``apply`` knows its changes (the merge reported them); the local server's
PUT does not: it receives the whole new content. Diffing old against new
gives the format-preserving writer the same kind of change list, so a PUT
that adds one account changes one account's lines in the file.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ._pointer import join
from ._result import Change, Op
from ._values import freeze, json_equal, plain_copy

__all__ = ["diff"]


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Change, ...]:
    """Changes that turn ``old`` into ``new``, as an RFC 6902 patch applied in order.

    >>> [str(c) for c in diff({"a": [1, 2], "b": 1}, {"a": [1, 3], "c": 2})]
    ['~ /a/1: 2 -> 3', '- /b: 1', '+ /c: 2']
    """
    changes: list[Change] = []
    _mapping(old, new, "", changes)
    return tuple(changes)


def _value(old: Any, new: Any, ptr: str, changes: list[Change]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        _mapping(old, new, ptr, changes)
    elif isinstance(old, list) and isinstance(new, list):
        _list(old, new, ptr, changes)
    elif not json_equal(old, new):
        changes.append(Change(Op.REPLACE, ptr, plain_copy(old), plain_copy(new)))


def _mapping(
    old: Mapping[str, Any], new: Mapping[str, Any], ptr: str, changes: list[Change]
) -> None:
    for key, value in old.items():
        if key in new:
            _value(value, new[key], join(ptr, key), changes)
        else:
            changes.append(Change(Op.REMOVE, join(ptr, key), plain_copy(value), None))
    for key, value in new.items():
        if key not in old:
            changes.append(Change(Op.ADD, join(ptr, key), None, plain_copy(value)))


def _list(old: list[Any], new: list[Any], ptr: str, changes: list[Change]) -> None:
    if json_equal(old, new):
        return
    matcher = difflib.SequenceMatcher(
        a=[freeze(v) for v in old], b=[freeze(v) for v in new], autojunk=False
    )
    shift = 0  # how far positions have moved by the changes emitted so far
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            # Same number of items changed in place: diff each (an account gaining a region).
            for offset in range(i2 - i1):
                _value(old[i1 + offset], new[j1 + offset], join(ptr, i1 + offset + shift), changes)
            continue
        if tag in ("delete", "replace"):
            # Each removal moves the items after it up: they all go from one position.
            at = join(ptr, i1 + shift)
            changes.extend(Change(Op.REMOVE, at, plain_copy(old[i]), None) for i in range(i1, i2))
            shift -= i2 - i1
        if tag in ("insert", "replace"):
            for k, j in enumerate(range(j1, j2)):
                changes.append(Change(Op.ADD, join(ptr, i2 + shift + k), None, plain_copy(new[j])))
            shift += j2 - j1
