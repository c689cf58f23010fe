"""Validation against the registry's schemas, whole or just where a merge changed things.

Messages are written here, not taken from jsonschema: jsonschema's messages
repeat the failing value, and a failing value may be a plaintext secret. A
value is shown only when it is a short scalar and neither its key nor its
schema (``"x-secret": true``) marks it secret.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from ._errors import ValidationFailed, show_value
from ._pointer import join, parse, resolve
from ._result import Change, Op
from ._schemas import DOCUMENT, SUFFIX, SchemaRegistry

__all__ = ["Violation", "check", "check_changes", "check_memoized", "validate"]

SECRET: Final = "x-secret"


@dataclass(frozen=True)
class Violation:
    """One way a document breaks a schema.

    ``pointer`` is the JSON Pointer of the bad value in the whole document,
    ``schema_path`` where in which schema the rule is, ``hint`` the schema's
    description of the value where it has one.

    >>> v = Violation("drata", "/drata/workspace", "must not be empty", "drata.schema.json#/properties/workspace/minLength", "minLength")
    >>> str(v)
    '/drata/workspace: must not be empty'
    """

    integration: str | None
    pointer: str
    message: str
    schema_path: str
    keyword: str
    hint: str | None = None

    def __str__(self) -> str:
        where = self.pointer or "/"
        text = f"{where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


def validate(
    document: Mapping[str, Any],
    registry: SchemaRegistry | None = None,
    *,
    only: Collection[str] | None = None,
    strict: bool = False,
) -> None:
    """Raise :class:`ValidationFailed` listing every problem in ``document``.

    ``only`` limits the check to those integrations. ``strict`` refuses
    integrations the registry has no schema for (otherwise they pass unchecked).

    >>> validate({"drata": {"user_email": "sec@example.com", "workspace": "production"}})
    >>> validate({"drata": {"user_email": "sec@example.com"}})
    Traceback (most recent call last):
    ...
    safemerge._errors.ValidationFailed: 1 validation error:
      /drata: 'workspace' is a required property
      how to fix: fix the values named above (or the fragment that set them)
    """
    problems = check(document, registry, only=only, strict=strict)
    if problems:
        raise ValidationFailed(problems)


def check(
    document: Mapping[str, Any],
    registry: SchemaRegistry | None = None,
    *,
    only: Collection[str] | None = None,
    strict: bool = False,
) -> tuple[Violation, ...]:
    """Every problem in ``document`` (or in the integrations ``only`` names), most relevant first."""
    registry = SchemaRegistry.bundled() if registry is None else registry
    names = list(document) if only is None else [n for n in only if n in document]
    found: list[Violation] = []
    if only is None and DOCUMENT in registry:
        found += _run(registry, DOCUMENT, document, "", None)
    for name in names:
        found += _check_integration(registry, document, name, strict)
    return _ranked(found)


def check_memoized(
    document: Mapping[str, Any], name: str, registry: SchemaRegistry, *, strict: bool = False
) -> tuple[Violation, ...]:
    """``check(document, registry, only=[name])``, remembered by the integration's content.

    Validating a whole integration is the one cost that grows with the file
    (jsonschema needs ~0.15 ms per AWS account); its answer depends only on the
    integration's content, so the registry remembers it by a digest of that.
    A digest costs well under 1% of the validation it saves.
    """
    if name not in registry and not strict:
        return ()
    # Any exact encoding of the content serves as the key: equal bytes mean equal
    # content. pickle is ~4x faster than JSON here; where it cannot encode a
    # value, fall back to repr-ing JSON.
    try:
        data = pickle.dumps(document[name], protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError):
        data = json.dumps(document[name], sort_keys=True, default=repr).encode()
    digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    return registry.memo(
        ("check", name, strict, digest),
        lambda: check(document, registry, only=[name], strict=strict),
    )


def check_changes(
    document: Mapping[str, Any],
    changes: Iterable[Change],
    registry: SchemaRegistry | None = None,
    *,
    strict: bool = False,
) -> tuple[Violation, ...]:
    """Problems in the parts of ``document`` that ``changes`` touched.

    Validates the smallest nodes that can be checked on their own: for ``/aws``,
    just the accounts added or changed, not the other thousands. A schema
    keyword that relates siblings (``required``, ``uniqueItems``, ``minItems``,
    ``$ref`` beside other keywords ...) stops the descent there, and that node
    is validated whole. Problems elsewhere are not looked for.
    """
    registry = SchemaRegistry.bundled() if registry is None else registry
    units: dict[str, _Unit] = {}
    top_level_changed = False
    for change in changes:
        tokens = parse(change.path)
        if not tokens:
            continue
        top_level_changed = top_level_changed or len(tokens) == 1
        unit = _unit(registry, tokens, change.op, strict)
        if unit is not None:
            units.setdefault(unit.pointer, unit)
    found: list[Violation] = []
    if top_level_changed and DOCUMENT in registry:
        found += _run(registry, DOCUMENT, document, "", None)
    # A unit inside another is covered by it: keep those with no unit above them.
    chosen = [
        unit for pointer, unit in units.items() if not any(a in units for a in _ancestors(pointer))
    ]
    for unit in sorted(chosen, key=lambda u: u.order):
        try:
            instance = resolve(document, unit.pointer)
        except KeyError:
            continue  # removed: nothing left here to check
        if unit.schema is None:
            found += _check_integration(registry, document, unit.integration, strict)
        else:
            found += _run_validator(
                unit.validator, instance, unit.pointer, unit.integration, unit.location
            )
    return _ranked(found)


def _ancestors(pointer: str) -> list[str]:
    """``/a/b/c`` -> ``["/a/b", "/a"]`` (not the root: the document is never a unit)."""
    found: list[str] = []
    while True:
        pointer = pointer.rpartition("/")[0]
        if not pointer:
            return found
        found.append(pointer)


@dataclass(frozen=True)
class _Unit:
    """A node validated on its own: where it is, which schema, and how to resolve its $refs."""

    integration: str
    pointer: str
    order: tuple[str, ...]
    schema: Any = None  # None: the whole integration
    validator: Any = None
    location: str = ""


# Keywords that only describe: they cannot be broken by a change below them.
_ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly",
     "$schema", "$id", "$defs", "definitions", "$anchor", "type"}
)  # fmt: skip
# Keywords that constrain each child on its own, so one child can be checked alone.
_PER_CHILD = frozenset({"items", "properties", "additionalProperties", "patternProperties"})


def _unit(registry: SchemaRegistry, tokens: Sequence[str], op: Op, strict: bool) -> _Unit | None:
    """The smallest independently valid node containing the change at ``tokens``."""
    name = tokens[0]
    if name.startswith("_") or name not in registry:
        # No schema: nothing to check, unless strict mode refuses the integration itself.
        return _Unit(name, join("", name), tuple(tokens[:1])) if strict else None
    validator = registry.validator(name)
    resolver = registry.resolver(name)
    schema: Any = validator.schema  # refs inlined: see SchemaRegistry.validator
    location = f"{name}{SUFFIX}#"
    depth = 1
    while depth < len(tokens):
        # Follow a lone $ref (annotations beside it are harmless).
        while (
            isinstance(schema, dict)
            and isinstance(schema.get("$ref"), str)
            and set(schema) - {"$ref"} <= _ANNOTATIONS
        ):
            ref = schema["$ref"]
            resolved = resolver.lookup(ref)
            schema, resolver = resolved.contents, resolved.resolver
            location = ref if not ref.startswith("#") else location.split("#")[0] + ref
        if not isinstance(schema, dict):
            break
        keywords = {k for k in schema if not k.startswith("x-")}
        if not keywords <= _ANNOTATIONS | _PER_CHILD:
            break  # a keyword that relates the children: validate this node whole
        token = tokens[depth]
        found = _child_schema(schema, token)
        if found is None:
            break
        step, child = found
        if child is True:
            return None  # anything goes below here
        schema, location = child, f"{location}/{step}"
        depth += 1
        if depth == len(tokens) and op is Op.REMOVE:
            # The removed node is gone; what could its removal break? Only the
            # parent's own keywords, and we only got here if it has none.
            return None
    pointer = "".join(join("", t) for t in tokens[:depth])
    if depth == 1:
        return _Unit(name, pointer, tuple(tokens[:1]))
    return _Unit(
        name,
        pointer,
        tuple(tokens[:depth]),
        schema,
        # One validator per subschema, not per change: evolve() costs more than
        # validating a small node.
        registry.memo(
            ("unit", name, location), lambda: validator.evolve(schema=schema, _resolver=resolver)
        ),
        location,
    )


def _child_schema(schema: Mapping[str, Any], token: str) -> tuple[str, Any] | None:
    """The subschema a child named ``token`` is checked against, and its path; None when unclear."""
    if "items" in schema:
        return ("items", schema["items"]) if token.isdigit() else None
    properties = schema.get("properties") or {}
    if token in properties:
        return f"properties/{token}", properties[token]
    patterns = schema.get("patternProperties") or {}
    matching = [p for p in patterns if re.search(p, token)]
    if len(matching) == 1:
        return f"patternProperties/{matching[0]}", patterns[matching[0]]
    if matching:
        return None
    return "additionalProperties", schema.get("additionalProperties", True)


def _check_integration(
    registry: SchemaRegistry, document: Mapping[str, Any], name: str, strict: bool
) -> list[Violation]:
    if name not in registry or name.startswith("_"):
        if not strict:
            return []
        return [
            Violation(
                name,
                join("", name),
                f"no schema for integration {name!r} (strict mode refuses unknown integrations)",
                "",
                "strict",
                hint=f"add {name}{SUFFIX} to your schema directory, or drop strict mode",
            )
        ]
    return _run(registry, name, document[name], join("", name), name)


def _run(
    registry: SchemaRegistry, name: str, instance: Any, pointer: str, integration: str | None
) -> list[Violation]:
    return _run_validator(
        registry.validator(name), instance, pointer, integration, f"{name}{SUFFIX}#"
    )


def _run_validator(
    validator: Draft202012Validator,
    instance: Any,
    pointer: str,
    integration: str | None,
    location: str,
) -> list[Violation]:
    found = []
    for error in validator.iter_errors(instance):
        # anyOf/oneOf: name the branch that came closest, as jsonschema's best_match does.
        leaf = best_match([error]) if error.context else error
        found.append(_violation(leaf or error, pointer, integration, location))
    return found


def _ranked(found: list[Violation]) -> tuple[Violation, ...]:
    """Most relevant first: the document's top level, then each integration in order,
    and within one, shallower (more structural) problems before deeper ones."""
    unique = list(dict.fromkeys(found))
    order = {v.integration: i for i, v in reversed(list(enumerate(unique)))}
    return tuple(
        sorted(
            unique,
            key=lambda v: (v.integration is not None, order[v.integration], v.pointer.count("/")),
        )
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def _is_secret(error: ValidationError) -> bool:
    if isinstance(error.schema, Mapping) and error.schema.get(SECRET):
        return True
    return any(isinstance(s, Mapping) and s.get(SECRET) for s in _schemas_of(error))


def _schemas_of(error: ValidationError) -> Iterable[Any]:
    parent = error.parent
    while parent is not None:
        yield parent.schema
        parent = parent.parent


def _violation(
    error: ValidationError, prefix: str, integration: str | None, location: str
) -> Violation:
    pointer = prefix
    for part in error.absolute_path:
        pointer = join(pointer, part)
    if integration is None and pointer:
        integration = parse(pointer)[0]
    secret = _is_secret(error)
    shown = (
        "the value"
        if secret or isinstance(error.instance, (Mapping, list))
        else show_value(error.instance, pointer)
    )
    if shown == "<redacted>":
        shown, secret = "the value", True
    keyword = str(error.validator)
    value: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "type":
        message = f"must be {_expected(value)}, not {_json_type(error.instance)}"
    elif keyword == "pattern":
        if secret:
            message = "must be a ${{ jit_secrets.NAME }} reference, not a plaintext value (value not shown)"
        else:
            message = f"{shown} does not match {value!r}"
    elif keyword in ("enum", "const"):
        allowed = ", ".join(repr(v) for v in (value if keyword == "enum" else [value]))
        message = f"{shown} is not allowed; use {allowed}"
    elif keyword in (
        "required",
        "additionalProperties",
        "unevaluatedProperties",
        "dependentRequired",
    ):
        message = error.message  # names keys, never values
    elif keyword == "uniqueItems":
        message = "has duplicate items"
    elif keyword in (
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
    ):
        message = f"fails {keyword}={value}"
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        message = f"{shown} fails {keyword}={value}"
    elif keyword == "false":
        message = "is not allowed here"
    else:
        message = f"fails {keyword!r}" if secret else f"{shown} fails {keyword!r}"
    where = "/".join(str(p) for p in error.absolute_schema_path)
    location = f"{location}/{where}" if where else location
    hint = schema.get("description") if isinstance(schema.get("description"), str) else None
    return Violation(integration, pointer, message, location, keyword, hint)


def _expected(value: Any) -> str:
    names = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
             "number": "a number", "boolean": "a boolean", "null": "null"}  # fmt: skip
    if isinstance(value, list):
        return " or ".join(names.get(v, str(v)) for v in value)
    return names.get(value, str(value))
