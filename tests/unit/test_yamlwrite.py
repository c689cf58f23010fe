"""The format-preserving YAML writer: golden tests over the corpus, and the awkward cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from safemerge import DELETE, ConflictPolicy, ListPolicy, Policy, UnsafeInput, merge
from safemerge._values import json_equal
from safemerge._yaml import read_yaml
from safemerge._yamlwrite import Rendered, needs_quotes, render_changes
from tests.support.yaml_lines import assert_only_changed_lines

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
FILES = sorted((CORPUS / "files").glob("*.yml"))
FRAGMENTS = sorted((CORPUS / "fragments").glob("*.yml"))
FRAGMENT_WINS = Policy(conflicts=ConflictPolicy.FRAGMENT)


def load_document(text: str) -> dict[str, Any]:
    return read_yaml(text)[0]


def write(
    text: str, fragment: dict[str, Any], policy: Policy | None = None
) -> tuple[Rendered, Any]:
    base, root = read_yaml(text)
    result = merge(base, fragment, policy)
    return render_changes(text, root, result.document, result.changes, load_document), result


def fragment_of(path: Path) -> dict[str, Any]:
    value = YAML(typ="safe", pure=True).load(path.read_text())
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("file", FILES, ids=[f.name for f in FILES])
@pytest.mark.parametrize("fragment", FRAGMENTS, ids=[f.name for f in FRAGMENTS])
def test_golden_corpus(file: Path, fragment: Path) -> None:
    text = file.read_text()
    rendered, result = write(text, fragment_of(fragment), FRAGMENT_WINS)
    assert rendered.warnings == ()
    assert json_equal(load_document(rendered.text), result.document)
    assert_only_changed_lines(text, rendered.text, result.changes)


@pytest.mark.parametrize("file", FILES, ids=[f.name for f in FILES])
def test_no_change_is_byte_identical(file: Path) -> None:
    text = file.read_text()
    rendered, result = write(text, {})
    assert result.changes == ()
    assert rendered.text == text


def test_add_account_in_the_style_of_its_siblings() -> None:
    text = (CORPUS / "files" / "basic.yml").read_text()
    rendered, _ = write(
        text, {"aws": [{"account_id": "000000000007", "regions": ["us-east-1"], "type": "account"}]}
    )
    assert (
        "- account_id: '000000000007'\n  regions:\n  - us-east-1\n  type: account\n\ndrata:"
        in rendered.text
    )


def test_add_item_to_a_flow_list_stays_flow() -> None:
    text = (CORPUS / "files" / "tricky.yml").read_text()
    rendered, _ = write(text, {"aws": [{"account_id": "000000000042", "regions": ["ap-south-1"]}]})
    assert "regions: [us-east-1, eu-west-1, ap-south-1]" in rendered.text


def test_removal_takes_its_comment_and_leaves_the_blank_line() -> None:
    text = (CORPUS / "files" / "basic.yml").read_text()
    rendered, _ = write(text, {"aws": [{"account_id": "012345678901", "$patch": "delete"}]})
    assert "leading zero" not in rendered.text
    assert "  type: account\n\ndrata:" in rendered.text
    assert "# Production accounts" in rendered.text


def test_replaced_scalar_keeps_quotes_and_end_of_line_comment() -> None:
    text = (CORPUS / "files" / "tricky.yml").read_text()
    rendered, _ = write(text, {"drata": {"workspace": "off"}}, FRAGMENT_WINS)
    assert "  workspace: 'off'        # a workspace literally named \"no\"\n" in rendered.text


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "0755",
        "1e3",
        "012345678901",
        "12345678901234567890",
        "2024-01-01",
        "null",
        "~",
        "",
    ],
)
def test_values_yaml_readers_disagree_on_are_quoted(value: str) -> None:
    assert needs_quotes(value)
    rendered, result = write("drata:\n  workspace: production\n", {"drata": {"extra": value}})
    line = next(line for line in rendered.text.splitlines() if "extra" in line)
    assert line.split(": ", 1)[1][0] in "'\"", line
    # Read back by a YAML 1.1 reader too (ruamel's 1.1 mode): still the same string.
    yaml11 = YAML(typ="safe", pure=True)
    yaml11.version = (1, 1)
    assert yaml11.load(rendered.text)["drata"]["extra"] == value
    assert load_document(rendered.text) == result.document


def test_new_top_level_key_follows_the_file_spacing() -> None:
    text = "aws: []\n\ndrata:\n  workspace: w\n"
    rendered, _ = write(text, {"jira": {"x": {"a": 1}}})
    assert rendered.text == "aws: []\n\ndrata:\n  workspace: w\n\njira:\n  x:\n    a: 1\n"


def test_indentation_is_detected_not_imposed() -> None:
    text = "aws:\n    -   account_id: '111111111111'\n        regions:\n            - us-east-1\n        type: account\n"
    rendered, result = write(
        text, {"aws": [{"account_id": "222222222222", "regions": ["eu-west-1"], "type": "account"}]}
    )
    assert rendered.warnings == ()
    assert load_document(rendered.text) == result.document
    assert rendered.text.startswith(text)


def test_a_change_through_an_alias_is_refused_with_the_line() -> None:
    text = (CORPUS / "files" / "tricky.yml").read_text()
    with pytest.raises(UnsafeInput) as caught:
        write(text, {"aws": [{"account_id": "111111111111", "regions": ["ap-south-1"]}]})
    assert caught.value.line == 7  # where the shared node is written
    assert "alias" in str(caught.value)


def test_an_edit_it_cannot_make_in_place_falls_back_and_says_so() -> None:
    # Removing the key that sits on a list dash's line would need the item re-indented.
    text = "a:\n- b: 1  # keep?\n  c: 2\nd: 3\n"
    policy = Policy(rules={"/a": ListPolicy.by_key("c")})
    rendered, result = write(text, {"a": [{"c": 2, "b": DELETE}]}, policy)
    assert load_document(rendered.text) == result.document == {"a": [{"c": 2}], "d": 3}
    assert rendered.warnings
    assert "re-written whole" in rendered.warnings[0]


def test_a_file_without_trailing_newline() -> None:
    rendered, result = write("drata:\n  workspace: w", {"jira": {"a": 1}})
    assert load_document(rendered.text) == result.document
    assert rendered.text.startswith("drata:\n  workspace: w\n")


def test_delete_a_key_inside_a_mapping() -> None:
    text = "drata:\n  user_email: a@b.cc  # who\n  # the workspace\n  workspace: w\n  extra: 1\n"
    rendered, result = write(text, {"drata": {"workspace": DELETE}})
    assert rendered.text == "drata:\n  user_email: a@b.cc  # who\n  extra: 1\n"
    assert load_document(rendered.text) == result.document


# -- generated fragments over the corpus ------------------------------------------------------

_REGIONS = st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1", "ca-central-1"])
_IDS = st.sampled_from(
    ["123456789012", "012345678901", "999999999999", "000000000042", "555555555555"]
)
_ACCOUNT = st.fixed_dictionaries(
    {"account_id": _IDS},
    optional={
        "regions": st.lists(_REGIONS, max_size=2, unique=True),
        "account_name": st.sampled_from(["a", "yes", "0755", "x: y", "it's"]),
        "$patch": st.just("delete"),
    },
)


def _account_id(account: Any) -> Any:
    return account["account_id"]


_FRAGMENT = st.fixed_dictionaries(
    {},
    optional={
        "aws": st.lists(_ACCOUNT, max_size=3, unique_by=_account_id),
        "drata": st.fixed_dictionaries(
            {},
            optional={
                "workspace": st.sampled_from(["production", "no", "on"]),
                "extra": st.integers(0, 9),
            },
        ),
        "newrelic": st.just({"account_id": "42"}),
    },
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(file=st.sampled_from(FILES), fragment=_FRAGMENT)
def test_generated_fragments_change_only_their_lines(file: Path, fragment: dict[str, Any]) -> None:
    for item in fragment.get("aws", []):
        if "$patch" in item:
            for key in ("regions", "account_name"):
                item.pop(key, None)
    text = file.read_text()
    policy = Policy(conflicts=ConflictPolicy.FRAGMENT, rules={"/aws/*/regions": ListPolicy.UNION})
    try:
        rendered, result = write(text, fragment, policy)
    except UnsafeInput as exc:
        refused = str(exc)  # the one refusal the writer makes, by design
        assert "alias" in refused
        return
    assert json_equal(load_document(rendered.text), result.document)
    if not rendered.warnings:
        assert_only_changed_lines(text, rendered.text, result.changes)


def test_removing_every_item_leaves_an_empty_flow_list() -> None:
    text = (CORPUS / "files" / "basic.yml").read_text()
    fragment = {
        "aws": [{"account_id": i, "$patch": "delete"} for i in ("123456789012", "012345678901")]
    }
    rendered, result = write(text, fragment)
    assert rendered.warnings == ()
    assert "aws: []\n# Production accounts\n\ndrata:" in rendered.text
    assert load_document(rendered.text) == result.document


def test_removing_the_item_that_holds_an_anchor_is_refused() -> None:
    text = (CORPUS / "files" / "tricky.yml").read_text()
    with pytest.raises(UnsafeInput) as caught:
        write(text, {"aws": [{"account_id": "999999999999", "$patch": "delete"}]})
    assert caught.value.line == 6
    assert "*alias" in str(caught.value)


def test_entries_added_at_one_place_keep_their_nesting() -> None:
    # Found by the generated test: a new key of the last section and a new
    # section are inserted at the same offset; the nested one must come first.
    text = "aws: []\n\ndrata:\n  workspace: w\n"
    rendered, result = write(text, {"drata": {"extra": 0}, "newrelic": {"a": "1"}})
    assert rendered.text == "aws: []\n\ndrata:\n  workspace: w\n  extra: 0\n\nnewrelic:\n  a: '1'\n"
    assert load_document(rendered.text) == result.document


def test_a_replaced_list_rewrites_only_its_entry() -> None:
    text = (CORPUS / "files" / "basic.yml").read_text()
    policy = Policy(rules={"/aws/*/regions": ListPolicy.REPLACE})
    rendered, result = write(
        text, {"aws": [{"account_id": "123456789012", "regions": ["ap-south-1"]}]}, policy
    )
    assert rendered.warnings == ()
    assert (
        "  regions:\n  - ap-south-1\n  type: account\n- account_id: '012345678901'   # leading"
        in rendered.text
    )
    assert_only_changed_lines(text, rendered.text, result.changes)


def test_a_replaced_flow_list_stays_flow() -> None:
    text = (CORPUS / "files" / "tricky.yml").read_text()
    policy = Policy(rules={"/aws/*/regions": ListPolicy.REPLACE})
    rendered, result = write(
        text, {"aws": [{"account_id": "000000000042", "regions": ["ap-south-1"]}]}, policy
    )
    assert rendered.warnings == ()
    assert load_document(rendered.text) == result.document


def test_a_scalar_replaced_by_a_mapping_rewrites_only_its_entry() -> None:
    text = "# head\ndrata:\n  workspace: w  # c\n  extra: 1\njira: {}\n"
    rendered, result = write(text, {"drata": {"extra": {"a": [1, 2]}}}, FRAGMENT_WINS)
    assert rendered.warnings == ()
    assert (
        rendered.text
        == "# head\ndrata:\n  workspace: w  # c\n  extra:\n    a:\n    - 1\n    - 2\njira: {}\n"
    )
    assert load_document(rendered.text) == result.document
