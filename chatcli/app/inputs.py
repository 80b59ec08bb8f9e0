"""What the user gives a one-shot question: the prompt words and piped stdin."""

from __future__ import annotations

import os
import select
import stat
from typing import BinaryIO

from chatcli.errors import UsageError

MAX_STDIN = 1024 * 1024  # bytes; about 250k-1M tokens is far past every model's window anyway
_READ = 64 * 1024


def human_size(n: int) -> str:
    """A byte count for people: 512 bytes, 1.5 KB, 12.0 MB."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def stdin_has_data(stream: BinaryIO) -> bool:
    """Whether stdin is something to read: a pipe or file (wait for it), or anything with data ready."""
    try:
        fd = stream.fileno()
        if os.isatty(fd):
            return False
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError):
        return False
    if stat.S_ISFIFO(mode) or stat.S_ISREG(mode):
        return True
    # A socket or device that an automation tool left open: read only what is already there.
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def read_stdin(stream: BinaryIO, limit: int = MAX_STDIN) -> str:
    """The piped text, refusing binary data and input over `limit` bytes (saying how large)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        block = stream.read(_READ)
        if not block:
            break
        size += len(block)
        if size <= limit:
            chunks.append(block)
        elif chunks:
            chunks = []  # keep counting, stop keeping
    if size > limit:
        raise UsageError(f"stdin is too large: {human_size(size)} (limit {human_size(limit)}); "
                         "pipe less, e.g. through head")
    return decode_text(b"".join(chunks), "stdin")


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
