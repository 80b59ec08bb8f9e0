"""Writing a message in the user's editor ($VISUAL, then $EDITOR, then vi)."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from chatcli.errors import ChatError

FALLBACK = "vi"


class EditorError(ChatError):
    """The editor could not be started, or gave up (a non-zero exit)."""


def editor_command(environ: Mapping[str, str]) -> list[str]:
    """The editor's command line: $VISUAL or $EDITOR split as a shell would (`code -w`), else vi."""
    for name in ("VISUAL", "EDITOR"):
        value = environ.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError as e:
                raise EditorError(f"cannot read ${name} ({value!r}): {e}") from None
            if words:
                return words
    return [FALLBACK]


def edit(initial: str, environ: Mapping[str, str], *, run: Callable[..., Any] = subprocess.run) -> str:
    """Open the editor on a private temporary .md file holding initial; the text saved, stripped.

    The editor shares the terminal (its streams are ours). EditorError if it cannot start, is
    interrupted or exits with a failure status; the file is removed either way.
    """
    argv = editor_command(environ)
    fd, path = tempfile.mkstemp(prefix="chat-", suffix=".md")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(initial)
        try:
            proc = run([*argv, path], check=False)
        except OSError as e:
            raise EditorError(f"cannot start the editor {shlex.join(argv)}: {e.strerror or e}") from None
        except KeyboardInterrupt:  # Ctrl-C reached us as well as the editor (subprocess.run has ended it)
            raise EditorError(f"the editor {argv[0]} was interrupted") from None
        if proc.returncode:
            raise EditorError(f"the editor {argv[0]} exited with status {proc.returncode}")
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
