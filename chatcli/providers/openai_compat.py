"""Any OpenAI-compatible server (DashScope compatible mode, Zhipu, OpenAI, Ollama, vLLM) via the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai

from chatcli.core.messages import ChatRequest
from chatcli.core.options import GenerationOptions
from chatcli.errors import ProviderError, UsageError
from chatcli.providers import capabilities, transport
from chatcli.providers.capabilities import Capabilities, DocumentFile, UploadedDocument
from chatcli.providers.errmap import amend, network_error, parse_error_body, unexpected, upload_errors
from chatcli.providers.sdk import SDKProvider
from chatcli.providers.wire import (
    check_dashscope,
    check_zhipu,
    dashscope_switches,
    is_dashscope,
    is_zhipu,
    needs_stream_hint,
    zhipu_fields,
)


class OpenAIProvider(SDKProvider):
    """kind = "openai"."""

    send_stream_options = True  # DashScope sends usage only when asked

    def make_client(self, api_key: str, timeout: float) -> openai.OpenAI:
        # max_retries=0: the SDK would retry arrears-as-429 and wait up to 120 s
        return openai.OpenAI(
            api_key=api_key, base_url=self.config.base_url, max_retries=0,
            timeout=openai.Timeout(timeout, connect=min(10.0, timeout)),  # httpx2's Timeout (openai 3.x), not httpx's
            http_client=transport.openai_http_client(self.config, timeout),  # proxy, TLS, DashScope headers
        )

    def close_stream(self, stream: Any) -> None:
        stream.close()

    def completion_type(self) -> Any:
        return openai.types.chat.ChatCompletion

    @property
    def dashscope(self) -> bool:
        """Whether the server is DashScope's compatible mode (it takes enable_search / enable_thinking)."""
        return is_dashscope(self.config.base_url)

    @property
    def zhipu(self) -> bool:
        """Whether the server is Zhipu's OpenAI-compatible endpoint (thinking, the web_search tool)."""
        return not self.dashscope and is_zhipu(self.config.base_url)

    def check_options(self, opts: GenerationOptions) -> None:
        if self.dashscope:
            check_dashscope(self.name, opts, compatible=True)
        elif self.zhipu:
            check_zhipu(self.name, opts)
        elif opts.search:
            raise UsageError(f"{self.name}: this OpenAI-compatible server has no web search; "
                             "--search works with DashScope (qwen) and Zhipu (zhipu)")

    def apply_options(self, opts: GenerationOptions, kwargs: dict[str, Any], extra: dict[str, Any]) -> None:
        super().apply_options(opts, kwargs, extra)
        if self.dashscope:
            extra.update(dashscope_switches(opts))
        elif self.zhipu:
            extra.update(zhipu_fields(self.name, opts, kwargs, self.tell_once))  # no openai create() arguments
        elif opts.think is not None:
            self.tell_once(f"{self.name}: --think/--no-think is for DashScope and Zhipu; not sent to this server")

    def classify(self, status: int | None, error: dict, request: ChatRequest, headers: Any) -> ProviderError:
        err = super().classify(status, error, request, headers)
        hint = "" if request.stream else needs_stream_hint(error)
        if hint:
            amend(err, hint)
        return err

    def capabilities(self, model: str) -> Capabilities:
        return capabilities.dashscope(model) if self.dashscope else Capabilities()

    def _upload(self, doc: DocumentFile, model: str) -> UploadedDocument:
        """DashScope's files API: purpose file-extract; qwen-long then reads `fileid://ID`."""
        if not self.dashscope:
            return super()._upload(doc, model)
        client = self.client()
        request = ChatRequest([], model)
        with upload_errors(self.name, doc.name), self.mapped(request, mid_stream=False):
            uploaded = client.files.create(file=doc.as_upload(), purpose="file-extract")
        return UploadedDocument(doc.name, file_id=uploaded.id)

    @contextmanager
    def mapped(self, request: ChatRequest, *, mid_stream: bool, headers: Any = None) -> Iterator[None]:
        try:
            yield
        except openai.APIStatusError as e:
            # e.body is only the inner error object (the raw text if SSE-framed); the whole body read by the
            # SDK also holds the request_id beside it.
            error = parse_error_body(e.response.text) or parse_error_body(e.body)
            raise self.classify(e.status_code, error, request, e.response.headers) from None
        except openai.APIConnectionError as e:  # includes APITimeoutError
            raise network_error(self.name, self.config.base_url, e, mid_stream=mid_stream) from None
        except openai.APIError as e:  # an in-stream {"error": ...}
            raise self.classify(None, parse_error_body(e.body or {"message": e.message}), request, headers) from None
        except (openai.OpenAIError, ValueError) as e:
            raise unexpected(self.name, e) from None
