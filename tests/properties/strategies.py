"""Hypothesis strategies for the merge laws: documents, fragments derived from them, policies.

Fragments are *derived from their base* so that they overlap it: they keep keys
with the same value or a different one, add keys, and delete keys that exist
and keys that do not (``DELETE`` and ``{"$patch": "delete"}``).

Lists of mappings need a rule, so the policy is drawn *after* the base and the
fragment, from the lists they hold: every list path gets a pattern (indices
become ``*``), and the rule drawn for a pattern suits every list it matches.
Lists under the key ``items`` (``KEYED``) are always lists of mappings with
unique ``id``s, so those, and only those, may merge ``by_key("id")``.

Everything here also knows the few JSON helpers the laws need, written
independently of the engine's own (``canon``, ``json_eq``, ``escape``, ...).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

from safemerge import DELETE, ConflictPolicy, ListMode, ListPolicy, Policy

Json = Any
Path = tuple[str | int, ...]

PATCH: Final = "$patch"
KEYED: Final = "items"  # lists under this key hold mappings with unique KEY_FIELD values
KEY_FIELD: Final = "id"

# Keys an RFC 6901 pointer must escape, keys that look like indices, the empty key, "*".
AWKWARD_KEYS: Final = ("a/b", "~", "~0", "~1", "/", "~/", "a~1b", "", "0", "1", "*")
PLAIN_KEYS: Final = ("a", "b", "c", "name", KEY_FIELD)

keys: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(PLAIN_KEYS + AWKWARD_KEYS),
    st.text(alphabet="ab/~01", max_size=4),
)

# Python says True == 1 == 1.0; JSON says a boolean is not a number. Mix them on purpose.
COLLIDING: Final[tuple[Json, ...]] = (True, False, 1, 0, 1.0, 0.0, -0.0, "1", "true", "", None)

scalars: st.SearchStrategy[Json] = st.one_of(
    st.sampled_from(COLLIDING),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)

# Keys of keyed items: True, 1 and "1" are three keys; 1 and 1.0 are one.
item_ids: st.SearchStrategy[Json] = st.sampled_from(
    ("k1", "k2", "k3", "k4", "1", "a/b", "~", 1, 1.0, 2, True, False)
)

ALL_MODES: Final = (
    ListMode.UNION,
    ListMode.APPEND,
    ListMode.REPLACE,
    ListMode.KEEP,
    ListMode.BY_KEY,
)
BOTH_WINNERS: Final = (ConflictPolicy.FRAGMENT, ConflictPolicy.BASE)


# -- JSON helpers, independent of the engine ---------------------------------------------------


def canon(value: Json) -> Json:
    """A hashable form in which two values are equal iff they are equal as JSON.

    Booleans are not numbers (``True != 1``); numbers compare as numbers (``1 == 1.0``).
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    if value is None:
        return ("null",)
    if isinstance(value, Mapping):
        return ("object", frozenset((k, canon(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(canon(v) for v in value))
    return ("other", repr(value))


def json_eq(a: Json, b: Json) -> bool:
    """JSON equality (``True != 1``, ``1 == 1.0``), not Python's."""
    return bool(canon(a) == canon(b))


def snapshot(value: Json) -> str:
    """A strict image of a value: tells ``True`` from ``1`` from ``1.0``, and sees key order."""
    return json.dumps(value, default=repr)


def unalias(value: Json) -> Json:
    """A JSON round trip: the same data with no object shared between two paths."""
    return json.loads(json.dumps(value))


def escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + escape(token) for token in path)


def parse_pointer(text: str) -> list[str]:
    if text == "":
        return []
    assert text.startswith("/"), f"not a JSON Pointer: {text!r}"
    return [t.replace("~1", "/").replace("~0", "~") for t in text[1:].split("/")]


def is_delete_directive(value: Json) -> bool:
    return value is DELETE or (
        isinstance(value, Mapping) and len(value) == 1 and value.get(PATCH) == "delete"
    )


def walk(value: Json, path: Path = ()) -> Iterator[tuple[Path, Json]]:
    """Every (path, value) in a document, parents before children."""
    yield path, value
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from walk(child, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            yield from walk(child, (*path, index))


def distinct(
    draw: st.DrawFn, values: st.SearchStrategy[Json], *, max_size: int, taken: Iterable[Json] = ()
) -> list[Json]:
    """Up to ``max_size`` values, JSON-distinct and not ``taken`` (no filter: nothing is rejected)."""
    seen = {canon(v) for v in taken}
    out = []
    for value in draw(st.lists(values, max_size=max_size)):
        if canon(value) not in seen:
            seen.add(canon(value))
            out.append(value)
    return out


# -- documents -----------------------------------------------------------------------------------


@st.composite
def json_values(draw: st.DrawFn, depth: int = 3) -> Json:
    """A JSON value: scalars, mappings, lists of anything (mappings and lists included)."""
    if depth <= 0:
        return draw(scalars)
    kind = draw(st.sampled_from(("scalar", "scalar", "mapping", "list")))
    if kind == "scalar":
        return draw(scalars)
    if kind == "mapping":
        return draw(json_mappings(depth - 1))
    return draw(st.lists(json_values(depth - 1), max_size=4))


@st.composite
def json_mappings(draw: st.DrawFn, depth: int = 3) -> dict[str, Json]:
    """A mapping; at depth, sometimes with a keyed list under ``KEYED``."""
    out = draw(st.dictionaries(keys, json_values(depth), max_size=4))
    if depth > 0 and draw(st.integers(0, 3)) == 0:
        out[KEYED] = draw(keyed_lists(depth - 1))
    return dict(draw(st.permutations(list(out.items()))))


@st.composite
def keyed_lists(draw: st.DrawFn, depth: int = 2, *, directives: bool = False) -> list[Json]:
    """Mappings with unique ``id``s; with ``directives``, some are keyed deletes."""
    ids = distinct(draw, item_ids, max_size=4)
    items: list[Json] = []
    for ident in ids:
        if directives and draw(st.integers(0, 4)) == 0:
            items.append(_keyed_delete(draw, ident))
        else:
            items.append(_keyed_item(draw, ident, draw(json_mappings(depth))))
    return items


def _keyed_item(draw: st.DrawFn, ident: Json, fields: Mapping[str, Json]) -> dict[str, Json]:
    rest = [(k, v) for k, v in fields.items() if k != KEY_FIELD]
    at = draw(st.integers(0, len(rest)))
    return dict([*rest[:at], (KEY_FIELD, ident), *rest[at:]])


def _keyed_delete(draw: st.DrawFn, ident: Json) -> dict[str, Json]:
    if draw(st.booleans()):
        return {KEY_FIELD: ident, PATCH: "delete"}
    return {PATCH: "delete", KEY_FIELD: ident}


@st.composite
def documents(draw: st.DrawFn, *, aliasing: bool = True) -> dict[str, Json]:
    """A base document; with ``aliasing``, one container may sit at two paths (YAML aliases)."""
    doc = draw(json_mappings(3))
    for path, node in list(walk(doc)):
        if path[-1:] == (KEYED,) and draw(st.integers(0, 3)) == 0:
            # An item without its key: never matched, kept as it is.
            keyless = {k: v for k, v in draw(json_mappings(0)).items() if k != KEY_FIELD}
            node.insert(draw(st.integers(0, len(node))), keyless)
    if aliasing and draw(st.integers(0, 3)) == 0:
        _alias(draw, doc)
    return doc


def _alias(draw: st.DrawFn, doc: dict[str, Json]) -> None:
    """Put one container of ``doc`` at a second path too (never inside itself, never keyed)."""
    nodes = [(p, v) for p, v in walk(doc) if p and KEYED not in p]
    sources = [(p, v) for p, v in nodes if isinstance(v, (dict, list))]
    if not sources:
        return
    src_path, src = draw(st.sampled_from(sources))
    targets = [p for p, _ in nodes if p != src_path and p[: len(src_path)] != src_path]
    if not targets:
        return
    target = draw(st.sampled_from(targets))
    parent: Json = doc
    for token in target[:-1]:
        parent = parent[token]
    parent[target[-1]] = src


# -- fragments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    mapping_only: bool = False  # no lists anywhere (the reference-merge law)
    # Directives the engine refuses: items of lists not merged by key, '$patch' beside a key.
    stray_directives: bool = False


def _fresh(draw: st.DrawFn, key: str | int, depth: int, shape: _Shape) -> Json:
    """A new value for ``key``: lists only where the shape allows, keyed lists under KEYED."""
    if shape.mapping_only:
        if depth > 0 and draw(st.booleans()):
            return draw(st.dictionaries(keys, scalars, max_size=3))
        return draw(scalars)
    if key == KEYED:
        return draw(st.one_of(scalars, keyed_lists(max(depth - 1, 0), directives=True)))
    value = draw(json_values(depth))
    if shape.stray_directives and isinstance(value, list) and draw(st.booleans()):
        value.insert(draw(st.integers(0, len(value))), _directive(draw))
    return value


def _directive(draw: st.DrawFn) -> Json:
    return DELETE if draw(st.booleans()) else {PATCH: "delete"}


def _delete_below(draw: st.DrawFn, depth: int, shape: _Shape) -> dict[str, Json]:
    """A mapping that deletes something below (and maybe sets a value beside it)."""
    out: dict[str, Json] = {}
    if draw(st.booleans()):
        out[draw(keys)] = _fresh(draw, "", depth - 1, shape)
    target = draw(keys)
    out[target] = (
        _directive(draw) if depth <= 1 or draw(st.booleans()) else {draw(keys): _directive(draw)}
    )
    if shape.stray_directives and draw(st.booleans()):
        out[target] = {PATCH: "delete", draw(keys): draw(scalars)}  # must stand alone
    return out


def _as_fragment(value: Json, key: str | int | None = None) -> Json:
    """A deep copy of a base value, fit for a fragment: keyed items without a key are left out."""
    if isinstance(value, Mapping):
        return {k: _as_fragment(v, k) for k, v in value.items()}
    if isinstance(value, list):
        items = [i for i in value if key != KEYED or KEY_FIELD in i]
        return [_as_fragment(i) for i in items]
    return value


def derive_mapping(
    draw: st.DrawFn, base: Mapping[str, Json], depth: int, shape: _Shape
) -> dict[str, Json]:
    """A fragment for mapping ``base``: kept, changed, deleted, and new keys, shuffled."""
    out: list[tuple[str, Json]] = []
    for key, value in base.items():
        action = draw(
            st.sampled_from(
                ("omit", "same", "derive", "derive", "other", "delete", "delete", "below")
            )
        )
        if action == "omit":
            continue
        if action == "same":
            out.append((key, _as_fragment(value, key)))
        elif action == "derive":
            out.append((key, derive_value(draw, key, value, depth, shape)))
        elif action == "other":
            out.append((key, _fresh(draw, key, depth, shape)))
        elif action == "delete":
            out.append((key, _directive(draw)))
        else:
            out.append((key, _delete_below(draw, depth, shape)))
    new_keys = distinct(draw, keys, max_size=3, taken=base)
    if not shape.mapping_only and KEYED not in base and draw(st.integers(0, 4)) == 0:
        new_keys.append(KEYED)
    for key in new_keys:
        kind = draw(st.sampled_from(("value", "value", "delete", "below")))
        if kind == "value":
            out.append((key, _fresh(draw, key, depth, shape)))
        elif kind == "delete":
            out.append((key, _directive(draw)))  # deleting what is absent
        else:
            out.append((key, _delete_below(draw, depth, shape)))  # never creates parents
    return dict(draw(st.permutations(out)))


def derive_value(draw: st.DrawFn, key: str | int, value: Json, depth: int, shape: _Shape) -> Json:
    """A fragment value for the base's ``value``: the same, a variation, or a collision."""
    if isinstance(value, Mapping):
        return derive_mapping(draw, value, depth - 1, shape)
    if isinstance(value, list):
        if key == KEYED:
            return _derive_keyed(draw, value, depth - 1, shape)
        return _derive_list(draw, value, depth - 1, shape)
    return draw(st.one_of(st.just(value), st.sampled_from(COLLIDING), scalars))


def _derive_list(draw: st.DrawFn, base: list[Json], depth: int, shape: _Shape) -> list[Json]:
    out: list[Json] = []
    for index, item in enumerate(base):
        action = draw(st.sampled_from(("omit", "same", "same", "derive")))
        if action == "same":
            out.append(_as_fragment(item))
        elif action == "derive":
            out.append(derive_value(draw, index, item, depth, shape))
    out += draw(st.lists(json_values(max(depth, 0)), max_size=2))
    if shape.stray_directives and draw(st.integers(0, 3)) == 0:
        out.append(_directive(draw))
    return list(draw(st.permutations(out)))


def _derive_keyed(draw: st.DrawFn, base: list[Json], depth: int, shape: _Shape) -> list[Json]:
    out: list[Json] = []
    for item in base:
        if KEY_FIELD not in item:
            continue  # a fragment cannot name an item without a key
        ident = item[KEY_FIELD]
        action = draw(st.sampled_from(("omit", "same", "derive", "derive", "delete")))
        if action == "same":
            out.append(_as_fragment(item))
        elif action == "derive":
            rest = {k: v for k, v in item.items() if k != KEY_FIELD}
            out.append(_keyed_item(draw, ident, derive_mapping(draw, rest, depth, shape)))
        elif action == "delete":
            out.append(_keyed_delete(draw, ident))
    new_ids = distinct(
        draw, item_ids, max_size=3, taken=[i[KEY_FIELD] for i in base if KEY_FIELD in i]
    )
    for ident in new_ids:
        if draw(st.integers(0, 3)) == 0:
            out.append(_keyed_delete(draw, ident))  # deleting an absent item
        else:
            out.append(_keyed_item(draw, ident, draw(json_mappings(max(depth, 0)))))
    return list(draw(st.permutations(out)))


# -- policies ------------------------------------------------------------------------------------


def list_paths(document: Json) -> list[tuple[Path, list[Json]]]:
    return [(p, v) for p, v in walk(document) if isinstance(v, list)]


def pattern_of(path: Path) -> str:
    """The rule pattern for a list at ``path``: indices become ``*`` (keyed merges move items)."""
    return "".join("/" + ("*" if isinstance(t, int) else escape(t)) for t in path)


def pattern_matches(pattern: str, path: Path) -> bool:
    segments = parse_pointer(pattern)
    return len(segments) == len(path) and all(
        s in ("*", str(t)) for s, t in zip(segments, path, strict=True)
    )


def _holds_mapping(items: list[Json]) -> bool:
    return any(isinstance(i, Mapping) for i in items)


def _has_directive(items: list[Json]) -> bool:
    return any(i is DELETE or (isinstance(i, Mapping) and PATCH in i) for i in items)


def list_policy(mode: ListMode) -> ListPolicy:
    if mode is ListMode.BY_KEY:
        return ListPolicy.by_key(KEY_FIELD)
    return ListPolicy(mode)


@st.composite
def policies_for(
    draw: st.DrawFn,
    base: Json,
    fragment: Json,
    *,
    conflicts: Sequence[ConflictPolicy] = BOTH_WINNERS,
    modes: Sequence[ListMode] = ALL_MODES,
) -> Policy:
    """A policy that decides every list of ``base`` and ``fragment``.

    Patterns ending in ``KEYED`` come first, so a keyed list is always decided by a
    rule drawn for keyed lists; ``by_key`` is drawn for those only, and is the
    only choice where the fragment deletes keyed items.
    """
    lists = list_paths(base) + list_paths(fragment)
    patterns = sorted({pattern_of(p) for p, _ in lists}, key=lambda s: not s.endswith("/" + KEYED))
    unkeyed = [m for m in modes if m is not ListMode.BY_KEY]
    rules: dict[str, ListPolicy] = {}
    for pattern in patterns:
        keyed = pattern.endswith("/" + KEYED)
        matched = [
            v for p, v in lists if pattern_matches(pattern, p) and (keyed or p[-1:] != (KEYED,))
        ]
        choices: Sequence[ListMode]
        if keyed:
            # Keyed deletes need a keyed merge; otherwise any mode will do.
            choices = [ListMode.BY_KEY] if any(_has_directive(v) for v in matched) else modes
        else:
            choices = unkeyed
            if not any(_holds_mapping(v) for v in matched) and draw(st.booleans()):
                continue  # lists of scalars: the default decides
        rules[pattern] = list_policy(draw(st.sampled_from(choices)))
    default = draw(st.sampled_from([None, *unkeyed]))
    return Policy(
        conflicts=draw(st.sampled_from(list(conflicts))),
        lists=None if default is None else list_policy(default),
        rules=rules,
        hints=draw(st.sampled_from((None, {}))),  # the bundled schemas' hints, or none
    )


# -- cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One merge to check: a base, a fragment derived from it, and a policy deciding its lists."""

    base: dict[str, Json]
    fragment: dict[str, Json]
    policy: Policy


@st.composite
def generic_cases(
    draw: st.DrawFn,
    *,
    conflicts: Sequence[ConflictPolicy] = BOTH_WINNERS,
    modes: Sequence[ListMode] = ALL_MODES,
    stray_directives: bool = False,
    aliasing: bool = True,
) -> Case:
    base = draw(documents(aliasing=aliasing))
    shape = _Shape(stray_directives=stray_directives and draw(st.booleans()))
    fragment = derive_mapping(draw, base, 3, shape)
    policy = draw(policies_for(base, fragment, conflicts=conflicts, modes=modes))
    return Case(base, fragment, policy)


# -- integration-shaped documents ------------------------------------------------------------------

REGIONS: Final = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1")
account_ids: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(("123456789012", "012345678901", "000000000042", "999999999999")),
    st.from_regex(r"[0-9]{12}", fullmatch=True),
)
regions: st.SearchStrategy[list[str]] = st.lists(st.sampled_from(REGIONS), max_size=3, unique=True)


@st.composite
def accounts(draw: st.DrawFn, account_id: str) -> dict[str, Json]:
    account: dict[str, Json] = {"account_id": account_id, "regions": draw(regions)}
    account["type"] = draw(st.sampled_from(("account", "org")))
    if draw(st.booleans()):
        account["account_name"] = draw(st.text(max_size=8))
    return account


@st.composite
def integration_documents(draw: st.DrawFn, *, aliasing: bool = True) -> dict[str, Json]:
    """``{"aws": [accounts with unique account_id], "drata": {...}}``; regions may be aliased."""
    ids = distinct(draw, account_ids, max_size=5)
    doc: dict[str, Json] = {"aws": [draw(accounts(i)) for i in ids]}
    if aliasing and len(ids) >= 2 and draw(st.integers(0, 3)) == 0:
        doc["aws"][-1]["regions"] = doc["aws"][0]["regions"]  # tricky.yml: *default_regions
    if draw(st.booleans()):
        doc["drata"] = {"user_email": "security@example.com", "workspace": "production"}
    return dict(draw(st.permutations(list(doc.items()))))


@st.composite
def integration_fragments(draw: st.DrawFn, base: Mapping[str, Json]) -> dict[str, Json]:
    """Accounts changed, added, deleted (present or not), and regions added or dropped."""
    items: list[Json] = []
    base_ids = [a["account_id"] for a in base.get("aws", [])]
    for account in base.get("aws", []):
        ident = account["account_id"]
        action = draw(st.sampled_from(("omit", "same", "regions", "change", "delete")))
        if action == "same":
            items.append(copy.deepcopy(account))
        elif action == "regions":
            items.append({"account_id": ident, "regions": draw(regions)})
        elif action == "change":
            item = draw(accounts(ident))
            if draw(st.booleans()):
                item["type"] = DELETE
            items.append(item)
        elif action == "delete":
            items.append({"account_id": ident, PATCH: "delete"})
    new_ids = distinct(draw, account_ids, max_size=3, taken=base_ids)
    for ident in new_ids:
        if draw(st.integers(0, 3)) == 0:
            items.append({"account_id": ident, PATCH: "delete"})
        else:
            items.append(draw(accounts(ident)))
    fragment: dict[str, Json] = {"aws": list(draw(st.permutations(items)))}
    if draw(st.booleans()):
        fragment["drata"] = draw(
            st.sampled_from(
                (
                    {"workspace": "staging"},
                    {"workspace": "production"},
                    {"user_email": DELETE},
                    DELETE,
                )
            )
        )
    return fragment


@st.composite
def integration_policies(
    draw: st.DrawFn,
    *,
    conflicts: Sequence[ConflictPolicy] = BOTH_WINNERS,
    modes: Sequence[ListMode] = ALL_MODES,
) -> Policy:
    rules: dict[str, ListPolicy] = {}
    unkeyed = [m for m in modes if m is not ListMode.BY_KEY]
    if draw(st.booleans()):
        rules["/aws/*/regions"] = list_policy(draw(st.sampled_from(unkeyed)))
    hints: Mapping[str, ListPolicy] | None = draw(st.sampled_from((None, {})))  # None: bundled
    if hints is not None or draw(st.booleans()):
        rules["/aws"] = ListPolicy.by_key("account_id")
    default = draw(st.sampled_from([None, *unkeyed]))
    return Policy(
        conflicts=draw(st.sampled_from(list(conflicts))),
        lists=None if default is None else list_policy(default),
        rules=rules,
        hints=hints,
    )


@st.composite
def integration_cases(
    draw: st.DrawFn,
    *,
    conflicts: Sequence[ConflictPolicy] = BOTH_WINNERS,
    modes: Sequence[ListMode] = ALL_MODES,
    aliasing: bool = True,
) -> Case:
    base = draw(integration_documents(aliasing=aliasing))
    fragment = draw(integration_fragments(base))
    policy = draw(integration_policies(conflicts=conflicts, modes=modes))
    return Case(base, fragment, policy)


def merge_cases(
    *,
    conflicts: Sequence[ConflictPolicy] = BOTH_WINNERS,
    modes: Sequence[ListMode] = ALL_MODES,
    stray_directives: bool = False,
    aliasing: bool = True,
) -> st.SearchStrategy[Case]:
    """Generic documents (awkward keys, colliding scalars, keyed lists) and integration files."""
    return st.one_of(
        generic_cases(
            conflicts=conflicts, modes=modes, stray_directives=stray_directives, aliasing=aliasing
        ),
        integration_cases(conflicts=conflicts, modes=modes, aliasing=aliasing),
    )


# -- mapping-only documents (the reference merge) -----------------------------------------------------


@st.composite
def mapping_only_documents(draw: st.DrawFn, depth: int = 3) -> dict[str, Json]:
    """Mappings all the way down, scalars at the leaves."""
    values = st.one_of(scalars, mapping_only_documents(depth - 1)) if depth > 0 else scalars
    return draw(st.dictionaries(keys, values, max_size=4 if depth == 3 else 3))


@st.composite
def mapping_only_cases(draw: st.DrawFn) -> tuple[dict[str, Json], dict[str, Json]]:
    """A mapping-only base with scalar leaves and a mapping-only fragment derived from it."""
    base = draw(mapping_only_documents())
    return base, derive_mapping(draw, base, 3, _Shape(mapping_only=True))
