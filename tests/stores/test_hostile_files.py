"""Every refusal of the guarded parser, through a real FileStore: a clear error, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from safemerge import FileStore, UnsafeInput, apply, parse_fragment

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)

HOSTILE: dict[str, tuple[bytes, int | None, str]] = {
    "invalid YAML": (b"aws:\n  - account_id: '1\n", 3, "not valid YAML"),
    "invalid UTF-8": (b"drata:\n  workspace: \xff\xfe\n", 2, "UTF-8"),
    "a top-level list": (b"- a\n- b\n", 1, "mapping"),
    "a duplicate key": (b"drata:\n  workspace: a\n  workspace: b\n", 3, "twice"),
    "a non-string key": (b"drata:\n  1: a\n", 2, "string"),
    "billion laughs": (LAUGHS.encode(), None, "alias"),
    "deep nesting": (b"a: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", 1, "deep"),
    "a python tag": (b"drata: !!python/object/apply:os.system ['true']\n", 1, "tag"),
    "a custom tag": (b"drata: !vault secret\n", 1, "tag"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_refused_and_left_as_it_was(tmp_path: Path, name: str) -> None:
    data, line, words = HOSTILE[name]
    path = tmp_path / "jit-integration.yml"
    path.write_bytes(data)
    with pytest.raises(UnsafeInput) as caught:
        apply(FileStore(path), {"drata": {"user_email": "a@b.cc", "workspace": "w"}})
    assert words.lower() in str(caught.value).lower()
    if line is not None:
        assert caught.value.line == line
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jit-integration.yml"]


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jit-integration.yml"
    path.write_bytes(b"drata:\n  workspace: " + b"x" * 2048 + b"\n")
    with pytest.raises(UnsafeInput, match="larger than"):
        apply(FileStore(path, max_bytes=1024), {"jira": {}})
    assert path.stat().st_size > 1024


@pytest.mark.parametrize(
    "text",
    [
        "- a\n",
        "aws: &a [*a]\n",
        '{"a": 1, "a": 2}',
        '{"a": NaN}',
        "drata: !!python/name:os.system\n",
        LAUGHS,
    ],
)
def test_a_hostile_fragment_is_refused_before_anything_is_read_or_written(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "jit-integration.yml"
    path.write_text("drata:\n  workspace: w\n")
    before = path.read_bytes()
    with pytest.raises(UnsafeInput):
        apply(FileStore(path), parse_fragment(text))
    assert path.read_bytes() == before
