"""The stream pump: a worker thread reads the network while the caller's thread stays interruptible."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

from chatcli.core.messages import Event

_END = object()


def pumped(events: Iterator[Event], abort: Callable[[], None]) -> Iterator[Event]:
    """The events, produced by a worker thread; on Ctrl-C (or early close) the answer is aborted.

    This thread waits in short timed steps: a Ctrl-C that lands just before a blocking read
    would otherwise wait for the next byte.
    """
    box: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        try:
            for event in events:
                box.put((event, None))
            box.put((_END, None))
        except BaseException as exc:  # handed over: the reading thread raises it
            box.put((_END, exc))

    worker = threading.Thread(target=work, name="model-stream", daemon=True)
    worker.start()
    finished = False
    try:
        while True:
            try:
                item, exc = box.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                finished = True
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        if not finished:
            abort()


def close_in_background(closer: Callable[[], None]) -> None:
    """Run closer in a daemon thread, ignoring its errors, so the caller never blocks."""
    threading.Thread(target=_quietly, args=(closer,), name="abort", daemon=True).start()


def _quietly(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # closing a half-read answer may fail in many ways; none matter
        pass
