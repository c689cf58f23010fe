"""Merge policies: who wins a conflict, and how each list merges.

Policies are values (frozen, hashable where their contents are) built once at
the edge (the CLI turns strings into them); the engine never looks anything up
by name.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import ClassVar

from ._errors import PolicyError
from ._pointer import parse

__all__ = ["ConflictPolicy", "ListMode", "ListPolicy", "Policy"]


class ConflictPolicy(enum.Enum):
    """What happens when the file and the fragment hold different values at one path.

    - ``ERROR``: collect every conflict and raise :class:`MergeConflict` (the default).
    - ``FRAGMENT``: the fragment's value replaces the file's (a ``replace`` change).
    - ``BASE``: the file's value stays; the conflict is reported in ``MergeResult.skipped``.
    """

    ERROR = "error"
    FRAGMENT = "fragment"
    BASE = "base"


class ListMode(enum.Enum):
    """The kinds of list merge; see :class:`ListPolicy`."""

    UNION = "union"
    APPEND = "append"
    REPLACE = "replace"
    KEEP = "keep"
    BY_KEY = "by_key"


@dataclass(frozen=True)
class ListPolicy:
    """How one list merges.

    - ``ListPolicy.UNION``: append the fragment's items not already present (JSON equality).
    - ``ListPolicy.APPEND``: append every fragment item. **Not idempotent**: a re-run
      appends again.
    - ``ListPolicy.REPLACE``: the fragment's list replaces the file's.
    - ``ListPolicy.KEEP``: the file's list stays as it is.
    - ``ListPolicy.by_key("account_id")``: items are mappings matched on the key
      fields; matched items merge recursively, new items are appended in
      fragment order, the file's order is kept, and ``{..key.., "$patch": "delete"}``
      removes an item.

    >>> ListPolicy.by_key("account_id")
    ListPolicy.by_key('account_id')
    >>> ListPolicy.UNION
    ListPolicy.UNION
    """

    mode: ListMode
    fields: tuple[str, ...] = ()

    UNION: ClassVar[ListPolicy]
    APPEND: ClassVar[ListPolicy]
    REPLACE: ClassVar[ListPolicy]
    KEEP: ClassVar[ListPolicy]

    def __post_init__(self) -> None:
        if not isinstance(self.mode, ListMode):
            raise PolicyError(f"ListPolicy mode must be a ListMode, not {self.mode!r}")
        if self.mode is ListMode.BY_KEY:
            if not self.fields:
                raise PolicyError(
                    "a keyed list policy needs at least one key field",
                    hint="ListPolicy.by_key('account_id')",
                )
            if not all(isinstance(f, str) and f for f in self.fields):
                raise PolicyError(f"key fields are non-empty strings, not {self.fields!r}")
            if len(set(self.fields)) != len(self.fields):
                raise PolicyError(f"key fields repeat: {self.fields!r}")
        elif self.fields:
            raise PolicyError(f"only ListPolicy.by_key takes fields, not {self.mode.name}")

    @classmethod
    def by_key(cls, *fields: str) -> ListPolicy:
        """Merge a list of mappings by matching items on ``fields``."""
        return cls(ListMode.BY_KEY, tuple(fields))

    def __repr__(self) -> str:
        if self.mode is ListMode.BY_KEY:
            return f"ListPolicy.by_key({', '.join(repr(f) for f in self.fields)})"
        return f"ListPolicy.{self.mode.name}"


ListPolicy.UNION = ListPolicy(ListMode.UNION)
ListPolicy.APPEND = ListPolicy(ListMode.APPEND)
ListPolicy.REPLACE = ListPolicy(ListMode.REPLACE)
ListPolicy.KEEP = ListPolicy(ListMode.KEEP)


def compile_pattern(pattern: str) -> tuple[str, ...]:
    """Split a rule's pattern (a JSON Pointer whose segments may be ``*``) into segments."""
    if not isinstance(pattern, str):
        raise PolicyError(f"a rule's path is a JSON Pointer string, not {pattern!r}")
    try:
        return parse(pattern)
    except ValueError:
        raise PolicyError(
            f"a rule's path is a JSON Pointer starting with '/', not {pattern!r}",
            hint="write '/aws' or '/aws/*/regions'",
        ) from None


@dataclass(frozen=True)
class Policy:
    """Everything a merge decides: conflicts, a default for lists, and per-path list rules.

    A list follows the first of these that applies:

    1. ``rules``: JSON Pointer patterns (a ``*`` segment matches any one key or
       index) to list policies; the first matching rule wins;
    2. ``hints``: rules the schemas supply through ``"x-merge-key"``
       annotations. ``None`` (the default) means the bundled schemas' hints,
       so ``/aws`` merges by ``account_id``; ``SchemaRegistry(dir).hints()`` gives
       yours; ``{}`` turns them off;
    3. ``lists``, a default for every other list;
    4. otherwise lists of scalars use ``UNION``, and a list of mappings is a
       :class:`PolicyError` naming its path (never a silent guess).

    >>> p = Policy(rules={"/aws/*/regions": ListPolicy.REPLACE})
    >>> p.with_rule("/gcp", ListPolicy.by_key("project")).rules["/gcp"]
    ListPolicy.by_key('project')
    """

    conflicts: ConflictPolicy = ConflictPolicy.ERROR
    lists: ListPolicy | None = None
    rules: Mapping[str, ListPolicy] = field(default_factory=dict)
    hints: Mapping[str, ListPolicy] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.conflicts, ConflictPolicy):
            raise PolicyError(
                f"conflicts must be a ConflictPolicy, not {self.conflicts!r}",
                hint="ConflictPolicy.ERROR, .FRAGMENT or .BASE",
            )
        if self.lists is not None and not isinstance(self.lists, ListPolicy):
            raise PolicyError(f"lists must be a ListPolicy or None, not {self.lists!r}")
        # Freeze the rules so a Policy really is a value.
        object.__setattr__(self, "rules", _frozen_rules(self.rules))
        if self.hints is not None:
            object.__setattr__(self, "hints", _frozen_rules(self.hints))

    def __hash__(self) -> int:
        hints = None if self.hints is None else tuple(self.hints.items())
        return hash((self.conflicts, self.lists, tuple(self.rules.items()), hints))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Policy):
            return NotImplemented
        return (
            self.conflicts is other.conflicts
            and self.lists == other.lists
            and dict(self.rules) == dict(other.rules)
            and (None if self.hints is None else dict(self.hints))
            == (None if other.hints is None else dict(other.hints))
        )

    def with_rule(self, pattern: str, rule: ListPolicy) -> Policy:
        """A new policy with one more rule (taking precedence over the existing ones)."""
        return replace(
            self, rules={pattern: rule, **{k: v for k, v in self.rules.items() if k != pattern}}
        )


def _frozen_rules(rules: Mapping[str, ListPolicy]) -> Mapping[str, ListPolicy]:
    if not isinstance(rules, Mapping):
        raise PolicyError(f"rules are a mapping of JSON Pointers to ListPolicy, not {rules!r}")
    for pattern, rule in rules.items():
        compile_pattern(pattern)
        if not isinstance(rule, ListPolicy):
            raise PolicyError(
                f"the rule for {pattern} must be a ListPolicy, not {rule!r}",
                pointer=pattern,
                hint="e.g. ListPolicy.UNION or ListPolicy.by_key('account_id')",
            )
    return MappingProxyType(dict(rules))
