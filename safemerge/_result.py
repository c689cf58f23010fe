"""The values a merge returns: :class:`Change`, :class:`Conflict`, :class:`MergeResult`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ._errors import show_value

__all__ = ["Change", "Conflict", "MergeResult", "Op"]


class Op(str, enum.Enum):
    """The three RFC 6902 operations a merge can produce (compare equal to their names)."""

    ADD = "add"
    REPLACE = "replace"
    REMOVE = "remove"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Change:
    """One change a merge made.

    ``path`` is an RFC 6901 pointer into the document *as it stands when this
    change is applied* (changes are applied in order). ``old`` is ``None`` for
    ``add`` and ``new`` is ``None`` for ``remove`` (``op`` tells which).

    >>> Change(Op.ADD, "/aws/2", None, {"account_id": "210987654321"}).to_patch_op()
    {'op': 'add', 'path': '/aws/2', 'value': {'account_id': '210987654321'}}
    """

    op: Op
    path: str
    old: Any = None
    new: Any = None

    def to_patch_op(self) -> dict[str, Any]:
        """This change as one RFC 6902 operation."""
        if self.op is Op.REMOVE:
            return {"op": "remove", "path": self.path}
        return {"op": self.op.value, "path": self.path, "value": self.new}

    def __str__(self) -> str:
        if self.op is Op.ADD:
            return f"+ {self.path}: {show_value(self.new, self.path)}"
        if self.op is Op.REMOVE:
            return f"- {self.path}: {show_value(self.old, self.path)}"
        return (
            f"~ {self.path}: {show_value(self.old, self.path)} -> {show_value(self.new, self.path)}"
        )


@dataclass(frozen=True)
class Conflict:
    """The file and the fragment disagree at ``path``: ``base`` is the file's value."""

    path: str
    base: Any
    fragment: Any

    def __str__(self) -> str:
        return (
            f"{self.path}: file has {show_value(self.base, self.path)}, "
            f"fragment has {show_value(self.fragment, self.path)}"
        )


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge` produced.

    - ``document``: the merged document, a new plain ``dict`` that shares no
      mutable object with the base or the fragment;
    - ``changes``: every change, in document order, as a valid RFC 6902 patch
      from the base to ``document`` (see :meth:`to_patch`);
    - ``skipped``: conflicts left to the file under ``ConflictPolicy.BASE``.

    >>> from safemerge import merge
    >>> r = merge({"drata": {"workspace": "prod"}}, {"drata": {"user_email": "a@b.c"}})
    >>> r.changed, [str(c) for c in r.changes]
    (True, ["+ /drata/user_email: 'a@b.c'"])
    """

    document: dict[str, Any]
    changes: tuple[Change, ...]
    skipped: tuple[Conflict, ...] = ()

    @property
    def changed(self) -> bool:
        """True when the merge changed anything (and so a write is needed)."""
        return bool(self.changes)

    def to_patch(self) -> list[dict[str, Any]]:
        """The changes as an RFC 6902 JSON Patch (a list of operations).

        Applying it to the base gives ``document``:
        ``jsonpatch.apply_patch(base, result.to_patch()) == result.document``.
        """
        return [c.to_patch_op() for c in self.changes]
