"""Any OpenAI-compatible server (DashScope compatible mode, OpenAI, Ollama, vLLM) via the openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import openai

from chatcli.errors import ProviderError
from chatcli.messages import ChatRequest
from chatcli.providers.base import SDKProvider
from chatcli.providers.errmap import network_error, one_line, parse_error_body


class OpenAIProvider(SDKProvider):
    """kind = "openai"."""

    send_stream_options = True  # DashScope sends usage only when asked

    def make_client(self, api_key: str, timeout: float) -> openai.OpenAI:
        # max_retries=0: the SDK would retry arrears-as-429 and wait up to 120 s
        return openai.OpenAI(
            api_key=api_key, base_url=self.config.base_url, max_retries=0,
            timeout=httpx2.Timeout(timeout, connect=min(10.0, timeout)),
        )

    def close_stream(self, stream: Any) -> None:
        stream.close()

    def thinking_body(self, on: bool) -> dict[str, Any]:
        return {"enable_thinking": on}  # DashScope (qwen3, qwen-plus); other servers ignore it

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
            raise ProviderError(f"{self.name}: unexpected response: {one_line(str(e), 200)}", provider=self.name) from None
