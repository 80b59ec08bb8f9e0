"""The error boundary: internal errors (one line, crash log, exit 70), SIGTERM/SIGHUP, pipes, Ctrl-C."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from chatcli.cli import run as run_module
from chatcli.cli.main import run
from chatcli.config import secrets
from chatcli.errors import Terminated
from chatcli.ui.terminal import Terminal

SECRET = "sk-boundary-secret-0123456789"


@pytest.fixture(autouse=True)
def registry():
    secrets.forget_all()
    yield
    secrets.forget_all()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_STATE_HOME in tmp_path; the crash logs' directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "chatcli" / "crash"


def invoke(*argv: str, err: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), err or io.StringIO()
    code = run(list(argv), Terminal(out, err, stdin=io.StringIO(), environ={}))
    return code, out.getvalue(), err.getvalue()


def raising(exc: BaseException):
    def command(*_args, **_kwargs):
        raise exc
    return command


def crash_path(line: str) -> Path:
    assert "(details in " in line, line
    return Path(line.rsplit("(details in ", 1)[1].rstrip(")\n"))


# --- internal errors -----------------------------------------------------------------------------

def test_internal_error_is_one_line_with_a_redacted_crash_log(state, monkeypatch):
    secrets.remember(SECRET)

    def deep(key: str) -> None:
        try:
            {}["missing"]
        except KeyError as e:
            raise RuntimeError(f"boom with {key}\nand a second line") from e

    monkeypatch.setattr(run_module, "ask", lambda values: deep(SECRET))
    code, out, err = invoke("ask", "hi")
    assert code == 70 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("chat: internal error: RuntimeError: boom with **** and a second line (details in ")
    assert SECRET not in err and "Traceback" not in err
    log = crash_path(err)
    assert log.parent == state and log.name.endswith(".log")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom with ****" in text
    assert "KeyError: 'missing'" in text and "in deep" in text  # the chained cause and the frames
    assert SECRET not in text


def test_unwritable_crash_dir_still_gives_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    monkeypatch.setattr(run_module, "ask", raising(ValueError("bad value")))
    code, _, err = invoke("ask", "hi")
    assert code == 70
    assert err.startswith("chat: internal error: ValueError: bad value (no crash log: ") and err.count("\n") == 1


def test_internal_error_without_message_names_the_type(state, monkeypatch):
    monkeypatch.setattr(run_module, "ask", raising(AssertionError()))
    code, _, err = invoke("ask", "hi")
    assert code == 70 and err.startswith("chat: internal error: AssertionError (details in ")
    assert crash_path(err).exists()


def test_internal_error_in_a_typer_sub_app(state, monkeypatch):
    from chatcli.cli import config_cmd

    monkeypatch.setattr(config_cmd, "config_path", raising(ZeroDivisionError("division by zero")))
    code, _, err = invoke("config", "path")
    assert code == 70 and err.startswith("chat: internal error: ZeroDivisionError: division by zero (details in ")


def test_old_crash_logs_are_pruned(state, monkeypatch):
    from chatcli.cli import crash

    state.mkdir(parents=True)
    for i in range(crash.KEEP + 5):
        (state / f"2000010{i:02d}-000000-1.log").write_text("old")
    monkeypatch.setattr(run_module, "ask", raising(RuntimeError("x")))
    invoke("ask", "hi")
    assert len(list(state.glob("*.log"))) == crash.KEEP


# --- signals, Ctrl-C, pipes ----------------------------------------------------------------------

@pytest.mark.parametrize("signum, code, line", [(15, 143, "chat: terminated\n"), (1, 129, "chat: hung up\n")])
def test_terminated_exits_128_plus_signal(monkeypatch, signum, code, line):
    monkeypatch.setattr(run_module, "ask", raising(Terminated(signum)))
    assert invoke("ask", "hi") == (code, "", line)


class GoneStream(io.StringIO):
    """stderr after a hang-up: every write fails."""

    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")


def test_hang_up_with_the_terminal_gone_still_exits_129(monkeypatch):
    monkeypatch.setattr(run_module, "ask", raising(Terminated(1)))
    assert invoke("ask", "hi", err=GoneStream())[0] == 129


def test_ctrl_c_and_broken_pipe_keep_their_behaviour(monkeypatch):
    monkeypatch.setattr(run_module, "ask", raising(KeyboardInterrupt()))
    assert invoke("ask", "hi") == (130, "", "chat: interrupted\n")
    monkeypatch.setattr(run_module, "ask", raising(BrokenPipeError(32, "Broken pipe")))
    with pytest.raises(BrokenPipeError):  # main() turns it into a quiet 141
        invoke("ask", "hi")


def test_a_closed_pipe_in_a_typer_sub_app_is_not_exit_1(monkeypatch):
    from chatcli.cli import sessions_cmd

    monkeypatch.setattr(sessions_cmd, "open_store", raising(BrokenPipeError(32, "Broken pipe")))
    with pytest.raises(BrokenPipeError):  # Typer's own main() would have made it SystemExit(1)
        invoke("sessions", "list")


# --- through the real entry point ----------------------------------------------------------------

ENTRY = """
import sys
import chatcli.cli.run as r
from chatcli.config import secrets
from chatcli.errors import Terminated

def command(values):
    secrets.remember({secret!r})
    raise {exc}

r.ask = command
from chatcli.cli.main import main
main(["ask", "hi"])
"""


def run_entry(chat, exc: str) -> subprocess.CompletedProcess[str]:
    code = ENTRY.format(secret=SECRET, exc=exc)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=chat.env, timeout=30)


def test_internal_error_through_main(chat):
    proc = run_entry(chat, f"LookupError('no such thing: ' + {SECRET!r})")
    assert proc.returncode == 70 and proc.stdout == ""
    assert proc.stderr.startswith("chat: internal error: LookupError: no such thing: **** (details in ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    log = crash_path(proc.stderr)
    assert log.parent == chat.home / ".local" / "state" / "chatcli" / "crash"
    assert "LookupError" in log.read_text() and SECRET not in log.read_text()


@pytest.mark.parametrize("signum, code, word", [(15, 143, "terminated"), (1, 129, "hung up")])
def test_terminated_through_main(chat, signum, code, word):
    proc = run_entry(chat, f"Terminated({signum})")
    assert (proc.returncode, proc.stdout, proc.stderr) == (code, "", f"chat: {word}\n")


def test_help_does_not_load_the_crash_machinery(chat):
    code = "import sys; from chatcli.cli.main import run; from chatcli.ui.terminal import Terminal; " \
           "import io; run(['--help'], Terminal(io.StringIO(), io.StringIO())); " \
           "print(sorted({'chatcli.cli.crash', 'platformdirs', 'traceback'} & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=chat.env, timeout=30)
    assert proc.stdout.splitlines()[-1] == "[]"
