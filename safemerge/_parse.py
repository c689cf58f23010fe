"""Guarded parsing: every file read and every fragment goes through here.

Text becomes plain JSON data (``dict``, ``list``, ``str``, ``int``, ``float``,
``bool``, ``None``) only after it has been checked, so nothing hostile reaches
the merge engine, a schema or a writer (DESIGN.md § Inputs we refuse):

- size, before anything is parsed (:attr:`Limits.max_bytes`);
- UTF-8 (a leading byte-order mark is dropped), one YAML 1.2 document;
- nesting depth, expanded size and alias count, checked on ruamel's *composed*
  node graph without expanding a single alias, so a 430-byte "billion laughs"
  is refused as fast as it is read;
- duplicate keys, keys that are not strings, merge keys (``<<``), every tag but
  the core ones (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
  ``!!map``, ``!!seq``), NaN and the infinities.

Nothing is built with ruamel's constructor for collections and no tag outside
the core schema is ever constructed: ruamel only *composes* (text to nodes);
this module walks the nodes iteratively (never recursively: a 10,000-deep
document is an :class:`UnsafeInput`, not a ``RecursionError``) and builds the
plain data itself. Scalars are converted as ruamel's round-trip loader converts
them (YAML 1.2: ``0o17`` is 15, ``0755`` is 755, ``on`` is a string), except that
an unquoted date (``2024-01-01``, which ruamel resolves to a timestamp) is kept
as the text it was written as: YAML 1.2's core schema has no timestamps.

Every refusal is an :class:`UnsafeInput` naming the 1-based line (``.line``),
the JSON Pointer where one is known (``.pointer``) and how to fix it (``.hint``).
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.composer import ComposerError, MaxDepthExceededError
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from ._errors import UnsafeInput, show_value
from ._pointer import join
from ._values import DELETE, PATCH_KEY, check_fragment, pointer_of

__all__ = ["DEFAULT_LIMITS", "Limits", "ParsedYaml", "parse_fragment", "parse_yaml"]

_MIB: Final = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds on what a file or a fragment may hold before it is refused.

    Every default is far above any real integration file, so only a broken or
    hostile input meets one. For scale, a 50,000-account file (ten times a
    large organisation; ``benchmarks/workload.make_document(50_000)``) is
    7.3 MB of YAML, 0.62M nodes counted as here (keys included) and 4 levels
    deep; hand-written integrations reach ~8 levels.

    - ``max_bytes`` (16 MiB): twice that 50,000-account file. Checked before
      anything is parsed, it also bounds the parse time: ruamel's pure-Python
      composer reads ~0.15-0.2 MB/s, so 16 MiB is about a minute and a half.
    - ``max_depth`` (100): twelve times the deepest real integration, far
      below what the YAML composer (which recurses) and the merge engine
      (``MAX_MERGE_DEPTH``) can take.
    - ``max_nodes`` (5,000,000): the expanded node count, an alias counted as
      everything it stands for. Eight times the 50,000-account file, yet
      checked without expanding anything, so "billion laughs" (ten levels of
      ten aliases: 10^9 values from a few hundred bytes) is refused in
      milliseconds; a document just under the bound builds in a second or two.
    - ``max_aliases`` (10,000): alias occurrences (``*name``) in the text.
      Generated files use none and hand-written ones a handful.
    """

    max_bytes: int = 16 * _MIB
    max_depth: int = 100
    max_nodes: int = 5_000_000
    max_aliases: int = 10_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_depth", "max_nodes", "max_aliases"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"Limits.{name} must be a non-negative int, not {value!r}")


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True)
class ParsedYaml:
    """A YAML file read safely.

    ``document`` is the plain data. ``root`` is ruamel's composed root node
    (a ``MappingNode``; ``None`` for an empty document), for a writer that
    needs positions: ``node.start_mark.index/line/column`` and
    ``node.end_mark...`` index into ``text``, the decoded text that was parsed
    (a byte-order mark removed). An alias in the node graph is the very node
    object of its anchor.
    """

    document: dict[str, Any]
    root: Any
    text: str


# -- tags --------------------------------------------------------------------------------------

_CORE: Final = "tag:yaml.org,2002:"
_STR: Final = _CORE + "str"
_INT: Final = _CORE + "int"
_FLOAT: Final = _CORE + "float"
_BOOL: Final = _CORE + "bool"
_NULL: Final = _CORE + "null"
_MAP: Final = _CORE + "map"
_SEQ: Final = _CORE + "seq"
# Resolved implicitly by ruamel but not part of YAML 1.2's core schema: plain
# text there. Kept as the text they were written as; refused when explicit.
_TIMESTAMP: Final = _CORE + "timestamp"
_VALUE: Final = _CORE + "value"  # a lone "="
_MERGE: Final = _CORE + "merge"  # "<<": refused as a key, text as a value
_AS_TEXT: Final = frozenset({_TIMESTAMP, _VALUE, _MERGE})
_SCALAR_KINDS: Final = {
    _STR: "string",
    _INT: "number",
    _FLOAT: "number",
    _BOOL: "boolean",
    _NULL: "null",
}
_BOOLS: Final[dict[str, bool]] = dict(SafeConstructor.bool_values)

_TAG_HINT: Final = (
    "remove the tag: only plain data (strings, numbers, booleans, null, mappings, lists) "
    "is read; language-specific tags (!!python/..., !ruby/...) and !!binary, !!set, "
    "!!omap, !!timestamp are refused, never constructed"
)


def _tag_text(node: Any) -> str:
    """The tag as it was written (``!!python/object:os.system``, ``!custom``)."""
    ct = node.ctag
    if ct.handle:
        return f"{ct.handle}{ct.suffix}"
    return f"!<{ct.suffix}>"


def _kind(node: Any) -> str:
    if type(node) is MappingNode:
        return "mapping"
    if type(node) is SequenceNode:
        return "list"
    ct = node.ctag
    if ct.handles is None:
        return "string" if ct.suffix in _AS_TEXT else _SCALAR_KINDS.get(ct.suffix, "value")
    return _SCALAR_KINDS.get(ct.value, "value")


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


# -- text --------------------------------------------------------------------------------------


def _decode(text: str | bytes, limits: Limits, origin: str) -> str:
    """UTF-8 text with no byte-order mark, within ``max_bytes``."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
        if len(data) > limits.max_bytes:
            _too_big(len(data), limits, origin)
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise UnsafeInput(
                f"{origin} is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded",
                line=line,
                hint="save it as UTF-8",
            ) from None
    elif isinstance(text, str):
        decoded = text
        n = len(decoded)
        if n > limits.max_bytes:
            _too_big(n, limits, origin)
        if n * 4 > limits.max_bytes:  # only then can the UTF-8 length exceed the bound
            size = len(decoded.encode("utf-8", "surrogatepass"))
            if size > limits.max_bytes:
                _too_big(size, limits, origin)
    else:
        raise TypeError(f"expected str or bytes, not {type(text).__name__}")
    if decoded.startswith("\ufeff"):
        decoded = decoded[1:]
    return decoded


def _too_big(size: int, limits: Limits, origin: str) -> NoReturn:
    raise UnsafeInput(
        f"{origin} is {size:,} bytes, more than the limit of {limits.max_bytes:,}",
        hint="an integration file is far smaller; if this one really is that large, "
        "raise Limits(max_bytes=...)",
    )


# -- composing ---------------------------------------------------------------------------------

_FRAMES_PER_LEVEL: Final = 2  # ruamel's composer: compose_node -> compose_mapping_node -> ...
_FRAME_MARGIN: Final = 80  # parser, scanner and reader frames below the deepest node
_COMPOSER_EXTRA: Final = (
    3  # the composer's depth of a scalar inside a container at depth d is d + 2
)


def _composer_headroom() -> int:
    """How many levels ruamel's (recursive) composer can nest from here."""
    frame: Any = sys._getframe()
    used = 0
    while frame is not None:
        used += 1
        frame = frame.f_back
    return (sys.getrecursionlimit() - used - _FRAME_MARGIN) // _FRAMES_PER_LEVEL


def _depth_error(origin: str, max_depth: int, line: int | None, pointer: str | None) -> UnsafeInput:
    return UnsafeInput(
        f"{origin} nests deeper than {max_depth} levels",
        line=line,
        pointer=pointer,
        hint="integration files are a few levels deep; check how it was generated "
        "(or raise Limits(max_depth=...))",
    )


def _compose(text: str, limits: Limits, origin: str) -> tuple[Any, YAML]:
    """ruamel's composed root node (``None`` for an empty stream), and the loader used."""
    yaml = YAML(typ="rt", pure=True)
    # ruamel's composer recurses once per level (two frames): bound it so a deep
    # document stops there with a position, never with a RecursionError. The
    # composer counts the root as 1 and scalars as levels: it lets through one
    # container too deep with its scalars (the walk refuses that one, naming its
    # pointer) and stops anything deeper.
    headroom = _composer_headroom()
    composer_depth = max(1, min(limits.max_depth + _COMPOSER_EXTRA, headroom))
    yaml.max_depth = composer_depth
    # A re-used anchor name is valid YAML (an alias takes the latest); ruamel
    # would warn, and a warning is not ours to raise.
    yaml.composer.warn_double_anchors = False
    try:
        root = yaml.compose(text)
    except MaxDepthExceededError as exc:
        allowed = max(0, min(limits.max_depth, composer_depth - _COMPOSER_EXTRA))
        raise _depth_error(origin, allowed, _mark_line(exc), None) from None
    except ComposerError as exc:
        if exc.context == "expected a single document in the stream":
            raise UnsafeInput(
                f"{origin} holds more than one YAML document (a second one starts here)",
                line=_mark_line(exc),
                hint="keep one document: remove the extra '---' and put everything in one mapping",
            ) from None
        raise _syntax_error(exc, origin) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, origin) from None
    except ReaderError as exc:
        char = exc.character
        code = ord(char) if isinstance(char, str) else int(char)
        raise UnsafeInput(
            f"{origin} holds a character YAML does not allow (U+{code:04X}): {exc.reason}",
            line=text.count("\n", 0, max(0, int(exc.position))) + 1,
            hint="remove the control character (or write it as an escape in a double-quoted string)",
        ) from None
    except RecursionError:  # only if the stack was nearly full when we were called
        raise _depth_error(origin, limits.max_depth, None, None) from None
    except (YAMLError, ValueError, TypeError, AssertionError, IndexError, KeyError) as exc:
        # Not a marked error: ruamel gave up somewhere it does not report a
        # position (e.g. `%YAML 1.3` fails an assertion inside ruamel).
        raise UnsafeInput(
            f"{origin} is not valid YAML: {type(exc).__name__}: {exc}",
            line=_directive_line(text) if "version" in str(exc) else None,
            hint="check it with a YAML linter",
        ) from exc
    info = yaml.doc_infos[-1] if yaml.doc_infos else None
    version = getattr(info, "doc_version", None)
    if version is not None and (version.major, version.minor) != (1, 2):
        raise UnsafeInput(
            f"{origin} declares YAML {version.major}.{version.minor}; only YAML 1.2 is read",
            line=_directive_line(text),
            hint="remove the %YAML line, and quote the values YAML 1.1 read differently "
            "(yes/no/on/off, 0755, 1:30)",
        )
    return root, yaml


def _directive_line(text: str) -> int | None:
    match = re.search(r"^%YAML\b", text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _mark_line(exc: MarkedYAMLError) -> int | None:
    mark = exc.problem_mark or exc.context_mark
    return int(mark.line) + 1 if mark is not None else None


def _syntax_error(exc: MarkedYAMLError, origin: str) -> UnsafeInput:
    problem = exc.problem or exc.context or "invalid YAML"
    hint = "check the indentation, quoting and punctuation on that line"
    context_mark, problem_mark = exc.context_mark, exc.problem_mark
    if exc.context and context_mark and problem_mark and context_mark.line != problem_mark.line:
        hint += f" ({exc.context} on line {context_mark.line + 1})"
    return UnsafeInput(f"{origin} is not valid YAML: {problem}", line=_mark_line(exc), hint=hint)


# -- walking the node graph --------------------------------------------------------------------


class _Anchor:
    """What the walk knows about an anchored node (one that an alias may repeat)."""

    __slots__ = ("deepest", "depth", "done", "height", "size", "start", "value")

    def __init__(self, value: Any, depth: int, start: int) -> None:
        self.value = value  # the plain value built at the anchor
        self.depth = depth  # where the anchor sits
        self.start = start  # the expanded node count when its subtree began
        self.deepest = depth  # the deepest container depth reached inside it
        self.done = False
        self.size = 1  # expanded node count of the subtree, itself included
        self.height = 0  # container levels in the subtree (0 for a scalar)


class _Walk:
    """One iterative, depth-first, document-order pass: checks and plain data together.

    Each node is visited once; an alias (the anchor's node object, met again)
    is never walked again: its expanded size and height, known from the
    anchor's own walk, are added to the totals and checked, and its copy of
    the anchor's plain value is made only after the whole walk has passed, so
    a refusal never waits for an expansion. Alias occurrences are counted in
    document order, which is the order of ruamel's alias events, so an error
    can name the alias's own line (the node's marks are the anchor's).
    """

    def __init__(self, yaml: YAML, text: str, limits: Limits, origin: str) -> None:
        self.yaml = yaml
        self.text = text
        self.limits = limits
        self.origin = origin
        self.total = 1
        self.aliases = 0
        self.anchors: dict[int, _Anchor] = {}
        self.open: list[_Anchor] = []  # anchored containers being walked, innermost last
        self.frames: list[list[Any]] = []
        # Aliases of containers, filled in only once the whole walk has passed
        # (so a refusal never waits for a copy): (container, key or index, anchor),
        # in document order, so an alias inside an anchor is filled before the
        # anchor is copied.
        self.pending: list[tuple[Any, Any, _Anchor]] = []
        self.key_alias = False  # whether the last key read through key() was an alias
        self._constructor: Any = None

    # The hot loop. A frame is [items, out, index, chain, depth, anchor]:
    # `items` the node's children, `out` the plain container being filled.
    def run(self, root: Any) -> dict[str, Any]:
        document = self.enter(root, None, 0, None)
        frames = self.frames
        enter = self.enter
        key_of = self.key
        scalar = self.scalar
        scalar_type = ScalarNode
        str_tag = _STR
        while frames:
            frame = frames[-1]
            items, out, i, chain, depth = frame[0], frame[1], frame[2], frame[3], frame[4]
            n = len(items)
            if type(out) is dict:
                while i < n:
                    knode, vnode = items[i]
                    i += 1
                    ct = knode.ctag
                    if (
                        type(knode) is scalar_type
                        and ct.handles is None
                        and ct.suffix == str_tag
                        and knode.anchor is None
                        and knode.style != ">"
                    ):
                        key = knode.value
                    else:
                        key = key_of(knode, chain)
                    if key in out:
                        self.duplicate(items, i - 1, key, chain)
                    if type(vnode) is scalar_type and vnode.anchor is None:
                        ct = vnode.ctag
                        if ct.handles is None and ct.suffix == str_tag and vnode.style != ">":
                            out[key] = vnode.value
                        else:
                            out[key] = scalar(vnode, (chain, key))
                        continue
                    out[key] = enter(vnode, (chain, key), depth + 1, out)
                    if frames[-1] is not frame:  # a container to fill: go down
                        frame[2] = i
                        break
                else:
                    self.leave(frames.pop())
            else:
                while i < n:
                    vnode = items[i]
                    i += 1
                    if type(vnode) is scalar_type and vnode.anchor is None:
                        ct = vnode.ctag
                        if ct.handles is None and ct.suffix == str_tag and vnode.style != ">":
                            out.append(vnode.value)
                        else:
                            out.append(scalar(vnode, (chain, i - 1)))
                        continue
                    out.append(enter(vnode, (chain, i - 1), depth + 1, out))
                    if frames[-1] is not frame:
                        frame[2] = i
                        break
                else:
                    self.leave(frames.pop())
        for out, slot, anchor in self.pending:
            out[slot] = _copy(anchor.value)
        return document  # type: ignore[no-any-return]

    def enter(self, node: Any, chain: Any, depth: int, parent: Any) -> Any:
        """The plain value for a non-trivial node; a container gets a frame to be filled.

        ``chain`` ends with the key or index the value goes to in ``parent``.
        """
        anchor: _Anchor | None = None
        if node.anchor is not None:
            anchor = self.anchors.get(id(node))
            if anchor is not None:
                value = self.alias(node, anchor, chain, depth)
                if type(node) is not ScalarNode:
                    self.pending.append((parent, chain[1], anchor))
                return value
        if type(node) is ScalarNode:
            value = self.scalar(node, chain)
            if node.anchor is not None:
                anchor = self.anchors[id(node)] = _Anchor(value, depth, self.total)
                anchor.done = True
            return value
        is_map = type(node) is MappingNode
        ct = node.ctag
        if ct.handles is not None and ct.value != (_MAP if is_map else _SEQ):
            self.bad_tag(node, chain)
        if depth > self.limits.max_depth:
            raise _depth_error(self.origin, self.limits.max_depth, _line(node), pointer_of(chain))
        items = node.value
        start = self.total
        self.total += 2 * len(items) if is_map else len(items)
        if self.total > self.limits.max_nodes:
            self.too_many(node, chain, None)
        if self.open and depth > self.open[-1].deepest:
            self.open[-1].deepest = depth
        out: Any = {} if is_map else []
        if node.anchor is not None:
            anchor = self.anchors[id(node)] = _Anchor(out, depth, start)
            self.open.append(anchor)
        self.frames.append([items, out, 0, chain, depth, anchor])
        return out

    def leave(self, frame: list[Any]) -> None:
        anchor: _Anchor | None = frame[5]
        if anchor is None:
            return
        anchor.done = True
        anchor.size = 1 + self.total - anchor.start
        anchor.height = anchor.deepest - anchor.depth + 1
        self.open.pop()
        if self.open and anchor.deepest > self.open[-1].deepest:
            self.open[-1].deepest = anchor.deepest

    def count_alias(self, chain: Any) -> None:
        self.aliases += 1
        if self.aliases > self.limits.max_aliases:
            raise UnsafeInput(
                f"{self.origin} uses more than {self.limits.max_aliases:,} aliases (*name)",
                line=self.alias_line(),
                pointer=pointer_of(chain),
                hint="write the values out instead of aliasing them "
                "(or raise Limits(max_aliases=...))",
            )

    def alias(self, node: Any, anchor: _Anchor, chain: Any, depth: int) -> Any:
        self.count_alias(chain)
        limits = self.limits
        if not anchor.done:
            raise UnsafeInput(
                f"{self.origin} has an alias (*{node.anchor}) inside the very node it refers to",
                line=self.alias_line(),
                pointer=pointer_of(chain),
                hint="a recursive structure is not JSON data: remove the alias",
            )
        if type(node) is ScalarNode:
            return anchor.value
        deepest = depth + anchor.height - 1
        if deepest > limits.max_depth:
            raise _depth_error(self.origin, limits.max_depth, self.alias_line(), pointer_of(chain))
        self.total += anchor.size - 1  # the alias itself was counted with its parent
        if self.total > limits.max_nodes:
            self.too_many(node, chain, self.alias_line())
        if self.open and deepest > self.open[-1].deepest:
            self.open[-1].deepest = deepest
        return None  # a placeholder: see `pending`

    # -- scalars and keys ----------------------------------------------------------------------

    def scalar(self, node: Any, chain: Any) -> Any:
        """A scalar node as plain data, converted as ruamel's round-trip loader does."""
        ct = node.ctag
        explicit = ct.handles is not None
        tag = ct.value if explicit else ct.suffix
        value = node.value
        if tag == _STR:
            return value.replace("\a", "") if node.style == ">" else value
        if tag == _INT:
            if not explicit and value.isdigit() and (len(value) == 1 or value[0] != "0"):
                try:
                    return int(value)
                except ValueError:  # more digits than int() takes
                    self.bad_scalar(node, chain, "integer")
            return self.construct(node, chain, "integer", "construct_yaml_int", int)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            result = _BOOLS.get(value.lower()) if isinstance(value, str) else None
            if result is None:
                self.bad_scalar(node, chain, "boolean")
            return result
        if tag == _FLOAT:
            number = self.construct(node, chain, "number", "construct_yaml_float", float)
            if not math.isfinite(number):
                raise UnsafeInput(
                    f"{show_value(value, pointer_of(chain))} is not a JSON number",
                    line=_line(node),
                    pointer=pointer_of(chain),
                    hint="use a finite number, or quote it to keep it as text",
                )
            return number
        if not explicit and tag in _AS_TEXT:
            return value
        self.bad_tag(node, chain)

    def construct(self, node: Any, chain: Any, what: str, method: str, to: Any) -> Any:
        if self._constructor is None:
            self._constructor = self.yaml.constructor
        try:
            return to(getattr(self._constructor, method)(node))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            self.bad_scalar(node, chain, what)

    def key(self, knode: Any, chain: Any) -> str:
        """A mapping key: a string, or a refusal."""
        self.key_alias = False
        anchored = knode.anchor is not None
        if anchored and id(knode) in self.anchors:
            self.key_alias = True
            self.count_alias(chain)
            anchored = False  # already registered
        if type(knode) is not ScalarNode:
            self.bad_key(knode, chain, self.key_line(knode))
        ct = knode.ctag
        explicit = ct.handles is not None
        tag = ct.value if explicit else ct.suffix
        if tag == _MERGE:
            raise UnsafeInput(
                f"{self.origin} uses a YAML merge key (<<)",
                line=self.key_line(knode),
                pointer=pointer_of(chain),
                hint="write the keys out in full: merge keys are a YAML 1.1 extension that "
                "YAML 1.2 readers and JSON do not share",
            )
        if tag == _STR or (not explicit and tag in _AS_TEXT):
            value: str = knode.value
            if knode.style == ">":
                value = value.replace("\a", "")
            if anchored:  # an anchor on a key: an alias may repeat it elsewhere
                anchor = self.anchors[id(knode)] = _Anchor(value, 0, self.total)
                anchor.done = True
            return value
        if tag in _SCALAR_KINDS:
            self.bad_key(knode, chain, self.key_line(knode))
        self.bad_tag(knode, chain, self.key_line(knode))

    def key_line(self, knode: Any) -> int | None:
        """The line of the key just read (for an alias, the alias's own line)."""
        return self.alias_line() if self.key_alias else _line(knode)

    # -- refusals ------------------------------------------------------------------------------

    def duplicate(self, items: list[Any], index: int, key: str, chain: Any) -> NoReturn:
        first = None
        for knode, _ in items[:index]:
            if type(knode) is ScalarNode and knode.value == key:
                first = _line(knode)
                break
        knode = items[index][0]
        # Keys read on the fast path (no anchor) never went through key().
        line = self.key_line(knode) if knode.anchor is not None else _line(knode)
        where = f" (first on line {first})" if first is not None else ""
        raise UnsafeInput(
            f"{self.origin} has the key {key!r} twice in one mapping{where}",
            line=line,
            pointer=join(pointer_of(chain), key),
            hint="remove one of them: YAML readers disagree about which one wins",
        )

    def bad_key(self, knode: Any, chain: Any, line: int | None = None) -> NoReturn:
        kind = _kind(knode)
        if type(knode) is ScalarNode:
            shown = f"{kind} key {knode.value!r}" if knode.value != "" else f"{kind} key"
            hint = f"quote the key to make it a string, e.g. '{knode.value}':"
        else:
            shown = f"{kind} as a key"
            hint = "use a string key"
        raise UnsafeInput(
            f"{self.origin} has a {shown}; keys must be strings",
            line=line or _line(knode),
            pointer=pointer_of(chain),
            hint=hint,
        )

    def bad_tag(self, node: Any, chain: Any, line: int | None = None) -> NoReturn:
        tag = node.ctag.value
        if tag in (_MAP, _SEQ) or tag in _SCALAR_KINDS:
            message = f"{self.origin} puts the tag {_tag_text(node)} on a {_kind_of_node(node)}"
        else:
            message = f"{self.origin} uses the tag {_tag_text(node)}, which is not read"
        raise UnsafeInput(
            message, line=line or _line(node), pointer=pointer_of(chain), hint=_TAG_HINT
        )

    def bad_scalar(self, node: Any, chain: Any, what: str) -> NoReturn:
        raise UnsafeInput(
            f"{show_value(node.value, pointer_of(chain))} is not a valid {what}",
            line=_line(node),
            pointer=pointer_of(chain),
            hint=f"write a valid {what}, or quote the value to keep it as text",
        )

    def too_many(self, node: Any, chain: Any, line: int | None) -> NoReturn:
        raise UnsafeInput(
            f"{self.origin} expands to more than {self.limits.max_nodes:,} values",
            line=line if line is not None else _line(node),
            pointer=pointer_of(chain),
            hint="write repeated blocks out instead of aliasing them (*name), or split the "
            "file (or raise Limits(max_nodes=...))",
        )

    def alias_line(self) -> int | None:
        """The line of the alias just counted: the n-th alias event of the text."""
        wanted = self.aliases
        seen = 0
        try:
            for event in YAML(typ="rt", pure=True).parse(self.text):
                if isinstance(event, AliasEvent):
                    seen += 1
                    if seen == wanted:
                        return int(event.start_mark.line) + 1
        except Exception:  # the text composed once; this is only a position lookup
            return None
        return None


def _kind_of_node(node: Any) -> str:
    if type(node) is MappingNode:
        return "mapping"
    if type(node) is SequenceNode:
        return "list"
    return "scalar"


def _copy(value: Any) -> Any:
    """An independent copy of plain data, iteratively (an alias's expansion)."""
    t = type(value)
    if t is not dict and t is not list:
        return value
    top: Any = {} if t is dict else []
    stack: list[tuple[Any, Any]] = [(value, top)]
    while stack:
        src, dst = stack.pop()
        if type(src) is dict:
            for k, v in src.items():
                tv = type(v)
                if tv is dict or tv is list:
                    new: Any = {} if tv is dict else []
                    dst[k] = new
                    stack.append((v, new))
                else:
                    dst[k] = v
        else:
            for v in src:
                tv = type(v)
                if tv is dict or tv is list:
                    new = {} if tv is dict else []
                    dst.append(new)
                    stack.append((v, new))
                else:
                    dst.append(v)
    return top


def _parse_text(text: str, limits: Limits, origin: str) -> ParsedYaml:
    root, yaml = _compose(text, limits, origin)
    if root is None:
        return ParsedYaml({}, None, text)
    if type(root) is ScalarNode and root.ctag.handles is None and root.ctag.suffix == _NULL:
        return ParsedYaml({}, None, text)  # `---` or `~` alone: an empty document
    if type(root) is not MappingNode:
        raise UnsafeInput(
            f"{origin} must hold a mapping of integration names at the top, not a {_kind(root)}",
            line=_line(root),
            pointer="",
            hint="start with an integration name and a colon, e.g. `aws:`",
        )
    document = _Walk(yaml, text, limits, origin).run(root)
    return ParsedYaml(document, root, text)


def parse_yaml(
    text: str | bytes, *, limits: Limits = DEFAULT_LIMITS, origin: str = "the file"
) -> ParsedYaml:
    """Read an integration file (YAML 1.2) safely; an empty file is an empty document.

    ``origin`` names the input in messages ("the file", a path ...).

    >>> parse_yaml("aws:\\n- account_id: '012345678901'\\n  regions: [us-east-1]\\n").document
    {'aws': [{'account_id': '012345678901', 'regions': ['us-east-1']}]}
    """
    return _parse_text(_decode(text, limits, origin), limits, origin)


# -- fragments ---------------------------------------------------------------------------------

# A JSON string (unterminated: to the end), or a bracket.
_JSON_BRACKET: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')
# A JSON string, or a bare word outside strings (number, literal).
_JSON_WORD: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[^\s"{}\[\],:]+')


class _JsonRefusal(Exception):
    def __init__(self, what: str, literal: str) -> None:
        super().__init__(literal)
        self.what = what
        self.literal = literal


class _JsonDuplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonDuplicate(key)
        out[key] = value
    return out


def _json_constant(literal: str) -> Any:
    raise _JsonRefusal("is not a JSON number", literal)


def _json_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _JsonRefusal("is too large for a JSON number", literal)
    return value


def _json_int(literal: str) -> int:
    try:
        return int(literal)
    except ValueError:  # more digits than int() takes
        raise _JsonRefusal("has too many digits", literal) from None


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _json_depth(text: str, limits: Limits, origin: str) -> None:
    """Refuse JSON nested deeper than ``max_depth`` before the (recursive) json module sees it."""
    if text.count("{") + text.count("[") <= limits.max_depth + 1:
        return
    depth = -1
    for match in _JSON_BRACKET.finditer(text):
        c = text[match.start()]
        if c == '"':
            continue
        if c == "{" or c == "[":
            depth += 1
            if depth > limits.max_depth:
                raise _depth_error(origin, limits.max_depth, _line_at(text, match.start()), None)
        else:
            depth -= 1


def _json_word_line(text: str, literal: str) -> int | None:
    for match in _JSON_WORD.finditer(text):
        if text[match.start()] != '"' and match.group() == literal:
            return _line_at(text, match.start())
    return None


def _parse_json(text: str, limits: Limits, origin: str) -> dict[str, Any]:
    _json_depth(text, limits, origin)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_json_pairs,
            parse_constant=_json_constant,
            parse_float=_json_float,
            parse_int=_json_int,
        )
    except json.JSONDecodeError as exc:
        error = UnsafeInput(
            f"{origin} is not valid JSON: {exc.msg}",
            line=exc.lineno,
            hint="check the JSON around that line (quotes, commas, brackets)",
        )
        # `{aws: [...]}` is YAML (flow style), not JSON: read it as YAML if it is.
        try:
            root, yaml = _compose(text, limits, origin)
        except UnsafeInput:
            raise error from None
        if type(root) is not MappingNode:
            raise error from None
        return _Walk(yaml, text, limits, origin).run(root)
    except _JsonRefusal as exc:
        raise UnsafeInput(
            f"{origin} holds {exc.literal}, which {exc.what}",
            line=_json_word_line(text, exc.literal),
            hint="write a finite number of sensible size, or quote it to keep it as text",
        ) from None
    except _JsonDuplicate as exc:
        # JSON is YAML 1.2: the YAML reading names the line and the pointer.
        try:
            _parse_text(text, limits, origin)
        except UnsafeInput as located:
            if "twice in one mapping" in located.message:
                raise located from None
        raise UnsafeInput(
            f"{origin} has the key {exc.key!r} twice in one object",
            hint="remove one of them: JSON readers disagree about which one wins",
        ) from None
    except RecursionError:  # not reached: the depth is checked above
        raise _depth_error(origin, limits.max_depth, None, None) from None
    if type(value) is not dict:
        raise UnsafeInput(
            f"{origin} must be a mapping of integration names, not {type(value).__name__}",
            line=1,
            pointer="",
        )
    _count_json(value, limits, origin)
    return value


def _count_json(document: dict[str, Any], limits: Limits, origin: str) -> None:
    """Refuse JSON holding more than ``max_nodes`` values (keys counted, as in YAML)."""
    total = 1
    stack: list[tuple[Any, Any]] = [(document, None)]
    while stack:
        value, chain = stack.pop()
        if type(value) is dict:
            total += 2 * len(value)
            children: Any = value.items()
        else:
            total += len(value)
            children = enumerate(value)
        if total > limits.max_nodes:
            raise UnsafeInput(
                f"{origin} holds more than {limits.max_nodes:,} values",
                pointer=pointer_of(chain),
                hint="split the fragment (or raise Limits(max_nodes=...))",
            )
        for key, child in children:
            t = type(child)
            if t is dict or t is list:
                stack.append((child, (chain, key)))


def _mark_deletes(document: dict[str, Any]) -> None:
    """Turn every mapping value that is exactly ``{"$patch": "delete"}`` into ``DELETE``."""
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            for key, child in value.items():
                t = type(child)
                if t is dict:
                    if len(child) == 1 and child.get(PATCH_KEY) == "delete":
                        value[key] = DELETE
                    else:
                        stack.append(child)
                elif t is list:
                    stack.append(child)
        else:
            for child in value:
                t = type(child)
                if t is dict or t is list:
                    stack.append(child)


def parse_fragment(text: str | bytes, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Read a fragment (YAML, or JSON when it starts with ``{``) safely, ready to merge.

    The same refusals as :func:`parse_yaml`, plus JSON's own (duplicate keys,
    ``NaN``, ``Infinity``). A mapping value that is exactly
    ``{"$patch": "delete"}`` becomes :data:`safemerge.DELETE`; a keyed list item
    ``{account_id: X, $patch: delete}`` stays as written (the merge removes X).
    The result has passed :func:`safemerge._values.check_fragment`.

    >>> parse_fragment("aws:\\n- account_id: '123456789012'\\n")
    {'aws': [{'account_id': '123456789012'}]}
    >>> parse_fragment('{"drata": {"workspace": {"$patch": "delete"}}}')
    {'drata': {'workspace': safemerge.DELETE}}
    """
    origin = "the fragment"
    decoded = _decode(text, limits, origin)
    if decoded.lstrip()[:1] == "{":
        fragment = _parse_json(decoded, limits, origin)
    else:
        fragment = _parse_text(decoded, limits, origin).document
    _mark_deletes(fragment)
    check_fragment(fragment)
    return fragment
