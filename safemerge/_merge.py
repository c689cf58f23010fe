"""The merge engine: pure, linear-time, non-destructive.

Shape of the algorithm: copy the base once (the floor for producing an
independent document), then walk the *fragment* and change the copy in place.
Work beyond the copy is proportional to the fragment, plus one dictionary
index per keyed list the fragment touches: keys are looked up, never scanned.

Changes are recorded as they are made, in document order, with pointers into
the document as it stands at that moment, so the change list is an RFC 6902
patch from the base to the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import MergeConflict, PolicyError, UnsafeInput
from ._hints import default_hints
from ._pointer import join
from ._policy import ConflictPolicy, ListMode, ListPolicy, Policy, compile_pattern
from ._result import Change, Conflict, MergeResult, Op
from ._values import (
    DELETE,
    NOTHING,
    PATCH_KEY,
    check_fragment,
    copy_document,
    freeze,
    is_delete,
    json_equal,
    materialize,
    plain_copy,
)

__all__ = ["merge", "merge_into"]

_Path = tuple[str | int, ...]
_Rules = tuple[tuple[tuple[str, ...], ListPolicy], ...]

_DEFAULT_POLICY = Policy()


def merge(
    base: Mapping[str, Any], fragment: Mapping[str, Any], policy: Policy | None = None
) -> MergeResult:
    """Deep-merge ``fragment`` into ``base`` and report every change.

    Neither input is modified and the result shares no mutable object with
    either. Conflicts follow ``policy.conflicts``; lists follow the policy's
    rules (``/aws`` merges by ``account_id`` out of the box).

    >>> base = {"aws": [{"account_id": "123456789012", "regions": ["us-east-1"]}]}
    >>> frag = {"aws": [{"account_id": "123456789012", "regions": ["eu-west-1"]}]}
    >>> r = merge(base, frag)
    >>> r.document["aws"][0]["regions"]
    ['us-east-1', 'eu-west-1']
    >>> [(c.op.value, c.path) for c in r.changes]
    [('add', '/aws/0/regions/1')]

    Raises :class:`MergeConflict` (every conflict at once, under
    ``ConflictPolicy.ERROR``), :class:`PolicyError` (a list the policy does not
    decide, bad keys) or :class:`UnsafeInput` (input that is not JSON data).
    """
    directives = check_fragment(fragment)
    return merge_into(copy_document(base), fragment, policy, _directives=directives)


def merge_into(
    document: dict[str, Any],
    fragment: Mapping[str, Any],
    policy: Policy | None = None,
    *,
    _directives: bool | None = None,
) -> MergeResult:
    """:func:`merge`, changing ``document`` in place: for a caller that owns it outright.

    ``apply`` reads a fresh document from the store for every merge, so copying
    it again would only double the one cost proportional to the file.
    ``document`` must be plain ``dict``/``list`` data that nothing else holds.
    """
    policy = _DEFAULT_POLICY if policy is None else policy
    if not isinstance(policy, Policy):
        raise PolicyError(f"policy must be a Policy or None, not {type(policy).__name__}")
    directives = check_fragment(fragment) if _directives is None else _directives
    if type(document) is not dict:
        raise UnsafeInput(
            f"a document is a mapping of integration names, not {type(document).__name__}",
            pointer="",
        )
    merger = _Merger(policy, directives=directives)
    try:
        merger.merge_mapping(document, fragment, (), "")
    except RecursionError:
        # Only a pathologically deep *base* under a list the fragment touches can
        # get here (the fragment's depth is bounded by check_fragment).
        raise UnsafeInput("the document nests too deeply to merge", pointer="") from None
    if merger.conflicts:
        raise MergeConflict(merger.conflicts)
    return MergeResult(
        document=document, changes=tuple(merger.changes), skipped=tuple(merger.skipped)
    )


def _rules_for(policy: Policy) -> _Rules:
    rules = [(compile_pattern(p), r) for p, r in policy.rules.items()]
    hints = default_hints() if policy.hints is None else policy.hints
    rules += [(compile_pattern(p), r) for p, r in hints.items()]
    return tuple(rules)


def _matches(pattern: tuple[str, ...], path: _Path) -> bool:
    if len(pattern) != len(path):
        return False
    for want, have in zip(pattern, path):  # noqa: B905 - lengths checked above
        if want != "*" and want != (have if type(have) is str else str(have)):
            return False
    return True


def _holds_mapping(items: Sequence[Any]) -> bool:
    # Delete directives are mappings too, but not data: a list of scalars with a
    # stray directive is refused for the directive, not for holding "mappings".
    return any(isinstance(item, Mapping) and PATCH_KEY not in item for item in items)


class _Merger:
    """One merge's state: the policy, and the changes and conflicts found so far."""

    def __init__(self, policy: Policy, *, directives: bool = True) -> None:
        self.policy = policy
        self.directives = directives  # whether the fragment holds any delete directive
        self.rules = _rules_for(policy)
        self.changes: list[Change] = []
        self.conflicts: list[Conflict] = []
        self.skipped: list[Conflict] = []

    # -- mappings ---------------------------------------------------------------------------

    def merge_mapping(
        self, base: dict[str, Any], fragment: Mapping[str, Any], path: _Path, ptr: str
    ) -> None:
        """Merge ``fragment`` into ``base`` (our own copy) in place."""
        existing = [key for key in fragment if key in base]
        if len(existing) > 1:
            # Report in the file's order, which is the order a reader meets them.
            wanted = set(existing)
            existing = [key for key in base if key in wanted]
        for key in existing:
            value = fragment[key]
            child_ptr = join(ptr, key)
            if is_delete(value):
                self.changes.append(Change(Op.REMOVE, child_ptr, base.pop(key), None))
                continue
            self._refuse_mixed_delete(value, child_ptr)
            old = base[key]
            new = self.merge_value(old, value, (*path, key), child_ptr)
            if new is not old:
                base[key] = new
        for key, value in fragment.items():
            if key in base or is_delete(value):
                continue  # merged above, or deleting what is absent: a no-op
            child_ptr = join(ptr, key)
            self._refuse_mixed_delete(value, child_ptr)
            self._check_new(value, (*path, key), child_ptr)
            new = materialize(value)
            if new is NOTHING:
                continue  # only deletions below: never create parents for them
            base[key] = new
            self.changes.append(Change(Op.ADD, child_ptr, None, plain_copy(new)))

    @staticmethod
    def _refuse_mixed_delete(value: Any, ptr: str) -> None:
        if isinstance(value, Mapping) and PATCH_KEY in value and len(value) > 1:
            raise PolicyError(
                "'$patch: delete' must stand alone in a mapping value",
                pointer=ptr,
                hint="write {'$patch': 'delete'} to delete this key; "
                "only keyed list items carry their key fields beside it",
            )

    # -- values -----------------------------------------------------------------------------

    def merge_value(self, old: Any, value: Any, path: _Path, ptr: str) -> Any:
        """Return what the slot holding ``old`` should hold after merging ``value``."""
        if isinstance(value, Mapping):
            if isinstance(old, Mapping):
                # Copy before changing: the base copy may share this object
                # with another path (YAML aliases survive pickling).
                mine = dict(old)
                self.merge_mapping(mine, value, path, ptr)
                return mine
            if materialize(value) is NOTHING:
                return old  # deletions below a non-mapping: nothing to delete
            return self.conflict(old, value, path, ptr)
        if isinstance(value, (list, tuple)):
            if isinstance(old, list):
                return self.merge_list(old, value, path, ptr)
            if materialize(value) is NOTHING:
                return old
            return self.conflict(old, value, path, ptr)
        if json_equal(old, value):
            return old
        return self.conflict(old, value, path, ptr)

    def conflict(self, old: Any, value: Any, path: _Path, ptr: str) -> Any:
        conflicts = self.policy.conflicts
        if conflicts is ConflictPolicy.FRAGMENT:
            self._check_new(value, path, ptr)
            new = materialize(value)
            self.changes.append(Change(Op.REPLACE, ptr, old, plain_copy(new)))
            return new
        record = Conflict(ptr, plain_copy(old), plain_copy(value))
        (self.conflicts if conflicts is ConflictPolicy.ERROR else self.skipped).append(record)
        return old

    # -- lists ------------------------------------------------------------------------------

    def rule_for(self, path: _Path) -> ListPolicy | None:
        for pattern, rule in self.rules:
            if _matches(pattern, path):
                return rule
        return self.policy.lists

    def _refuse_unkeyed(self, ptr: str) -> PolicyError:
        return PolicyError(
            f"{ptr} is a list of mappings and no rule says how to merge it",
            pointer=ptr,
            hint=(
                f"declare a rule, e.g. Policy(rules={{{ptr!r}: ListPolicy.by_key('<field>')}}) "
                f"(CLI: --list {ptr}=key:<field>), or ListPolicy.REPLACE / ListPolicy.KEEP"
            ),
        )

    def _check_new(self, value: Any, path: _Path, ptr: str) -> None:
        """Refuse now what merging the same fragment again would refuse.

        A subtree the fragment adds whole is copied, not merged, but a re-run
        merges it into what the first run wrote; so it must already follow the
        rules a merge enforces: complete, unique keys in keyed lists; delete
        directives only where a merge accepts them. Directives are then
        dropped by ``materialize`` (deleting what is absent is a no-op).
        """
        if not (self.directives or self._keyed_below(path)):
            return  # nothing in this subtree a merge could refuse
        if isinstance(value, Mapping):
            for key, child in value.items():
                child_ptr = join(ptr, key)
                self._refuse_mixed_delete(child, child_ptr)
                if isinstance(child, (Mapping, list, tuple)):
                    self._check_new(child, (*path, key), child_ptr)
        elif isinstance(value, (list, tuple)):
            rule = self.rule_for(path)
            if rule is not None and rule.mode is ListMode.BY_KEY:
                self._fragment_keys(value, rule.fields, ptr)
            elif (rule is not None and rule.mode in (ListMode.UNION, ListMode.APPEND)) or (
                rule is None and not _holds_mapping(value)
            ):
                self._refuse_directives(value, ptr)
            for index, child in enumerate(value):
                if isinstance(child, (Mapping, list, tuple)):
                    self._check_new(child, (*path, index), join(ptr, index))

    def _keyed_below(self, path: _Path) -> bool:
        """Whether a keyed rule could apply at ``path`` or below it (so a new subtree needs checking)."""
        if self.policy.lists is not None and self.policy.lists.mode is ListMode.BY_KEY:
            return True
        depth = len(path)
        return any(
            rule.mode is ListMode.BY_KEY
            and len(pattern) >= depth
            and _matches(pattern[:depth], path)
            for pattern, rule in self.rules
        )

    def merge_list(self, old: list[Any], value: Sequence[Any], path: _Path, ptr: str) -> list[Any]:
        rule = self.rule_for(path)
        if rule is None:
            if _holds_mapping(value) or _holds_mapping(old):
                if json_equal(old, materialize(value)):
                    return old  # nothing to merge, so nothing to guess
                raise self._refuse_unkeyed(ptr)
            rule = ListPolicy.UNION
        mode = rule.mode
        if mode is ListMode.BY_KEY:
            return self.merge_keyed(old, value, rule.fields, path, ptr)
        if mode is ListMode.KEEP:
            return old
        if mode is ListMode.REPLACE:
            self._check_new(value, path, ptr)
            new = materialize(value)
            if new is NOTHING or json_equal(old, new):
                return old
            self.changes.append(Change(Op.REPLACE, ptr, old, plain_copy(new)))
            return new  # type: ignore[no-any-return]
        self._refuse_directives(value, ptr)
        mine = list(old)
        if mode is ListMode.APPEND:
            for item in value:
                self._add_item(mine, materialize(item), ptr)
            return mine
        # UNION: index what is there, append what is not (linear, JSON equality).
        seen = {freeze(item) for item in old}
        for item in value:
            new = materialize(item)
            key = freeze(new)
            if key not in seen:
                seen.add(key)
                self._add_item(mine, new, ptr)
        return mine

    def _add_item(self, items: list[Any], new: Any, ptr: str) -> None:
        if new is NOTHING:
            return
        items.append(new)
        self.changes.append(Change(Op.ADD, join(ptr, len(items) - 1), None, plain_copy(new)))

    @staticmethod
    def _refuse_directives(value: Sequence[Any], ptr: str) -> None:
        for index, item in enumerate(value):
            if item is DELETE or (isinstance(item, Mapping) and PATCH_KEY in item):
                raise PolicyError(
                    "a delete directive in a list that is not merged by key",
                    pointer=join(ptr, index),
                    hint=f"deleting an item needs a key rule for {ptr}, e.g. ListPolicy.by_key('<field>')",
                )

    # -- keyed lists ------------------------------------------------------------------------

    def _fragment_keys(self, value: Sequence[Any], fields: tuple[str, ...], ptr: str) -> list[Any]:
        """The key of every fragment item, refusing missing fields and duplicates."""
        keys: list[Any] = []
        seen: dict[Any, int] = {}
        for index, item in enumerate(value):
            item_ptr = join(ptr, index)
            if not isinstance(item, Mapping):
                raise PolicyError(
                    f"{ptr} merges by {', '.join(fields)}, but item {index} is not a mapping",
                    pointer=item_ptr,
                    hint=f"give each item of {ptr} its {', '.join(fields)}",
                )
            missing = [f for f in fields if f not in item]
            if missing:
                raise PolicyError(
                    f"item {index} of {ptr} has no {', '.join(missing)}, so it cannot be matched",
                    pointer=item_ptr,
                    hint=f"add {', '.join(missing)} to the item",
                )
            if PATCH_KEY in item and set(item) - {PATCH_KEY, *fields}:
                raise PolicyError(
                    f"a delete directive for {ptr} carries fields other than {', '.join(fields)}",
                    pointer=item_ptr,
                    hint="keep only the key fields beside '$patch: delete' (the whole item goes)",
                )
            key = self._key(item, fields)
            if key in seen:
                raise PolicyError(
                    f"items {seen[key]} and {index} of the fragment's {ptr} have the same "
                    f"{', '.join(fields)}",
                    pointer=item_ptr,
                    hint="merge the two items into one",
                )
            seen[key] = index
            keys.append(key)
        return keys

    @staticmethod
    def _key(item: Mapping[str, Any], fields: tuple[str, ...]) -> Any:
        if len(fields) == 1:
            return freeze(item[fields[0]])
        return tuple(freeze(item[f]) for f in fields)

    def merge_keyed(
        self, old: list[Any], value: Sequence[Any], fields: tuple[str, ...], path: _Path, ptr: str
    ) -> list[Any]:
        # Index the file's items once: linear, and duplicates are found on the way.
        index = self._index(old, fields, ptr)
        # Items of the file missing a key field are never matched and stay as they are:
        # validation reports them; the merge does not guess.

        planned: dict[int, Any] = {}
        appended: list[Mapping[str, Any]] = []
        for key, item in zip(self._fragment_keys(value, fields, ptr), value, strict=True):
            found = index.get(key)
            if found is None:
                if PATCH_KEY not in item:
                    appended.append(item)
                continue  # deleting an absent item: a no-op
            planned[found] = DELETE if PATCH_KEY in item else item

        if not planned and not appended:
            return old
        mine = list(old)
        removed: set[int] = set()
        for position in sorted(planned):
            action = planned[position]
            # Pointers name the document as it stands after earlier removals.
            at = position - len(removed)
            item_ptr = join(ptr, at)
            if action is DELETE:
                self.changes.append(Change(Op.REMOVE, item_ptr, old[position], None))
                removed.add(position)
                continue
            merged = self.merge_value(old[position], action, (*path, at), item_ptr)
            if merged is not old[position]:
                mine[position] = merged
        if removed:
            mine = [item for position, item in enumerate(mine) if position not in removed]
        for item in appended:
            self._check_new(item, (*path, len(mine)), join(ptr, len(mine)))
            self._add_item(mine, materialize(item), ptr)
        return mine

    def _index(self, old: list[Any], fields: tuple[str, ...], ptr: str) -> dict[Any, int]:
        """Map each file item's key to its position; refuse duplicates. The hot loop of a keyed merge."""
        if len(fields) == 1:
            field = fields[0]
            # Fast path, plain dicts (what every store gives): comprehensions, no
            # ABC isinstance (5x slower), and duplicates found by counting.
            pairs = [
                (item[field], at)
                for at, item in enumerate(old)
                if type(item) is dict and field in item
            ]
            if len(pairs) == len(old):
                index = {key if type(key) is str else freeze(key): at for key, at in pairs}
                if len(index) == len(pairs):
                    return index
        index = {}
        for at, item in enumerate(old):
            if isinstance(item, Mapping) and all(f in item for f in fields):
                key = self._key(item, fields)
                if key in index:
                    raise self._duplicate_in_file(ptr, index[key], at, fields)
                index[key] = at
        return index

    @staticmethod
    def _duplicate_in_file(
        ptr: str, first: int, second: int, fields: tuple[str, ...]
    ) -> PolicyError:
        return PolicyError(
            f"items {first} and {second} of {ptr} in the file have the same {', '.join(fields)}",
            pointer=join(ptr, second),
            hint=f"remove or merge the duplicate in the file ({join(ptr, first)} and {join(ptr, second)})",
        )
