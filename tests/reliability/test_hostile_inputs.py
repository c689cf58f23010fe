"""Hostile inputs: each refused with a clear, typed error naming what and where; nothing written.

The catalogue lives in :mod:`tests.support.hostile` (fragments as text and as
Python values, local and GitHub files, Jit and GitHub API answers, schemas), so
that ``scripts/reliability_report.py`` can time each case and measure its peak
memory. Here, each case must:

- raise the expected ``SafeMergeError`` subclass (nothing else escapes);
- name where: the line for text, the JSON Pointer for data, what was being
  read for a server's answer;
- write nothing (file bytes, commits, PUTs, store writes are compared);
- for schemas: open no socket.

Cases with a known gap are strict xfails whose reason starts with ``BUG:``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safemerge import SafeMergeError
from tests.support.hostile import CASES, Case, attempt


def _param(case: Case) -> object:
    marks = []
    if case.gap is not None:
        marks.append(pytest.mark.xfail(strict=True, reason=f"BUG: {case.gap}"))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_a_hostile_input_is_refused_clearly_and_nothing_is_written(
    case: Case, tmp_path: Path
) -> None:
    if case.target == "fragment text":
        pytest.importorskip("safemerge._parse")
    outcome = attempt(case, tmp_path)
    error = outcome.error
    assert error is not None, "the input was accepted"
    assert isinstance(error, SafeMergeError), f"a raw {type(error).__name__} escaped: {error}"
    assert isinstance(error, case.expect), f"{type(error).__name__}: {error}"
    assert not outcome.written, "something was written"
    assert not outcome.side_effect, "the input made something happen (a connection, a file)"
    message = outcome.message()
    assert len(message) > 15, f"the message says too little: {message!r}"
    if case.line is not None:
        assert getattr(error, "line", None) == case.line, f"wrong or no line: {message}"
        assert f"line {case.line}" in str(error)
    if case.pointer is not None:
        assert error.pointer == case.pointer, f"wrong or no pointer: {error.pointer!r}"
    if case.words is not None:
        assert case.words in message, message
