"""Policies are values: validated on construction, frozen, comparable."""

from __future__ import annotations

import dataclasses

import pytest

from safemerge import ConflictPolicy, ListMode, ListPolicy, Policy, PolicyError


def test_list_policies_repr_as_code() -> None:
    assert repr(ListPolicy.UNION) == "ListPolicy.UNION"
    assert repr(ListPolicy.by_key("a", "b")) == "ListPolicy.by_key('a', 'b')"
    assert ListPolicy.by_key("a") == ListPolicy.by_key("a")
    assert ListPolicy.by_key("a").mode is ListMode.BY_KEY


@pytest.mark.parametrize("fields", [(), ("",), ("a", "a")])
def test_bad_key_fields_are_refused(fields: tuple[str, ...]) -> None:
    with pytest.raises(PolicyError):
        ListPolicy.by_key(*fields)


def test_only_by_key_takes_fields() -> None:
    with pytest.raises(PolicyError):
        ListPolicy(ListMode.UNION, ("a",))


def test_policy_is_frozen_and_its_rules_cannot_be_changed_behind_its_back() -> None:
    rules = {"/aws": ListPolicy.by_key("account_id")}
    policy = Policy(rules=rules)
    rules["/x"] = ListPolicy.KEEP
    assert "/x" not in policy.rules
    with pytest.raises(TypeError):
        policy.rules["/y"] = ListPolicy.KEEP  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.conflicts = ConflictPolicy.BASE  # type: ignore[misc]


def test_policies_compare_and_hash_as_values() -> None:
    a = Policy(rules={"/a": ListPolicy.KEEP})
    b = Policy(rules={"/a": ListPolicy.KEEP})
    assert a == b
    assert hash(a) == hash(b)
    assert a != Policy()


def test_with_rule_returns_a_new_policy_whose_rule_comes_first() -> None:
    base = Policy(rules={"/*": ListPolicy.KEEP})
    new = base.with_rule("/r", ListPolicy.REPLACE)
    assert list(new.rules) == ["/r", "/*"]
    assert list(base.rules) == ["/*"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"conflicts": "error"},
        {"lists": "union"},
        {"rules": {"aws": ListPolicy.UNION}},
        {"rules": {"/aws": "union"}},
    ],
)
def test_strings_are_not_policies(kwargs: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        Policy(**kwargs)  # type: ignore[arg-type]
