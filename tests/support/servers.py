"""Real servers on loopback for tests: the Jit API server in a thread, or as a process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safemerge._server import JitServer, make_server

__all__ = ["jit_server_process", "jit_server_thread"]


@contextmanager
def jit_server_thread(
    file: Path, *, token: str | None = None, validate: bool = True
) -> Iterator[JitServer]:
    """``make_server`` over ``file``, serving on a thread of this process."""
    server = make_server(file, token=token, validate=validate)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def jit_server_process(file: Path, *, token: str | None = None) -> Iterator[str]:
    """The real ``safemerge serve`` command in its own process; yields its URL."""
    env = dict(os.environ)
    if token is not None:
        env["SAFEMERGE_SERVE_TOKEN"] = token
    process = subprocess.Popen(
        [sys.executable, "-m", "safemerge._cli", "serve", "--file", str(file), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if " at " not in line:
            raise RuntimeError(
                f"safemerge serve did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
            )
        yield line.split(" at ", 1)[1].split()[0]
    finally:
        process.terminate()
        try:
            process.wait(10)
        finally:
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
