"""A store for a local YAML file: read, then replace atomically if nobody wrote in between."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._errors import SafeMergeError, ShaConflict, StoreError, UnsafeInput
from ._result import Change
from ._store import OutcomeUnknown, Snapshot, TransientError, Written, git_blob_sha
from ._yaml import read_yaml, render_document

__all__ = ["FileStore"]

_MiB = 1024 * 1024

# Mode of a file we create. Deliberately not filtered through the umask: the
# integration file is a shared config file and must come out the same everywhere.
_NEW_FILE_MODE = 0o644

# Polling steps while waiting for the lock: start fast (the lock is usually held
# for a few milliseconds), back off so that many waiters do not spin.
_POLL_FIRST = 0.001
_POLL_MAX = 0.05


class FileStore:
    """The integration file at ``path`` on the local disk.

    Example::

        store = FileStore(".jit/jit-integration.yml")
        snapshot = store.read()
        ...  # merge into snapshot.document
        new_sha = store.write(snapshot, result.document, result.changes)

    SHAs are git blob SHAs of the file's bytes (what ``git hash-object`` prints).
    ``write`` is guarded: under an exclusive lock it checks that the file still
    holds ``snapshot.sha`` (or is still missing), then replaces it atomically
    (temporary file, ``fsync``, ``os.replace``, ``fsync`` of the folder), so a
    reader sees the old file or the new one, never half of one. The lock is a
    ``flock`` on a sidecar ``.<name>.lock`` next to the file; it is safe between
    threads and processes on one machine (it does not hold across NFS clients).

    Files larger than ``max_bytes`` are refused on read and never written;
    ``write`` waits at most ``lock_timeout`` seconds for another writer.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lock_timeout: float = 30.0,
        max_bytes: int = 16 * _MiB,
    ) -> None:
        if lock_timeout < 0:
            raise ValueError(f"lock_timeout must be >= 0, not {lock_timeout!r}")
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, not {max_bytes!r}")
        self._path = Path(path)
        self.lock_timeout = float(lock_timeout)
        self.max_bytes = max_bytes

    @property
    def path(self) -> Path:
        """The file this store reads and writes."""
        return self._path

    def __repr__(self) -> str:
        return f"FileStore({str(self._path)!r})"

    # -- reading --------------------------------------------------------------------------------

    def read(self) -> Snapshot:
        """Read the file; a missing file is an empty document with no SHA."""
        try:
            data = self._read_bytes(self._path, limit=self.max_bytes)
        except OSError as exc:
            raise self._os_error("read", self._path, exc) from None
        if data is None:
            return Snapshot({}, None, None)
        if len(data) > self.max_bytes:
            raise UnsafeInput(
                f"{self._path} is larger than {self.max_bytes} bytes",
                hint="check that this is the integration file; raise FileStore(max_bytes=...) if it really is this large",
            )
        # The SHA is taken from the same bytes that are parsed: reading twice
        # could pair one version's SHA with another version's content.
        sha = git_blob_sha(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise UnsafeInput(
                f"{self._path} is not valid UTF-8: byte {data[exc.start]:#04x} at column {column} ({exc.reason})",
                line=line,
                hint="save the file as UTF-8",
            ) from None
        document, tree = read_yaml(text, origin=str(self._path))
        return Snapshot(document, sha, text, tree)

    @staticmethod
    def _read_bytes(path: Path | str, *, limit: int | None = None) -> bytes | None:
        """The bytes at ``path`` (at most ``limit + 1`` of them), or ``None`` if it is missing.

        Raises ``OSError`` for anything else, including a path that is not a regular file.
        """
        try:
            # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        with open(fd, "rb", closefd=True) as f:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
                raise OSError(errno.EINVAL, f"it is {kind}", str(path))
            return f.read() if limit is None else f.read(limit + 1)

    # -- writing --------------------------------------------------------------------------------

    def write(
        self,
        snapshot: Snapshot,
        document: Mapping[str, Any],
        changes: Sequence[Change],
        *,
        force: bool = False,
    ) -> str:
        """Replace the file with ``document`` if it still holds ``snapshot.sha``; return the new SHA.

        Raises :class:`ShaConflict` if the file changed (or appeared, or vanished)
        since ``snapshot`` was read, unless ``force``; :class:`TransientError` if
        another writer held the lock for ``lock_timeout`` seconds;
        :class:`StoreError` when the operating system refuses.
        """
        # Everything that can fail without the disk fails here, before the lock
        # and before any temporary file exists.
        try:
            rendered = render_document(document, snapshot.raw, changes, snapshot.tree)
            data = rendered.text.encode("utf-8")
        except SafeMergeError:
            raise
        except Exception as exc:
            raise UnsafeInput(
                f"the document cannot be written as YAML: {type(exc).__name__}: {exc}",
                hint="the document may only hold mappings, lists, strings, numbers, booleans and null",
            ) from exc
        if len(data) > self.max_bytes:
            # Never write a file that read() would refuse.
            raise UnsafeInput(
                f"the new {self._path} would be {len(data)} bytes, more than {self.max_bytes}",
                hint="raise FileStore(max_bytes=...) if the file really is this large",
            )
        new_sha = git_blob_sha(data)

        # Write through a symlink rather than replacing the link with a file;
        # the lock and the temporary file must live next to the real file.
        target = Path(os.path.realpath(self._path))
        try:
            lock_fd = self._lock(target)
        except OSError as exc:
            raise self._os_error("lock", target, exc) from None
        try:
            try:
                current = self._read_bytes(target)
            except OSError as exc:
                raise self._os_error("read", target, exc) from None
            current_sha = None if current is None else git_blob_sha(current)
            if current_sha != snapshot.sha and not force:
                if snapshot.sha is None:
                    what = "was created"
                elif current_sha is None:
                    what = "was deleted"
                else:
                    what = "changed"
                raise ShaConflict(
                    f"{self._path} {what} since it was read",
                    expected=snapshot.sha,
                    actual=current_sha,
                )
            try:
                mode = (
                    stat.S_IMODE(os.stat(target).st_mode) if current is not None else _NEW_FILE_MODE
                )
            except FileNotFoundError:
                # Only an unlocked writer could have removed it since we read it.
                mode = _NEW_FILE_MODE
            except OSError as exc:
                raise self._os_error("read", target, exc) from None
            self._replace(target, data, mode)
        finally:
            # Closing the descriptor releases the flock. The lock file stays:
            # unlinking it would let a waiter lock an inode that a newcomer no
            # longer sees, and two writers would both "hold" the lock.
            os.close(lock_fd)
        return Written(new_sha, rendered.warnings)

    def _lock(self, target: Path) -> int:
        """An open descriptor holding an exclusive flock on ``target``'s sidecar lock file."""
        lock_path = target.with_name(f".{target.name}.lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _NEW_FILE_MODE)
        except PermissionError:
            # A lock file created by another user: flock works on a read-only descriptor too.
            fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
        # Polling with LOCK_NB instead of a blocking flock: a blocking call cannot
        # be given a timeout without signals, and signals only reach the main thread.
        deadline = time.monotonic() + self.lock_timeout
        delay = _POLL_FIRST
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    pass
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TransientError(
                        f"timed out after {self.lock_timeout:g}s waiting for the lock on {self._path} ({lock_path})",
                        hint="another writer holds it (the lock is released when that process ends); "
                        "try again, or raise FileStore(lock_timeout=...)",
                    )
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, _POLL_MAX)
        except BaseException:
            os.close(fd)
            raise

    def _replace(self, target: Path, data: bytes, mode: int) -> None:
        """Atomically replace ``target`` with ``data``: a reader sees the old file or the new one."""
        folder = target.parent
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as exc:
            raise self._os_error("write", target, exc) from None
        try:
            with open(fd, "wb", closefd=True) as f:
                # mkstemp makes 0o600; set the final mode before the file becomes visible.
                os.fchmod(fd, mode)
                f.write(data)
                f.flush()
                # The data must be on disk before the rename is: otherwise a crash
                # can leave the new name pointing at an empty file.
                os.fsync(fd)
            os.replace(tmp, target)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise self._os_error("write", target, exc) from None
            raise
        self._sync_folder(folder, target)

    def _sync_folder(self, folder: Path, target: Path) -> None:
        """Make the rename durable: it lives in the folder's entry list, not in the file."""
        try:
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOTSUP):
                return  # this filesystem cannot sync a folder; the rename is as durable as it gets
            # The new file is in place and visible, but may not survive a crash:
            # let the write loop settle it by reading again.
            raise OutcomeUnknown(
                f"{target} was replaced, but syncing {folder} failed: {exc.strerror or exc}",
                hint="check the disk; reading the file again shows whether the write is there",
            ) from None

    @staticmethod
    def _os_error(action: str, path: Path | str, exc: OSError) -> StoreError:
        reason = exc.strerror or str(exc)
        hints = {
            errno.EACCES: f"check the permissions of {path} and of its folder",
            errno.EPERM: f"check the permissions of {path} and of its folder",
            errno.EROFS: "the file system is read-only; write somewhere else",
            errno.ENOSPC: "the disk is full; free some space and try again",
            errno.EDQUOT: "the disk quota is exhausted; free some space and try again",
            errno.EFBIG: "the file would exceed this process's file size limit (ulimit -f)",
            errno.ENOENT: f"create the folder {Path(path).parent} first",
            errno.ENOTDIR: f"a part of {path} is a file, not a folder",
        }
        return StoreError(
            f"cannot {action} {path}: {reason}",
            hint=hints.get(
                exc.errno or 0, f"check that {path} is a regular file this process can {action}"
            ),
        )
