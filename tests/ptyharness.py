"""Drive `chat` in a pseudo-terminal as a person would, reading the screen through pyte."""

from __future__ import annotations

import fcntl
import glob
import os
import platform
import struct
import subprocess
import sys
import termios
import time

import pexpect
import pyte

CPR_QUERY = b"\x1b[6n"


class Tty:
    """A `python -m chatcli ARGS` process in a pty, with the screen it draws."""

    def __init__(self, env: dict[str, str], *args: str, rows: int = 30, cols: int = 100) -> None:
        self.child = pexpect.spawn(sys.executable, ["-m", "chatcli", *args], env=env, dimensions=(rows, cols))
        self.screen = pyte.HistoryScreen(cols, rows, history=5000)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def pump(self, wait: float = 0.05) -> bool:
        """Read what the program wrote (answering cursor-position queries); False at EOF."""
        try:
            data = self.child.read_nonblocking(65536, timeout=wait)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += data
        # prompt_toolkit asks where the cursor is and waits for the answer: where it is at the query
        *before, after = data.split(CPR_QUERY)
        for part in before:
            self.stream.feed(part)
            self.child.send(f"\x1b[{self.screen.cursor.y + 1};{self.screen.cursor.x + 1}R")
        self.stream.feed(after)
        return True

    def wait_for(self, predicate, timeout: float = 15, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline or not self.pump():
                if predicate():
                    return
                raise AssertionError(f"timed out waiting for {what or predicate}; screen:\n{self.text()}")

    def text(self) -> str:
        """Everything on screen, scrolled-off lines included."""
        history = ["".join(ch.data for ch in line.values()).rstrip() for line in self.screen.history.top]
        return "\n".join(history + [line.rstrip() for line in self.screen.display])

    def cursor_line(self) -> str:
        return self.screen.display[self.screen.cursor.y].rstrip()

    def wait_text(self, text: str, timeout: float = 15) -> None:
        self.wait_for(lambda: text in self.text(), timeout, repr(text))

    def wait_prompt(self, prompt: str, timeout: float = 15) -> None:
        """Wait until the cursor sits on an input line starting with prompt, and output is quiet."""
        self.wait_for(lambda: self.cursor_line().startswith(prompt), timeout, f"prompt {prompt!r}")
        while self.child.isalive():  # let the redraw settle so typed keys are not lost
            before = len(self.raw)
            self.pump(0.15)
            if len(self.raw) == before:
                break

    def send(self, keys: str) -> None:
        self.child.send(keys.encode())

    def count(self, text: str) -> int:
        return self.text().count(text)

    def wait_exit(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while self.pump(0.1):
            if time.monotonic() > deadline:
                raise AssertionError(f"did not exit; screen:\n{self.text()}")
        self.child.wait()
        return self.child.exitstatus if self.child.exitstatus is not None else -self.child.signalstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    # --- the program's side of the pty (through /proc) ---------------------------------------

    _slave: int | None = None

    def slave(self) -> int:
        """A descriptor of the pty's slave side, the program's terminal (found through /proc)."""
        if self._slave is None:
            path = f"/proc/{self.child.pid}/fd/0"
            self._slave = os.open(os.readlink(path), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        return self._slave

    def stty(self) -> str:
        """`stty -a` of the program's terminal."""
        return subprocess.run(["stty", "-a"], stdin=self.slave(), capture_output=True, text=True,
                              check=True).stdout

    def unread(self) -> int:
        """Bytes typed that the program has not read yet (whole lines only, in canonical mode)."""
        found = fcntl.ioctl(self.slave(), termios.FIONREAD, struct.pack("i", 0))
        return int(struct.unpack("i", found)[0])

    def key_reader(self) -> int | None:
        """The program's thread waiting in select() (the type-ahead reader while an answer streams), if any."""
        for task in glob.glob(f"/proc/{self.child.pid}/task/*"):
            if _syscall(task) in SELECT_CALLS:
                return int(os.path.basename(task))
        return None

    def type_read(self, keys: str, timeout: float = 15) -> None:
        """Type keys while an answer streams and wait until the type-ahead reader has taken them all.

        A write to the pty reaches the program's side asynchronously, so "nothing unread" alone
        proves nothing: wait for the reader thread to have read, to have nothing left unread, and
        to be back in select() (done with what it read).
        """
        self.wait_for(lambda: self.key_reader() is not None, timeout, "a thread reading keys")
        task = f"/proc/{self.child.pid}/task/{self.key_reader()}"
        before = _reads(task)
        self.send(keys)
        self.wait_for(lambda: _reads(task) > before and self.unread() == 0 and _syscall(task) in SELECT_CALLS,
                      timeout, f"the program to read {keys!r}")


# what Python's select.select waits in: select and pselect6 on x86-64, pselect6 on arm64
SELECT_CALLS = {"x86_64": ("23", "270"), "aarch64": ("72",)}.get(platform.machine(), ("23", "270", "72"))


def _syscall(task: str) -> str:
    """The number of the system call a thread waits in ("running" if it does not)."""
    try:
        with open(f"{task}/syscall") as f:
            return f.read().split(" ", 1)[0].strip()
    except OSError:
        return ""


def _reads(task: str) -> int:
    """How many read() calls a thread has made."""
    try:
        with open(f"{task}/io") as f:
            return int(next(line for line in f if line.startswith("syscr:")).split()[1])
    except (OSError, StopIteration):
        return -1


QWEN = "qwen:qwen-plus>"  # the session's prompt with the default provider
ENTER = "\r"


def say(tty: Tty, server, text: str, reply, prompt: str = QWEN) -> None:  # type: ignore[no-untyped-def]
    """Type a message, let the scripted reply stream, wait for the next prompt."""
    n = server.responses_done
    server.queue(reply)
    tty.send(text + ENTER)
    server.wait_responses(n + 1)
    # The echo of the typed line starts with the prompt too: wait for the new, empty input line,
    # or the next keys may reach the terminal while the answer is drawn (cooked mode loses a Ctrl-D).
    tty.wait_for(lambda: tty.cursor_line() == prompt, what=f"an empty {prompt!r} line")
    tty.wait_prompt(prompt)
