"""Local files the user attaches: regular files only, each read once from one open, never past a limit.

A FIFO, a device or a socket is refused from its `stat`, before it is opened (opening a FIFO
blocks until a writer comes; `/dev/zero` never ends). The file is opened non-blocking and its
mode checked again on the open descriptor, in case the path was swapped in between. Sizes on
disk are only shown: limits are enforced on the bytes actually read, so a file that grows
while it is read cannot get past them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import TracebackType

from chatcli.errors import UsageError

HEAD = 8192  # bytes that decide what a file is (image magic, document magic, NUL bytes)
_CHUNK = 1024 * 1024
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class TooLarge(Exception):
    """More bytes than the limit: `size` is how large the file is, as far as is known."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def regular_file(value: str) -> Path:
    """The path `value` names, if it is a regular file (symlinks followed); else a UsageError, nothing opened."""
    path = Path(value).expanduser()
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UsageError(f"cannot attach {value}: no such file") from None
    except OSError as e:
        raise UsageError(f"cannot read {value}: {e.strerror or e}") from None
    _check_mode(value, mode)
    return path


def _check_mode(value: str, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise UsageError(f"{value} is a directory, not a file")
    if not stat.S_ISREG(mode):
        what = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise UsageError(f"cannot attach {value}: it is {what}, not a regular file; save what it gives to a file "
                         "and attach that")


class LocalFile:
    """One open regular file: its first bytes, then (once) everything up to a limit."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.path = regular_file(value)
        try:
            self._fd = os.open(self.path, _FLAGS)
        except OSError as e:
            raise UsageError(f"cannot read {value}: {e.strerror or e}") from None
        try:
            _check_mode(value, os.fstat(self._fd).st_mode)  # swapped for a FIFO since the stat?
            self.head = self._read(HEAD)
        except BaseException:
            os.close(self._fd)
            raise
        self._done = False

    def __enter__(self) -> LocalFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def size(self) -> int:
        """The size on disk now (for showing; it may change)."""
        return os.fstat(self._fd).st_size

    def read(self, limit: int) -> bytes:
        """The whole file, read once: at most `limit` bytes, else TooLarge (reading stops just past it)."""
        if self._done:
            raise RuntimeError("LocalFile.read called twice")
        self._done = True
        chunks, got = [self.head], len(self.head)
        while got <= limit:
            block = self._read(min(_CHUNK, limit + 1 - got))
            if not block:
                break
            chunks.append(block)
            got += len(block)
        if got > limit:
            raise TooLarge(max(got, self.size))
        return b"".join(chunks)

    def _read(self, n: int) -> bytes:
        """Up to n bytes (fewer only at the end of the file)."""
        out = bytearray()
        while len(out) < n:
            try:
                block = os.read(self._fd, n - len(out))
            except OSError as e:
                raise UsageError(f"cannot read {self.value}: {e.strerror or e}") from None
            if not block:
                break
            out += block
        return bytes(out)


def snapshot(value: str, limit: int) -> bytes:
    """A regular file's bytes, read once; TooLarge past `limit`."""
    with LocalFile(value) as f:
        return f.read(limit)
