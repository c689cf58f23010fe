"""JSON values as the engine sees them: equality, hashing, copying, checking.

The engine works on plain JSON data (``dict``, ``list``, ``str``, ``int``,
``float``, ``bool``, ``None``). Equality is *JSON* equality, not Python's:
``True != 1`` (a boolean is not a number) but ``1 == 1.0`` (one number).
"""

from __future__ import annotations

import enum
import math
import pickle
from collections.abc import Mapping
from typing import Any, Final

from ._errors import PolicyError, UnsafeInput
from ._pointer import join

__all__ = [
    "DELETE",
    "MAX_MERGE_DEPTH",
    "NOTHING",
    "PATCH_KEY",
    "check_fragment",
    "copy_document",
    "freeze",
    "is_delete",
    "json_equal",
    "materialize",
]

PATCH_KEY: Final = "$patch"

# The merge recurses once per level of the *fragment*; this bound keeps it far
# from Python's recursion limit. Integration files are ~8 levels deep.
MAX_MERGE_DEPTH: Final = 200

# Integers past this many bits are refused: no setting needs them, and Python
# cannot even print one past ~14,000 bits (its int-to-str limit), so every
# message that showed the value would fail.
MAX_INT_BITS: Final = 256


class _DeleteType(enum.Enum):
    DELETE = "DELETE"

    def __repr__(self) -> str:
        return "safemerge.DELETE"


DELETE: Final = _DeleteType.DELETE
"""Put this in a fragment to remove a key (in files: ``{"$patch": "delete"}``).

>>> from safemerge import merge, DELETE
>>> merge({"a": 1, "b": 2}, {"b": DELETE}).document
{'a': 1}
"""


class _Nothing(enum.Enum):
    # What a fragment value made only of delete directives materialises to:
    # there is nothing to add, so nothing is added (no empty parents).
    NOTHING = "NOTHING"


NOTHING: Final = _Nothing.NOTHING

_SCALARS = (str, int, float, bool, type(None))


def is_delete(value: Any) -> bool:
    """True for ``DELETE`` and for a mapping that is exactly ``{"$patch": "delete"}``."""
    if value is DELETE:
        return True
    return isinstance(value, Mapping) and len(value) == 1 and value.get(PATCH_KEY) == "delete"


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, ``1 == 1.0``, containers compare deeply.

    >>> json_equal(True, 1), json_equal(1, 1.0), json_equal([True], [1])
    (False, True, False)
    """
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping) or len(a) != len(b):
            return False
        return all(key in b and json_equal(value, b[key]) for key, value in a.items())
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, (Mapping, list, tuple)):
        return False
    return bool(a == b)


class _Tag(enum.Enum):
    BOOL = 1
    MAP = 2
    LIST = 3
    OTHER = 4


def freeze(value: Any) -> Any:
    """A hashable stand-in for ``value`` such that ``freeze(a) == freeze(b)`` iff ``json_equal(a, b)``.

    Used to index list items, so UNION and keyed merges are linear, never a scan.
    """
    t = type(value)
    if t is str or t is int or t is float or value is None:
        return value
    if t is bool:
        return (_Tag.BOOL, value)
    if isinstance(value, Mapping):
        return (_Tag.MAP, frozenset((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (_Tag.LIST, tuple(freeze(v) for v in value))
    if isinstance(value, bool):
        return (_Tag.BOOL, bool(value))
    if isinstance(value, (str, int, float)):
        return value
    try:
        hash(value)
    except TypeError:
        return (_Tag.OTHER, id(value))
    return (_Tag.OTHER, value)


def check_fragment(fragment: Any, *, max_depth: int = MAX_MERGE_DEPTH) -> bool:
    """Refuse a fragment that is not JSON data the engine can merge safely.

    Walks iteratively (a 10,000-deep fragment must not hit Python's recursion
    limit) and raises :class:`UnsafeInput` naming the pointer of the first
    problem: a non-mapping top level, a non-string key, a value that is not
    JSON (NaN and infinities included), or nesting deeper than ``max_depth``.
    ``$patch`` directives other than ``delete`` are a :class:`PolicyError`.
    Returns whether the fragment holds any delete directive.
    """
    if not isinstance(fragment, Mapping):
        raise UnsafeInput(
            f"a fragment is a mapping of integration names, not {type(fragment).__name__}",
            pointer="",
            hint="wrap the value under its integration name, e.g. {'aws': [...]}",
        )
    # Pointers are built only for an error: each stack entry keeps its parent
    # chain as nested tuples, which costs far less than a string per node.
    stack: list[tuple[Any, Any, int]] = [(fragment, None, 0)]
    directives = False
    while stack:
        value, chain, depth = stack.pop()
        t = type(value)
        if t is str or t is bool or value is None:
            continue
        if depth > max_depth:
            raise UnsafeInput(
                f"the fragment nests deeper than {max_depth} levels",
                pointer=pointer_of(chain),
                hint="integration files are a few levels deep; check how the fragment was generated",
            )
        if t is dict or isinstance(value, Mapping):
            for key, child in value.items():
                if type(key) is not str and not isinstance(key, str):
                    raise UnsafeInput(
                        f"keys must be strings, found {type(key).__name__} {key!r}",
                        pointer=pointer_of(chain),
                        hint="quote the key",
                    )
                if key == PATCH_KEY:
                    if child != "delete":
                        raise PolicyError(
                            f"'$patch' must be 'delete', found {child!r}",
                            pointer=pointer_of((chain, key)),
                            hint="write {'$patch': 'delete'} to remove a key or a keyed list item",
                        )
                    directives = True
                stack.append((child, (chain, key), depth + 1))
        elif t is list or isinstance(value, tuple):
            for index, child in enumerate(value):
                stack.append((child, (chain, index), depth + 1))
        elif value is DELETE:
            directives = True
        elif t is int or (isinstance(value, int) and not isinstance(value, bool)):
            if value.bit_length() > MAX_INT_BITS:
                raise UnsafeInput(
                    f"an integer of {value.bit_length()} bits is not configuration",
                    pointer=pointer_of(chain),
                    hint="write very long numbers (ids) as strings",
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise UnsafeInput(
                    f"{value!r} is not a JSON number",
                    pointer=pointer_of(chain),
                    hint="use a finite number or a string",
                )
        elif not isinstance(value, _SCALARS):
            raise UnsafeInput(
                f"{type(value).__name__} is not JSON data",
                pointer=pointer_of(chain),
                hint="use only mappings, lists, strings, numbers, booleans and null",
            )
    return directives


def pointer_of(chain: Any) -> str:
    """The JSON Pointer of a chain of ``(parent_chain, key)`` tuples (``None`` is the root).

    Walks build such chains per container and turn one into a string only
    for an error: far cheaper than a pointer string per node.
    """
    parts: list[Any] = []
    while chain is not None:
        chain, key = chain
        parts.append(key)
    pointer = ""
    for key in reversed(parts):
        pointer = join(pointer, key)
    return pointer


def materialize(value: Any) -> Any:
    """A fresh plain copy of a fragment value with every delete directive taken out.

    Returns ``NOTHING`` when the value consists only of deletions (so adding it
    would create an empty parent out of a request to delete something absent).
    """
    t = type(value)
    if t is str or t is int or t is float or value is None:
        return value
    if is_delete(value):
        return NOTHING
    if isinstance(value, Mapping):
        if PATCH_KEY in value:  # a keyed delete directive {"id": ..., "$patch": "delete"}
            return NOTHING
        out: dict[str, Any] = {}
        for key, child in value.items():
            new = materialize(child)
            if new is not NOTHING:
                out[key] = new
        if value and not out:
            return NOTHING
        return out
    if isinstance(value, (list, tuple)):
        items = [v for v in (materialize(v) for v in value) if v is not NOTHING]
        if value and not items:
            return NOTHING
        return items
    if isinstance(value, bool):
        return bool(value)
    return value


def plain_copy(value: Any) -> Any:
    """A deep copy into plain ``dict``/``list`` (tuples become lists; no sharing)."""
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if t is dict:
        return {k: plain_copy(v) for k, v in value.items()}
    if t is list:
        return [plain_copy(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_copy(v) for v in value]
    return value


def copy_document(document: Any) -> dict[str, Any]:
    """An independent deep copy of the base document.

    ``pickle`` is the fastest deep copy CPython has for plain data (C all the
    way down, ~1.5x faster than a Python recursive copy). It preserves shared
    subobjects (YAML aliases); the engine therefore copies every container
    it descends into before changing it, so a change never leaks to another path.
    """
    if type(document) is not dict:
        if not isinstance(document, Mapping):
            raise UnsafeInput(
                f"a document is a mapping of integration names, not {type(document).__name__}",
                pointer="",
            )
        try:
            return plain_copy(document)  # type: ignore[no-any-return]
        except RecursionError:
            raise UnsafeInput("the document nests too deeply to copy", pointer="") from None
    try:
        copied = pickle.loads(pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL))
    except RecursionError:
        raise UnsafeInput("the document nests too deeply to copy", pointer="") from None
    except (pickle.PicklingError, TypeError, AttributeError, ValueError) as exc:
        raise UnsafeInput(
            f"the document holds a value that is not JSON data: {exc}", pointer=""
        ) from None
    return copied  # type: ignore[no-any-return]
