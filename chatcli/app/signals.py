"""SIGTERM and SIGHUP: unwind like Ctrl-C (raising Terminated), then leave the terminal as it was found.

`terminating()` wraps a front end (`chat ask`, the REPL). The first signal raises `Terminated` in the
main thread, so the partial answer is saved on the way out as after Ctrl-C; later ones are ignored so
that this cleanup finishes. An event loop that must not see an exception raised inside its callbacks
(prompt_toolkit turns one into "Press ENTER to continue...") runs under `deferred()`: the signal is
handed to it to end itself, and `Terminated` is raised when it has.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

from chatcli.errors import Terminated

if TYPE_CHECKING:
    from chatcli.ui.terminal import Terminal

SIGNALS: tuple[int, ...] = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                                 if s is not None)


def reason(signum: int) -> str:
    """What the signal means to a user: "hung up" for SIGHUP, else "terminated"."""
    return "hung up" if signum == getattr(signal, "SIGHUP", None) else "terminated"


class _Guard:
    """The handler installed for SIGNALS, and what it has seen."""

    def __init__(self) -> None:
        self.signum: int | None = None  # the first signal received
        self.defer: Callable[[int], None] | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if self.defer is not None:
            self.defer(signum)
        elif first:
            raise Terminated(signum)


_active: _Guard | None = None


@contextlib.contextmanager
def terminating(term: Terminal | None = None) -> Iterator[None]:
    """SIGTERM/SIGHUP raise Terminated in the block (main thread only); the terminal is restored after.

    The previous handlers come back on exit. With a Terminal, stdin's tty modes are put back if they
    changed, and after a signal the cursor is shown (whatever was drawing may have been cut short).
    """
    global _active
    if threading.current_thread() is not threading.main_thread() or _active is not None:
        yield
        return
    guard = _Guard()
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    tty = _TtyState(term)
    _active = guard
    for s in SIGNALS:
        signal.signal(s, guard)
    failure: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        failure = exc
    try:
        tty.restore(show_cursor=guard.signum is not None)
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        _active = None
    signum = guard.signum
    if failure is not None and (signum is None or isinstance(failure, Terminated)):
        raise failure
    if signum is not None:  # whatever else went wrong on the way out, e.g. EIO from a terminal that hung up
        raise Terminated(signum) from failure


@contextlib.contextmanager
def deferred(stop: Callable[[int], None]) -> Iterator[None]:
    """In the block, a signal calls stop(signum) (which must not raise) instead of raising Terminated.

    stop is meant to end the block cleanly (e.g. exit an event loop with Terminated); should the
    block end any other way after a signal, Terminated is raised then. Outside terminating(), no-op.
    """
    guard = _active
    if guard is None:
        yield
        return
    outer, guard.defer = guard.defer, stop
    try:
        yield
    except BaseException as exc:
        guard.defer = outer
        if guard.signum is None or isinstance(exc, Terminated):
            raise
        raise Terminated(guard.signum) from exc
    guard.defer = outer
    if guard.signum is not None:
        raise Terminated(guard.signum)


def pending() -> int | None:
    """The signal received so far (under terminating()), if any."""
    return _active.signum if _active is not None else None


class _TtyState:
    """stdin's terminal modes as they were, to put back; and the cursor, to show again."""

    def __init__(self, term: Terminal | None) -> None:
        self.term = term
        self.fd = -1
        self.modes: list[Any] | None = None
        if term is None or not term.interactive():
            return
        try:
            import termios
        except ImportError:  # Windows
            return
        try:
            self.fd = term.stdin.fileno()
            self.modes = termios.tcgetattr(self.fd)
        except (AttributeError, ValueError, OSError, termios.error):  # not a real tty after all
            self.modes = None

    def restore(self, show_cursor: bool) -> None:
        """Put the modes back if something changed them; show the cursor if asked to."""
        term = self.term
        if term is None:
            return
        with contextlib.suppress(OSError, ValueError):  # the terminal may be gone (SIGHUP)
            if show_cursor:
                term.show_cursor()
        if self.modes is None:
            return
        import termios

        with contextlib.suppress(OSError, ValueError, termios.error):  # termios.error is no OSError
            # Only if changed: tcsetattr from a background job would stop it with SIGTTOU.
            if termios.tcgetattr(self.fd) != self.modes:
                termios.tcsetattr(self.fd, termios.TCSANOW, self.modes)
