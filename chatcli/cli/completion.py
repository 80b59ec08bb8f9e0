"""Shell completion for bash, zsh and fish: `chat completion SHELL` prints it, `--install-completion` installs it.

The scripts are click's: the shell runs `chat` with `_CHAT_COMPLETE` set, and `complete()` answers
with commands, options, provider names (from the config) and their models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from chatcli.errors import UsageError

PROG, VAR = "chat", "_CHAT_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def _config(ctx: click.Context) -> Any:
    """The config the command line names (or the default one); None if it cannot be read."""
    from chatcli.config import load_config
    from chatcli.errors import ChatError

    node: click.Context | None = ctx
    path = None
    while node is not None and not path:
        path = node.params.get("config")
        node = node.parent
    try:
        return load_config(path)
    except ChatError:
        return None


def providers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Provider names for -p/--provider."""
    from click.shell_completion import CompletionItem

    cfg = _config(ctx)
    names = list(cfg.providers) if cfg is not None else []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def roles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Role names (built in and [roles.NAME]) for -r/--role, each with its description."""
    from click.shell_completion import CompletionItem

    cfg = _config(ctx)
    found = cfg.roles.values() if cfg is not None else []
    return [CompletionItem(r.name, help=r.description) for r in found if r.name.startswith(incomplete)]


def models(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The chosen (or default) provider's models for -m/--model."""
    from click.shell_completion import CompletionItem

    cfg = _config(ctx)
    if cfg is None:
        return []
    provider = cfg.providers.get(ctx.params.get("provider") or cfg.default_provider)
    if provider is None:
        return []
    names = dict.fromkeys([provider.model, *provider.models])
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete(cli: click.Command) -> int:
    """Answer the shell's completion request (the environment says what it asks)."""
    from click.shell_completion import shell_complete

    return shell_complete(cli, {}, PROG, VAR, os.environ[VAR])


def source(cli: click.Command, shell: str) -> str:
    """The completion script for a shell."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell) if shell in SHELLS else None
    if cls is None:
        raise UsageError(f"no completion for shell {shell!r} (choose from {', '.join(SHELLS)})")
    return cls(cli, {}, PROG, VAR).source()


def detect_shell(environ: dict[str, str] | None = None) -> str:
    """The user's shell from $SHELL, or UsageError."""
    env = os.environ if environ is None else environ
    name = Path(env.get("SHELL", "")).name
    if name not in SHELLS:
        raise UsageError(f"cannot tell your shell from $SHELL ({name or 'unset'}); "
                         f"name it: chat --install-completion bash|zsh|fish")
    return name


def install(cli: click.Command, shell: str, home: Path | None = None) -> list[str]:
    """Install the script where the shell finds it; what was done, one line each."""
    home = home or Path.home()
    script = source(cli, shell)
    done: list[str] = []
    if shell == "fish":
        target = home / ".config" / "fish" / "completions" / "chat.fish"
        rc, line = None, ""
    elif shell == "zsh":
        target = home / ".zfunc" / "_chat"
        rc, line = home / ".zshrc", "fpath+=~/.zfunc; autoload -Uz compinit; compinit"
    else:
        target = home / ".bash_completions" / "chat.sh"
        rc, line = home / ".bashrc", "source ~/.bash_completions/chat.sh"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(script, encoding="utf-8")
        done.append(f"wrote {target}")
        if rc is not None:
            existing = rc.read_text(encoding="utf-8") if rc.exists() else ""
            if line not in existing:
                with rc.open("a", encoding="utf-8") as f:
                    f.write(("" if existing.endswith("\n") or not existing else "\n") + line + "\n")
                done.append(f"added `{line}` to {rc}")
    except OSError as e:
        from chatcli.errors import ChatError

        raise ChatError(f"cannot install completion: {e.strerror or e} ({e.filename or target})") from None
    done.append("open a new shell to use it")
    return done
