"""The schema registry: bundled per-integration JSON Schemas, plus the caller's.

Files are named ``<integration>.schema.json``; names starting with ``_`` are
shared resources (``_document`` checks the top level, ``_secret`` is the
``${{ jit_secrets.NAME }}`` reference) rather than integrations.

``$ref`` resolves only inside the registry. Every reference is checked when the
registry is built, and the ``referencing.Registry`` underneath is given a
``retrieve`` that refuses: there is no code path that fetches a schema.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar
from urllib.parse import urldefrag, urljoin

import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing._core import Resolver  # not re-exported; typing only
from referencing.jsonschema import DRAFT202012

from ._errors import UnsafeInput
from ._policy import ListPolicy

__all__ = ["DOCUMENT", "SchemaRegistry"]

BASE_URI: Final = "https://schemas.safemerge.invalid/"
"""Where registry schemas live by name. ``.invalid`` never resolves (RFC 2606), and we never look."""

SUFFIX: Final = ".schema.json"
DOCUMENT: Final = "_document"
MERGE_KEY: Final = "x-merge-key"
MAX_SCHEMA_BYTES: Final = 1 << 20
MEMO_SIZE: Final = 256
T = TypeVar("T")

_META = "https://json-schema.org/draft/2020-12/schema"


def _refuse_retrieval(uri: str) -> referencing.Resource[Any]:
    # The only retrieve the registry has. Raising here is what makes "no
    # network, ever" structural rather than a convention.
    raise referencing.exceptions.NoSuchResource(uri)


def _load_json(text: str, origin: str) -> dict[str, Any]:
    def refuse_constant(name: str) -> Any:
        raise UnsafeInput(f"schema {origin} holds {name}, which is not JSON")

    try:
        value = json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise UnsafeInput(
            f"schema {origin} is not valid JSON: {exc.msg}", line=exc.lineno
        ) from None
    if not isinstance(value, dict):
        raise UnsafeInput(f"schema {origin} must be a JSON object")
    return value


def _walk_refs(schema: Any, base: str, pointer: str = "") -> Iterator[tuple[str, str, str]]:
    """Yield ``(pointer, base, ref)`` for every ``$ref``/``$dynamicRef`` in a schema."""
    stack = [(schema, base, pointer)]
    while stack:
        node, node_base, node_pointer = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                node_base = urljoin(node_base, node["$id"])
            for key in ("$ref", "$dynamicRef"):
                if isinstance(node.get(key), str):
                    yield node_pointer, node_base, node[key]
            for key, child in node.items():
                if key not in ("enum", "const", "examples", "default"):
                    stack.append((child, node_base, f"{node_pointer}/{key}"))
        elif isinstance(node, list):
            stack.extend((child, node_base, f"{node_pointer}/{i}") for i, child in enumerate(node))


class SchemaRegistry:
    """The bundled schemas, optionally with a directory of yours that adds or overrides.

    >>> registry = SchemaRegistry()
    >>> registry.integrations
    ('aws', 'azure', 'drata', 'jira')
    >>> registry.hints()["/aws"]
    ListPolicy.by_key('account_id')

    ``SchemaRegistry("my-schemas/")`` reads ``my-schemas/<integration>.schema.json``
    (draft 2020-12); a file named like a bundled one replaces it. Raises
    :class:`UnsafeInput` for an invalid schema or a ``$ref`` that leaves the registry.
    Registries are values: :meth:`with_schema` returns a new one.
    """

    __slots__ = ("_by_name", "_hints", "_memo", "_referencing", "_validators")

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        schemas = dict(_bundled_schemas())
        if directory is not None:
            schemas.update(_read_directory(Path(directory)))
        self._build(schemas)

    def _build(self, schemas: Mapping[str, dict[str, Any]]) -> None:
        by_name: dict[str, dict[str, Any]] = {}
        pairs = []
        for name, schema in schemas.items():
            origin = f"{name}{SUFFIX}"
            declared = schema.get("$schema", _META)
            if declared.rstrip("#") != _META:
                raise UnsafeInput(
                    f"schema {origin} declares {declared!r}; safemerge uses draft 2020-12",
                    hint=f'set "$schema": "{_META}"',
                )
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                where = "/" + "/".join(str(p) for p in exc.absolute_path)
                raise UnsafeInput(
                    f"schema {origin} is not a valid JSON Schema at {where}: {exc.message}"
                ) from None
            uri = urljoin(BASE_URI, origin)
            # The registry names every schema by its file; an "$id" elsewhere would
            # let a caller's file shadow another's, or point outside.
            schema = {**schema, "$id": uri}
            by_name[name] = schema
            pairs.append((uri, referencing.Resource.from_contents(schema, DRAFT202012)))
        registry: referencing.Registry[Any] = referencing.Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]  # attrs alias
        registry = registry.with_resources(pairs).crawl()
        for name, schema in by_name.items():
            uri = schema["$id"]
            resolver = registry.resolver(base_uri=uri)
            for pointer, base, ref in _walk_refs(schema, uri):
                target = urljoin(base, ref)
                try:
                    resolver.lookup(target)
                except referencing.exceptions.Unresolvable:
                    if urldefrag(target).url.startswith(BASE_URI):
                        problem, hint = "does not resolve", "check the file name and the fragment"
                    else:
                        problem = "refers outside the registry"
                        hint = (
                            f"copy the referenced schema into the registry directory as <name>{SUFFIX} "
                            "and refer to it by that file name; schemas are never fetched"
                        )
                    raise UnsafeInput(
                        f"schema {name}{SUFFIX}: $ref {ref!r} at {pointer or '/'} {problem}",
                        pointer=pointer,
                        hint=hint,
                    ) from None
        self._by_name = MappingProxyType(by_name)
        self._referencing = registry
        self._validators: dict[str, Draft202012Validator] = {}
        self._hints: Mapping[str, ListPolicy] | None = None
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()

    @classmethod
    def bundled(cls) -> SchemaRegistry:
        """The registry of the schemas shipped with safemerge (built once)."""
        return _bundled_registry()

    def with_schema(self, name: str, schema: Mapping[str, Any]) -> SchemaRegistry:
        """A new registry with ``schema`` added under ``name`` (or replacing it)."""
        _check_name(name, f"{name}{SUFFIX}")
        new = object.__new__(SchemaRegistry)
        new._build({**self._by_name, name: dict(schema)})
        return new

    @property
    def integrations(self) -> tuple[str, ...]:
        """The integrations with a schema, sorted."""
        return tuple(sorted(n for n in self._by_name if not n.startswith("_")))

    def schema(self, name: str) -> Mapping[str, Any]:
        """The schema registered as ``name`` (``KeyError`` if none)."""
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __repr__(self) -> str:
        return f"SchemaRegistry(integrations={self.integrations!r})"

    def validator(self, name: str) -> Draft202012Validator:
        """A validator for schema ``name`` that resolves ``$ref`` only in this registry.

        It validates the schema with plain ``$ref``s inlined (see :func:`_inline`):
        the same rules, without a registry lookup per item.
        """
        found = self._validators.get(name)
        if found is None:
            schema = _inline(self._by_name[name], self.resolver(name), frozenset())
            found = Draft202012Validator(schema, registry=self._referencing)
            self._validators[name] = found
        return found

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``key`` for this registry (a bounded LRU, thread-safe enough:
        a race computes twice, never wrongly)."""
        try:
            value: T = self._memo[key]
        except KeyError:
            value = compute()
            self._memo[key] = value
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return value

    def resolver(self, name: str) -> Resolver[Any]:
        """A ``referencing`` resolver rooted at schema ``name``."""
        return self._referencing.resolver(base_uri=self._by_name[name]["$id"])

    def hints(self) -> Mapping[str, ListPolicy]:
        """List rules read from ``x-merge-key`` annotations: ``{"/aws": ListPolicy.by_key("account_id")}``.

        Paths use ``*`` where the schema applies to any key or item
        (``additionalProperties``, ``patternProperties``, ``items``).
        """
        if self._hints is None:
            found: dict[str, ListPolicy] = {}
            for name in self.integrations:
                self._collect_hints(
                    self._by_name[name], self.resolver(name), f"/{name}", found, set()
                )
            self._hints = MappingProxyType(found)
        return self._hints

    def _collect_hints(
        self,
        schema: Any,
        resolver: Resolver[Any],
        path: str,
        found: dict[str, ListPolicy],
        seen: set[tuple[str, int]],
    ) -> None:
        if not isinstance(schema, dict) or (path, id(schema)) in seen:
            return
        seen.add((path, id(schema)))
        key = schema.get(MERGE_KEY)
        if key is not None:
            if not (isinstance(key, list) and key and all(isinstance(k, str) and k for k in key)):
                raise UnsafeInput(f"{MERGE_KEY} at {path} must be a non-empty list of field names")
            found.setdefault(path, ListPolicy.by_key(*key))
        if isinstance(schema.get("$ref"), str):
            resolved = resolver.lookup(schema["$ref"])
            self._collect_hints(resolved.contents, resolved.resolver, path, found, seen)
        for child in (
            schema.get("properties", {}).items()
            if isinstance(schema.get("properties"), dict)
            else ()
        ):
            self._collect_hints(child[1], resolver, f"{path}/{child[0]}", found, seen)
        for keyword in ("additionalProperties", "items"):
            self._collect_hints(schema.get(keyword), resolver, f"{path}/*", found, seen)
        for child in (schema.get("patternProperties") or {}).values():
            self._collect_hints(child, resolver, f"{path}/*", found, seen)
        for keyword in ("allOf", "anyOf", "oneOf"):
            for child in schema.get(keyword) or ():
                self._collect_hints(child, resolver, path, found, seen)


_DESCRIPTIVE = frozenset(
    {"title", "description", "$comment", "examples", "deprecated", "readOnly", "writeOnly"}
)
_LITERAL = frozenset({"enum", "const", "examples", "default"})


def _inline(node: Any, resolver: Resolver[Any], seen: frozenset[int]) -> Any:
    """``node`` with every ``{"$ref": ...}`` that stands alone replaced by what it refers to.

    jsonschema resolves a ``$ref`` through ``referencing`` each time it meets
    one: for ``/aws`` a lookup per account and per region, a third of the
    validation time. The rules are the same after inlining, provided the
    ``$ref`` has no sibling keywords, the target uses no dynamic scope, and any
    ``$ref`` left inside the target (a cycle) still resolves from where it
    lands: true when the target keeps its own ``$id``, so it is left as is otherwise.
    """
    if isinstance(node, list):
        return [_inline(child, resolver, seen) for child in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and set(node) - {"$ref"} <= _DESCRIPTIVE:
        try:
            resolved = resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            return node
        contents = resolved.contents
        if (
            id(contents) in seen
            or not isinstance(contents, dict)
            or _mentions(contents, ("$dynamicRef", "$dynamicAnchor"))
        ):
            return node
        inlined = _inline(contents, resolved.resolver, seen | {id(contents)})
        if "$id" not in inlined and _mentions(inlined, ("$ref",)):
            return node
        return {**inlined, **{k: v for k, v in node.items() if k != "$ref"}}
    return {k: v if k in _LITERAL else _inline(v, resolver, seen) for k, v in node.items()}


def _mentions(schema: Any, keywords: tuple[str, ...]) -> bool:
    if isinstance(schema, dict):
        if any(k in schema for k in keywords):
            return True
        return any(_mentions(v, keywords) for k, v in schema.items() if k not in _LITERAL)
    if isinstance(schema, list):
        return any(_mentions(v, keywords) for v in schema)
    return False


def _check_name(name: str, origin: str) -> None:
    if not name or "/" in name or name != name.strip():
        raise UnsafeInput(f"{origin}: an integration name is a plain non-empty word, not {name!r}")


def _read_directory(directory: Path) -> dict[str, dict[str, Any]]:
    if not directory.is_dir():
        raise UnsafeInput(f"schema directory {directory} does not exist or is not a directory")
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        name = path.name[: -len(SUFFIX)]
        _check_name(name, str(path))
        data = path.read_bytes()
        if len(data) > MAX_SCHEMA_BYTES:
            raise UnsafeInput(f"schema {path} is larger than {MAX_SCHEMA_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafeInput(f"schema {path} is not UTF-8") from None
        found[name] = _load_json(text, str(path))
    return found


@cache
def _bundled_schemas() -> Mapping[str, dict[str, Any]]:
    folder = resources.files("safemerge") / "schemas"
    found: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(SUFFIX):
            found[entry.name[: -len(SUFFIX)]] = _load_json(entry.read_text("utf-8"), entry.name)
    return MappingProxyType(found)


@cache
def _bundled_registry() -> SchemaRegistry:
    return SchemaRegistry()
