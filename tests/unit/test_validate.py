"""Per-integration schemas: each constraint has a failing case, errors are actionable."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from safemerge import ValidationFailed, Violation, merge, validate
from safemerge._validate import check, check_changes

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

SECRET = "${{ jit_secrets.azure_client_secret }}"

GOOD: dict[str, Any] = {
    "aws": [
        {
            "account_id": "123456789012",
            "account_name": "prod",
            "regions": ["us-east-1", "us-gov-west-1"],
            "type": "account",
        },
        {
            "account_id": "012345678901",
            "regions": ["eu-central-1", "ap-southeast-2"],
            "type": "org",
        },
    ],
    "azure": {
        "prod": {
            "type": "azure_account",
            "name": "Prod",
            "auth": {"client_id": "${{ jit_secrets.azure_client_id }}", "client_secret": SECRET},
            "tenant_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            "subscription_id": "${{jit_secrets.azure_subscription_ids}}",
        }
    },
    "drata": {"user_email": "security@example.com", "workspace": "production"},
    "jira": {
        "Engineering": {
            "auth": {
                "api_token": "${{ jit_secrets.jira_token }}",
                "email": "a@b.co",
                "domain": "Jit",
            },
            "preferences": {
                "project_id": 10200,
                "issue_type_id": "10001",
                "fields": {"components": [{"name": "Dev"}]},
            },
        }
    },
    "gcp": {"anything": ["goes"]},
}


def broken(pointer: str, value: Any) -> dict[str, Any]:
    """GOOD with one value set (or, for ``...``, removed) at ``pointer``."""
    doc = copy.deepcopy(GOOD)
    *parents, last = pointer.strip("/").split("/")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


def test_the_good_document_is_valid() -> None:
    validate(GOOD)
    assert check(GOOD) == ()


def test_corpus_files_with_documented_shapes_are_valid() -> None:
    from ruamel.yaml import YAML

    for name in ("basic.yml", "azure-jira.yml"):
        validate(YAML(typ="safe", pure=True).load((CORPUS / "files" / name).read_text()))


BAD = [
    # AWS
    ("/aws/0/account_id", "12345678901", "/aws/0/account_id", "pattern"),
    ("/aws/0/account_id", "1234567890123", "/aws/0/account_id", "pattern"),
    ("/aws/0/account_id", 123456789012, "/aws/0/account_id", "type"),
    ("/aws/0/account_id", "12345678901a", "/aws/0/account_id", "pattern"),
    ("/aws/0/account_id", ..., "/aws/0", "required"),
    ("/aws/0/type", "organisation", "/aws/0/type", "enum"),
    ("/aws/0/type", ..., "/aws/0", "required"),
    ("/aws/0/regions", ["us-east-1", "us-east-1"], "/aws/0/regions", "uniqueItems"),
    ("/aws/0/regions", [], "/aws/0/regions", "minItems"),
    ("/aws/0/regions", "us-east-1", "/aws/0/regions", "type"),
    ("/aws/0/regions/0", "US-EAST-1", "/aws/0/regions/0", "pattern"),
    ("/aws/0/regions/0", "us-east", "/aws/0/regions/0", "pattern"),
    ("/aws/0/regions/0", "mars-north-1x", "/aws/0/regions/0", "pattern"),
    ("/aws/0/account_name", "", "/aws/0/account_name", "minLength"),
    ("/aws/0/acount_name", "typo", "/aws/0", "additionalProperties"),
    ("/aws", {"account_id": "123456789012"}, "/aws", "type"),
    # Azure
    ("/azure/prod/type", "aws_account", "/azure/prod/type", "const"),
    ("/azure/prod/name", ..., "/azure/prod", "required"),
    ("/azure/prod/tenant_id", "not-a-uuid", "/azure/prod/tenant_id", "pattern"),
    ("/azure/prod/auth/client_id", ..., "/azure/prod/auth", "required"),
    ("/azure/prod/auth/extra", "x", "/azure/prod/auth", "additionalProperties"),
    ("/azure/prod/subscription_id", "${{ secrets.sub }}", "/azure/prod/subscription_id", "pattern"),
    ("/azure/prod", "prod", "/azure/prod", "type"),
    # Drata
    ("/drata/user_email", "security.example.com", "/drata/user_email", "pattern"),
    ("/drata/user_email", ..., "/drata", "required"),
    ("/drata/workspace", ..., "/drata", "required"),
    ("/drata/workspace", " ", "/drata/workspace", "pattern"),
    ("/drata/workspace", False, "/drata/workspace", "type"),  # `workspace: no` in YAML 1.1
    # Jira
    ("/jira/Engineering/auth/email", "nobody", "/jira/Engineering/auth/email", "pattern"),
    (
        "/jira/Engineering/preferences/project_id",
        "PROJ",
        "/jira/Engineering/preferences/project_id",
        "pattern",
    ),
    (
        "/jira/Engineering/preferences/issue_type_id",
        ...,
        "/jira/Engineering/preferences",
        "required",
    ),
    (
        "/jira/Engineering/preferences/fields/components/0",
        {"id": 1},
        "/jira/Engineering/preferences/fields/components/0",
        "required",
    ),
]


@pytest.mark.parametrize(
    ("where", "value", "pointer", "keyword"), BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD]
)
def test_each_constraint_has_a_failing_case(
    where: str, value: Any, pointer: str, keyword: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate(broken(where, value))
    errors = caught.value.errors
    assert [(e.pointer, e.keyword) for e in errors] == [(pointer, keyword)]
    assert errors[0].integration == pointer.split("/")[1]
    assert pointer in str(caught.value)
    assert caught.value.pointer == pointer
    assert errors[0].schema_path.startswith(f"{pointer.split('/')[1]}.schema.json#/")


@pytest.mark.parametrize(
    "where",
    [
        "/azure/prod/auth/client_secret",
        "/azure/prod/auth/client_id",
        "/azure/prod/subscription_id",
        "/jira/Engineering/auth/api_token",
    ],
)
def test_plaintext_secrets_are_refused_without_being_echoed(where: str) -> None:
    plaintext = "Zq8~fake-but-plausible-secret-value-7731"
    with pytest.raises(ValidationFailed) as caught:
        validate(broken(where, plaintext))
    error = caught.value
    assert [e.pointer for e in error.errors] == [where]
    assert "jit_secrets" in error.errors[0].message
    for text in (
        str(error),
        repr(error),
        *(str(e) for e in error.errors),
        *(repr(e) for e in error.errors),
    ):
        assert plaintext not in text
        assert "Zq8" not in text


def test_a_secret_in_a_container_of_the_wrong_type_is_not_echoed() -> None:
    plaintext = "Zq8-secret"
    with pytest.raises(ValidationFailed) as caught:
        validate(broken("/azure/prod/auth", plaintext))
    assert plaintext not in str(caught.value)
    with pytest.raises(ValidationFailed) as caught:
        validate(
            broken(
                "/azure/prod/auth",
                {"client_id": plaintext, "client_secret": SECRET, "x": plaintext},
            )
        )
    assert plaintext not in str(caught.value)


def test_every_error_is_reported_at_once_with_a_pointer() -> None:
    doc = broken("/aws/0/account_id", "1")
    doc["aws"][1]["regions"] = ["nowhere"]
    doc["drata"] = {"user_email": "x"}
    doc["azure"]["prod"]["tenant_id"] = "t"
    with pytest.raises(ValidationFailed) as caught:
        validate(doc)
    pointers = [e.pointer for e in caught.value.errors]
    assert sorted(pointers) == sorted(
        [
            "/aws/0/account_id",
            "/aws/1/regions/0",
            "/azure/prod/tenant_id",
            "/drata",
            "/drata/user_email",
        ]
    )
    # Most relevant first: integrations in file order, structural problems before leaf values.
    assert pointers.index("/drata") < pointers.index("/drata/user_email")
    assert pointers.index("/aws/0/account_id") < pointers.index("/azure/prod/tenant_id")
    assert all(e.pointer in str(caught.value) for e in caught.value.errors)
    assert "5 validation errors" in str(caught.value)


def test_unknown_integrations_pass_unless_strict() -> None:
    validate({"newrelic": {"anything": 1}})
    with pytest.raises(ValidationFailed) as caught:
        validate({"newrelic": {"anything": 1}}, strict=True)
    assert caught.value.errors[0].pointer == "/newrelic"
    assert "strict" in str(caught.value)


def test_only_limits_the_check() -> None:
    doc = broken("/drata/workspace", "")
    validate(doc, only=["aws", "azure"])
    with pytest.raises(ValidationFailed):
        validate(doc, only=["drata"])


def test_top_level_must_be_integration_names() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate({"aws": [], "not a name!": 1})
    error = caught.value.errors[0]
    assert (error.pointer, error.integration) == ("", None)
    assert "'not a name!'" in error.message
    assert error.schema_path == "_document.schema.json#/propertyNames/pattern"


def test_violation_is_a_value() -> None:
    v = Violation("drata", "/drata", "m", "drata.schema.json#/required", "required")
    assert v == Violation("drata", "/drata", "m", "drata.schema.json#/required", "required")
    assert str(v) == "/drata: m"


# -- incremental validation -------------------------------------------------------------------


def test_only_what_the_merge_changed_is_validated() -> None:
    base = copy.deepcopy(GOOD)
    base["aws"][0]["regions"] = ["not-a-region"]  # already broken, untouched by the fragment
    result = merge(base, {"aws": [{"account_id": "012345678901", "regions": ["eu-west-1"]}]})
    assert check_changes(result.document, result.changes) == ()
    assert [v.pointer for v in check(result.document)] == ["/aws/0/regions/0"]


def test_a_bad_change_is_caught_with_its_pointer() -> None:
    result = merge(
        GOOD, {"aws": [{"account_id": "123", "regions": ["us-east-1"], "type": "account"}]}
    )
    problems = check_changes(result.document, result.changes)
    assert [(v.pointer, v.keyword) for v in problems] == [("/aws/2/account_id", "pattern")]


def test_a_change_inside_an_item_validates_the_whole_item() -> None:
    # "required" relates an account's fields, so the account is the unit.
    result = merge(GOOD, {"aws": [{"account_id": "123456789012", "regions": ["moon-1"]}]})
    problems = check_changes(result.document, result.changes)
    assert [v.pointer for v in problems] == ["/aws/0/regions/2"]


def test_removing_a_required_key_is_caught() -> None:
    from safemerge import DELETE

    result = merge(GOOD, {"drata": {"workspace": DELETE}})
    assert [(v.pointer, v.keyword) for v in check_changes(result.document, result.changes)] == [
        ("/drata", "required")
    ]


def test_removing_an_account_needs_no_validation() -> None:
    result = merge(GOOD, {"aws": [{"account_id": "123456789012", "$patch": "delete"}]})
    assert result.changed
    assert check_changes(result.document, result.changes) == ()


def test_a_new_integration_is_validated_whole_and_strict_mode_applies() -> None:
    result = merge({}, {"drata": {"user_email": "x"}, "newrelic": {"a": 1}})
    assert {v.pointer for v in check_changes(result.document, result.changes)} == {
        "/drata",
        "/drata/user_email",
    }
    strict = check_changes(result.document, result.changes, strict=True)
    assert "/newrelic" in {v.pointer for v in strict}
