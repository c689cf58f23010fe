"""RFC 6901 pointers."""

from __future__ import annotations

import pytest

from safemerge._pointer import escape, join, parse, resolve, unescape


@pytest.mark.parametrize(
    ("segment", "escaped"),
    [
        ("a", "a"),
        ("a/b", "a~1b"),
        ("m~n", "m~0n"),
        ("~1", "~01"),
        ("/~", "~1~0"),
        ("", ""),
        (3, "3"),
    ],
)
def test_escape_round_trips(segment: str | int, escaped: str) -> None:
    assert escape(segment) == escaped
    assert unescape(escaped) == str(segment)


def test_rfc6901_examples_resolve() -> None:
    # The examples of RFC 6901 §5.
    doc = {
        "foo": ["bar", "baz"],
        "": 0,
        "a/b": 1,
        "c%d": 2,
        "e^f": 3,
        "g|h": 4,
        "i\\j": 5,
        'k"l': 6,
        " ": 7,
        "m~n": 8,
    }
    assert resolve(doc, "") == doc
    assert resolve(doc, "/foo") == ["bar", "baz"]
    assert resolve(doc, "/foo/0") == "bar"
    assert resolve(doc, "/") == 0
    assert resolve(doc, "/a~1b") == 1
    assert resolve(doc, "/m~0n") == 8
    assert resolve(doc, "/ ") == 7


@pytest.mark.parametrize("pointer", ["/nope", "/foo/2", "/foo/01", "/foo/-", "/foo/0/x"])
def test_resolve_refuses_what_is_not_there(pointer: str) -> None:
    with pytest.raises(KeyError):
        resolve({"foo": ["bar", "baz"]}, pointer)


def test_parse_and_join() -> None:
    assert parse(join(join("", "a/b"), 0)) == ("a/b", "0")
    with pytest.raises(ValueError, match="starts with"):
        parse("aws")
