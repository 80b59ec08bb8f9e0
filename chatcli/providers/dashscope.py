"""DashScope's native protocol (`/services/aigc/text-generation/generation`) over httpx, no DashScope SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx

from chatcli import __version__
from chatcli.core.messages import (
    ChatRequest,
    Event,
    Finish,
    ReasoningDelta,
    TextDelta,
    TextParts,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
    content_text,
)
from chatcli.core.options import GenerationOptions
from chatcli.errors import ProviderError
from chatcli.providers import capabilities, integrity
from chatcli.providers.base import Provider
from chatcli.providers.capabilities import Capabilities, DocumentFile, UploadedDocument
from chatcli.providers.chunks import count_of, text_of
from chatcli.providers.errmap import classify, network_error, parse_error_body, unexpected, upload_errors
from chatcli.providers.wire import api_messages, check_dashscope, dashscope_switches, with_json_hint

TEXT_PATH = "/services/aigc/text-generation/generation"
NO_MEDIA = ('kind = "dashscope" sends text only (images and video need the multimodal endpoint); '
            "use the qwen provider (compatible mode) with a qwen-vl model")


class DashScopeProvider(Provider):
    """kind = "dashscope"."""

    _http: httpx.Client | None = None
    _key: str | None = None

    def http(self) -> httpx.Client:
        """The HTTP client, created on first use (resolving the API key then)."""
        if self._http is None:
            self._key = self.config.resolve_api_key()
            timeout = self.config.timeout
            headers = {"User-Agent": f"chatcli/{__version__}"}
            if self._key:
                headers["Authorization"] = f"Bearer {self._key}"
            self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)), headers=headers)
        return self._http

    def check_options(self, opts: GenerationOptions) -> None:
        check_dashscope(self.name, opts)

    def capabilities(self, model: str) -> Capabilities:
        caps = replace(capabilities.dashscope(model), images=NO_MEDIA, video=NO_MEDIA)
        if self._files_url() is None:
            caps = replace(caps, documents=f"no files API known for {self.config.base_url} (expected a base URL "
                                           "ending in /api/v1)")
        return caps

    def _files_url(self) -> str | None:
        """The files API, which lives in compatible mode: {host}/compatible-mode/v1/files."""
        base = (self.config.base_url or "").rstrip("/")
        return base[: -len("/api/v1")] + "/compatible-mode/v1/files" if base.endswith("/api/v1") else None

    def _upload(self, doc: DocumentFile, model: str) -> UploadedDocument:
        """Upload with purpose file-extract; the native text endpoint then reads `fileid://ID` too."""
        client, url = self.http(), self._files_url()
        request = ChatRequest([], model)
        with upload_errors(self.name, doc.name), self._mapped(request, mid_stream=False):
            response = client.post(url, data={"purpose": "file-extract"},  # type: ignore[arg-type]
                                   files={"file": doc.as_upload()})
            if response.status_code >= 400:
                raise self._classify(response.status_code, parse_error_body(response.text), request, response.headers)
            data = response.json()
            file_id = data.get("id") if isinstance(data, dict) else None
        if not file_id:
            raise ProviderError(f"{self.name}: the files API answered no file id (uploading {doc.name})",
                                provider=self.name)
        return UploadedDocument(doc.name, file_id=str(file_id))

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The native request: input.messages and parameters."""
        parameters: dict[str, Any] = {"result_format": "message"}
        if request.stream:
            # The service refuses incremental output together with tools; then each event repeats all so far.
            parameters["incremental_output"] = not request.tools
        if request.tools:
            parameters["tools"] = request.tools
        parameters.update(self.config.extra_body)
        messages = api_messages(request.messages)
        opts = request.generation
        if opts is not None:  # the same names as compatible mode, all inside parameters
            parameters.update(opts.sampling())
            parameters.update(dashscope_switches(opts))
            if opts.json_object:
                parameters["response_format"] = {"type": "json_object"}
                messages = with_json_hint(messages)
        return {"model": request.model, "input": {"messages": messages}, "parameters": parameters}

    def _open(self, request: ChatRequest) -> Iterator[Event]:
        client = self.http()
        headers = {"X-DashScope-SSE": "enable", "Accept": "text/event-stream"} if request.stream else {}
        url = (self.config.base_url or "").rstrip("/") + TEXT_PATH
        with self._mapped(request, mid_stream=False):
            response = client.send(client.build_request("POST", url, json=self.request_body(request), headers=headers),
                                   stream=True)
            if response.status_code >= 400:
                response.read()
                response.close()
                raise self._classify(response.status_code, parse_error_body(response.text), request, response.headers)
            if not request.stream or integrity.body_kind(self.name, self.config.base_url, response) == integrity.JSON:
                return iter(self._whole(request, response))  # a JSON body answers a stream as the SDK reads it
        return self._iterate(request, response)

    def _whole(self, request: ChatRequest, response: httpx.Response) -> list[Event]:
        """The events of a whole JSON answer (checked: an error, or a generation result)."""
        data = integrity.read_json(self.name, self.config.base_url, response)
        self._check(request, data, None)
        asm = NativeAssembler(incremental=False)
        return [*self._read(asm, data), *asm.finish()]

    def _iterate(self, request: ChatRequest, response: httpx.Response) -> Iterator[Event]:
        self.reading(response.close)
        asm = NativeAssembler(incremental=not request.tools)  # as request_body chose
        try:
            with self._mapped(request, mid_stream=True):
                for status, event, data in sse_events(response.iter_lines()):
                    try:
                        payload = json.loads(data)
                    except ValueError:
                        raise integrity.wrong_shape(self.name, self.config.base_url, "an event that is not JSON",
                                                    data) from None
                    self._check(request, payload, status, event)
                    yield from self._read(asm, payload)
        finally:
            response.close()
        if asm.finish_reason is None:  # half-received tool calls are dropped with the rest
            raise integrity.cut_off(self.name, asm.anything)
        yield from asm.finish()

    def _read(self, asm: NativeAssembler, payload: dict[str, Any]) -> list[Event]:
        """The events of one result, or BadResponseError for a field of the wrong type."""
        try:
            return list(asm.feed(payload))
        except integrity.UNREADABLE as e:
            raise integrity.unreadable(self.name, self.config.base_url, e, payload) from None

    def _check(self, request: ChatRequest, payload: Any, status: int | None, event: str | None = None) -> None:
        """Raise for an error event or body (`event:error`, a `code` without output) or a result of another shape."""
        if event == "error" or (status or 200) >= 400 or (isinstance(payload, dict) and "code" in payload
                                                          and "output" not in payload):
            raise self._classify(status if status and status >= 400 else None, parse_error_body(payload), request,
                                 None)
        problem = integrity.native_problem(payload)
        if problem is not None:
            raise integrity.wrong_shape(self.name, self.config.base_url, problem, payload)

    @contextmanager
    def _mapped(self, request: ChatRequest, *, mid_stream: bool) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as e:
            raise network_error(self.name, self.config.base_url, e, mid_stream=mid_stream) from None
        except ValueError as e:
            raise unexpected(self.name, e) from None

    def _classify(self, status: int | None, error: dict, request: ChatRequest, headers: Any) -> ProviderError:
        if "model not exist" in str(error.get("message", "")).lower():
            error = {**error, "code": "ModelNotFound"}
        return classify(self.name, status, error, headers=headers, key_env=self.config.api_key_env,
                        model=request.model, secret=self._key)


def sse_events(lines: Iterator[str]) -> Iterator[tuple[int | None, str | None, str]]:
    """(HTTP status from the `:HTTP_STATUS/NNN` comment, event name, data) for each SSE event."""
    status: int | None = None
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield status, event, "\n".join(data)
            status, event, data = None, None, []
        elif line.startswith(":HTTP_STATUS/"):
            try:
                status = int(line.split("/", 1)[1])
            except ValueError:
                pass
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
    if data:
        yield status, event, "\n".join(data)


class NativeAssembler:
    """Native result events to typed events, for incremental and cumulative output alike."""

    def __init__(self, incremental: bool) -> None:
        self.incremental = incremental
        self.text = TextParts()
        self.reasoning = TextParts()
        self.calls: dict[int, ToolCall] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def feed(self, data: dict[str, Any]) -> Iterator[Event]:
        usage = data.get("usage")
        if isinstance(usage, dict) and usage:
            details = usage.get("prompt_tokens_details") or {}
            inp, out = count_of(usage.get("input_tokens")), count_of(usage.get("output_tokens"))
            cached = details.get("cached_tokens") if isinstance(details, dict) else None
            self.usage = Usage(inp, out, count_of(usage.get("total_tokens")) or inp + out,
                               cached_tokens=count_of(cached) if cached is not None else None)
        for choice in (data.get("output") or {}).get("choices") or []:
            message = choice.get("message") or {}
            reasoning = self._delta("reasoning", text_of(message.get("reasoning_content"), "reasoning_content"))
            if reasoning:
                yield ReasoningDelta(reasoning)
            text = self._delta("text", content_text(message.get("content"), sep=""))  # multimodal: a list of parts
            if text:
                yield TextDelta(text)
            for position, tc in enumerate(message.get("tool_calls") or []):
                index = tc.get("index")
                self._merge(index if isinstance(index, int) and not isinstance(index, bool) else position, tc)
            reason = text_of(choice.get("finish_reason"), "finish_reason")
            if reason and reason != "null":
                self.finish_reason = reason

    def _delta(self, field: str, value: str | None) -> str:
        """The new part of a text field (events repeat everything so far unless incremental)."""
        if not value:
            return ""
        seen: TextParts = getattr(self, field)
        if self.incremental:
            seen.add(value)
            return value
        so_far = str(seen)
        if not value.startswith(so_far):  # the text was rewritten: start over from this event
            setattr(self, field, TextParts(value))
            return value
        new = value[len(so_far):]
        seen.add(new)
        return new

    def _merge(self, index: int, tc: dict[str, Any]) -> None:
        call = self.calls.setdefault(index, ToolCall(id="", name=""))
        fn = tc.get("function") or {}
        call_id, name = text_of(tc.get("id"), "tool_calls.id"), text_of(fn.get("name"), "function.name")
        arguments = text_of(fn.get("arguments"), "function.arguments")
        if call_id:
            call.id = call_id
        if name:
            call.name = name
        if arguments:
            call.arguments = call.arguments + arguments if self.incremental else arguments

    @property
    def anything(self) -> bool:
        """Whether any text, reasoning or tool call arrived (a stream without them is empty)."""
        return bool(len(self.text) or len(self.reasoning) or self.calls)

    def finish(self) -> Iterator[Event]:
        for index in sorted(self.calls):
            call = self.calls[index]
            call.id = call.id or f"call_{index}"
            yield ToolCallEvent(call)
        if self.usage is not None:
            yield UsageEvent(self.usage)
        yield Finish(self.finish_reason)
