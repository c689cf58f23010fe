"""Errors name the place, show both values (never secrets) and say how to fix."""

from __future__ import annotations

from safemerge import Conflict, MergeConflict, PermissionDenied, PolicyError, UnsafeInput
from safemerge._errors import show_value


def test_str_carries_the_hint() -> None:
    error = PolicyError("no rule for /gcp", pointer="/gcp", hint="declare one")
    assert str(error) == "no rule for /gcp\n  how to fix: declare one"
    assert repr(error) == "PolicyError('no rule for /gcp', pointer='/gcp')"


def test_unsafe_input_names_the_line() -> None:
    error = UnsafeInput("duplicate key 'aws'", line=7)
    assert error.line == 7
    assert str(error).startswith("line 7: duplicate key")


def test_merge_conflict_lists_each_conflict_with_both_values() -> None:
    error = MergeConflict([Conflict("/a", 1, 2), Conflict("/b/c", "x", None)])
    assert error.paths == ("/a", "/b/c")
    assert "/a: file has 1, fragment has 2" in str(error)
    assert "/b/c: file has 'x', fragment has None" in str(error)


def test_secrets_are_redacted_and_long_values_shortened() -> None:
    for key in ("client_secret", "api_token", "password", "API_KEY", "privateKey"):
        assert show_value("hunter2", f"/x/{key}") == "<redacted>"
    assert len(show_value("x" * 10_000, "/a")) < 80


def test_permission_denied_carries_the_missing_permissions() -> None:
    error = PermissionDenied("forbidden", missing_permissions=["jit.integrations.write"])
    assert error.missing_permissions == ("jit.integrations.write",)


def test_a_value_too_large_to_print_does_not_break_a_message() -> None:
    import sys

    if hasattr(sys, "get_int_max_str_digits"):  # Python 3.11+ refuses to print such ints
        big = 10 ** (sys.get_int_max_str_digits() + 10)
        assert show_value(big, "/a") == "<int too large to show>"
    else:  # pragma: no cover - Python 3.10 prints it; reprlib shortens it
        assert len(show_value(10**5000, "/a")) < 100
