"""The examples a newcomer runs first do what their comments say (in-process: fast)."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from safemerge._cli import ExitCode, main
from tests.cli.runner import EXAMPLES, REPO


def cli(*args: str | Path) -> tuple[int, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [*map(str, args), "--output", "json"], out=out, err=err, env={}, stdin=io.StringIO()
    )
    report = json.loads(out.getvalue())
    assert isinstance(report, dict)
    return code, report


@pytest.fixture
def example(tmp_path: Path) -> Path:
    path = tmp_path / "jit-integration.yml"
    shutil.copyfile(EXAMPLES / "jit-integration.yml", path)
    return path


def test_the_example_file_is_valid() -> None:
    code, report = cli("validate", EXAMPLES / "jit-integration.yml", "--strict")
    assert code == 0, report["errors"]
    assert report["checked"] == ["aws", "azure", "drata"]


@pytest.mark.parametrize(
    ("fragment", "changes"),
    [
        ("add-aws-account.yml", [("add", "/aws/3")]),
        ("add-region.yml", [("add", "/aws/1/regions/1")]),
        ("add-drata.yml", []),  # the example file already holds exactly this
        ("remove-account.yml", [("remove", "/aws/2")]),
    ],
)
def test_each_fragment_applies_then_does_nothing(
    example: Path, fragment: str, changes: list[tuple[str, str]]
) -> None:
    code, report = cli("apply", EXAMPLES / fragment, "--target", example)
    assert code == 0, report["errors"]
    assert [(c["op"], c["path"]) for c in report["changes"]] == changes
    assert report["written"] is bool(changes)
    code, again = cli("apply", EXAMPLES / fragment, "--target", example)
    assert code == 0
    assert again["changes"] == []
    code, valid = cli("validate", example, "--strict")
    assert code == 0, valid["errors"]


def test_add_drata_adds_where_drata_is_missing_and_conflicts_where_it_differs(
    tmp_path: Path,
) -> None:
    without = tmp_path / "without.yml"
    without.write_text("aws: []\n")
    code, report = cli("apply", EXAMPLES / "add-drata.yml", "--target", without)
    assert code == 0
    assert [(c["op"], c["path"]) for c in report["changes"]] == [("add", "/drata")]

    differs = tmp_path / "differs.yml"
    differs.write_text("drata:\n  user_email: grc@example.com\n  workspace: production\n")
    code, report = cli("apply", EXAMPLES / "add-drata.yml", "--target", differs)
    assert code == ExitCode.MERGE_FAILED
    assert [e["path"] for e in report["errors"]] == ["/drata/user_email"]


def test_the_readme_documents_every_exit_code() -> None:
    readme = (REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\d+)` \| (.+?) \|$", readme, flags=re.M))
    assert sorted(int(code) for code in rows) == sorted(int(code) for code in ExitCode)
    assert "make demo" in readme
    assert "make test" in readme
