"""YAML benchmark: a FileStore apply against ruamel.yaml's own round trip of the same file.

Run ``python benchmarks/bench_yaml.py`` (``--quick`` for one round on a smaller
file). The file is 5,000 AWS accounts (three regions each) and a drata block,
written block-style by ruamel: ~35,000 lines, as the issue describes. The
fragment is the standard one (100 new accounts, a new region on 50, a new
Jira entry): 150 ``/aws`` items.

Regression guarded (non-zero exit if it fails):

- **The writer adds no pass of its own** -- ``apply(FileStore(path), fragment)``
  (guarded parse, merge, validate, text edits, read-back check, atomic write)
  costs at most 1.5x ruamel's round-trip ``load`` + ``dump`` of the same file.
  A writer that re-emitted the document, or parsed it a third time, shows here.

Also checked (correctness, not timed): only the lines of the changed accounts
differ, and the file reads back as the merged document.

Timing: ``time.perf_counter``, gc collected before and disabled during each
call, the two contenders interleaved round by round; medians and minimums.
ruamel.yaml is pure Python here (no C extension for round-trip mode), so each
side takes seconds.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import io
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML
from workload import make_document, make_fragment

from safemerge import FileStore, apply, merge
from safemerge._yaml import read_yaml

LIMIT = 1.5


def make_file(accounts: int) -> str:
    document = make_document(accounts)
    document = {"aws": document["aws"], "drata": document["drata"]}
    yaml = YAML(typ="rt", pure=True)
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 4096
    out = io.StringIO()
    out.write("# Jit integration file, generated for the benchmark.\n")
    yaml.dump(document, out)
    return out.getvalue()


def ruamel_round_trip(text: str) -> Callable[[], object]:
    def call() -> str:
        yaml = YAML(typ="rt", pure=True)
        yaml.indent(mapping=2, sequence=2, offset=0)
        yaml.width = 4096
        tree = yaml.load(text)
        out = io.StringIO()
        yaml.dump(tree, out)
        return out.getvalue()

    return call


def timed(call: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start
    finally:
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one round on 1,000 accounts")
    args = parser.parse_args(argv)
    accounts, rounds = (1_000, 1) if args.quick else (5_000, 3)
    text = make_file(accounts)
    base, _ = read_yaml(text)
    fragment = make_fragment(make_document(accounts), new_accounts=100, new_regions=50)
    expected = merge(base, fragment).document
    print(
        f"file: {accounts} accounts, {text.count(chr(10))} lines, {len(text.encode())} bytes",
        flush=True,
    )

    work = Path(tempfile.mkdtemp(prefix="safemerge-bench-"))
    try:
        ours: list[float] = []
        theirs: list[float] = []
        new_text = ""
        for round_number in range(rounds):
            path = work / f"jit-{round_number}.yml"
            path.write_text(text)
            store = FileStore(path)
            ours.append(timed(lambda store=store: apply(store, fragment)))  # type: ignore[misc]
            theirs.append(timed(ruamel_round_trip(text)))
            new_text = path.read_text()
            print(
                f"  round {round_number + 1}: apply {ours[-1]:.2f} s, ruamel load+dump {theirs[-1]:.2f} s",
                flush=True,
            )
        result, _ = read_yaml(new_text)
        assert result == expected, "the file does not read back as the merged document"
        old_lines, new_lines = text.splitlines(), new_text.splitlines()
        removed = sum(
            i2 - i1
            for tag, i1, i2, _, _ in difflib.SequenceMatcher(
                a=old_lines, b=new_lines, autojunk=False
            ).get_opcodes()
            if tag in ("delete", "replace")
        )
        added = len(new_lines) - len(old_lines) + removed
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(
            f"lines: {len(old_lines)} -> {len(new_lines)}; original lines changed or removed: {removed}; lines added: {added}"
        )
        print(f"FileStore apply   median {statistics.median(ours):.2f} s  min {min(ours):.2f} s")
        print(
            f"ruamel load+dump  median {statistics.median(theirs):.2f} s  min {min(theirs):.2f} s"
        )
        verdict = "PASS" if ratio <= LIMIT and removed == 0 else "FAIL"
        print(
            f"{verdict}: apply / ruamel round trip = {ratio:.2f}x (limit {LIMIT}x); untouched lines kept: {removed == 0}"
        )
        return 0 if verdict == "PASS" else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
