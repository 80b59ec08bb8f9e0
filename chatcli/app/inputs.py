"""What the user gives a one-shot question: the prompt words and piped stdin."""

from __future__ import annotations

import os
import select
import stat
import time
from typing import BinaryIO

from chatcli.errors import UsageError

MAX_STDIN = 1024 * 1024  # bytes; about 250k-1M tokens is far past every model's window anyway
_READ = 64 * 1024
_MEASURE_BYTES = 64 * MAX_STDIN  # past the limit, stdin is counted (not kept) up to this much...
_MEASURE_SECONDS = 1.0  # ...for at most this long, to say how large it is
_TTY = -1  # _mode of a terminal


def human_size(n: int) -> str:
    """A byte count for people: 512 bytes, 1.5 KB, 12.0 MB."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def stdin_has_data(stream: BinaryIO) -> bool:
    """Whether stdin is something to read: a pipe or file (wait for it), or anything with data ready."""
    mode = _mode(stream)
    if mode is None or mode == _TTY:
        return False
    if _waits(mode):
        return True
    # A socket or device that an automation tool left open: read only what is already there.
    return _readable(stream.fileno(), 0, otherwise=False)


def read_stdin(stream: BinaryIO, limit: int = MAX_STDIN) -> str:
    """The piped text: a pipe or file to its end, a socket or device as far as bytes are ready.

    Reading stops as soon as the limit is passed, so stdin that never ends (`</dev/zero`,
    `yes |`) is refused at once, not read forever; see _measure for the size in the message.
    Binary data is refused too.
    """
    mode = _mode(stream)
    ready_only = mode is not None and not _waits(mode)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        block = b"" if ready_only and not _readable(stream.fileno(), 0) else _read_some(stream)
        if not block:
            return decode_text(b"".join(chunks), "stdin")
        chunks.append(block)
        size += len(block)
    del chunks  # nothing more is kept
    total, ended = _measure(stream, mode, size)
    what = human_size(total) if ended else f"over {human_size(total)} and still coming"
    raise UsageError(f"stdin is too large: {what} (limit {human_size(limit)}); pipe less, e.g. through head")


def _mode(stream: BinaryIO) -> int | None:
    """The st_mode of the stream's file descriptor (_TTY for a terminal); None without one."""
    try:
        fd = stream.fileno()
        return _TTY if os.isatty(fd) else os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):
        return None


def _waits(mode: int) -> bool:
    """Whether stdin of this kind is read to its end (a pipe or a file), not just what is ready."""
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def _read_some(stream: BinaryIO) -> bytes:
    """Up to _READ bytes as soon as some are there: one system call, nothing left in a buffer."""
    read1 = getattr(stream, "read1", None)
    return read1(_READ) if read1 is not None else stream.read(_READ)


def _measure(stream: BinaryIO, mode: int | None, size: int) -> tuple[int, bool]:
    """How large stdin is, having read `size` bytes of it: (bytes, whether that is all of it).

    A file says its size; anything else is read on, keeping nothing, while bytes keep coming,
    for at most _MEASURE_BYTES and _MEASURE_SECONDS: a large pipe is named by its size, and
    endless input is refused within a second.
    """
    if mode is not None and stat.S_ISREG(mode):
        return max(size, os.fstat(stream.fileno()).st_size), True
    deadline = time.monotonic() + _MEASURE_SECONDS
    while size < _MEASURE_BYTES:
        left = deadline - time.monotonic()
        if left <= 0 or (mode is not None and not _readable(stream.fileno(), left)):
            return size, False
        block = _read_some(stream)
        if not block:
            return size, True
        size += len(block)
    return size, False


def _readable(fd: int, timeout: float, *, otherwise: bool = True) -> bool:
    """Whether a read of fd would not block, waiting up to `timeout` seconds (`otherwise` if unknown)."""
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    except (OSError, ValueError):
        return otherwise


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 (or GB18030, common for Chinese files) text; binary data is refused."""
    if b"\x00" in data[:65536]:
        raise UsageError(f"{what} looks binary (it contains NUL bytes); pipe text only")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UsageError(f"{what} is not text in UTF-8 or GB18030; pipe text only")


def compose_message(prompt: str, piped: str | None) -> str:
    """The user message: the prompt, then piped text as clearly fenced context."""
    if not piped or not piped.strip():
        if not prompt:
            raise UsageError("nothing to ask: give a prompt (chat ask \"...\") or pipe text into chat ask")
        return prompt
    if not prompt:
        return piped
    fence = "```"
    while fence in piped:
        fence += "`"
    body = piped if piped.endswith("\n") else piped + "\n"
    return f"{prompt}\n\n{fence}\n{body}{fence}"
