"""An internal error: the traceback to a crash log in the user state dir, one line for the user.

Imported only when something unexpected reached the boundary, so `chat --help` never pays for
traceback or platformdirs.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from pathlib import Path

from chatcli import __version__
from chatcli.config.secrets import redact
from chatcli.errors import ExitCode
from chatcli.ui.terminal import Terminal

KEEP = 20  # crash logs kept; older ones are removed when a new one is written
MAX_SUMMARY = 200


def crash_dir() -> Path:
    """Where crash logs go: crash/ in the user state dir (honours XDG_STATE_HOME)."""
    import platformdirs

    return platformdirs.user_state_path("chatcli") / "crash"


def report(err: BaseException, term: Terminal) -> int:
    """Write the crash log, say where it is in one line on stderr, and return exit 70."""
    summary = summary_of(err)
    try:
        where = f"details in {write_log(err)}"
    except Exception as e:  # noqa: BLE001 (any failure here must still end in the one line)
        where = f"no crash log: {getattr(e, 'strerror', None) or type(e).__name__}"
    try:
        term.error(f"internal error: {summary} ({where})")
    except (OSError, ValueError):  # stderr is gone or closed
        pass
    return int(ExitCode.INTERNAL)


def summary_of(err: BaseException) -> str:
    """`ExcType: message` on one line, secrets hidden, shortened."""
    try:
        text = " ".join(redact(str(err)).split())
    except Exception:  # noqa: BLE001 (a broken __str__)
        text = "(no message: str() failed)"
    if len(text) > MAX_SUMMARY:
        text = text[: MAX_SUMMARY - 1] + "…"
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def log_text(err: BaseException) -> str:
    """The crash log: versions, then the whole traceback (chained causes too), secrets hidden."""
    lines = [
        f"chatcli {__version__} internal error, {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
        f"python {platform.python_version()} ({sys.executable}) on {platform.platform()}",
        "",
        *traceback.format_exception(type(err), err, err.__traceback__),
    ]
    return redact("\n".join(line.rstrip("\n") for line in lines)) + "\n"


def write_log(err: BaseException) -> Path:
    """Write a new crash log (dirs 0700, file 0600) and return its path; OSError if it cannot."""
    folder = crash_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
        f.write(log_text(err))
    _prune(folder)
    return path


def _prune(folder: Path) -> None:
    """Keep the newest KEEP crash logs."""
    try:
        logs = sorted(folder.glob("*.log"), key=lambda p: (p.stat().st_mtime, p.name))
        for old in logs[:-KEEP]:
            old.unlink()
    except OSError:
        pass
