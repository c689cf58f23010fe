"""The ``safemerge`` command line: the edge where strings become policies.

Built on the public API only (plus the local server).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from . import __version__

__all__ = ["main", "main_exit"]


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from ._server import make_server

    token = args.token or os.environ.get("SAFEMERGE_SERVE_TOKEN")
    server = make_server(
        args.file, host=args.host, port=args.port, token=token, validate=not args.no_validate
    )
    if args.port_file:
        with open(args.port_file, "w", encoding="utf-8") as handle:
            handle.write(f"{server.server_address[1]}\n")
    print(f"serving {args.file} at {server.url} (Ctrl-C to stop)", file=out, flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safemerge",
        description="Safe, non-destructive updates of a Jit integration file.",
    )
    parser.add_argument("--version", action="version", version=f"safemerge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a local file over the Jit integration-file API",
        description="Serve FILE at /plans/integration-file, as the Jit API does, on loopback.",
    )
    serve.add_argument(
        "--file", required=True, help="the YAML file to serve (created on the first PUT)"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    serve.add_argument("--token", help="require this bearer token (or set SAFEMERGE_SERVE_TOKEN)")
    serve.add_argument("--port-file", help="write the chosen port to this file (for scripts)")
    serve.add_argument(
        "--no-validate", action="store_true", help="accept content that breaks the schemas"
    )
    serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    code: int = args.run(args, out or sys.stdout)
    return code


def main_exit() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    main_exit()
