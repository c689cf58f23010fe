"""The public doorway stays small and honest (as httpx's test of the same name)."""

from __future__ import annotations

import safemerge


def test_all_is_sorted_and_complete() -> None:
    exported = [name for name in dir(safemerge) if not name.startswith("_")]
    assert safemerge.__all__ == sorted(safemerge.__all__, key=lambda n: (not n.isupper(), n))
    assert sorted(exported) == sorted(safemerge.__all__)


def test_contract_names_are_exported() -> None:
    # The names ../shared/DESIGN.md promises other tools.
    contract = {
        "merge", "Policy", "ConflictPolicy", "ListPolicy", "DELETE", "MergeResult", "Change",
        "SafeMergeError", "MergeConflict", "PolicyError", "ValidationFailed", "ShaConflict",
        "RetriesExhausted", "AuthError", "PermissionDenied", "UnsafeInput", "StoreError",
    }  # fmt: skip
    assert contract <= set(safemerge.__all__)


def test_every_error_is_a_safemerge_error() -> None:
    for name in safemerge.__all__:
        obj = getattr(safemerge, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, safemerge.SafeMergeError), name
