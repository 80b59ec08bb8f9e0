"""DashScope's native protocol (`/services/aigc/text-generation/generation`) over httpx, no DashScope SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from chatcli import __version__
from chatcli.core.messages import (
    ChatRequest,
    Event,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageEvent,
    content_text,
)
from chatcli.core.options import GenerationOptions
from chatcli.errors import ProviderError
from chatcli.providers import capabilities
from chatcli.providers.base import Provider
from chatcli.providers.capabilities import Capabilities, UploadedDocument
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

    def _upload(self, path: Path, model: str) -> UploadedDocument:
        """Upload with purpose file-extract; the native text endpoint then reads `fileid://ID` too."""
        client, url = self.http(), self._files_url()
        request = ChatRequest([], model)
        with upload_errors(self.name, path.name), path.open("rb") as f, self._mapped(request, mid_stream=False):
            response = client.post(url, data={"purpose": "file-extract"},  # type: ignore[arg-type]
                                   files={"file": (path.name, f, capabilities.upload_type(path))})
            if response.status_code >= 400:
                raise self._classify(response.status_code, parse_error_body(response.text), request, response.headers)
            data = response.json()
            file_id = data.get("id") if isinstance(data, dict) else None
        if not file_id:
            raise ProviderError(f"{self.name}: the files API answered no file id (uploading {path.name})",
                                provider=self.name)
        return UploadedDocument(path.name, file_id=str(file_id))

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
            if not request.stream:
                response.read()
                data = response.json()
        if not request.stream:
            asm = NativeAssembler(incremental=False)
            return iter([*asm.feed(data), *asm.finish()])
        return self._iterate(request, response)

    def _iterate(self, request: ChatRequest, response: httpx.Response) -> Iterator[Event]:
        self.reading(response.close)
        asm = NativeAssembler(incremental=not request.tools)  # as request_body chose
        try:
            with self._mapped(request, mid_stream=True):
                for status, event, data in sse_events(response.iter_lines()):
                    payload = json.loads(data)
                    if event == "error" or (status or 200) >= 400 or ("code" in payload and "output" not in payload):
                        raise self._classify(status if status and status >= 400 else None,
                                             parse_error_body(payload), request, None)
                    yield from asm.feed(payload)
        finally:
            response.close()
        yield from asm.finish()

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
        self.text = ""
        self.reasoning = ""
        self.calls: dict[int, ToolCall] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def feed(self, data: dict[str, Any]) -> Iterator[Event]:
        usage = data.get("usage")
        if isinstance(usage, dict) and usage:
            details = usage.get("prompt_tokens_details") or {}
            inp, out = usage.get("input_tokens", 0) or 0, usage.get("output_tokens", 0) or 0
            self.usage = Usage(inp, out, usage.get("total_tokens") or inp + out,
                               cached_tokens=details.get("cached_tokens"))
        for choice in (data.get("output") or {}).get("choices") or []:
            message = choice.get("message") or {}
            reasoning = self._delta("reasoning", message.get("reasoning_content"))
            if reasoning:
                yield ReasoningDelta(reasoning)
            text = self._delta("text", content_text(message.get("content"), sep=""))  # multimodal: a list of parts
            if text:
                yield TextDelta(text)
            for position, tc in enumerate(message.get("tool_calls") or []):
                self._merge(tc.get("index", position), tc)
            reason = choice.get("finish_reason")
            if reason and reason != "null":
                self.finish_reason = reason

    def _delta(self, field: str, value: str | None) -> str:
        """The new part of a text field (events repeat everything so far unless incremental)."""
        if not value:
            return ""
        seen = getattr(self, field)
        new = value if self.incremental or not value.startswith(seen) else value[len(seen):]
        setattr(self, field, seen + new if self.incremental or value.startswith(seen) else value)
        return new

    def _merge(self, index: int, tc: dict[str, Any]) -> None:
        call = self.calls.setdefault(index, ToolCall(id="", name=""))
        fn = tc.get("function") or {}
        if tc.get("id"):
            call.id = tc["id"]
        if fn.get("name"):
            call.name = fn["name"]
        if fn.get("arguments"):
            call.arguments = call.arguments + fn["arguments"] if self.incremental else fn["arguments"]

    def finish(self) -> Iterator[Event]:
        for index in sorted(self.calls):
            call = self.calls[index]
            call.id = call.id or f"call_{index}"
            yield ToolCallEvent(call)
        if self.usage is not None:
            yield UsageEvent(self.usage)
        yield Finish(self.finish_reason)
