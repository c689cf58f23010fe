"""A YAML writer that edits the text it read, so untouched lines stay byte-identical.

The merge reports its changes as a list of JSON Pointer edits. This module
applies them to the *text* of the file, using the positions of the nodes the
YAML composer saw, instead of re-emitting the document:

- a changed scalar is rewritten in place (its quoting kept where it can hold
  the new value), so the comment at the end of its line stays;
- a new key goes after the last key of its mapping, a new item after the last
  item of its list, in the style of its siblings (block or flow, indentation,
  quoting of the same key in the sibling item);
- a removed key or item takes its own lines with it: its end-of-line comment,
  and the full-line comments right above it (except above the first item of a
  collection, which usually describe the collection); blank lines and comments
  between it and the next entry stay;
- anything else (a container replaced, a key removed from the line of a list
  dash ...) re-renders the smallest enclosing entry or item.

Aliases: a change at or below a node the file shares through an anchor
(``&a`` ... ``*a``) is refused with :class:`UnsafeInput` naming the line. The
merge itself treats aliases as independent copies, so changing one of them in
the text would either change the others too (wrong) or need the alias replaced
by a copy (which silently drops the sharing the author wrote). The person
should decide; the error says how.

The result is checked by parsing it again: if it does not parse to exactly the
merged document, the writer falls back to re-rendering the whole file and says
so (``Rendered.warnings``). It never writes something that reads back differently.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._errors import UnsafeInput
from ._pointer import parse
from ._result import Change, Op
from ._values import json_equal

__all__ = ["Rendered", "dump_document", "render_changes"]


@dataclass(frozen=True)
class Rendered:
    """New file text, and what the writer had to normalise to produce it."""

    text: str
    warnings: tuple[str, ...] = ()


# -- scalars ----------------------------------------------------------------------------------

# Strings a YAML 1.1 or 1.2 reader would take for something else, and so must be quoted.
_BOOL_NULL = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL)$"
)
_NUMBERISH = re.compile(
    r"""^[-+]?(?:
        0b[0-1_]+ | 0o?[0-7_]+ | 0x[0-9a-fA-F_]+ | [0-9][0-9_]* (?::[0-5]?[0-9])* (?:\.[0-9_]*)? (?:[eE][-+]?[0-9]+)?
        | \.[0-9_]+ (?:[eE][-+]?[0-9]+)? | \.(?:inf|Inf|INF|nan|NaN|NAN)
    )$""",
    re.VERBOSE,
)
_TIMESTAMP = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}(?:[Tt ]|$)")
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_$(][^\n]*$")
_PLAIN_BAD = re.compile(r"(?::\s|\s#|:$|^[-?:,\[\]{}#&*!|>'\"%@`]|\s$|^\s|[\x00-\x1f\x7f])")
_FLOW_BAD = re.compile(r"[,\[\]{}]")


def needs_quotes(value: str, *, flow: bool = False) -> bool:
    """Whether ``value`` must be quoted to read back as this string, in YAML 1.1 and 1.2 alike.

    >>> [needs_quotes(v) for v in ("us-east-1", "no", "on", "0755", "1e3", "012345678901", "a: b")]
    [False, True, True, True, True, True, True]
    """
    if not value or _BOOL_NULL.match(value) or _NUMBERISH.match(value) or _TIMESTAMP.match(value):
        return True
    if not _PLAIN_SAFE.match(value) or _PLAIN_BAD.search(value):
        return True
    return flow and bool(_FLOW_BAD.search(value))


def scalar(value: Any, style: str | None = None, *, flow: bool = False) -> str:
    """One YAML scalar: ``style`` is the quote character to prefer (``'`` or ``"``) or None."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsafeInput(f"{value!r} cannot be written: it is not a JSON number")
        text = repr(float(value))
        return text if ("." in text or "e" in text or "E" in text) else text + ".0"
    if not isinstance(value, str):
        raise UnsafeInput(
            f"{type(value).__name__} cannot be written as YAML to the integration file"
        )
    if "\n" in value or any(ord(c) < 32 and c != "\t" for c in value):
        return json.dumps(value, ensure_ascii=False)  # a valid YAML double-quoted scalar
    if style == '"':
        return json.dumps(value, ensure_ascii=False)
    if style == "'" or needs_quotes(value, flow=flow):
        return "'" + value.replace("'", "''") + "'"
    return value


def _key(key: str) -> str:
    return scalar(key)


def flow(value: Any, styles: Mapping[str, str | None] | None = None) -> str:
    """``value`` in flow style: ``[a, b]``, ``{k: v}``."""
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        styles = styles or {}
        return (
            "{"
            + ", ".join(f"{_key(k)}: {_flow_value(v, styles.get(k))}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_flow_value(v, None) for v in value) + "]"
    return scalar(value, flow=True)


def _flow_value(value: Any, style: str | None) -> str:
    if isinstance(value, (Mapping, list)):
        return flow(value)
    return scalar(value, style, flow=True)


@dataclass(frozen=True)
class Layout:
    """The file's block indentation: mapping children, and list dashes and items."""

    mapping: int = 2
    offset: int = 0  # the dash's column relative to the parent key
    sequence: int = 2  # an item's content relative to the parent key


@dataclass
class _Style:
    """How siblings look: quote style per key, flow-or-block per key, and whole-item flow."""

    quotes: dict[str, str | None] = field(default_factory=dict)
    flow_keys: set[str] = field(default_factory=set)
    flow_item: bool = False


def block(value: Any, column: int, layout: Layout, style: _Style | None = None) -> list[str]:
    """Lines (without newlines) of ``value`` as a block mapping or list starting at ``column``."""
    lines: list[str] = []
    pad = " " * column
    style = style or _Style()
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        for key, child in value.items():
            head = f"{pad}{_key(key)}:"
            if isinstance(child, (Mapping, list)) and child and key not in style.flow_keys:
                lines.append(head)
                if isinstance(child, Mapping):
                    lines += block(child, column + layout.mapping, layout)
                else:
                    lines += _items(child, column + layout.offset, layout)
            elif isinstance(child, (Mapping, list)):
                lines.append(f"{head} {flow(child)}")
            else:
                lines.append(f"{head} {scalar(child, style.quotes.get(key))}")
        return lines
    if isinstance(value, list):
        return _items(value, column, layout) if value else [pad + "[]"]
    return [pad + scalar(value)]


def _items(items: list[Any], dash: int, layout: Layout, style: _Style | None = None) -> list[str]:
    lines: list[str] = []
    for item in items:
        lines += _item(item, dash, layout, style)
    return lines


def _item(item: Any, dash: int, layout: Layout, style: _Style | None = None) -> list[str]:
    pad = " " * dash
    inner = dash + max(layout.sequence - layout.offset, 2)
    style = style or _Style()
    if isinstance(item, Mapping) and item and not style.flow_item:
        body = block(item, inner, layout, style)
        return [pad + "-" + " " * (inner - dash - 1) + body[0][inner:], *body[1:]]
    if isinstance(item, list) and item:
        body = _items(item, inner, layout)
        return [pad + "-" + " " * (inner - dash - 1) + body[0][inner:], *body[1:]]
    if isinstance(item, (Mapping, list)):
        return [f"{pad}- {flow(item, style.quotes)}"]
    return [f"{pad}- {scalar(item)}"]


def dump_document(document: Mapping[str, Any], layout: Layout | None = None) -> str:
    """The whole document as block YAML (what the writer falls back to)."""
    if not document:
        return "{}\n"
    return "\n".join(block(document, 0, layout or Layout())) + "\n"


# -- the text editor --------------------------------------------------------------------------


class _NeedsRerender(Exception):
    """An edit this writer does not do in place: re-render the enclosing unit."""


@dataclass
class _Edit:
    start: int
    end: int
    text: str
    order: int
    depth: int = 0  # insertions at one place: the deeper one belongs to the earlier entry


@dataclass
class _Collection:
    """A collection of the original text as the changes see it, one change after another."""

    node: Node
    parent: _Collection | None
    key: str | int | None  # the original key, or the original index, in the parent
    items: list[Any]  # sequences: original item nodes or _NEW; mappings: unused
    pairs: dict[str, tuple[ScalarNode, Node]]  # mappings: the original entries still present
    removed: list[Node] = field(default_factory=list)
    added: list[tuple[str | None, int]] = field(default_factory=list)  # (key, order) appended
    dirty: bool = False


_NEW = object()


class _Editor:
    def __init__(self, text: str, root: Node, document: Mapping[str, Any]) -> None:
        self.text = text
        self.root = root
        self.document = document
        self.lines = [0]
        for match in re.finditer("\n", text):
            self.lines.append(match.end())
        self.layout = detect_layout(root, text)
        self.collections: dict[int, _Collection] = {}
        self.edits: list[_Edit] = []
        self.order = 0
        self.shared = _shared_nodes(root)
        self.holding_shared = _holding(root, self.shared)
        self.rerender: dict[int, tuple[_Collection, Any, Node]] = {}

    # -- navigation ---------------------------------------------------------------------------

    def collection(
        self, node: Node, parent: _Collection | None, key: str | int | None
    ) -> _Collection:
        found = self.collections.get(id(node))
        if found is None:
            if isinstance(node, SequenceNode):
                found = _Collection(node, parent, key, list(node.value), {})
            else:
                pairs = {k.value: (k, v) for k, v in node.value}
                found = _Collection(node, parent, key, [], pairs)
            self.collections[id(node)] = found
        return found

    def navigate(self, tokens: Sequence[str], pointer: str) -> tuple[_Collection, str]:
        node: Node = self.root
        current = self.collection(node, None, None)
        for token in tokens[:-1]:
            child = self.child(current, token, pointer)
            if child is _NEW:
                raise _NeedsRerender(pointer)  # inside something this change set added
            if isinstance(child, ScalarNode) or not isinstance(child, (MappingNode, SequenceNode)):
                raise _NeedsRerender(pointer)
            key: str | int = token
            if isinstance(current.node, SequenceNode):
                key = current.node.value.index(child)
            current = self.collection(child, current, key)
        return current, tokens[-1]

    def child(self, current: _Collection, token: str, pointer: str) -> Any:
        if isinstance(current.node, SequenceNode):
            child = current.items[int(token)]
        else:
            entry = current.pairs.get(token)
            if entry is None:
                return _NEW
            child = entry[1]
        if child is not _NEW and id(child) in self.shared:
            raise UnsafeInput(
                f"{pointer} goes through a YAML anchor or alias shared with other places in the file",
                pointer=pointer,
                line=child.start_mark.line + 1,
                hint="write the shared value out where it is used (replace the *alias with its content), then run again",
            )
        return child

    # -- changes ------------------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        tokens = parse(change.path)
        parent, last = self.navigate(tokens, change.path)
        if parent.dirty:
            self.note_change_in_dirty(parent, change)
            return
        if isinstance(parent.node, SequenceNode):
            self.apply_in_sequence(parent, last, change)
        else:
            self.apply_in_mapping(parent, last, change)

    def note_change_in_dirty(self, parent: _Collection, change: Change) -> None:
        if isinstance(parent.node, SequenceNode):
            index = int(parse(change.path)[-1])
            if change.op is Op.ADD:
                parent.items.insert(index, _NEW)
            elif change.op is Op.REMOVE:
                del parent.items[index]
        elif change.op is Op.REMOVE:
            parent.pairs.pop(parse(change.path)[-1], None)

    def apply_in_mapping(self, parent: _Collection, key: str, change: Change) -> None:
        entry = parent.pairs.get(key)
        if change.op is Op.ADD:
            if entry is not None:
                raise _NeedsRerender(change.path)
            parent.added.append((key, self.next_order()))
            return
        if entry is None:  # replacing or removing something this change set added
            raise _NeedsRerender(change.path)
        key_node, value_node = entry
        self.refuse_breaking_an_alias(value_node, change.path)
        if change.op is Op.REMOVE:
            del parent.pairs[key]
            if _is_flow(parent.node):
                self.remove_flow(parent, key_node, value_node)
            elif not self.starts_line(key_node):
                raise _NeedsRerender(change.path)
            else:
                self.remove_block(parent, key_node, value_node)
            return
        # REPLACE
        if (
            isinstance(value_node, ScalarNode)
            and not isinstance(change.new, (Mapping, list))
            and self.single_line(value_node)
        ):
            style = value_node.style if value_node.style in ("'", '"') else None
            self.edit(
                value_node.start_mark.index,
                value_node.end_mark.index,
                scalar(change.new, style, flow=bool(_is_flow(parent.node))),
            )
            return
        if _is_flow(value_node) and isinstance(change.new, (Mapping, list)):
            # [..] or {..} replaced by a container: the same style, in the same place.
            self.edit(value_node.start_mark.index, value_node.end_mark.index, flow(change.new))
            return
        if not _is_flow(parent.node) and self.starts_line(key_node):
            # A container replaced (a REPLACE list, a type change): re-render just this entry.
            if _is_flow(value_node) and isinstance(change.new, (Mapping, list)):
                lines = [f"{' ' * key_node.start_mark.column}{_key(key)}: {flow(change.new)}"]
            else:
                lines = block({key: change.new}, key_node.start_mark.column, self.layout)
            self.replace_lines(key_node.start_mark.line, self.last_line(value_node), lines)
            return
        raise _NeedsRerender(change.path)

    def apply_in_sequence(self, parent: _Collection, token: str, change: Change) -> None:
        index = int(token)
        if change.op is Op.ADD:
            if index != len(parent.items):
                raise _NeedsRerender(change.path)
            parent.items.append(_NEW)
            parent.added.append((None, self.next_order()))
            return
        item = parent.items[index]
        if item is _NEW:
            raise _NeedsRerender(change.path)
        self.refuse_breaking_an_alias(item, change.path)
        if change.op is Op.REMOVE:
            del parent.items[index]
            if _is_flow(parent.node):
                self.remove_flow(parent, None, item)
            else:
                self.remove_block(parent, None, item)
            return
        if (
            isinstance(item, ScalarNode)
            and not isinstance(change.new, (Mapping, list))
            and self.single_line(item)
        ):
            style = item.style if item.style in ("'", '"') else None
            self.edit(
                item.start_mark.index,
                item.end_mark.index,
                scalar(change.new, style, flow=bool(_is_flow(parent.node))),
            )
            return
        if not _is_flow(parent.node):
            # An item replaced by a container, or a container item replaced: re-render the item.
            dash = self.dash_column(item)
            self.replace_lines(
                item.start_mark.line,
                self.last_line(item),
                _item(change.new, dash, self.layout, _style_of(item)),
            )
            return
        raise _NeedsRerender(change.path)

    # -- text positions -----------------------------------------------------------------------

    def next_order(self) -> int:
        self.order += 1
        return self.order

    def edit(self, start: int, end: int, text: str, depth: int = 0) -> None:
        self.edits.append(_Edit(start, end, text, self.next_order(), depth))

    def line_of(self, index: int) -> int:
        return bisect.bisect_right(self.lines, index) - 1

    def line_start(self, line: int) -> int:
        return self.lines[line] if line < len(self.lines) else len(self.text)

    def starts_line(self, node: Node) -> bool:
        start = self.line_start(node.start_mark.line)
        return self.text[start : node.start_mark.index].strip() == ""

    def single_line(self, node: Node) -> bool:
        style = getattr(node, "style", None)
        return bool(node.start_mark.line == node.end_mark.line and style not in ("|", ">"))

    def last_line(self, node: Node) -> int:
        """The last line holding a token of ``node`` (block collections' end marks overshoot)."""
        while True:
            if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
                end = node.end_mark
                line = end.line if end.column > 0 else end.line - 1
                while (
                    line > node.start_mark.line
                    and self.text[self.line_start(line) : self.line_start(line + 1)].strip() == ""
                ):
                    line -= 1
                return int(line)
            if not node.value:
                return int(node.start_mark.line)
            last = node.value[-1]
            node = last[1] if isinstance(last, tuple) else last

    def first_line(self, collection: _Collection, node: Node, is_first: bool) -> int:
        """The first line of an entry or item, with the comment lines right above it that are its own."""
        line = int(node.start_mark.line)
        if is_first:
            return line
        column = node.start_mark.column
        while line > 0:
            above = self.text[self.line_start(line - 1) : self.line_start(line)]
            stripped = above.lstrip(" ")
            if stripped.startswith("#") and len(above) - len(stripped) >= column - 2:
                line -= 1
                continue
            break
        return line

    def replace_lines(self, first: int, last: int, lines: list[str]) -> None:
        """Replace whole lines ``first``..``last`` (0-based, inclusive) with ``lines``."""
        end = self.line_start(last + 1)
        tail = "\n" if end < len(self.text) or self.text.endswith("\n") else ""
        self.edit(self.line_start(first), end, "\n".join(lines) + tail)

    def remove_block(
        self, collection: _Collection, key_node: Node | None, value_node: Node
    ) -> None:
        head = key_node if key_node is not None else value_node
        original = collection.node.value
        position = next(
            i for i, v in enumerate(original) if (v[0] if isinstance(v, tuple) else v) is head
        )
        first = self.first_line(collection, head, position == 0)
        if key_node is None and not self.starts_line(value_node):
            # A list item: its line starts with the dash, before the node.
            first = min(first, value_node.start_mark.line)
        last = self.last_line(value_node)
        self.edit(self.line_start(first), self.line_start(last + 1), "")

    def remove_flow(self, collection: _Collection, key_node: Node | None, value_node: Node) -> None:
        head = key_node if key_node is not None else value_node
        start, end = head.start_mark.index, value_node.end_mark.index
        after = self.text[end:]
        gap = re.match(r"\s*,\s*", after)
        if gap:
            end += gap.end()
        else:
            before = self.text[:start]
            gap = re.search(r",\s*$", before)
            if gap:
                start = gap.start()
        self.edit(start, end, "")

    # -- rendering what was added, at the end ---------------------------------------------------

    def final_value(self, collection: _Collection) -> Any:
        """The collection's value in the merged document (its path, once all changes are in)."""
        path: list[str | int] = []
        node: _Collection | None = collection
        while node is not None and node.parent is not None:
            parent = node.parent
            if isinstance(parent.node, SequenceNode):
                original = parent.node.value[node.key] if isinstance(node.key, int) else None
                path.append(parent.items.index(original))
            else:
                path.append(str(node.key))
            node = parent
        value: Any = self.document
        for part in reversed(path):
            value = value[part]
        return value

    def refuse_breaking_an_alias(self, node: Node, pointer: str) -> None:
        """Removing or rewriting ``node`` must not change or orphan an alias elsewhere."""
        if id(node) in self.holding_shared:
            raise UnsafeInput(
                f"{pointer} holds a YAML anchor or alias shared with other places in the file",
                pointer=pointer,
                line=node.start_mark.line + 1,
                hint="write the shared value out where it is used (replace each *alias with its content), then run again",
            )

    def finish(self) -> str:
        for collection in self.collections.values():
            if collection.added:
                self.render_added(collection)
            elif (
                not _is_flow(collection.node) and collection.node.value and self.emptied(collection)
            ):
                self.write_empty(collection)
        out: list[str] = []
        position = 0
        for edit in sorted(self.edits, key=lambda e: (e.start, e.end > e.start, -e.depth, e.order)):
            if edit.start < position:
                raise _NeedsRerender("overlapping edits")
            out.append(self.text[position : edit.start])
            out.append(edit.text)
            position = edit.end
        out.append(self.text[position:])
        return "".join(out)

    def emptied(self, collection: _Collection) -> bool:
        if isinstance(collection.node, SequenceNode):
            return not collection.items
        return not collection.pairs

    def write_empty(self, collection: _Collection) -> None:
        """A block collection that lost every entry becomes ``[]`` or ``{}`` after its key."""
        parent = collection.parent
        if parent is None or isinstance(parent.node, SequenceNode):
            raise _NeedsRerender("a collection emptied where there is no key to hang [] on")
        key_node = next(k for k, v in parent.node.value if v is collection.node)
        colon = self.text.index(":", key_node.end_mark.index)
        empty = "[]" if isinstance(collection.node, SequenceNode) else "{}"
        self.edit(colon + 1, colon + 1, " " + empty)

    def render_added(self, collection: _Collection) -> None:
        final = self.final_value(collection)
        node = collection.node
        if isinstance(node, SequenceNode):
            count = len(collection.added)
            new_items = final[len(final) - count :] if count else []
            if _is_flow(node):
                self.insert_flow(
                    node,
                    [flow(v) for v in new_items],
                    empty=not collection.items[: len(collection.items) - count],
                )
                return
            siblings = [v for v in collection.items if v is not _NEW]
            # Look like the last item still there, or (all were removed) the first one was.
            anchor = siblings[-1] if siblings else node.value[0]
            style = _style_of(anchor)
            dash = self.dash_column(anchor)
            lines: list[str] = []
            for value in new_items:
                lines += _item(value, dash, self.layout, style)
            if siblings:
                self.insert_after(anchor, lines)
            else:  # where the first removed item began
                at = self.line_start(anchor.start_mark.line)
                self.edit(at, at, "\n".join(lines) + "\n", depth=dash)
            return
        keys = [k for k, _ in collection.added]
        values = {k: final[k] for k in keys if k is not None}
        if _is_flow(node):
            self.insert_flow(
                node,
                [f"{_key(k)}: {_flow_value(v, None)}" for k, v in values.items()],
                empty=not collection.pairs,
            )
            return
        remaining = list(collection.pairs.values())
        if not remaining:
            raise _NeedsRerender("a block mapping with no keys left")
        ordered = sorted(remaining, key=lambda kv: kv[0].start_mark.index)
        column = min(k.start_mark.column for k, _ in remaining)
        lines = block(values, column, self.layout)
        if len(ordered) >= 2 and self.blank_between(ordered[-2][1], ordered[-1][0]):
            # The file separates these entries with a blank line: so do we.
            lines = [
                line
                for key in values
                for line in ("", *block({key: values[key]}, column, self.layout))
            ]
        self.insert_after(ordered[-1][1], lines)

    def blank_between(self, value: Node, next_key: Node) -> bool:
        start = self.line_start(self.last_line(value) + 1)
        end = self.line_start(next_key.start_mark.line)
        return any(line.strip() == "" for line in self.text[start:end].splitlines())

    def dash_column(self, item: Node) -> int:
        start = self.line_start(item.start_mark.line)
        line = self.text[start : self.line_start(item.start_mark.line + 1)]
        dash = line.find("-")
        if dash == -1 or dash > item.start_mark.column:
            raise _NeedsRerender("cannot find the list dash")
        return dash

    def insert_after(self, node: Node, lines: list[str]) -> None:
        last = self.last_line(node)
        at = self.line_start(last + 1)
        text = "\n".join(lines) + "\n"
        if at == len(self.text) and not self.text.endswith("\n"):
            text = "\n" + text
        # Indentation is depth: at one insertion point, the more indented text
        # continues the entry above, the less indented starts a new one.
        depth = min(
            (len(line) - len(line.lstrip(" ")) for line in lines if line.strip()), default=0
        )
        self.edit(at, at, text, depth)

    def insert_flow(self, node: Node, parts: list[str], *, empty: bool) -> None:
        close = node.end_mark.index - 1
        if self.text[close] not in "]}":
            raise _NeedsRerender("cannot find the end of a flow collection")
        inner = self.text[node.start_mark.index + 1 : close]
        separator = "" if empty or not inner.strip() else ", "
        # Before any space or newline ahead of the closing bracket.
        at = close - (len(inner) - len(inner.rstrip()))
        self.edit(at, at, separator + ", ".join(parts))


def _is_flow(node: Node) -> bool:
    return bool(getattr(node, "flow_style", False))


def _style_of(item: Node) -> _Style:
    """How a sibling item looks, for a new item to look the same."""
    style = _Style()
    if isinstance(item, MappingNode):
        style.flow_item = bool(_is_flow(item))
        for key, value in item.value:
            if isinstance(value, ScalarNode):
                style.quotes[key.value] = value.style if value.style in ("'", '"') else None
            elif getattr(value, "flow_style", False):
                style.flow_keys.add(key.value)
    return style


def _shared_nodes(root: Node) -> set[int]:
    """Ids of nodes reached by more than one path (anchored and aliased), and of all below them."""
    seen: set[int] = set()
    shared: set[int] = set()
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            shared.add(id(node))
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for _key, value in node.value:
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    if not shared:
        return shared
    # Everything below a shared node is shared too.
    below: list[Node] = [n for n in _all(root) if id(n) in shared]
    while below:
        node = below.pop()
        children = (
            [v for _, v in node.value]
            if isinstance(node, MappingNode)
            else list(node.value)
            if isinstance(node, SequenceNode)
            else []
        )
        for child in children:
            if id(child) not in shared:
                shared.add(id(child))
                below.append(child)
    return shared


def _all(root: Node) -> list[Node]:
    out: list[Node] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        if isinstance(node, MappingNode):
            stack.extend(v for _, v in node.value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return out


def _holding(root: Node, shared: set[int]) -> set[int]:
    """Ids of shared nodes and of every node with a shared node below it."""
    if not shared:
        return set()
    holding: set[int] = set()
    order: list[Node] = []
    seen: set[int] = set()
    stack = [root]
    while stack:  # depth-first, parents before children
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        if isinstance(node, MappingNode):
            stack.extend(v for _, v in node.value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    for node in reversed(order):  # children before parents
        children = (
            [v for _, v in node.value]
            if isinstance(node, MappingNode)
            else node.value
            if isinstance(node, SequenceNode)
            else []
        )
        if id(node) in shared or any(id(c) in holding or id(c) in shared for c in children):
            holding.add(id(node))
    return holding


def detect_layout(root: Node | None, text: str) -> Layout:
    """The indentation the file already uses: its first nested block mapping and block list."""
    mapping: int | None = None
    offset: int | None = None
    sequence: int | None = None
    queue: list[Node] = [root] if root is not None else []
    seen = 0
    while queue and seen < 10_000 and (mapping is None or offset is None):
        node = queue.pop(0)
        seen += 1
        if isinstance(node, MappingNode) and not _is_flow(node):
            for key, value in node.value:
                if (
                    isinstance(value, MappingNode)
                    and not _is_flow(value)
                    and value.value
                    and mapping is None
                ) and value.start_mark.line > key.start_mark.line:
                    mapping = value.value[0][0].start_mark.column - key.start_mark.column
                if (
                    isinstance(value, SequenceNode)
                    and not _is_flow(value)
                    and value.value
                    and offset is None
                ):
                    first = value.value[0]
                    line = text[: first.start_mark.index].rsplit("\n", 1)[-1]
                    dash = line.rfind("-")
                    if dash >= 0:
                        offset = dash - key.start_mark.column
                        sequence = first.start_mark.column - key.start_mark.column
                queue.append(value)
        elif isinstance(node, SequenceNode):
            queue.extend(node.value)
    return Layout(
        mapping=mapping if mapping and mapping > 0 else 2,
        offset=max(offset or 0, 0),
        sequence=sequence if sequence and sequence > 0 else 2,
    )


def render_changes(
    text: str,
    root: Node | None,
    document: Mapping[str, Any],
    changes: Sequence[Change],
    reparse: Callable[[str], Mapping[str, Any]],
) -> Rendered:
    """``text`` with ``changes`` applied, checked to read back as ``document``.

    ``root`` is the composed node tree of ``text``; ``reparse`` parses new text
    the way the store reads files (guarded). Falls back to :func:`dump_document`,
    with a warning naming what was lost, when editing in place cannot be done
    or would not read back exactly.
    """
    if root is None or not isinstance(root, MappingNode) or root.flow_style:
        return _fallback(text, document, "the file had no block mapping to edit")
    editor = _Editor(text, root, document)
    try:
        for change in changes:
            editor.apply(change)
        new_text = editor.finish()
    except _NeedsRerender as reason:
        return _fallback(
            text, document, f"an edit could not be made in place ({reason})", editor.layout
        )
    try:
        again = reparse(new_text)
    except UnsafeInput as exc:
        return _fallback(
            text, document, f"the edited text did not parse ({exc.message})", editor.layout
        )
    if not json_equal(again, document):
        return _fallback(
            text,
            document,
            "the edited text did not read back as the merged document",
            editor.layout,
        )
    return Rendered(new_text)


def _fallback(
    text: str, document: Mapping[str, Any], reason: str, layout: Layout | None = None
) -> Rendered:
    new_text = dump_document(document, layout)
    old_lines = text.splitlines()
    kept = set(new_text.splitlines())
    lost = [i + 1 for i, line in enumerate(old_lines) if line not in kept]
    shown = ", ".join(str(n) for n in lost[:20]) + (" ..." if len(lost) > 20 else "")
    warning = (
        f"the file was re-written whole: {reason}; lines not kept as they were: {shown or 'none'}"
    )
    return Rendered(new_text, (warning,))
