"""YAML in and out of the YAML-backed stores (file, GitHub): guarded in, format-preserving out.

``read_yaml`` parses a file with every guard of :mod:`safemerge._parse` and
keeps the composed node tree; ``render_document`` applies a change list to the
text that was read (see :mod:`safemerge._yamlwrite`), so a pull request shows
only the lines that changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._parse import parse_yaml
from ._result import Change
from ._yamlwrite import Rendered, dump_document, render_changes

__all__ = ["Rendered", "read_yaml", "render_document"]

BOM = "\ufeff"


def read_yaml(text: str | bytes, *, origin: str = "the file") -> tuple[dict[str, Any], Any]:
    """The plain document in ``text``, and the node tree a writer needs to edit ``text`` in place."""
    parsed = parse_yaml(text, origin=origin)
    return parsed.document, parsed.root


def render_document(
    document: Mapping[str, Any],
    previous: str | None = None,
    changes: Sequence[Change] = (),
    tree: Any = None,
) -> Rendered:
    """YAML text for ``document``, which is ``previous`` (the text read) with ``changes`` applied.

    Without ``previous`` (a new file) the document is written fresh. The
    result always reads back as ``document``; ``warnings`` say when lines had
    to be rewritten beyond the changes.
    """
    if previous is None or not previous.strip():
        return Rendered(dump_document(document) if document else (previous or ""))
    if previous.startswith(BOM):
        # Node positions count from after the byte-order mark: edit without it, keep it.
        inner = render_document(document, previous[1:], changes, tree)
        return Rendered(BOM + inner.text, inner.warnings)
    if tree is None:
        _, tree = read_yaml(previous)
    if tree is None:
        # Only comments so far: keep them, and write the document after them.
        head = previous if previous.endswith("\n") else previous + "\n"
        return Rendered(head + dump_document(document) if document else previous)
    return render_changes(previous, tree, document, changes, lambda text: read_yaml(text)[0])
