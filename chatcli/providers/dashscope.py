"""DashScope's native protocol (`/services/aigc/{text,multimodal}-generation/generation`) over httpx, no SDK.

The wire format (SSE framing, content parts, results) is chatcli.providers.native's.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx

from chatcli import __version__
from chatcli.core.messages import ChatRequest, Event
from chatcli.core.options import GenerationOptions
from chatcli.errors import ProviderError
from chatcli.providers import capabilities, integrity, transport
from chatcli.providers.base import Provider
from chatcli.providers.capabilities import Capabilities, DocumentFile, UploadedDocument
from chatcli.providers.catalog import Endpoint, family
from chatcli.providers.errmap import classify, network_error, parse_error_body, unexpected, upload_errors
from chatcli.providers.native import (
    PATHS,
    NativeAssembler,
    is_url_error,
    native_messages,
    other,
    sse_events,
)
from chatcli.providers.wire import api_messages, check_dashscope, dashscope_switches, with_json_hint

Sse = Iterator[tuple[int | None, str | None, str]]


def no_media(model: str, what: str) -> str:
    """Why `model` takes no images or video on the native protocol."""
    return (f"{model} takes no {what} on DashScope's native protocol; choose a vision model such as "
            "-m qwen-vl-plus (or use the qwen provider (compatible mode) with one)")


class DashScopeProvider(Provider):
    """kind = "dashscope"."""

    _http: httpx.Client | None = None
    _key: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._endpoints: dict[str, Endpoint] = {}  # models found on the other endpoint than the catalog says

    def http(self) -> httpx.Client:
        """The HTTP client, created on first use (resolving the API key then)."""
        if self._http is None:
            self._key = self.config.resolve_api_key()
            timeout = self.config.timeout
            headers = {"User-Agent": f"chatcli/{__version__}"}
            if self._key:
                headers["Authorization"] = f"Bearer {self._key}"
            self._http = transport.httpx_client(self.config, timeout, headers=headers)  # proxy, TLS, DashScope headers
        return self._http

    def check_options(self, opts: GenerationOptions) -> None:
        check_dashscope(self.name, opts)

    def capabilities(self, model: str) -> Capabilities:
        """Images and video frames for vision models (sent to the multimodal endpoint); documents via files."""
        fam = family(model)
        caps = capabilities.dashscope(model)
        caps = replace(caps, images=caps.images if fam.vision else no_media(model, "images"),
                       video=caps.video if fam.video else no_media(model, "video frames"))
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

    def endpoint(self, model: str) -> Endpoint:
        """Where `model` answers: the one a url error taught us, else the catalog's."""
        return self._endpoints.get(model) or family(model).endpoint

    def request_body(self, request: ChatRequest, endpoint: Endpoint | None = None) -> dict[str, Any]:
        """The native request: input.messages (as the endpoint reads them) and parameters."""
        parameters: dict[str, Any] = {"result_format": "message"}
        if request.stream:
            parameters["incremental_output"] = True  # as the SDK always asks, tools included
        if request.tools:
            parameters["tools"] = request.tools
        parameters.update(self.config.extra_body)
        messages = api_messages(request.messages)
        opts = request.generation
        if opts is not None:  # the same names as compatible mode, all inside parameters
            parameters.update(opts.sampling())
            parameters.update(dashscope_switches(opts))
            if opts.search:  # the native protocol can name its sources (output.search_info)
                parameters["search_options"] = {"enable_source": True}
            if opts.json_object:
                parameters["response_format"] = {"type": "json_object"}
                messages = with_json_hint(messages)
        messages = native_messages(messages, endpoint or self.endpoint(request.model))
        return {"model": request.model, "input": {"messages": messages}, "parameters": parameters}

    def _open(self, request: ChatRequest) -> Iterator[Event]:
        endpoint = self.endpoint(request.model)
        for attempt in range(2):  # a url error: the model lives on the other endpoint; try it once
            answer = self._send(request, endpoint, last=attempt == 1)
            if answer is not None:
                if attempt:  # remembered for this provider object's life
                    self._endpoints[request.model] = endpoint
                return answer
            endpoint = other(endpoint)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, request: ChatRequest, endpoint: Endpoint, *, last: bool) -> Iterator[Event] | None:
        """The answer from one endpoint, or None when it says (before anything is shown) it is the wrong one."""
        client = self.http()
        headers = {"X-DashScope-SSE": "enable", "Accept": "text/event-stream"} if request.stream else {}
        url = (self.config.base_url or "").rstrip("/") + PATHS[endpoint]
        body = self.request_body(request, endpoint)
        with self._mapped(request, mid_stream=False):
            response = client.send(client.build_request("POST", url, json=body, headers=headers), stream=True)
            if response.status_code >= 400:
                response.read()
                response.close()
                error = parse_error_body(response.text)
                if not last and is_url_error(error):
                    return None
                raise self._classify(response.status_code, error, request, response.headers)
            if not request.stream or integrity.body_kind(self.name, self.config.base_url, response) == integrity.JSON:
                return iter(self._whole(request, response))  # a JSON body answers a stream as the SDK reads it
        self.reading(response.close)
        events = sse_events(response.iter_lines())
        try:
            with self._mapped(request, mid_stream=True):  # as the rest of the stream: never retried
                first = next(events, None)
        except BaseException:
            response.close()
            raise
        if first is not None and not last and (first[1] == "error" or (first[0] or 200) >= 400):
            try:
                wrong_endpoint = is_url_error(json.loads(first[2]))
            except ValueError:
                wrong_endpoint = False
            if wrong_endpoint:
                response.close()
                return None
        return self._iterate(request, response, itertools.chain([first] if first else [], events))

    def _whole(self, request: ChatRequest, response: httpx.Response) -> list[Event]:
        """The events of a whole JSON answer (checked: an error, or a generation result)."""
        data = integrity.read_json(self.name, self.config.base_url, response)
        self._check(request, data, None)
        asm = NativeAssembler(incremental=False)
        return [*self._read(asm, data), *asm.finish()]

    def _iterate(self, request: ChatRequest, response: httpx.Response, events: Sse) -> Iterator[Event]:
        asm = NativeAssembler(incremental=True)  # as request_body asked
        try:
            with self._mapped(request, mid_stream=True):
                for status, event, data in events:
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

