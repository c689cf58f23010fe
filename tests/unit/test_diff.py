"""diff(): the change list between two documents is a patch from one to the other."""

from __future__ import annotations

from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from safemerge._diff import diff
from safemerge._values import json_equal

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", "c"]))
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.sampled_from(["x", "y", "a/b", "~"]), inner, max_size=4),
    ),
    max_leaves=20,
)
_DOCS = st.dictionaries(st.sampled_from(["aws", "drata", "jira"]), _VALUES, max_size=3)


@settings(max_examples=300)
@given(old=_DOCS, new=_DOCS)
def test_the_diff_applied_in_order_turns_old_into_new(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    patched = jsonpatch.apply_patch(old, [c.to_patch_op() for c in diff(old, new)])
    assert json_equal(patched, new)


def test_an_appended_account_is_one_add() -> None:
    old = {"aws": [{"account_id": "1"}, {"account_id": "2"}]}
    new = {"aws": [{"account_id": "1"}, {"account_id": "2"}, {"account_id": "3"}]}
    assert [(c.op.value, c.path) for c in diff(old, new)] == [("add", "/aws/2")]


def test_a_region_added_to_an_account_is_one_add_inside_it() -> None:
    old = {"aws": [{"account_id": "1", "regions": ["a"]}, {"account_id": "2", "regions": ["a"]}]}
    new = {
        "aws": [{"account_id": "1", "regions": ["a"]}, {"account_id": "2", "regions": ["a", "b"]}]
    }
    assert [(c.op.value, c.path) for c in diff(old, new)] == [("add", "/aws/1/regions/1")]


def test_a_removed_account_is_one_remove() -> None:
    old = {"aws": [{"account_id": "1"}, {"account_id": "2"}, {"account_id": "3"}]}
    new = {"aws": [{"account_id": "1"}, {"account_id": "3"}]}
    assert [(c.op.value, c.path) for c in diff(old, new)] == [("remove", "/aws/1")]
