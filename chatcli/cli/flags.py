"""The command-line flags, declared once: the session's (`chat`) and `chat ask`'s share every entry here.

Built on click alone: Typer validates each parameter through pydantic, which a bare `chat` and
`chat ask` cannot afford before their first output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from chatcli.config.limits import MAX_TOKENS_MAX, flag
from chatcli.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


class Number(click.ParamType):
    """A number for a generation flag; a bad one is a one-line usage error naming the flag."""

    def __init__(self, kind: type) -> None:
        self.kind = kind
        self.name = "integer" if kind is int else "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.kind) or value is None:
            return value
        try:
            return self.kind(value)
        except ValueError:
            what = "a whole number" if self.kind is int else "a number"
            raise UsageError(f"{flag(param.name or '' if param else '')} needs {what} (got {value!r})") from None


def existing_config(path: str | None) -> str | None:
    """A --config path the user gave, which must name a file (else the presets would be used silently)."""
    if path:
        import os

        full = os.path.expanduser(path)
        if not os.path.exists(full):
            raise UsageError(f"--config {path}: no such file (chat config init --config {path} writes one)")
    return path


def _config_flag(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return existing_config(value)


CONFIG_HELP = "Config file (default: $CHATCLI_CONFIG or the XDG config dir)."


def config_option() -> click.Option:
    """--config PATH for a click command: it must exist."""
    return click.Option(["--config"], metavar="PATH", help=CONFIG_HELP, callback=_config_flag)


def _complete(name: str) -> Callable[..., Any]:
    """A shell-completion callback from chatcli.cli.completion, loaded when the shell asks."""
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> Any:
        from chatcli.cli import completion

        return getattr(completion, name)(ctx, param, incomplete)
    return complete


def _option(*decls: str, **kw: Any) -> click.Option:
    return click.Option(list(decls), **kw)


# Both `chat` and `chat ask`: which provider and model, what to say first, where the config is.
CHOICE = [
    _option("-p", "--provider", metavar="NAME", help="Provider (a name from the config or a preset).",
            shell_complete=_complete("providers")),
    _option("-m", "--model", metavar="MODEL", help="Model (default: the provider's).",
            shell_complete=_complete("models")),
    _option("-s", "--system", metavar="TEXT", help="System prompt."),
    _option("-r", "--role", metavar="NAME", help="Role from [roles.NAME] or built in (chat roles lists them).",
            shell_complete=_complete("roles")),
    _option("-c", "--continue", "cont", is_flag=True, help="Continue the last saved conversation."),
    _option("--no-save", is_flag=True, help="Do not save this conversation."),
    config_option(),
]

# How the model should answer (chatcli.core.options); laid over the provider's config defaults.
GENERATION = [
    _option("--temperature", type=Number(float), help="Sampling temperature, 0 to <2."),
    _option("--top-p", type=Number(float), help="Nucleus sampling threshold, >0 to 1."),
    _option("--max-tokens", type=Number(int), help=f"Longest answer, in tokens (1 to {MAX_TOKENS_MAX:,})."),
    _option("--seed", type=Number(int), help="Random seed (0 to 2**64-1) for repeatable answers."),
    _option("--stop", metavar="TEXT", multiple=True, help="Stop before this text (repeatable)."),
    _option("--presence-penalty", type=Number(float), help="-2 to 2; higher repeats less."),
    _option("--search/--no-search", default=None, help="Let the model search the web (DashScope, Zhipu)."),
    _option("--think/--no-think", default=None, help="Ask the model to reason first, or not."),
]

# Both: which MCP tool calls may run without asking (chatcli.app.consent).
CONSENT = [
    _option("--approve", metavar="TOOL_GLOB", multiple=True,
            help="Run these MCP tools without asking (repeatable): server__tool or server/tool names, globs."),
    _option("--yes", is_flag=True, help="Run every MCP tool call without asking (approve = \"never\" still refuses)."),
]

# The interactive session only.
SESSION = [
    click.Argument(["words"], nargs=-1),  # a bare word is no command: said so in start_session
    _option("--resume", metavar="ID", help="Continue a saved conversation (an id prefix is enough)."),
]

# `chat ask` only.
ASK = [
    click.Argument(["prompt"], nargs=-1),
    _option("--json", "as_json", is_flag=True, help="Print one JSON object with the whole result."),
    _option("--no-stream", is_flag=True, help="Wait for the whole answer instead of streaming."),
    _option("--no-tools", is_flag=True, help="Offer the model no local tools."),
    _option("--raw", is_flag=True, help="Print the answer's text as it arrives, even on a terminal."),
    _option("--markdown", is_flag=True, help="Render the answer as markdown, even to a pipe."),
    _option("--json-object", is_flag=True, help="Ask for a JSON object; fail if the answer does not parse."),
    _option("--usage", is_flag=True, help="Print tokens in/out (and cost, with [prices]) on stderr."),
    _option("--image", metavar="PATH|URL", multiple=True,
            help="Attach an image (repeatable): a local file (sent as a data: URL) or a URL. For vision models "
                 "such as qwen-vl-max or glm-4v-plus."),
    _option("--video", metavar="FRAME|DIR", multiple=True,
            help="Add a frame of one video (repeatable): an image file or URL, or a directory of frames in name "
                 "order. DashScope qwen-vl models."),
    _option("--file", metavar="PATH", multiple=True,
            help="Attach a file (repeatable). Text and code go into the message, fenced and named; pdf, docx, "
                 "xlsx and other documents are uploaded: DashScope's qwen-long reads them by file id, Zhipu adds "
                 "the extracted text."),
]

GENERATION_NAMES = tuple(p.name for p in GENERATION if p.name)


def generation(values: dict[str, Any], *, json_object: bool = False) -> Any:
    """The GenerationOptions the flags ask for (unset ones stay None)."""
    from chatcli.core.options import GenerationOptions

    picked: dict[str, Any] = {name: values.get(name) for name in GENERATION_NAMES}
    picked["stop"] = list(picked["stop"] or [])
    return GenerationOptions(**picked, json_object=json_object)


def raw_or_markdown(raw: bool, markdown: bool) -> str:
    """The render mode --raw / --markdown ask for."""
    if raw and markdown:
        raise UsageError("--raw and --markdown cannot be used together")
    return "raw" if raw else "markdown" if markdown else "auto"
