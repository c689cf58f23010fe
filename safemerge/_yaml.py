"""YAML in and out of the YAML-backed stores (file, GitHub).

``load_document`` turns text into plain JSON data; ``render_document`` turns a
merged document back into text, given the text it was merged from and the
change list, so that a writer can keep what it did not change.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ._errors import UnsafeInput
from ._result import Change

__all__ = ["load_document", "render_document", "to_plain"]


def _yaml() -> YAML:
    # A new instance per call: ruamel's YAML objects are not thread-safe.
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 4096  # never reflow long lines
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def to_plain(node: Any) -> Any:
    """ruamel's round-trip nodes as plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``."""
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            if not isinstance(key, str):
                # Stringifying would merge `1:` into `"1":` and drop one of them on write.
                raise UnsafeInput(f"keys must be strings, found {type(key).__name__} {key!r}")
            out[str(key)] = to_plain(value)
        return out
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def load_document(text: str, *, origin: str = "the file") -> dict[str, Any]:
    """Parse an integration file; an empty file is an empty document."""
    try:
        data = _yaml().load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise UnsafeInput(f"{origin} is not valid YAML: {exc.problem}", line=line) from None
    except YAMLError as exc:
        raise UnsafeInput(f"{origin} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise UnsafeInput(
            f"{origin} must hold a mapping of integration names at the top, not {type(data).__name__}",
            line=1,
        )
    return to_plain(data)  # type: ignore[no-any-return]


def render_document(
    document: Mapping[str, Any],
    previous: str | None = None,
    changes: Sequence[Change] = (),
) -> str:
    """YAML text for ``document``.

    ``previous`` and ``changes`` are what the document was made from; a
    format-preserving writer uses them to leave untouched lines alone.
    """
    del previous, changes  # the plain writer re-emits the whole document
    out = io.StringIO()
    _yaml().dump(dict(document), out)
    return out.getvalue()
