"""The checker every YAML-writer test uses: only the lines that changed, changed.

``assert_only_changed_lines(old, new, changes)`` passes when every line of
``old`` that is missing from ``new`` (by a line diff, so order counts) lies
within a node that a ``remove`` or ``replace`` change touched (the node's own
lines, and the comment lines right above it), or within a flow collection
(``[...]``, ``{...}``) that an ``add`` went into. Lines the changes did not touch
must be present, in order, byte for byte.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from safemerge._pointer import parse
from safemerge._result import Change, Op

__all__ = ["assert_only_changed_lines"]


def _last_line(node: Node) -> int:
    while isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    end = node.end_mark
    return int(end.line if end.column > 0 else end.line - 1)


def _touched_lines(old: str, changes: Sequence[Change]) -> set[int]:
    """0-based lines of ``old`` that belong to nodes removed or replaced by ``changes``."""
    root = YAML(typ="rt", pure=True).compose(old)
    lines = old.splitlines()
    # Replay the changes over the original nodes, as the writer does: list
    # indices move as items are removed and added.
    items: dict[int, list[Node | None]] = {}
    key_lines: dict[int, int] = {}  # a list's id -> the line of the key that holds it
    touched: set[int] = set()
    for change in changes:
        node: Node | None = root
        head: Node | None = None
        for token in parse(change.path):
            if node is None or isinstance(node, ScalarNode):
                node = None
                break
            if isinstance(node, SequenceNode):
                current = items.setdefault(id(node), list(node.value))
                index = int(token)
                if (
                    change.op is Op.ADD
                    and token == parse(change.path)[-1]
                    and index >= len(current)
                ):
                    current.append(None)
                    if node.flow_style:  # an item added inside [ ... ] changes the lines it is on
                        touched.update(range(node.start_mark.line, node.end_mark.line + 1))
                    node = None
                    break
                parent = node
                node = current[index] if index < len(current) else None
                head = node
                if change.op is Op.REMOVE and token == parse(change.path)[-1]:
                    del current[index]
                del parent
            else:
                pairs = {k.value: (k, v) for k, v in node.value}
                if token not in pairs:
                    if change.op is Op.ADD and getattr(node, "flow_style", False):  # inside { ... }
                        touched.update(range(node.start_mark.line, node.end_mark.line + 1))
                    node = None
                    break
                head, node = pairs[token]
                key_lines[id(node)] = head.start_mark.line
        if node is None or head is None or change.op is Op.ADD:
            continue
        first = head.start_mark.line
        while first > 0 and lines[first - 1].lstrip().startswith("#"):
            first -= 1  # its own comment lines, right above it
        touched.update(range(first, _last_line(node) + 1))
    # A block list that lost every item is written `key: []`: its key's line changes.
    touched.update(key_lines[i] for i, current in items.items() if not current and i in key_lines)
    return touched


def assert_only_changed_lines(old: str, new: str, changes: Sequence[Change]) -> None:
    """Fail, naming the line, if an untouched line of ``old`` is missing from ``new``."""
    allowed = _touched_lines(old, changes)
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            for line in range(i1, i2):
                assert line in allowed, (
                    f"line {line + 1} was changed but no change touched it: {old_lines[line]!r}\n--- new text:\n{new}"
                )
