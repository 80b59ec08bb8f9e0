"""`chat ask`: one question, one answer, streamed to a terminal or a pipe."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from chatcli.app.inputs import MAX_STDIN, compose_message, read_stdin, stdin_has_data
from chatcli.app.session import ChatSession, open_session
from chatcli.app.signals import reason, terminating
from chatcli.app.tally import Stopwatch
from chatcli.config.prices import money, usage_line
from chatcli.core.conversation import Turn
from chatcli.core.messages import Notice, ToolCall
from chatcli.core.options import GenerationOptions
from chatcli.errors import ChatError, ExitCode, Interrupted, Terminated
from chatcli.jsontext import json_text
from chatcli.ui.consent import terminal_asker
from chatcli.ui.lines import stats_line
from chatcli.ui.render import Notify, Renderer, renderer_for
from chatcli.ui.terminal import Terminal

if TYPE_CHECKING:
    from chatcli.app.attachments import Attachment


@dataclass
class AskOptions:
    prompt: str
    provider: str | None = None
    model: str | None = None
    system: str | None = None
    role: str | None = None  # [roles.NAME] or a built-in role (-r)
    as_json: bool = False
    stream: bool = True
    tools: bool = True
    config: str | None = None
    mode: str = "auto"  # "auto" (markdown on a terminal, raw text to a pipe), "raw" or "markdown"
    cont: bool = False  # continue the last saved conversation
    save: bool = True
    generation: GenerationOptions | None = None  # flags; laid over the provider's config defaults
    usage: bool = False  # print a usage line (tokens, cost) on stderr
    images: list[str] = field(default_factory=list)  # paths or URLs (--image)
    videos: list[str] = field(default_factory=list)  # frames or directories of frames (--video)
    files: list[str] = field(default_factory=list)  # text files and documents (--file)
    approve: list[str] = field(default_factory=list)  # MCP tools that need no asking (--approve GLOB)
    yes: bool = False  # --yes: run every MCP tool call that would ask


def run_ask(opts: AskOptions, term: Terminal | None = None) -> int:
    """Run one question; return the exit code. Raises ChatError for failures, Terminated on SIGTERM/SIGHUP."""
    term = term or Terminal()
    with terminating(term):
        return _run(opts, term)


def _run(opts: AskOptions, term: Terminal) -> int:
    """Read the inputs, open the session, answer."""
    from chatcli.app import attachments
    from chatcli.config import load_config

    cfg = load_config(opts.config)
    attached = attachments.collect(opts.images, opts.videos, opts.files)  # a bad path stops here
    stdin = cast(BinaryIO, getattr(term.stdin, "buffer", term.stdin))
    piped = read_stdin(stdin) if stdin_has_data(stdin) else None
    text = compose_message(opts.prompt, piped)
    notify = Notify(term)
    session, _ = open_session(cfg, provider=opts.provider, model=opts.model, system=opts.system,
                              resume="" if opts.cont else None, save=opts.save, notify=notify, role=opts.role,
                              flags=opts.generation, tools=opts.tools, stream=opts.stream)
    try:
        consent = session.tool_host.consent
        consent.globs, consent.yes, consent.asker = opts.approve, opts.yes, terminal_asker(term)
        return _answer(session, opts, term, text, attached, piped, notify)
    finally:
        session.close()


def _answer(session: ChatSession, opts: AskOptions, term: Terminal, text: str, attached: list[Attachment],
            piped: str | None, notify: Notify) -> int:
    """Send the one turn and report it: the answer, notices, usage, --json."""
    generation = session.check()  # refused options stop here, before anything is uploaded, saved or sent
    piped_bytes = len(piped.encode("utf-8")) if piped else 0
    content = session.content(text, attached, text_budget=MAX_STDIN - piped_bytes)
    renderer = None if opts.as_json else renderer_for(term, mode=opts.mode, show_reasoning=session.cfg.show_reasoning,
                                                        hard_breaks=session.cfg.render.hard_breaks)
    code: int = ExitCode.OK
    clock = Stopwatch()
    failure: BaseException | None = None
    try:
        if renderer is not None and term.is_terminal():
            renderer.waiting()
            if term.is_terminal(term.err):  # one screen: notices above the status line
                notify.renderer = renderer
        for event in session.send(content):
            clock.see(event)
            if renderer is not None:
                renderer.handle(event)
            elif isinstance(event, Notice):
                term.notice(event.text)
    except (ChatError, KeyboardInterrupt, Terminated) as e:  # reported below, then raised for the CLI
        failure = e
    finally:
        notify.renderer = None
        if renderer is not None:
            _finish(renderer)

    turn = session.last or Turn()
    if failure is None:
        outcome = session.outcome(turn)
        if outcome is not None:
            term.notice(f"{session.provider_name}: {outcome.message}")
            if outcome.failed:
                code = ExitCode.ERROR
        if generation.json_object and code == ExitCode.OK:
            failure = not_json(turn.content)
    cost = session.turn_cost(turn)
    prices = session.cfg.prices
    if opts.usage:
        shown = money(cost, prices) if cost is not None else None
        term.notice(usage_line(turn.usage, shown) if turn.usage else "usage: not reported", prefix="")
        if term.is_terminal(term.err):  # for a person: speed too (a pipe keeps the one usage line)
            term.notice(stats_line(session.model, turn.usage, clock.seconds(), first_token=clock.first_token),
                        prefix="")
    if opts.as_json:
        data = result_json(session.provider_name, session.model, turn, failure)
        if generation.search or turn.sources:
            data["sources"] = turn.sources
        if cost is not None:
            data["cost"] = {"amount": round(cost, 8), "currency": prices.get("currency")}
        term.out.write(json_text(data) + "\n")
        term.out.flush()
    if isinstance(failure, KeyboardInterrupt):
        raise Interrupted() from None
    if failure is not None:
        raise failure  # the CLI's boundary prints it and picks the exit code
    return code


def _finish(renderer: Renderer) -> None:
    """Close the renderer and end the answer's last line, even if closing fails or is interrupted."""
    try:
        renderer.close()
    finally:
        renderer.end_line()


def result_json(provider: str, model: str, turn: Turn, failure: BaseException | None) -> dict[str, Any]:
    """The --json object."""
    data: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "content": turn.content,
        "reasoning": turn.reasoning or None,
        "tool_calls": [_call_json(c, turn) for c in turn.tool_calls],
        "usage": turn.usage.to_dict() if turn.usage else None,
        "finish_reason": turn.finish_reason,
        "tool_rounds": turn.rounds,
    }
    if isinstance(failure, ChatError):
        data["error"] = {"type": type(failure).__name__, "message": failure.message,
                         "exit_code": int(failure.exit_code), "request_id": getattr(failure, "request_id", None)}
    elif isinstance(failure, KeyboardInterrupt):
        data["error"] = {"type": "Interrupted", "message": "interrupted", "exit_code": int(ExitCode.INTERRUPTED)}
    elif isinstance(failure, Terminated):
        data["error"] = {"type": "Terminated", "message": reason(failure.signum), "exit_code": failure.exit_code}
    return data


def _call_json(call: ToolCall, turn: Turn) -> dict[str, Any]:
    """A tool call with its result, if it ran."""
    data: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    for result in turn.tool_results:
        if result.call is call:
            data.update(result=result.content, ok=result.ok, seconds=round(result.seconds, 3))
    return data


def not_json(text: str) -> ChatError | None:
    """The error for an answer that does not parse as JSON (--json-object), or None."""
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return ChatError(f"the answer is not valid JSON (--json-object): {e.msg} at line {e.lineno} column {e.colno}")
    return None
