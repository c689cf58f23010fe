"""The schema registry: bundled files, the caller's directory, $ref kept inside, merge hints."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from safemerge import (
    ListPolicy,
    Policy,
    PolicyError,
    SchemaRegistry,
    UnsafeInput,
    ValidationFailed,
    merge,
    validate,
)
from safemerge._hints import default_hints


def write(directory: Path, name: str, schema: dict[str, Any]) -> None:
    (directory / f"{name}.schema.json").write_text(json.dumps(schema))


def test_bundled_schemas_ship_inside_the_package() -> None:
    folder = resources.files("safemerge") / "schemas"
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".schema.json"))
    assert {"aws.schema.json", "azure.schema.json", "drata.schema.json", "jira.schema.json"} <= set(
        names
    )
    assert SchemaRegistry.bundled().integrations == ("aws", "azure", "drata", "jira")
    assert SchemaRegistry.bundled() is SchemaRegistry.bundled()


def test_every_bundled_schema_is_draft_2020_12() -> None:
    registry = SchemaRegistry.bundled()
    for name in (*registry.integrations, "_document", "_secret"):
        assert registry.schema(name)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_directory_adds_and_overrides(tmp_path: Path) -> None:
    write(tmp_path, "newrelic", {"type": "object", "required": ["account"]})
    write(tmp_path, "drata", {"type": "object", "required": ["workspace"]})
    registry = SchemaRegistry(tmp_path)
    assert "newrelic" in registry.integrations
    validate({"drata": {"workspace": "w"}}, registry)  # user_email no longer required
    with pytest.raises(ValidationFailed) as caught:
        validate({"newrelic": {}}, registry)
    assert caught.value.errors[0].pointer == "/newrelic"
    # The bundled registry is untouched.
    with pytest.raises(ValidationFailed):
        validate({"drata": {"workspace": "w"}})


def test_a_directory_schema_may_refer_to_a_bundled_one(tmp_path: Path) -> None:
    write(
        tmp_path,
        "vault",
        {"type": "object", "properties": {"token": {"$ref": "_secret.schema.json"}}},
    )
    registry = SchemaRegistry(tmp_path)
    validate({"vault": {"token": "${{ jit_secrets.vault }}"}}, registry)
    with pytest.raises(ValidationFailed) as caught:
        validate({"vault": {"token": "s.hvs.plain"}}, registry)
    assert "s.hvs.plain" not in str(caught.value)


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - shared on purpose: the test reads it

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = json.dumps({"type": "string"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/schema+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def schema_server() -> Iterator[str]:
    """A real server on loopback that would happily serve a schema, and counts requests."""
    _Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_remote_ref_is_refused_and_never_fetched(tmp_path: Path, schema_server: str) -> None:
    write(
        tmp_path,
        "evil",
        {"type": "object", "properties": {"x": {"$ref": f"{schema_server}/x.json"}}},
    )
    with pytest.raises(UnsafeInput) as caught:
        SchemaRegistry(tmp_path)
    assert "refers outside the registry" in str(caught.value)
    assert caught.value.pointer == "/properties/x"
    assert _Recorder.hits == []


def test_a_remote_ref_added_in_code_is_refused_too(schema_server: str) -> None:
    with pytest.raises(UnsafeInput):
        SchemaRegistry().with_schema("evil", {"$ref": f"{schema_server}/x.json"})
    with pytest.raises(UnsafeInput):
        SchemaRegistry().with_schema(
            "evil", {"$defs": {"a": {"$id": f"{schema_server}/", "$ref": "y.json"}}}
        )
    assert _Recorder.hits == []


def test_a_dangling_local_ref_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "x", {"$ref": "#/$defs/missing"})
    with pytest.raises(UnsafeInput, match="does not resolve"):
        SchemaRegistry(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": 12}', "not a valid JSON Schema"),
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"minimum": NaN}', "not JSON"),
        ('{"$schema": "http://json-schema.org/draft-07/schema#"}', "draft 2020-12"),
    ],
)
def test_bad_schema_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "x.schema.json").write_text(text)
    with pytest.raises(UnsafeInput, match=message):
        SchemaRegistry(tmp_path)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeInput, match="does not exist"):
        SchemaRegistry(tmp_path / "nope")


# -- merge hints ------------------------------------------------------------------------------


def test_hints_come_from_x_merge_key_annotations() -> None:
    hints = SchemaRegistry.bundled().hints()
    assert hints == {
        "/aws": ListPolicy.by_key("account_id"),
        "/jira/*/preferences/fields/components": ListPolicy.by_key("name"),
    }
    assert default_hints() is hints


def test_the_default_policy_merges_aws_by_account_id_because_the_schema_says_so() -> None:
    base = {"aws": [{"account_id": "111111111111", "account_name": "a", "regions": ["us-east-1"]}]}
    fragment = {
        "aws": [{"account_id": "111111111111", "account_name": "a", "regions": ["eu-west-1"]}]
    }
    assert merge(base, fragment).document["aws"][0]["regions"] == ["us-east-1", "eu-west-1"]
    # Change the annotation, and the merge changes with it.
    aws = dict(SchemaRegistry.bundled().schema("aws"))
    other = SchemaRegistry().with_schema("aws", {**aws, "x-merge-key": ["account_name"]})
    assert other.hints()["/aws"] == ListPolicy.by_key("account_name")
    by_name = {"aws": [{"account_name": "a", "regions": ["ap-south-1"]}]}
    result = merge(base, by_name, Policy(hints=other.hints()))
    assert result.document["aws"] == [
        {"account_id": "111111111111", "account_name": "a", "regions": ["us-east-1", "ap-south-1"]}
    ]
    with pytest.raises(PolicyError):  # the default hints key on account_id, which this item lacks
        merge(base, by_name)
    # Without the annotation there is no rule, and the merge refuses to guess.
    bare = SchemaRegistry().with_schema("aws", {k: v for k, v in aws.items() if k != "x-merge-key"})
    with pytest.raises(PolicyError):
        merge(base, fragment, Policy(hints=bare.hints()))


def test_hints_follow_refs_and_combinators(tmp_path: Path) -> None:
    write(
        tmp_path,
        "gcp",
        {
            "type": "object",
            "additionalProperties": {"$ref": "#/$defs/project"},
            "$defs": {
                "project": {
                    "anyOf": [
                        {"properties": {"labels": {"type": "array", "x-merge-key": ["key"]}}},
                        {"type": "null"},
                    ]
                }
            },
        },
    )
    assert SchemaRegistry(tmp_path).hints()["/gcp/*/labels"] == ListPolicy.by_key("key")


def test_a_malformed_merge_key_is_refused() -> None:
    with pytest.raises(UnsafeInput, match="x-merge-key"):
        SchemaRegistry().with_schema("x", {"type": "array", "x-merge-key": "id"}).hints()
