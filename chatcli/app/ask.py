"""`chat ask`: one question, one answer, streamed to a terminal or a pipe."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from chatcli.app.inputs import MAX_STDIN, compose_message, read_stdin, stdin_has_data
from chatcli.config.prices import cost_of, money, usage_line
from chatcli.core.context import budget
from chatcli.core.conversation import Conversation, Turn, finish_notice
from chatcli.core.messages import Notice, ToolCall
from chatcli.core.options import GenerationOptions
from chatcli.errors import ChatError, ExitCode, Interrupted
from chatcli.store.recorder import Recorder, load, open_store
from chatcli.tools.builtins import tools_for
from chatcli.ui.render import Renderer, make_renderer, notice


@dataclass
class AskOptions:
    prompt: str
    provider: str | None = None
    model: str | None = None
    system: str | None = None
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


def run_ask(opts: AskOptions, stdin: Any = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one question; return the exit code. Raises ChatError for failures before the call."""
    from chatcli.app import attachments
    from chatcli.config import load_config
    from chatcli.providers import create_provider

    stdin = stdin if stdin is not None else sys.stdin.buffer
    out = out or sys.stdout
    err = err or sys.stderr

    cfg = load_config(opts.config)
    attached = attachments.collect(opts.images, opts.videos, opts.files)  # a bad path stops here
    piped = read_stdin(stdin) if stdin_has_data(stdin) else None
    text = compose_message(opts.prompt, piped)
    store = open_store(cfg, opts.save, lambda m: notice(m, err))
    conv, resumed = Conversation(opts.system), None
    if opts.cont:
        conv, resumed = load(store, None)
        if opts.system:
            conv.system = opts.system
    same = resumed is not None and not opts.provider and resumed.provider in cfg.providers
    pcfg = cfg.provider(resumed.provider if same else opts.provider)  # type: ignore[union-attr]
    model = opts.model or (resumed.model if same and resumed.model else pcfg.model)  # type: ignore[union-attr]
    generation = GenerationOptions.from_config(pcfg).merged(opts.generation or GenerationOptions())
    generation.validate(stream=opts.stream)
    provider = create_provider(pcfg, notify=lambda m: notice(m, err))
    provider.check_options(generation)  # refused options stop here, before anything is saved or sent
    content: str | list[dict[str, Any]] = text
    if attached:  # checked against the provider's limits, then documents are uploaded
        piped_bytes = len(piped.encode("utf-8")) if piped else 0
        content = attachments.build_content(text, attached, provider, model, text_budget=MAX_STDIN - piped_bytes)
    recorder = Recorder(store, lambda: (pcfg.name, model))
    recorder.start(conv, resumed.id if resumed else None)
    if resumed and opts.system:
        recorder.sync_system(conv)

    tools = tools_for(cfg.tools, model, opts.tools)
    renderer: Renderer | None = None
    if not opts.as_json:
        renderer = make_renderer(out, err, mode=opts.mode, show_reasoning=cfg.show_reasoning)

    code: int = ExitCode.OK
    failure: BaseException | None = None
    try:
        for event in conv.send(provider, model, content, tools=tools, max_rounds=cfg.tools.max_rounds,
                               budget=budget(model, cfg.context.max_tokens), stream=opts.stream,
                               generation=generation):
            if renderer is not None:
                renderer.handle(event)
            elif isinstance(event, Notice):
                notice(event.text, err)
    except (ChatError, KeyboardInterrupt) as e:
        failure = e
    finally:
        if renderer is not None:
            renderer.close()
        store.close()

    turn = conv.last or Turn()
    if failure is None:
        found = finish_notice(turn.finish_reason)
        if found:
            message, failed = found
            notice(f"{pcfg.name}: {message}", err)
            if failed:
                code = ExitCode.ERROR
        if generation.json_object and code == ExitCode.OK:
            failure = not_json(turn.content)
    cost = cost_of(cfg.prices, model, turn.usage)
    if opts.usage:
        shown = money(cost, cfg.prices) if cost is not None else None
        notice(usage_line(turn.usage, shown) if turn.usage else "usage: not reported", err, prefix="")
    if opts.as_json:
        data = result_json(pcfg.name, model, turn, failure)
        if generation.search or turn.sources:
            data["sources"] = turn.sources
        if cost is not None:
            data["cost"] = {"amount": round(cost, 8), "currency": cfg.prices.get("currency")}
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
        out.flush()
    if isinstance(failure, KeyboardInterrupt):
        raise Interrupted() from None
    if failure is not None:
        raise failure  # the CLI's boundary prints it and picks the exit code
    return code


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
        data["error"] = {"type": type(failure).__name__, "message": failure.message, "exit_code": int(failure.exit_code)}
    elif isinstance(failure, KeyboardInterrupt):
        data["error"] = {"type": "Interrupted", "message": "interrupted", "exit_code": int(ExitCode.INTERRUPTED)}
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
