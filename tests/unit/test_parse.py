"""Guarded parsing (DESIGN.md § Inputs we refuse): one test per refusal, and equality with ruamel.

No test here is timed. The explosive inputs are small on purpose: an implementation
that expanded aliases or recursed per level would hang, exhaust memory or raise
RecursionError on them instead of refusing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.nodes import MappingNode
from ruamel.yaml.scalarbool import ScalarBoolean

from safemerge import DELETE, PolicyError, UnsafeInput
from safemerge._parse import DEFAULT_LIMITS, Limits, ParsedYaml, parse_fragment, parse_yaml

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FILES = sorted((CORPUS / "files").glob("*.yml"))
FRAGMENTS = sorted((CORPUS / "fragments").glob("*.yml"))

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def plain(value: Any) -> Any:
    """ruamel's round-trip values as plain JSON data (what parse_yaml must match)."""
    if isinstance(value, Mapping):
        out = {}
        for key, child in value.items():
            assert type(key) is str or isinstance(key, str), key
            out[str(key)] = plain(child)
        return out
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (bool, ScalarBoolean)):  # ScalarBoolean (anchored) is an int
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    assert value is None, f"not plain data: {type(value).__name__} {value!r}"
    return None


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types (True is not 1) and the same key order."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def ruamel_plain(text: str) -> Any:
    return plain(YAML(typ="rt", pure=True).load(text))


def refused(text: str | bytes, *, limits: Limits = DEFAULT_LIMITS) -> UnsafeInput:
    with pytest.raises(UnsafeInput) as info:
        parse_yaml(text, limits=limits)
    assert type(info.value) is UnsafeInput
    assert info.value.hint, "every refusal says how to fix it"
    return info.value


def refused_fragment(text: str | bytes, *, limits: Limits = DEFAULT_LIMITS) -> UnsafeInput:
    with pytest.raises(UnsafeInput) as info:
        parse_fragment(text, limits=limits)
    assert type(info.value) is UnsafeInput
    return info.value


# -- equality with ruamel ----------------------------------------------------------------------


@pytest.mark.parametrize("file", FILES, ids=[f.name for f in FILES])
def test_corpus_files_read_as_ruamel_reads_them(file: Path) -> None:
    text = file.read_text(encoding="utf-8")
    parsed = parse_yaml(text)
    assert same(parsed.document, ruamel_plain(text))
    assert isinstance(parsed.root, MappingNode)
    assert parsed.text == text


@pytest.mark.parametrize("file", FILES, ids=[f.name for f in FILES])
def test_corpus_files_read_the_same_from_bytes(file: Path) -> None:
    assert same(parse_yaml(file.read_bytes()).document, parse_yaml(file.read_text()).document)


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=[f.name for f in FRAGMENTS])
def test_corpus_fragments_read_as_ruamel_reads_them(fragment: Path) -> None:
    text = fragment.read_text(encoding="utf-8")
    assert same(parse_fragment(text), ruamel_plain(text))


def test_tricky_aliases_become_independent_copies() -> None:
    document = parse_yaml((CORPUS / "files" / "tricky.yml").read_text()).document
    first, second = document["aws"][1]["regions"], document["aws"][2]["regions"]
    assert first == second == ["us-east-1", "us-east-2"]
    assert first is not second
    first.append("eu-west-1")
    assert second == ["us-east-1", "us-east-2"]


def test_tricky_yaml_12_scalars() -> None:
    drata = parse_yaml((CORPUS / "files" / "tricky.yml").read_text()).document["drata"]
    assert drata["workspace"] == "no"
    assert drata["enabled"] == "on"  # a string in YAML 1.2, not a boolean
    assert drata["retention"] == 755  # decimal in YAML 1.2, not octal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 0o17", 15),
        ("a: 0x1F", 31),
        ("a: 0b101", 5),
        ("a: 1_000", 1000),
        ("a: 0755", 755),
        ("a: -12", -12),
        ("a: +7", 7),
        ("a: 0", 0),
        ("a: 1.5", 1.5),
        ("a: 1e3", 1000.0),
        ("a: -.5", -0.5),
        ("a: !!float 1", 1.0),
        ("a: !!int '42'", 42),
        ("a: !!bool yes", True),
        ("a: True", True),
        ("a: FALSE", False),
        ("a: on", "on"),
        ("a: yes", "yes"),
        ("a: ~", None),
        ("a: null", None),
        ("a:", None),
        ("a: ! 12", 12),
        ("a: '012345678901'", "012345678901"),
        ("a: >\n  folded\n  text\n\n  here\n", "folded text\nhere\n"),
        ("a: |\n  literal\n  text\n", "literal\ntext\n"),
        ('a: "tab\\there \\u00e9"', "tab\there é"),
    ],
)
def test_scalars_convert_as_ruamel_does(text: str, expected: Any) -> None:
    assert same(parse_yaml(text).document, {"a": expected})
    assert same(parse_yaml(text).document, ruamel_plain(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a: &x 5\nb: *x", 5), ("a: &x true\nb: *x", True), ("a: &x '7'\nb: *x", "7")],
)
def test_anchored_scalars_convert_as_ruamel_does(text: str, expected: Any) -> None:
    assert same(parse_yaml(text).document, {"a": expected, "b": expected})
    assert same(parse_yaml(text).document, ruamel_plain(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a: !!str 12", "12"), ("a: !!str", ""), ("a: =", "="), ("a: <<", "<<"), ("=: 1", 1)],
)
def test_explicit_strings_and_core_schema_text_are_strings(text: str, expected: Any) -> None:
    # ruamel's round-trip loader gives a TaggedScalar for these; YAML 1.2 says text.
    document = parse_yaml(text).document
    assert same(document, {"=": 1} if text.startswith("=") else {"a": expected})


@pytest.mark.parametrize(
    "text",
    ["a: 2024-01-01", "a: 2024-01-01T10:00:00Z", "a: 2001-12-14 21:59:43.10 -5", "2024-01-01: a"],
)
def test_implicit_timestamps_are_kept_as_their_text(text: str) -> None:
    document = parse_yaml(text).document
    key, value = text.split(": ", 1)
    assert same(document, {key: value})


def test_empty_documents_are_empty_mappings() -> None:
    for text in ("", "# only a comment\n", "---\n", "~\n", "--- ~\n...\n"):
        parsed = parse_yaml(text)
        assert parsed.document == {}
        assert parsed.root is None


def test_root_positions_index_into_the_text() -> None:
    text = "# head\naws:\n- account_id: '1'\ndrata:\n  workspace: w\n"
    parsed = parse_yaml(text)
    (aws_key, aws_value), (drata_key, _) = parsed.root.value
    assert (aws_key.start_mark.line, aws_key.start_mark.column) == (1, 0)
    assert parsed.text[aws_key.start_mark.index : aws_key.end_mark.index] == "aws"
    assert aws_value.start_mark.line == 2
    assert drata_key.start_mark.line == 3


def test_keys_keep_file_order() -> None:
    assert list(parse_yaml("z: 1\na: 2\nm: 3\n").document) == ["z", "a", "m"]


def test_quoted_keys_that_look_like_other_types_are_strings() -> None:
    assert same(
        parse_yaml("'1': a\n'true': b\n'null': c\n'<<': d\n").document,
        ruamel_plain("'1': a\n'true': b\n'null': c\n'<<': d\n"),
    )


def test_reused_anchor_name_takes_the_latest_without_a_warning() -> None:
    # pytest turns warnings into errors here: ruamel's ReusedAnchorWarning must not escape.
    text = "a: &x 1\nb: &x 2\nc: *x\n"
    assert same(parse_yaml(text).document, {"a": 1, "b": 2, "c": 2})


def test_nested_aliases_expand_into_independent_copies() -> None:
    document = parse_yaml("a: &a [1]\nb: &b [*a, *a]\nc: *b\n").document
    assert document == {"a": [1], "b": [[1], [1]], "c": [[1], [1]]}
    leaves = [document["a"], *document["b"], *document["c"]]
    assert len({id(leaf) for leaf in leaves}) == 5
    assert document["b"] is not document["c"]


def test_an_alias_may_be_a_key() -> None:
    assert parse_yaml("a: &k key\n*k : v\n").document == {"a": "key", "key": "v"}


# -- text --------------------------------------------------------------------------------------


def test_bom_is_dropped_from_bytes_and_text() -> None:
    assert parse_yaml(b"\xef\xbb\xbfa: 1\n").document == {"a": 1}
    parsed = parse_yaml("\ufeffa: 1\n")
    assert parsed.document == {"a": 1}
    assert parsed.text == "a: 1\n"
    assert parse_fragment(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_invalid_utf8_is_refused_naming_its_line() -> None:
    error = refused(b"a: 1\nb: 2\nc: caf\xe9\n")
    assert error.line == 3
    assert "UTF-8" in error.message


def test_utf16_is_refused() -> None:
    assert refused("a: 1\n".encode("utf-16")).line == 1


def test_too_many_bytes_is_refused() -> None:
    small = Limits(max_bytes=10)
    assert "more than the limit" in refused(b"a: 1234567890\n", limits=small).message
    assert "more than the limit" in refused("a: 1234567890\n", limits=small).message
    assert "more than the limit" in refused("é" * 6, limits=small).message  # 12 bytes of UTF-8
    assert "more than the limit" in refused_fragment('{"a": 1234567890}', limits=small).message


def test_control_character_is_refused_naming_its_line() -> None:
    assert refused("a: 1\nb: \x07\n").line == 2


def test_invalid_yaml_is_refused_naming_its_line() -> None:
    error = refused("a: 1\nb:\n  - x\n  y: 2\n")
    assert error.line == 4
    assert "not valid YAML" in error.message


def test_undefined_alias_is_refused() -> None:
    assert refused("a: 1\nb: *nowhere\n").line == 2


def test_more_than_one_document_is_refused() -> None:
    error = refused("a: 1\n---\nb: 2\n")
    assert error.line == 2
    assert "more than one YAML document" in error.message


def test_yaml_11_directive_is_refused() -> None:
    error = refused("%YAML 1.1\n---\nenabled: on\n")
    assert error.line == 1
    assert "YAML 1.1" in error.message
    assert parse_yaml("%YAML 1.2\n---\nenabled: on\n").document == {"enabled": "on"}


def test_unknown_yaml_version_is_refused() -> None:
    assert refused("%YAML 1.3\n---\na: 1\n").line == 1


# -- the top level -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"), [("- aws\n", 1), ("# c\n\njust text\n", 3), ("42\n", 1), ("[a, b]\n", 1)]
)
def test_top_level_that_is_not_a_mapping_is_refused(text: str, line: int) -> None:
    error = refused(text)
    assert error.line == line
    assert error.pointer == ""


# -- keys --------------------------------------------------------------------------------------


def test_duplicate_keys_are_refused_naming_the_second() -> None:
    error = refused("aws:\n- account_id: '1'\n  type: account\n  account_id: '2'\n")
    assert error.line == 4
    assert error.pointer == "/aws/0/account_id"
    assert "first on line 2" in error.message


def test_duplicate_keys_compare_resolved_values() -> None:
    error = refused("drata:\n  workspace: a\n  'workspace': b\n")
    assert error.line == 3
    assert error.pointer == "/drata/workspace"


def test_duplicate_key_written_as_an_alias_names_the_alias() -> None:
    error = refused("a: &k key\nkey: 1\n\n*k : v\nb: 1\n")
    assert error.line == 4
    assert error.pointer == "/key"


def test_duplicate_top_level_keys_are_refused() -> None:
    assert refused("aws: []\ndrata: {}\naws: []\n").line == 3


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\n1: a\n", 2),
        ("a: 1\n1.5: a\n", 2),
        ("a: 1\nnull: x\n", 2),
        ("a: 1\n~: x\n", 2),
        ("a: 1\n: x\n", 2),
        ("a: 1\ntrue: x\n", 2),
        ("a: 1\n? [a]\n: b\n", 2),
        ("a: 1\n? {b: 1}\n: c\n", 2),
        ("a: &n 1\nb:\n  *n : x\n", 3),
    ],
)
def test_non_string_keys_are_refused(text: str, line: int) -> None:
    error = refused(text)
    assert error.line == line
    assert "keys must be strings" in error.message


def test_non_string_key_names_the_mapping() -> None:
    assert refused("azure:\n  prod:\n    1: x\n").pointer == "/azure/prod"


def test_merge_key_is_refused_with_a_hint() -> None:
    error = refused("base: &b {type: account}\naws:\n- <<: *b\n  account_id: '1'\n")
    assert error.line == 3
    assert error.pointer == "/aws/0"
    assert "merge key" in error.message
    assert error.hint is not None
    assert "write the keys out" in error.hint


# -- tags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tagged",
    [
        "!!timestamp 2024-01-01",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!!omap [a: 1]",
        "!!pairs [a: 1]",
        "!!python/object:os.system x",
        "!!python/name:os.system ''",
        "!<tag:yaml.org,2002:python/object/apply:os.system> [ls]",
        "!custom x",
        "!custom {a: 1}",
        "!!str {a: 1}",
        "!!map x",
        "!!seq x",
    ],
)
def test_tags_outside_the_core_schema_are_refused(tagged: str) -> None:
    error = refused(f"a: 1\nb: {tagged}\n")
    assert error.line == 2
    assert error.pointer == "/b"
    assert "tag" in error.message


def test_explicit_timestamp_key_is_refused() -> None:
    assert refused("a: 1\n!!timestamp 2024-01-01: x\n").line == 2


def test_tag_directive_cannot_smuggle_a_tag() -> None:
    # `!!` redefined: `!!str` now means tag:example.com,2000:str, which is not core.
    assert refused("%TAG !! tag:example.com,2000:\n---\na: !!str x\n").line == 3


def test_python_tags_are_never_constructed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args))

    def no_construction(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ruamel's constructor was asked to build a collection or a tag")

    for name in ("construct_object", "construct_non_recursive_object", "construct_unknown"):
        monkeypatch.setattr(RoundTripConstructor, name, no_construction)
    for text in (
        "a: !!python/object/apply:os.system ['echo pwned']\n",
        "a: !!python/object:os.system {}\n",
        "a: [1, !!python/object/new:os.system [x]]\n",
    ):
        assert refused(text).line == 1
    assert calls == []
    # Plain data still reads without ruamel's constructor, apart from scalar conversions.
    assert parse_yaml("a: [1, {b: 0x1F}]\n").document == {"a": [1, {"b": 31}]}


# -- scalars -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "+.Inf", "!!float .nan"])
def test_non_finite_floats_are_refused(value: str) -> None:
    error = refused(f"drata:\n  ratio: {value}\n")
    assert error.line == 2
    assert error.pointer == "/drata/ratio"


@pytest.mark.parametrize("value", ["!!int abc", "!!int 1.5", "+_", "!!float x", "!!bool maybe"])
def test_invalid_scalars_are_refused(value: str) -> None:
    error = refused(f"a: 1\nb: {value}\n")
    assert error.line == 2
    assert error.pointer == "/b"


def test_integer_with_too_many_digits_is_refused() -> None:
    assert refused("a: 1\nb: " + "9" * 5000 + "\n").line == 2


# -- depth, size and aliases -------------------------------------------------------------------


def test_depth_at_the_limit_is_read_and_one_more_is_refused() -> None:
    limits = Limits(max_depth=2)
    assert parse_yaml("a: {b: {}}\n", limits=limits).document == {"a": {"b": {}}}
    error = refused("x: 1\na: {b: {c: {}}}\n", limits=limits)
    assert error.line == 2
    assert error.pointer == "/a/b/c"
    assert "deeper than 2 levels" in error.message


@pytest.mark.parametrize(
    "text",
    [
        "- " * 10_000 + "x\n",  # compact block sequences
        "a: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
        "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
    ],
    ids=["block", "flow-mapping", "flow-sequence"],
)
def test_ten_thousand_deep_yaml_is_refused_not_a_recursion_error(text: str) -> None:
    error = refused(text)
    assert error.line == 1
    assert "deeper than 100 levels" in error.message


def test_deep_yaml_within_a_raised_limit_is_refused_not_a_recursion_error() -> None:
    # Limits beyond what ruamel's recursive composer can take are capped by the stack.
    error = refused("- " * 10_000 + "x\n", limits=Limits(max_depth=100_000))
    assert error.line == 1
    assert "nests deeper than" in error.message


def test_deep_block_yaml_names_the_line() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "x: 1\n"
    assert refused(text).line == 103


def test_billion_laughs_is_refused() -> None:
    # ~600 bytes that expand to 10^9 strings: refused from the node graph, never expanded.
    error = refused(BILLION_LAUGHS)
    assert error.line == 7  # g: the first list whose expansion passes 5,000,000
    assert error.pointer is not None
    assert error.pointer.startswith("/g/")
    assert "5,000,000" in error.message


def test_billion_laughs_fragment_is_refused() -> None:
    assert refused_fragment(BILLION_LAUGHS).line == 7


def test_expansion_limit_counts_alias_expansions() -> None:
    text = "a: &a [1, 2, 3, 4]\nb: [*a, *a]\n"
    # 1 root + 2 keys + 2 values + 4 items + 2 aliases of 5 nodes each = 19
    assert parse_yaml(text, limits=Limits(max_nodes=19)).document["b"] == [[1, 2, 3, 4]] * 2
    error = refused(text, limits=Limits(max_nodes=18))
    assert error.line == 2
    assert error.pointer == "/b/1"


def test_too_many_nodes_without_aliases_is_refused() -> None:
    error = refused("a: 1\nb: [1, 2, 3, 4, 5, 6]\n", limits=Limits(max_nodes=8))
    assert error.line == 2
    assert error.pointer == "/b"


def test_too_many_aliases_is_refused_naming_the_alias() -> None:
    text = "a: &x 1\nb: *x\nc: [*x,\n  *x]\n"
    assert parse_yaml(text, limits=Limits(max_aliases=3)).document["c"] == [1, 1]
    error = refused(text, limits=Limits(max_aliases=2))
    assert error.line == 4
    assert error.pointer == "/c/1"


def test_alias_expanding_too_deep_is_refused_naming_the_alias() -> None:
    nested = "[" * 60 + "]" * 60
    text = f"x: &x {nested}\ny:\n  z: {'[' * 50}*x{']' * 50}\n"
    error = refused(text)
    assert error.line == 3
    assert error.pointer == "/y/z" + "/0" * 50
    assert "deeper than 100 levels" in error.message


def test_recursive_alias_is_refused() -> None:
    error = refused("a: 1\nb: &loop\n  - x\n  - *loop\n")
    assert error.line == 4
    assert error.pointer == "/b/1"


# -- fragments ---------------------------------------------------------------------------------


def test_yaml_fragment() -> None:
    assert parse_fragment("aws:\n- account_id: '123456789012'\n") == {
        "aws": [{"account_id": "123456789012"}]
    }


def test_empty_fragment_is_empty() -> None:
    assert parse_fragment("") == {}


def test_json_fragment() -> None:
    text = '{"aws": [{"account_id": "1", "regions": ["us-east-1"]}], "x": {"n": 1.5, "b": true}}'
    assert same(
        parse_fragment(text),
        {"aws": [{"account_id": "1", "regions": ["us-east-1"]}], "x": {"n": 1.5, "b": True}},
    )


def test_yaml_flow_mapping_fragment_is_read_as_yaml() -> None:
    assert parse_fragment("{aws: [{account_id: '1'}]}") == {"aws": [{"account_id": "1"}]}


def test_patch_delete_becomes_delete() -> None:
    fragment = parse_fragment("drata:\n  workspace:\n    $patch: delete\njira: {$patch: delete}\n")
    assert fragment == {"drata": {"workspace": DELETE}, "jira": DELETE}
    assert parse_fragment('{"drata": {"$patch": "delete"}}') == {"drata": DELETE}


def test_keyed_list_item_delete_stays_as_written() -> None:
    fragment = parse_fragment("aws:\n- account_id: '012345678901'\n  $patch: delete\n")
    assert fragment == {"aws": [{"account_id": "012345678901", "$patch": "delete"}]}


def test_patch_with_other_keys_or_values_is_not_delete() -> None:
    assert parse_fragment("a:\n  $patch: delete\n  b: 1\n") == {"a": {"$patch": "delete", "b": 1}}
    with pytest.raises(PolicyError):
        parse_fragment("a:\n  $patch: remove\n")


def test_fragment_that_is_not_a_mapping_is_refused() -> None:
    assert refused_fragment("- aws\n").line == 1
    assert refused_fragment("[1, 2]").line == 1


def test_json_syntax_error_names_its_line() -> None:
    error = refused_fragment('{\n  "a": 1,\n  "b": 2,,\n}')
    assert error.line == 3
    assert "not valid JSON" in error.message


def test_json_duplicate_keys_are_refused_naming_line_and_pointer() -> None:
    error = refused_fragment('{"aws": [{"account_id": "1",\n  "account_id": "2"}]}')
    assert error.line == 2
    assert error.pointer == "/aws/0/account_id"


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ('{"a": 1,\n "b": NaN}', "NaN"),
        ('{"a": 1,\n "b": Infinity}', "Infinity"),
        ('{"a": 1,\n "b": [-Infinity]}', "-Infinity"),
        ('{"a": 1,\n "b": 1e400}', "1e400"),
    ],
)
def test_json_non_finite_numbers_are_refused(text: str, literal: str) -> None:
    error = refused_fragment(text)
    assert error.line == 2
    assert literal in error.message


def test_json_integer_with_too_many_digits_is_refused() -> None:
    assert refused_fragment('{"a":\n ' + "9" * 5000 + "}").line == 2


@pytest.mark.parametrize(
    "text",
    [
        '{"a": ' * 10_000 + "1" + "}" * 10_000,
        '{"a": ' + "[" * 10_000 + "]" * 10_000 + "}",
    ],
    ids=["objects", "arrays"],
)
def test_ten_thousand_deep_json_is_refused_not_a_recursion_error(text: str) -> None:
    error = refused_fragment(text)
    assert error.line == 1
    assert "deeper than 100 levels" in error.message


def test_json_depth_ignores_brackets_in_strings() -> None:
    text = '{"a": "' + "[" * 500 + '", "b": {"c": "{{{{"}}'
    assert parse_fragment(text) == {"a": "[" * 500, "b": {"c": "{{{{"}}


def test_json_depth_at_the_limit_is_read_and_one_more_is_refused() -> None:
    limits = Limits(max_depth=2)
    assert parse_fragment('{"a": {"b": {}}}', limits=limits) == {"a": {"b": {}}}
    assert refused_fragment('{"a": {"b":\n {"c": {}}}}', limits=limits).line == 2


def test_json_too_many_nodes_is_refused() -> None:
    error = refused_fragment('{"a": [1, 2, 3, 4, 5, 6]}', limits=Limits(max_nodes=8))
    assert error.pointer == "/a"


def test_fragment_refusals_are_the_yaml_ones() -> None:
    assert refused_fragment("a: 1\na: 2\n").line == 2
    assert refused_fragment("a: !!python/object:os.system x\n").line == 1
    assert refused_fragment("a: .inf\n").line == 1
    assert refused_fragment("a: 1\n---\nb: 2\n").line == 2
    assert refused_fragment("<<: {a: 1}\n").line == 1


# -- the API -----------------------------------------------------------------------------------


def test_limits_are_frozen_and_checked() -> None:
    assert (
        DEFAULT_LIMITS.max_bytes,
        DEFAULT_LIMITS.max_depth,
        DEFAULT_LIMITS.max_nodes,
        DEFAULT_LIMITS.max_aliases,
    ) == (16 * 1024 * 1024, 100, 5_000_000, 10_000)
    with pytest.raises(ValueError, match="max_depth"):
        Limits(max_depth=-1)
    with pytest.raises(AttributeError):
        DEFAULT_LIMITS.max_depth = 5  # type: ignore[misc]


def test_parsed_yaml_is_frozen() -> None:
    parsed = parse_yaml("a: 1\n")
    assert isinstance(parsed, ParsedYaml)
    with pytest.raises(AttributeError):
        parsed.document = {}  # type: ignore[misc]


def test_origin_names_the_input() -> None:
    with pytest.raises(UnsafeInput, match=r"jit-integration\.yml has the key 'a' twice"):
        parse_yaml("a: 1\na: 2\n", origin="jit-integration.yml")


def test_secret_values_are_not_echoed() -> None:
    error = refused("azure:\n  auth:\n    client_secret: !!int hunter2\n")
    assert "hunter2" not in str(error)
