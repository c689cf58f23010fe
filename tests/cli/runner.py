"""Run the real ``safemerge`` entry point in a child process, as a user's shell would."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
ANSI = "\x1b["

# Variables of the user's environment that would change what the CLI does.
_CLEARED = (
    "JIT_API_TOKEN",
    "JIT_CLIENT_ID",
    "JIT_CLIENT_SECRET",
    "JIT_API_URL",
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "SAFEMERGE_TARGET",
    "SAFEMERGE_SERVE_TOKEN",
    "NO_COLOR",
    "FORCE_COLOR",
)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        """stdout as the one JSON object it must be."""
        assert self.out.count("\n") == 1, self.out
        assert self.out.endswith("}\n"), self.out
        document = json.loads(self.out)
        assert isinstance(document, dict)
        return document

    @property
    def text(self) -> str:
        return self.out + self.err


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    # The child imports this checkout's safemerge, wherever the tests run from.
    full["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [full.get("PYTHONPATH")])])
    full.update(env or {})
    return full


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "safemerge._cli", *args]


def run(
    *args: str | Path, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> Result:
    """``safemerge ARGS`` with stdout and stderr captured (pipes: not a terminal)."""
    done = subprocess.run(
        command(*map(str, args)),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=child_env(env),
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def run_on_tty(*args: str | Path, env: Mapping[str, str] | None = None) -> Result:
    """``safemerge ARGS`` with stdout on a pseudo-terminal, as in an interactive shell."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command(*map(str, args)),
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=child_env(env),
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(controller)
    assert process.stderr is not None
    err = process.stderr.read().decode()
    process.stderr.close()
    code = process.wait(60)
    return Result(code, b"".join(chunks).decode().replace("\r\n", "\n"), err)
