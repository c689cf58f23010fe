"""The laws of DESIGN.md § Merge semantics, checked on generated documents and fragments.

Each test is one law. The helpers the laws compare with (JSON equality, pointers,
a patch applier, a reference merge) are written here and in ``strategies``,
independently of the engine, so that the engine is not checked against itself.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Mapping
from typing import Any

import jsonpatch
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from safemerge import (
    DELETE,
    Change,
    ConflictPolicy,
    ListMode,
    MergeConflict,
    MergeResult,
    Op,
    Policy,
    PolicyError,
    merge,
)
from safemerge._pointer import resolve

from .strategies import (
    KEYED,
    PATCH,
    Case,
    Json,
    canon,
    integration_cases,
    is_delete_directive,
    json_eq,
    mapping_only_cases,
    merge_cases,
    parse_pointer,
    pointer,
    snapshot,
    unalias,
    walk,
)

# RFC 6901: a pointer is empty or a sequence of "/" tokens; in a token "~" is always "~0" or "~1".
RFC6901 = re.compile(r"(/([^/~]|~[01])*)*")
ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def _outputs(result: MergeResult) -> list[tuple[str, Json]]:
    """Everything a MergeResult hands out, labelled for messages."""
    out: list[tuple[str, Json]] = [("document", result.document)]
    for n, change in enumerate(result.changes):
        out += [(f"changes[{n}].old", change.old), (f"changes[{n}].new", change.new)]
    for n, skip in enumerate(result.skipped):
        out += [(f"skipped[{n}].base", skip.base), (f"skipped[{n}].fragment", skip.fragment)]
    return out


# -- law 1 -------------------------------------------------------------------------------------


@given(merge_cases(conflicts=list(ConflictPolicy)))
def test_inputs_are_never_mutated(case: Case) -> None:
    base_before, fragment_before = snapshot(case.base), snapshot(case.fragment)
    with contextlib.suppress(MergeConflict):  # ERROR: refusing must not mutate either
        merge(case.base, case.fragment, case.policy)
    assert snapshot(case.base) == base_before
    assert snapshot(case.fragment) == fragment_before


# -- law 2 -------------------------------------------------------------------------------------


@given(merge_cases())
def test_result_shares_no_mutable_object_with_the_inputs(case: Case) -> None:
    base_before, fragment_before = snapshot(case.base), snapshot(case.fragment)
    inputs = {
        id(node): f"{name}{pointer(path)}"
        for name, value in (("base", case.base), ("fragment", case.fragment))
        for path, node in walk(value)
        if isinstance(node, (dict, list))
    }
    result = merge(case.base, case.fragment, case.policy)

    outputs = _outputs(result)
    shared = [
        f"{label}{pointer(path)} is {inputs[id(node)]}"
        for label, value in outputs
        for path, node in walk(value)
        if isinstance(node, (dict, list)) and id(node) in inputs
    ]
    assert not shared, shared

    # Then change every container the result holds: the inputs must not notice.
    mutable = {
        id(node): node
        for _, value in outputs
        for _, node in walk(value)
        if isinstance(node, (dict, list))
    }
    for node in mutable.values():
        if isinstance(node, dict):
            node["\x00probe"] = ["probe"]
        else:
            node.append({"probe": True})
    assert snapshot(case.base) == base_before
    assert snapshot(case.fragment) == fragment_before


# -- law 3 -------------------------------------------------------------------------------------


def _stray_directives(fragment: Json) -> list[str]:
    """Pointers of directives DESIGN.md refuses.

    Delete directives as items of a list not merged by key, and ``$patch`` beside
    other keys anywhere but in a keyed list's item.
    """
    stray = []
    for path, node in walk(fragment):
        if isinstance(node, list) and path[-1:] != (KEYED,):
            stray += [
                pointer((*path, index))
                for index, item in enumerate(node)
                if item is DELETE or (isinstance(item, Mapping) and PATCH in item)
            ]
        elif isinstance(node, Mapping) and PATCH in node and len(node) > 1:
            keyed_item = len(path) >= 2 and path[-2] == KEYED and isinstance(path[-1], int)
            if not keyed_item:
                stray.append(pointer(path))
    return stray


IDEMPOTENT_MODES = [m for m in ListMode if m is not ListMode.APPEND]


@given(merge_cases(modes=IDEMPOTENT_MODES, stray_directives=True))
def test_merging_the_same_fragment_again_changes_nothing(case: Case) -> None:
    try:
        first = merge(case.base, case.fragment, case.policy)
    except PolicyError:
        # DESIGN refuses a delete directive in a list not merged by key, and '$patch'
        # beside other keys. A refusal is fine; but a merge that accepted the
        # fragment must accept it again, below, and change nothing.
        if _stray_directives(case.fragment):
            return
        raise
    again = merge(first.document, case.fragment, case.policy)
    assert again.changes == (), [str(c) for c in again.changes]


# -- law 4 -------------------------------------------------------------------------------------


def _leaves(document: Json) -> list[tuple[list[str | int], Json]]:
    """Every scalar of the document, and every empty container, with its path."""
    return [
        (list(path), value)
        for path, value in walk(document)
        if path and (not isinstance(value, (dict, list)) or not value)
    ]


def _list_position(path: list[str | int], tokens: list[str]) -> tuple[int, int] | None:
    """(the leaf's ancestor's index, the change's index) when both are in the changed list."""
    depth = len(tokens) - 1
    if depth < 0 or len(path) <= depth or not ARRAY_INDEX.fullmatch(tokens[-1]):
        return None
    position = path[depth]
    if not isinstance(position, int) or [str(t) for t in path[:depth]] != tokens[:-1]:
        return None
    return position, int(tokens[-1])


def _follow(leaves: list[tuple[list[str | int], Json]], change: Change) -> list[Any]:
    """The leaves a change does not cover, with their paths after the change."""
    tokens = parse_pointer(change.path)
    depth = len(tokens) - 1
    kept = []
    for path, value in leaves:
        moved = path
        beside = _list_position(path, tokens)
        if beside is not None and change.op is Op.ADD:
            # An item inserted at an index moves the items at and after it down by one.
            position, index = beside
            if position >= index:
                moved = [*path[:depth], position + 1, *path[depth + 1 :]]
        elif [str(t) for t in path[: len(tokens)]] == tokens:
            continue  # the change is at or above this leaf: it covers it
        elif beside is not None and change.op is Op.REMOVE and beside[0] > beside[1]:
            # An item removed before this one: this one moves up by one.
            moved = [*path[:depth], beside[0] - 1, *path[depth + 1 :]]
        kept.append((moved, value))
    return kept


@given(merge_cases())
def test_every_base_leaf_survives_unless_a_change_covers_it(case: Case) -> None:
    result = merge(case.base, case.fragment, case.policy)
    leaves = _leaves(case.base)
    for change in result.changes:
        leaves = _follow(leaves, change)
    lost = []
    for path, value in leaves:
        where = pointer(path)
        try:
            now = resolve(result.document, where)
        except KeyError:
            lost.append(f"{where}: was {value!r}, now absent")
            continue
        if isinstance(value, (dict, list)):
            if type(now) is not type(value):
                lost.append(f"{where}: was {value!r}, now {now!r}")
        elif not json_eq(now, value):
            lost.append(f"{where}: was {value!r}, now {now!r}")
    assert not lost, (lost, [str(c) for c in result.changes])


# -- law 5 -------------------------------------------------------------------------------------


@given(merge_cases())
def test_the_patch_export_turns_the_base_into_the_result(case: Case) -> None:
    result = merge(case.base, case.fragment, case.policy)
    patched = jsonpatch.apply_patch(unalias(case.base), result.to_patch())
    assert json_eq(patched, result.document), (patched, result.document, result.to_patch())


# -- law 6 -------------------------------------------------------------------------------------


def _step(parent: Json, token: str, path: str) -> Json:
    if isinstance(parent, dict):
        assert token in parent, f"{path}: no key {token!r} on the way"
        return parent[token]
    assert isinstance(parent, list), f"{path}: {parent!r} has no children"
    assert ARRAY_INDEX.fullmatch(token), f"{path}: {token!r} is not an array index"
    assert int(token) < len(parent), f"{path}: index {token} past the end"
    return parent[int(token)]


def _apply(document: Json, change: Change) -> None:
    """Apply one change as RFC 6902 would, checking it names what it says it changes."""
    tokens = parse_pointer(change.path)
    assert tokens, f"a change at the document root: {change}"
    parent = document
    for token in tokens[:-1]:
        parent = _step(parent, token, change.path)
    last = tokens[-1]
    if change.op is Op.ADD:
        assert change.old is None, change
        if isinstance(parent, dict):
            assert last not in parent, f"add over the existing {change.path}"
            parent[last] = copy.deepcopy(change.new)
        else:
            assert isinstance(parent, list), f"{change.path}: add into a scalar"
            assert ARRAY_INDEX.fullmatch(last), f"{change.path}: {last!r} is not an index"
            assert int(last) <= len(parent), f"{change.path}: index past the end"
            parent.insert(int(last), copy.deepcopy(change.new))
        return
    current = _step(parent, last, change.path)
    assert json_eq(current, change.old), f"{change.path}: old is {change.old!r}, found {current!r}"
    key: str | int = last if isinstance(parent, dict) else int(last)
    if change.op is Op.REMOVE:
        assert change.new is None, change
        del parent[key]
    else:
        parent[key] = copy.deepcopy(change.new)


@given(merge_cases())
def test_change_paths_are_escaped_rfc6901_pointers_into_the_document(case: Case) -> None:
    result = merge(case.base, case.fragment, case.policy)
    document = unalias(case.base)
    for change in result.changes:
        assert RFC6901.fullmatch(change.path), f"not an RFC 6901 pointer: {change.path!r}"
        assert pointer(parse_pointer(change.path)) == change.path
        if "~0" in change.path or "~1" in change.path:
            event("a change path with an escaped '~' or '/'")
        _apply(document, change)
    assert json_eq(document, result.document)


# -- law 7 -------------------------------------------------------------------------------------

_NOTHING: Any = object()


def _materialize(value: Json) -> Json:
    """The fragment value with its deletions taken out; _NOTHING if only deletions."""
    if is_delete_directive(value):
        return _NOTHING
    if isinstance(value, Mapping):
        out = {k: m for k, v in value.items() if (m := _materialize(v)) is not _NOTHING}
        return _NOTHING if value and not out else out
    return value


def reference_merge(
    base: Mapping[str, Json],
    fragment: Mapping[str, Json],
    winner: ConflictPolicy,
    path: tuple[str, ...] = (),
) -> tuple[dict[str, Json], list[tuple[str, Json, Json]]]:
    """DESIGN.md's merge for mapping-only documents: (document, conflicts in document order)."""
    out = copy.deepcopy(dict(base))
    conflicts: list[tuple[str, Json, Json]] = []
    for key, old in base.items():
        if key not in fragment:
            continue
        value = fragment[key]
        if is_delete_directive(value):
            del out[key]
        elif isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key], inner = reference_merge(old, value, winner, (*path, key))
            conflicts += inner
        elif isinstance(value, Mapping) and _materialize(value) is _NOTHING:
            pass  # deleting below a scalar: nothing there to delete
        elif isinstance(value, Mapping) or isinstance(old, Mapping) or not json_eq(old, value):
            conflicts.append((pointer((*path, key)), old, value))
            if winner is ConflictPolicy.FRAGMENT:
                out[key] = _materialize(value)
    for key, value in fragment.items():
        if key not in base and (new := _materialize(value)) is not _NOTHING:
            out[key] = new
    return out, conflicts


@given(mapping_only_cases(), st.sampled_from(list(ConflictPolicy)))
def test_conflicts_and_documents_agree_with_a_reference_merge(
    case: tuple[dict[str, Json], dict[str, Json]], winner: ConflictPolicy
) -> None:
    base, fragment = case
    expected, conflicts = reference_merge(base, fragment, winner)
    policy = Policy(conflicts=winner)
    if winner is ConflictPolicy.ERROR and conflicts:
        with pytest.raises(MergeConflict) as caught:
            merge(base, fragment, policy)
        assert list(caught.value.paths) == [p for p, _, _ in conflicts]
        found = [(c.path, canon(c.base), canon(c.fragment)) for c in caught.value.conflicts]
        assert found == [(p, canon(b), canon(f)) for p, b, f in conflicts]
        return
    result = merge(base, fragment, policy)
    assert json_eq(result.document, expected), (result.document, expected)
    skipped = conflicts if winner is ConflictPolicy.BASE else []
    assert [s.path for s in result.skipped] == [p for p, _, _ in skipped]


# -- law 8 -------------------------------------------------------------------------------------


@given(integration_cases())
def test_keyed_merges_keep_base_order_then_fragment_order_without_duplicates(case: Case) -> None:
    result = merge(case.base, case.fragment, case.policy)
    base_ids = [a["account_id"] for a in case.base["aws"]]
    items = case.fragment["aws"]
    deleted = {i["account_id"] for i in items if PATCH in i}
    new = [i["account_id"] for i in items if PATCH not in i and i["account_id"] not in base_ids]
    ids = [a["account_id"] for a in result.document["aws"]]
    assert ids == [i for i in base_ids if i not in deleted] + new
    assert len(set(ids)) == len(ids)
