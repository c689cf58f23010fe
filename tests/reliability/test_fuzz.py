"""Fuzzing the public entry points: nothing but a ``SafeMergeError`` may come out.

- ``parse_fragment`` on arbitrary text, arbitrary bytes, "structured garbage"
  (YAML and JSON punctuation, tags, anchors, directives, odd characters strung
  together) and valid documents with a few bytes changed;
- ``merge`` on arbitrary Python values: non-JSON types (sets, frozensets,
  bytes, tuples, complex, arbitrary objects), NaN and the infinities,
  non-string keys, very large ints, the ``DELETE`` sentinel as a key, a value,
  a list item and a base value, and ``$patch`` directives in odd places, under
  every conflict policy and several list policies;
- ``apply`` on the same fragments, against a ``MemoryStore``: an error leaves
  the store unwritten.

Ints past Python's 4,300-digit ``str()`` limit are fuzzed in their own test:
they once escaped as a raw ``ValueError`` (any message that showed one raised it).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safemerge import (
    DELETE,
    ConflictPolicy,
    ListPolicy,
    MemoryStore,
    Policy,
    Retry,
    SafeMergeError,
    apply,
    merge,
)
from safemerge._values import check_fragment

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# -- parse_fragment -----------------------------------------------------------------------

TOKENS = st.sampled_from(
    [
        *["a", "aws", "drata", "account_id", "$patch", "delete", "x"],
        *[":", ": ", " ", "\n", "- ", "  ", "    ", "\t", ",", "#", "'", '"', "\\"],
        *["[", "]", "{", "}", "? ", "|", ">", "|-\n", ">+\n", "---\n", "...\n"],
        *["&a ", "*a", "&b ", "*b", "<<: ", "!!str ", "!!int ", "!!float ", "!!binary ", "!!set "],
        *["!!python/object:os.system ", "!custom ", "!<tag:x,2000:y> ", "!!map ", "!!seq "],
        *["%YAML 1.2\n", "%YAML 1.1\n", "%TAG ! tag:example.com,2000:\n"],
        *["1", "0x1F", "0o17", "1e999", "-0", ".nan", ".inf", "-.Inf", "NaN", "Infinity"],
        *["~", "null", "true", "yes", "on", "2024-01-01", "12:30:00", "="],
        *["\x00", "\x07", "\ufeff", "\u2028", "\u0085", "é", "\U0001f600", "\ud800"],
    ]
)
garbage = st.lists(TOKENS, max_size=60).map("".join)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
documents = st.dictionaries(st.text(min_size=1, max_size=8), json_values, min_size=1, max_size=4)


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    """A valid document as JSON or YAML-ish text, then a few bytes inserted, deleted or replaced."""
    document = draw(documents)
    if draw(st.booleans()):
        text = json.dumps(document, indent=draw(st.sampled_from([None, 2])))
    else:
        text = "\n".join(f"{k}: {json.dumps(v)}" for k, v in document.items())
    data = bytearray(text.encode("utf-8", "surrogatepass"))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.integers(0, 255))
        if action == "insert":
            data.insert(position, byte)
        elif position < len(data):
            if action == "delete":
                del data[position]
            else:
                data[position] = byte
    return bytes(data)


def _parse_only_safe_errors(text: str | bytes) -> None:
    from safemerge._parse import parse_fragment

    try:
        fragment = parse_fragment(text)
    except SafeMergeError:
        return
    assert type(fragment) is dict
    check_fragment(fragment)  # what came out is JSON data the engine accepts


@settings(FUZZ, max_examples=1000)
@given(st.text() | st.binary())
def test_parse_fragment_on_arbitrary_text_or_bytes(text: str | bytes) -> None:
    pytest.importorskip("safemerge._parse")
    _parse_only_safe_errors(text)


@settings(FUZZ, max_examples=1000)
@given(garbage | garbage.map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_parse_fragment_on_structured_garbage(text: str | bytes) -> None:
    pytest.importorskip("safemerge._parse")
    _parse_only_safe_errors(text)


@FUZZ
@given(mutated_documents())
def test_parse_fragment_on_valid_documents_with_a_few_bytes_changed(data: bytes) -> None:
    pytest.importorskip("safemerge._parse")
    _parse_only_safe_errors(data)


# -- merge and apply ---------------------------------------------------------------------------


def no_sleep(seconds: float) -> None:
    del seconds


class Opaque:
    """An object that is no kind of data at all."""

    def __repr__(self) -> str:
        return "Opaque()"


def python_values(big: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 3),
        big,
        st.floats(),  # NaN and the infinities included
        st.sampled_from([float("nan"), float("inf"), -0.0, 1.0, True, 1, "1"]),
        st.text(max_size=4),
        st.binary(max_size=3),
        st.complex_numbers(max_magnitude=2) | st.just(complex("nan")),
        st.just(DELETE),
        st.just({"$patch": "delete"}),
        st.sampled_from([{"$patch": "merge"}, {"$patch": None}, {"id": "k1", "$patch": "delete"}]),
        st.builds(Opaque),
    )
    keys = st.one_of(
        st.sampled_from(["a", "b", "id", "$patch", "", "/", "~1", "*"]),
        st.integers(-1, 1),
        st.none(),
        st.just(DELETE),
        st.tuples(st.integers(0, 1)),
        st.booleans(),
        st.floats(allow_nan=True),
        st.binary(max_size=2),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.tuples(children, children),
            st.dictionaries(keys, children, max_size=4),
            st.dictionaries(st.sampled_from(["a", "b", "id"]), children, max_size=3),
            st.sets(st.integers(0, 3) | st.text(max_size=2), max_size=3),
            st.frozensets(st.integers(0, 3), max_size=2),
        ),
        max_leaves=16,
    )


# Large, but printable; HUGE_INTS are past Python's 4,300-digit str() limit.
LARGE_INTS = st.sampled_from([2**64, -(2**63) - 1, 10**300, 10**4000])
HUGE_INTS = st.sampled_from([5000, 4301]).map(lambda digits: (-1) ** digits * 10**digits)

POLICIES = st.sampled_from(
    [
        None,
        Policy(conflicts=ConflictPolicy.FRAGMENT),
        Policy(conflicts=ConflictPolicy.BASE),
        Policy(lists=ListPolicy.APPEND),
        Policy(lists=ListPolicy.REPLACE),
        Policy(lists=ListPolicy.KEEP),
        Policy(lists=ListPolicy.by_key("id")),
        Policy(conflicts=ConflictPolicy.FRAGMENT, rules={"/a": ListPolicy.by_key("id", "a")}),
    ]
)


def bases(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.dictionaries(st.sampled_from(["a", "b", "id"]), values, max_size=4), values)


def _merge_only_safe_errors(base: Any, fragment: Any, policy: Policy | None) -> None:
    with contextlib.suppress(SafeMergeError):
        merge(base, fragment, policy)


JSON_WITH_DELETES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3) | st.just(DELETE),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "id", "$patch"]), children, max_size=3)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    bases(python_values(LARGE_INTS)),
    bases(python_values(LARGE_INTS))
    | st.dictionaries(st.sampled_from(["a", "b"]), JSON_WITH_DELETES),
    POLICIES,
)
@example({"a": 1}, {"a": float("nan")}, None)
@example({"a": {1: 2}}, {"a": {"b": DELETE}}, None)
@example({"a": [DELETE]}, {"a": [1]}, None)
@example(
    {"a": [{"id": 1}]},
    {"a": [{"id": 1.0, "$patch": "delete"}]},
    Policy(lists=ListPolicy.by_key("id")),
)
@example({"a": {"x", "y"}}, {"a": ["x"]}, Policy(conflicts=ConflictPolicy.FRAGMENT))
@example({DELETE: 1}, {DELETE: 2}, None)
def test_merge_raises_only_safemerge_errors(
    base: Any, fragment: Any, policy: Policy | None
) -> None:
    _merge_only_safe_errors(base, fragment, policy)


@FUZZ
@given(python_values(LARGE_INTS), POLICIES, st.booleans())
def test_apply_raises_only_safemerge_errors_and_an_error_writes_nothing(
    value: Any, policy: Policy | None, validate: bool
) -> None:
    fragment = {"drata": value} if not isinstance(value, dict) else value
    store = MemoryStore({"drata": {"user_email": "a@b.cc", "workspace": "w"}, "a": [1]})
    before = store.read()
    try:
        apply(store, fragment, policy, retry=Retry(sleep=no_sleep), validate=validate)
    except SafeMergeError:
        assert store.writes == 0
        assert store.read() == before


@settings(max_examples=50, deadline=None)
@given(python_values(HUGE_INTS), python_values(HUGE_INTS), POLICIES)
@example({"a": 10**5000}, {"a": 1}, None)
def test_merge_with_huge_ints_raises_only_safemerge_errors(
    base: Any, fragment: Any, policy: Policy | None
) -> None:
    _merge_only_safe_errors(base, fragment, policy)
