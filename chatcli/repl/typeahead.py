"""Keys typed while an answer streams: kept for the next prompt instead of echoed over the answer.

`TypeAhead` turns the bytes a terminal sends into the line being typed and the lines entered
(queued as the next messages); it is pure, fed by `KeyReader`, which reads stdin in a thread while
the answer streams, with the terminal in non-canonical, no-echo mode (Ctrl-C still raises SIGINT)
and puts the terminal modes back exactly as they were when it stops. Stdlib only: `chat --help`
imports nothing heavy through here.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

ESC = "\x1b"
PASTE_START, PASTE_END = "[200~", "[201~"  # bracketed paste markers, after ESC
_MAX_SEQUENCE = 32  # longer "escape sequences" are garbage: give up on them


class TypeAhead:
    """The line being typed and the lines entered (Enter), decoded from a terminal's bytes.

    UTF-8 is decoded incrementally (a character may arrive split across reads); escape sequences
    (arrows, function keys, cursor-position answers) are dropped; bracketed-paste markers are
    dropped and what is pasted is kept as it is, newlines included. Backspace (DEL or ^H) removes
    a character, Ctrl-U the line, Ctrl-W a word; Esc-Enter adds a newline; Enter queues the line
    unless it is blank. Other control keys (Tab, Ctrl-D, ...) are ignored.
    """

    def __init__(self) -> None:
        self.line = ""
        self.queued: list[str] = []
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._escape = ""  # the escape sequence being read, from its ESC
        self._paste = False

    def feed(self, data: bytes) -> None:
        """Take the bytes the terminal sent."""
        for ch in self._utf8.decode(data):
            self._key(ch)

    def clear(self) -> None:
        """Forget everything typed and queued (Ctrl-C)."""
        self.line = ""
        self.queued.clear()
        self._escape, self._paste = "", False

    def take_line(self) -> str:
        """The line typed so far, for the next prompt's buffer; it is gone from here."""
        line, self.line = self.line, ""
        return line

    def next_message(self) -> str | None:
        """The first queued line, taken off the queue; None if none is queued."""
        return self.queued.pop(0) if self.queued else None

    def take_all(self) -> str:
        """The queued lines and the line being typed, one per line (for a prompt); all gone from here."""
        text = "\n".join([*self.queued, self.line] if self.line else self.queued)
        self.queued.clear()
        self.line = ""
        return text

    # --- decoding ------------------------------------------------------------------------------

    def _key(self, ch: str) -> None:
        if self._escape:
            self._in_escape(ch)
        elif ch == ESC:
            self._escape = ESC
        elif self._paste:
            if ch in "\r\n":
                self.line += "\n"
            elif ch == "\t" or _printable(ch):
                self.line += ch
        elif ch in "\r\n":
            self._enter()
        elif ch in "\x7f\b":
            self.line = self.line[:-1]
        elif ch == "\x15":  # Ctrl-U
            self.line = ""
        elif ch == "\x17":  # Ctrl-W
            self.line = self.line.rstrip()
            self.line = self.line[: max(self.line.rfind(" "), self.line.rfind("\n")) + 1]
        elif ch == "\x03":  # Ctrl-C read as a key (the terminal did not make it SIGINT)
            self.clear()
        elif _printable(ch):
            self.line += ch

    def _enter(self) -> None:
        line, self.line = self.line, ""
        if line.strip():
            self.queued.append(line)

    def _in_escape(self, ch: str) -> None:
        seq = self._escape + ch
        if len(seq) == 2:  # ESC and one more
            if ch == "[" or ch == "O":
                self._escape = seq
            elif ch == ESC:
                self._escape = ESC
            else:
                self._escape = ""
                if ch in "\r\n" and not self._paste:  # Esc-Enter / Alt-Enter: a new line in the message
                    self.line += "\n"
            return  # Alt+key: dropped
        if seq[1] == "O":  # SS3: ESC O and one final character
            self._escape = ""
            return
        code = ord(ch)
        if 0x40 <= code <= 0x7E:  # the final byte of a CSI sequence
            self._escape = ""
            body = seq[1:]
            if body == PASTE_START:
                self._paste = True
            elif body == PASTE_END:
                self._paste = False
        elif 0x20 <= code <= 0x3F and len(seq) < _MAX_SEQUENCE:  # parameters and intermediates
            self._escape = seq
        else:  # not a sequence after all: drop what was read, take this key as typed
            self._escape = ""
            self._key(ch)


def _printable(ch: str) -> bool:
    """Not a C0 or C1 control character (nor DEL)."""
    code = ord(ch)
    return code >= 0x20 and not 0x7F <= code <= 0x9F


class KeyReader:
    """While started: the terminal's keys go into a TypeAhead, read in a thread, not echoed.

    The terminal is put in non-canonical, no-echo mode with ISIG kept (Ctrl-C is still SIGINT, so
    KeyboardInterrupt still stops the answer); `stop()` joins the thread and puts back exactly the
    modes it found. Bytes the thread has read are in the TypeAhead; bytes it has not stay in the
    terminal for whoever reads next (prompt_toolkit).
    """

    def __init__(self, fd: int, keys: TypeAhead, on_key: Callable[[], None] | None = None) -> None:
        self.fd = fd
        self.keys = keys
        self.on_key = on_key
        self._saved: list[Any] | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None

    def start(self) -> bool:
        """Take the terminal's keys; False (nothing changed) if it is not a terminal in the foreground."""
        try:
            import termios
        except ImportError:  # Windows
            return False
        try:
            with contextlib.suppress(OSError):  # not the controlling terminal: no SIGTTOU to fear
                if os.tcgetpgrp(self.fd) != os.getpgrp():
                    return False  # a background job: changing the modes would stop it
            self._saved = termios.tcgetattr(self.fd)
            mode = termios.tcgetattr(self.fd)
            mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ECHONL | termios.IEXTEN)
            mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        except (OSError, ValueError, termios.error):
            self._saved = None
            return False
        self._wake = os.pipe()
        self._thread = threading.Thread(target=self._read, name="type-ahead", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop reading (the thread joined) and put the terminal's modes back; again: nothing.

        The modes come back even if a second Ctrl-C interrupts the join.
        """
        try:
            if self._thread is not None and self._wake is not None:
                with contextlib.suppress(OSError):
                    os.write(self._wake[1], b"x")
                self._thread.join(2)
        finally:
            if self._saved is not None:
                import termios

                with contextlib.suppress(OSError, ValueError, termios.error):  # the terminal may be gone
                    termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
                self._saved = None
            for fd in self._wake or ():  # a thread still stopping sees them closed (EBADF) and ends
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._thread = self._wake = None

    def _read(self) -> None:
        assert self._wake is not None
        wake = self._wake[0]
        while True:
            try:
                ready, _, _ = select.select([self.fd, wake], [], [])
                if wake in ready:
                    return
                data = os.read(self.fd, 4096)
            except BlockingIOError:  # stdin left non-blocking by someone: select() again
                continue
            except (OSError, ValueError):  # EIO: the terminal hung up
                return
            if not data:
                return
            self.keys.feed(data)
            if self.on_key is not None:
                with contextlib.suppress(Exception):  # showing the keys must not stop reading them
                    self.on_key()


def queued_text(queued: list[str]) -> str:
    """`queued: first · second`, each line's whitespace folded."""
    return "queued: " + " · ".join(" ".join(line.split()) for line in queued)


class QueueStatus:
    """The lines queued while an answer streams, and the line being typed, shown with show(text) (None:
    nothing) as keys arrive.

    update() may be called from the reader thread; nothing is shown before start() nor after stop().
    """

    def __init__(self, keys: TypeAhead, show: Callable[[str | None], None],
                 fit: Callable[[str], str] = lambda text: text) -> None:
        self.keys, self.show, self.fit = keys, show, fit
        self.shown: list[str] = []  # the queue as last shown
        self._draft = ""  # the line being typed, as last shown
        self._on = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._on = True
            self._update()

    def update(self) -> None:
        with self._lock:
            if self._on:
                self._update()

    def stop(self) -> None:
        """Show nothing from now on (the line shown is taken away)."""
        with self._lock:
            if self._on and (self.shown or self._draft):
                self.show(None)
            self._on = False

    def up_to_date(self) -> bool:
        """Whether what was shown is the queue as it is."""
        return self.shown == self.keys.queued

    def _update(self) -> None:
        queued, draft = list(self.keys.queued), " ".join(self.keys.line.split())
        if (queued, draft) != (self.shown, self._draft):
            parts = ([queued_text(queued)] if queued else []) + ([f"typing: {draft}"] if draft else [])
            self.show(self.fit(" · ".join(parts)) if parts else None)
            self.shown, self._draft = queued, draft


@contextlib.contextmanager
def reading(stdin: IO[Any], keys: TypeAhead, on_key: Callable[[], None] | None = None) -> Iterator[KeyReader | None]:
    """In the block, stdin's keys go into keys (if stdin is a terminal: else the block gets None)."""
    try:
        fd = stdin.fileno()
    except (AttributeError, ValueError, OSError):
        yield None
        return
    reader = KeyReader(fd, keys, on_key)
    try:
        yield reader if reader.start() else None
    finally:
        reader.stop()  # also after a start cut short by Ctrl-C
