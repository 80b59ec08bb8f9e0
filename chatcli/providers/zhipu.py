"""Zhipu GLM via the zhipuai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import zhipuai
from zhipuai.core import _errors as zerr

from chatcli.errors import ProviderError
from chatcli.messages import ChatRequest
from chatcli.providers.base import SDKProvider
from chatcli.providers.errmap import network_error, one_line, parse_error_body


class ZhipuProvider(SDKProvider):
    """kind = "zhipu"."""

    def make_client(self, api_key: str, timeout: float) -> zhipuai.ZhipuAI:
        # max_retries=0: the SDK retries 429s blindly (even arrears, 1113) and ignores Retry-After
        return zhipuai.ZhipuAI(
            api_key=api_key, base_url=self.config.base_url, max_retries=0,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        )

    def close_stream(self, stream: Any) -> None:
        stream.response.close()  # the SDK's stream object has no close()

    def thinking_body(self, on: bool) -> dict[str, Any]:
        return {"thinking": {"type": "enabled" if on else "disabled"}}

    @contextmanager
    def mapped(self, request: ChatRequest, *, mid_stream: bool) -> Iterator[None]:
        try:
            yield
        except zerr.APIStatusError as e:
            raise self.classify(e.status_code, parse_error_body(_text(e.response)), request, e.response.headers) from None
        except (zerr.APIConnectionError, httpx.TransportError) as e:  # mid-stream httpx errors leak raw
            raise network_error(self.name, self.config.base_url, e, mid_stream=mid_stream) from None
        except zerr.APIResponseError as e:  # an in-stream {"error": ...}
            raise self.classify(None, parse_error_body(e.json_data or {"message": e.message}), request, None) from None
        except (zerr.ZhipuAIError, ValueError) as e:
            raise ProviderError(f"{self.name}: unexpected response: {one_line(str(e), 200)}", provider=self.name) from None


def _text(response: httpx.Response) -> str:
    try:
        return response.text
    except httpx.HTTPError:
        return ""
