"""`safemerge` against a local file, through the real entry point (a child process).

Child processes are slow (~0.4 s each), so each test makes a few invocations and
checks everything they show.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from safemerge._store import git_blob_sha
from tests.cli.runner import ANSI, EXAMPLES, run, run_on_tty

ADD_ACCOUNT = EXAMPLES / "add-aws-account.yml"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of examples/jit-integration.yml to write to."""
    path = tmp_path / "jit-integration.yml"
    shutil.copyfile(EXAMPLES / "jit-integration.yml", path)
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_get_prints_the_file_as_stored_with_secret_values_redacted(example: Path) -> None:
    original = example.read_text()

    text = run("get", "--target", example)
    assert text.code == 0, text.err
    # References to Jit secrets are not secrets: the file prints as it is stored.
    assert text.out.splitlines() == original.splitlines()

    # A plaintext value under a secret-looking key is hidden; everything else kept.
    leaked = example.parent / "leaked.yml"
    leaked.write_text(original.replace('"${{ jit_secrets.azure_client_secret }}"', "'Zq8-plain'"))
    shown = run("get", "--target", leaked)
    assert "Zq8" not in shown.out
    assert (
        shown.out.splitlines()
        == original.replace('"${{ jit_secrets.azure_client_secret }}"', "<redacted>").splitlines()
    )

    as_json = run("get", "--output", "json", "--target", example)
    assert as_json.code == 0
    report = as_json.json
    assert report["command"] == "get"
    assert report["ok"] is True
    assert report["errors"] == []
    assert report["sha"] == git_blob_sha(example.read_bytes())
    assert report["document"]["aws"][1]["account_id"] == "012345678901"  # a string, zero kept
    assert report["document"]["azure"]["prod"]["auth"] == {
        "client_id": "${{ jit_secrets.azure_client_id }}",
        "client_secret": "${{ jit_secrets.azure_client_secret }}",
    }
    assert example.read_text() == original


def test_plan_shows_the_diff_and_the_changes_and_writes_nothing(example: Path) -> None:
    before = example.read_bytes()

    text = run("plan", ADD_ACCOUNT, "--target", example)
    assert text.code == 0, text.err
    assert "--- aws (now)\n+++ aws (after)\n@@ " in text.out
    assert "+- account_id: '000123456789'\n+  account_name: data-platform\n" in text.out
    assert "1 change:\n  + /aws/3: {'account_id': '000123456789'" in text.out
    assert "dry run: nothing written" in text.out
    assert ANSI not in text.out  # a pipe is not a terminal

    report = run("plan", ADD_ACCOUNT, "--target", example, "--output", "json").json
    assert report["command"] == "plan"
    assert report["exit_code"] == 0
    assert report["dry_run"] is True
    assert report["written"] is False
    assert report["changed"] is True
    assert report["sha_before"] == git_blob_sha(before)
    assert report["changes"] == [
        {
            "op": "add",
            "path": "/aws/3",
            "old": None,
            "new": {
                "account_id": "000123456789",
                "account_name": "data-platform",
                "regions": ["us-east-1", "eu-central-1"],
                "type": "account",
            },
        }
    ]
    # apply --dry-run is plan.
    dry = run("apply", "--dry-run", ADD_ACCOUNT, "--target", example, "--output", "json").json
    assert {k: v for k, v in dry.items() if k != "command"} == {
        k: v for k, v in report.items() if k != "command"
    }
    assert example.read_bytes() == before


def test_apply_writes_once_and_a_second_apply_does_nothing(example: Path) -> None:
    before = example.read_bytes()

    first = run("apply", ADD_ACCOUNT, "--target", example)
    assert first.code == 0, first.err
    after = example.read_bytes()
    assert after != before
    assert f"written in 1 attempt, guarded by the file SHA: sha {git_blob_sha(before)} -> {git_blob_sha(after)}" in first.out  # fmt: skip
    text = after.decode()
    assert "account_id: '000123456789'" in text
    for kept in ("'123456789012'", "'012345678901'", "'210987654321'", "azure:", "drata:"):
        assert kept in text

    again = run("apply", ADD_ACCOUNT, "--target", example, "--output", "json")
    assert again.code == 0
    report = again.json
    assert report["changes"] == []
    assert report["written"] is False
    assert report["attempts"] == 0
    assert report["sha_before"] == report["sha_after"] == git_blob_sha(after)
    assert example.read_bytes() == after

    # The same, from standard input, in text: "nothing to do".
    piped = run("apply", "-", "--target", example, stdin=ADD_ACCOUNT.read_text())
    assert piped.code == 0
    assert "nothing to do" in piped.out


def test_every_conflict_is_listed_and_nothing_is_written(example: Path, tmp_path: Path) -> None:
    fragment = write(tmp_path, "f.yml", "aws:\n- account_id: '123456789012'\n  account_name: prod\n  type: org\ndrata:\n  workspace: staging\n")  # fmt: skip
    before = example.read_bytes()

    text = run("apply", fragment, "--target", example)
    assert text.code == 1
    assert "error: 3 conflicts between the file and the fragment:" in text.err
    for line in (
        "/aws/0/account_name: file has 'production', fragment has 'prod'",
        "/aws/0/type: file has 'account', fragment has 'org'",
        "/drata/workspace: file has 'production', fragment has 'staging'",
        "--on-conflict fragment",
        "nothing was written",
    ):
        assert line in text.err
    assert text.out == ""

    report = run("plan", fragment, "--target", example, "--output", "json").json
    assert report["exit_code"] == 1
    assert report["ok"] is False
    assert [(e["type"], e["path"], e["base"], e["fragment"]) for e in report["errors"]] == [
        ("MergeConflict", "/aws/0/account_name", "production", "prod"),
        ("MergeConflict", "/aws/0/type", "account", "org"),
        ("MergeConflict", "/drata/workspace", "production", "staging"),
    ]
    assert all(e["pointer"] == e["path"] and e["hint"] for e in report["errors"])

    # Choosing who wins: the file keeps its values, and says which it kept.
    base = run("apply", fragment, "--target", example, "--on-conflict", "base", "--output", "json")
    assert base.code == 0
    assert base.json["written"] is False
    assert [s["path"] for s in base.json["skipped"]] == [e["path"] for e in report["errors"]]
    assert example.read_bytes() == before


def test_validation_failures_are_listed_all_at_once(example: Path, tmp_path: Path) -> None:
    fragment = write(tmp_path, "f.yml", "aws:\n- account_id: '999'\n  regions: [moon-base-1]\n  type: account\n")  # fmt: skip

    text = run("apply", fragment, "--target", example)
    assert text.code == 1
    assert "validation errors:" in text.err
    assert "/aws/3/account_id" in text.err
    assert "/aws/3/regions/0" in text.err
    assert "nothing was written" in text.err

    report = run("apply", fragment, "--target", example, "--output", "json").json
    assert report["exit_code"] == 1
    errors = {e["pointer"]: e for e in report["errors"]}
    assert set(errors) == {"/aws/3/account_id", "/aws/3/regions/0"}
    assert errors["/aws/3/account_id"]["type"] == "ValidationFailed"
    assert errors["/aws/3/account_id"]["integration"] == "aws"
    assert errors["/aws/3/account_id"]["schema_path"].startswith("aws.schema.json#")

    # --no-validate writes it anyway, and says so on stderr (and in the JSON warnings).
    loud = run("apply", fragment, "--target", example, "--no-validate", "--output", "json")
    assert loud.code == 0
    assert "warning: --no-validate" in loud.err
    assert loud.json["written"] is True
    assert [w["kind"] for w in loud.json["warnings"]] == ["no-validate"]
    assert "moon-base-1" in example.read_text()


def test_list_rules_policy_errors_and_strict_mode(example: Path, tmp_path: Path) -> None:
    with example.open("a") as f:
        f.write("gcp:\n- project_id: p0\n  zone: b\n")
    fragment = write(tmp_path, "gcp.yml", '{"gcp": [{"project_id": "p1", "zone": "a"}]}')

    # A list of mappings with no key rule: a PolicyError naming the path, never a guess.
    refused = run("plan", fragment, "--target", example, "--output", "json")
    assert refused.code == 1
    assert refused.json["errors"][0]["type"] == "PolicyError"
    assert refused.json["errors"][0]["pointer"] == "/gcp"
    assert "by_key" in refused.json["errors"][0]["hint"]

    keyed = run("plan", fragment, "--target", example, "--list", "/gcp=key:project_id")
    assert keyed.code == 0, keyed.err
    assert "+ /gcp/1: {'project_id': 'p1', 'zone': 'a'}" in keyed.out

    strict = run("plan", fragment, "--target", example, "--list", "/gcp=key:project_id", "--strict")
    assert strict.code == 1
    assert "no schema for integration 'gcp'" in strict.err


def test_usage_errors_exit_2(example: Path) -> None:
    bad_rule = run("plan", ADD_ACCOUNT, "--target", example, "--list", "/aws=sideways")
    assert bad_rule.code == 2
    assert "unknown list mode 'sideways'" in bad_rule.err

    as_json = run("plan", ADD_ACCOUNT, "--target", example, "--list", "aws", "--output", "json")
    assert as_json.code == 2
    report = as_json.json
    assert report["exit_code"] == 2
    assert report["command"] == "plan"
    assert report["errors"][0]["type"] == "UsageError"
    assert "POINTER=MODE" in report["errors"][0]["message"]

    no_target = run("apply", ADD_ACCOUNT)
    assert no_target.code == 2
    assert no_target.err.count("\n") == 1  # one line, saying what to set
    assert "set SAFEMERGE_TARGET" in no_target.err

    missing = run("plan", "no-such-fragment.yml", "--target", example)
    assert missing.code == 2
    assert "cannot read fragment no-such-fragment.yml" in missing.err

    assert run("frobnicate").code == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aws: []\naws: []\n", "duplicate key|twice"),
        ("drata: !!python/object:os.system {}\n", "python/object"),
        ("- aws\n- drata\n", "mapping"),
    ],
)
def test_unsafe_input_exits_6(example: Path, tmp_path: Path, text: str, message: str) -> None:
    fragment = write(tmp_path, "bad.yml", text)
    result = run("apply", fragment, "--target", example, "--output", "json")
    assert result.code == 6
    assert result.json["errors"][0]["type"] == "UnsafeInput"
    assert re.search(message, result.json["errors"][0]["message"])
    assert example.read_text() == (EXAMPLES / "jit-integration.yml").read_text()


def test_validate_a_whole_file(example: Path, tmp_path: Path) -> None:
    ok = run("validate", example)
    assert ok.code == 0, ok.err
    assert "valid (aws, azure, drata checked against the schemas)" in ok.out

    bad = write(tmp_path, "bad.yml", "aws:\n- account_id: 123456789012\n  regions: []\n  type: account\ndrata: {user_email: nobody}\nnewrelic: {}\n")  # fmt: skip
    text = run("validate", bad)
    assert text.code == 1
    for pointer in ("/aws/0/account_id", "/aws/0/regions", "/drata"):
        assert pointer in text.err

    report = run("validate", bad, "--strict", "--output", "json").json
    assert report["valid"] is False
    assert report["exit_code"] == 1
    assert report["checked"] == ["aws", "drata"]
    assert report["unchecked"] == ["newrelic"]
    pointers = {e["pointer"] for e in report["errors"]}
    assert {"/aws/0/account_id", "/aws/0/regions", "/newrelic"} <= pointers
    assert all(e["type"] == "ValidationFailed" and e["schema_path"] is not None for e in report["errors"])  # fmt: skip

    # Without FILE, the target's current file is validated.
    remote = run("validate", "--output", "json", env={"SAFEMERGE_TARGET": str(example)})
    assert remote.code == 0
    assert remote.json["valid"] is True


def test_schemas_lists_and_prints(tmp_path: Path) -> None:
    listing = run("schemas")
    assert listing.code == 0
    assert "aws" in listing.out
    assert "(lists merged by key: /aws by account_id)" in listing.out

    aws = run("schemas", "aws")
    assert aws.code == 0
    assert '"x-merge-key": [\n    "account_id"\n  ]' in aws.out

    report = run("schemas", "--output", "json").json
    assert [s["name"] for s in report["schemas"]] == ["aws", "azure", "drata", "jira"]
    assert report["schemas"][0]["merge_keys"] == {"/aws": ["account_id"]}

    mine = tmp_path / "schemas"
    mine.mkdir()
    (mine / "gcp.schema.json").write_text('{"title": "GCP", "type": "array", "x-merge-key": ["project_id"]}')  # fmt: skip
    extended = run("schemas", "--schemas", mine, "--output", "json").json
    by_name = {s["name"]: s for s in extended["schemas"]}
    assert by_name["gcp"]["merge_keys"] == {"/gcp": ["project_id"]}
    assert by_name["gcp"]["title"] == "GCP"

    unknown = run("schemas", "nope")
    assert unknown.code == 2
    assert "no schema named 'nope'" in unknown.err


def test_secret_values_never_reach_the_output(tmp_path: Path) -> None:
    # Plaintext credentials (which the schemas refuse) under secret-looking keys, at
    # the pointer of a change or conflict and nested inside one.
    target = write(tmp_path, "jit.yml", "azure:\n  prod:\n    auth: {client_id: a, client_secret: hunter2-in-the-file}\n    name: Prod\njira:\n  Eng:\n    auth: {api_token: hunter3-token}\n")  # fmt: skip
    fragment = write(tmp_path, "f.yml", "azure:\n  prod:\n    auth: plain-string\n  dev:\n    auth: {client_secret: hunter4-added}\njira:\n  Eng:\n    auth: {api_token: hunter5-in-the-fragment}\n")  # fmt: skip
    env = {"JIT_API_TOKEN": "hunter6-env-token"}
    wins = ("--on-conflict", "fragment", "--no-validate")
    outputs = [
        run("get", "--target", target, "-vv", env=env),
        run("get", "--target", target, "--output", "json", env=env),
        run("plan", fragment, "--target", target, "-vv", env=env),
        run("plan", fragment, "--target", target, "--output", "json", env=env),
        run("plan", fragment, "--target", target, *wins, "-v", env=env),
        run("plan", fragment, "--target", target, *wins, "--output", "json", env=env),
    ]
    assert [r.code for r in outputs] == [0, 0, 1, 1, 0, 0]
    for result in outputs:
        assert "hunter" not in result.text, result.text
    assert "client_secret: <redacted>" in outputs[0].out
    assert (
        "/azure/prod/auth: file has {'client_id': 'a', 'client_secret': '<redacted>'}, "
        "fragment has 'plain-string'" in outputs[2].err
    )
    assert (
        "/jira/Eng/auth/api_token: file has <redacted>, fragment has <redacted>" in outputs[2].err
    )
    assert outputs[3].json["errors"][0]["base"] == {"client_id": "a", "client_secret": "<redacted>"}
    assert "+  dev:\n" in outputs[4].out
    assert "      client_secret: <redacted>\n" in outputs[4].out
    assert "+ /azure/dev: {'auth': {'client_secret': '<redacted>'}}" in outputs[4].out
    assert [(c["op"], c["path"], c["old"], c["new"]) for c in outputs[5].json["changes"]] == [
        ("replace", "/azure/prod/auth", {"client_id": "a", "client_secret": "<redacted>"}, "plain-string"),
        ("add", "/azure/dev", None, {"auth": {"client_secret": "<redacted>"}}),
        ("replace", "/jira/Eng/auth/api_token", "<redacted>", "<redacted>"),
    ]  # fmt: skip


def test_colour_only_on_a_terminal_unless_forced(example: Path) -> None:
    args = ("plan", ADD_ACCOUNT, "--target", example)
    assert ANSI not in run(*args).out  # a pipe
    forced = run(*args, "--color", "always", env={"NO_COLOR": "1"})  # asked for: it wins
    assert "\x1b[32m+- account_id: '000123456789'\x1b[0m" in forced.out
    assert ANSI not in run(*args, "--color", "always", "--output", "json").out  # JSON never

    on_tty = run_on_tty(*args)
    assert on_tty.code == 0
    assert ANSI in on_tty.out
    no_color = run_on_tty(*args, env={"NO_COLOR": "1"})
    assert no_color.code == 0
    assert ANSI not in no_color.out
    assert "+- account_id: '000123456789'" in no_color.out


def test_help_documents_targets_and_exit_codes() -> None:
    result = run("--help")
    assert result.code == 0
    for line in (
        " 0  success, or nothing to do",
        " 1  merge conflict, policy error or validation failure (nothing written)",
        " 2  usage error",
        " 3  write conflicts exhausted",
        " 4  credentials missing, refused or lacking a permission",
        " 5  network or store failure",
        " 6  unsafe or invalid input refused",
        "github:OWNER/REPO[/PATH][@BRANCH]",
        "JIT_CLIENT_ID + JIT_CLIENT_SECRET",
    ):
        assert line in result.out
    for command in ("get", "plan", "apply", "validate", "schemas", "serve"):
        assert command in result.out
