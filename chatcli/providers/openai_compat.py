"""Any OpenAI-compatible server (DashScope compatible mode, OpenAI, Ollama, vLLM) via the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai

from chatcli.core.messages import ChatRequest
from chatcli.core.options import GenerationOptions
from chatcli.errors import UsageError
from chatcli.providers import capabilities
from chatcli.providers.capabilities import Capabilities, DocumentFile, UploadedDocument
from chatcli.providers.errmap import network_error, parse_error_body, unexpected, upload_errors
from chatcli.providers.sdk import SDKProvider
from chatcli.providers.wire import check_dashscope, dashscope_switches, is_dashscope


class OpenAIProvider(SDKProvider):
    """kind = "openai"."""

    send_stream_options = True  # DashScope sends usage only when asked

    def make_client(self, api_key: str, timeout: float) -> openai.OpenAI:
        # max_retries=0: the SDK would retry arrears-as-429 and wait up to 120 s
        return openai.OpenAI(
            api_key=api_key, base_url=self.config.base_url, max_retries=0,
            timeout=openai.Timeout(timeout, connect=min(10.0, timeout)),  # httpx2's Timeout (openai 3.x), not httpx's
        )

    def close_stream(self, stream: Any) -> None:
        stream.close()

    def completion_type(self) -> Any:
        return openai.types.chat.ChatCompletion

    @property
    def dashscope(self) -> bool:
        """Whether the server is DashScope's compatible mode (it takes enable_search / enable_thinking)."""
        return is_dashscope(self.config.base_url)

    def check_options(self, opts: GenerationOptions) -> None:
        if self.dashscope:
            check_dashscope(self.name, opts)
        elif opts.search:
            raise UsageError(f"{self.name}: this OpenAI-compatible server has no web search; "
                             "--search works with DashScope (qwen) and Zhipu (zhipu)")

    def apply_options(self, opts: GenerationOptions, kwargs: dict[str, Any], extra: dict[str, Any]) -> None:
        super().apply_options(opts, kwargs, extra)
        if self.dashscope:
            extra.update(dashscope_switches(opts))
        elif opts.think is not None:
            self.tell_once(f"{self.name}: --think/--no-think is for DashScope and Zhipu; not sent to this server")

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
    def mapped(self, request: ChatRequest, *, mid_stream: bool) -> Iterator[None]:
        try:
            yield
        except openai.APIStatusError as e:
            # A streaming request's error body may be SSE-framed: then e.body is the raw text.
            body = e.body if e.body is not None else e.response.text
            raise self.classify(e.status_code, parse_error_body(body), request, e.response.headers) from None
        except openai.APIConnectionError as e:  # includes APITimeoutError
            raise network_error(self.name, self.config.base_url, e, mid_stream=mid_stream) from None
        except openai.APIError as e:  # an in-stream {"error": ...}
            raise self.classify(None, parse_error_body(e.body or {"message": e.message}), request, None) from None
        except (openai.OpenAIError, ValueError) as e:
            raise unexpected(self.name, e) from None
