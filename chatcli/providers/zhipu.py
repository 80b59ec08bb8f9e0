"""Zhipu GLM via the zhipuai SDK."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import zhipuai
from zhipuai.core import _errors as zerr

from chatcli.core.messages import ChatRequest
from chatcli.core.options import GenerationOptions
from chatcli.providers import capabilities, transport
from chatcli.providers.capabilities import Capabilities, DocumentFile, UploadedDocument
from chatcli.providers.errmap import network_error, parse_error_body, unexpected, upload_errors
from chatcli.providers.sdk import SDKProvider
from chatcli.providers.wire import check_zhipu, zhipu_fields


class ZhipuProvider(SDKProvider):
    """kind = "zhipu"."""

    def make_client(self, api_key: str, timeout: float) -> zhipuai.ZhipuAI:
        # max_retries=0: the SDK retries 429s blindly (even arrears, 1113) and ignores Retry-After
        return zhipuai.ZhipuAI(
            api_key=api_key, base_url=self.config.base_url, max_retries=0,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            http_client=transport.httpx_client(self.config, timeout),  # proxy and TLS
        )

    def close_stream(self, stream: Any) -> None:
        stream.response.close()  # the SDK's stream object has no close()

    def completion_type(self) -> Any:
        from zhipuai.types.chat.chat_completion import Completion

        return Completion

    def capabilities(self, model: str) -> Capabilities:
        return capabilities.ZHIPU

    def _upload(self, doc: DocumentFile, model: str) -> UploadedDocument:
        """Zhipu's file-extract: upload, fetch the extracted text, then delete the file (its count is capped)."""
        client = self.client()
        with upload_errors(self.name, doc.name), self.mapped(ChatRequest([], model), mid_stream=False):
            uploaded = client.files.create(file=doc.as_upload(), purpose="file-extract")
            body = client.files.content(uploaded.id).content
        with contextlib.suppress(zerr.ZhipuAIError, httpx.HTTPError):
            client.files.delete(uploaded.id)
        return UploadedDocument(doc.name, text=_extracted(body))

    def check_options(self, opts: GenerationOptions) -> None:
        check_zhipu(self.name, opts)

    def apply_options(self, opts: GenerationOptions, kwargs: dict[str, Any], extra: dict[str, Any]) -> None:
        super().apply_options(opts, kwargs, extra)
        kwargs.update(zhipu_fields(self.name, opts, kwargs, self.tell_once))  # all are create() arguments here

    @contextmanager
    def mapped(self, request: ChatRequest, *, mid_stream: bool, headers: Any = None) -> Iterator[None]:
        try:
            yield
        except zerr.APIStatusError as e:
            error = parse_error_body(_text(e.response))
            raise self.classify(e.status_code, error, request, e.response.headers) from None
        except (zerr.APIConnectionError, httpx.TransportError) as e:  # mid-stream httpx errors leak raw
            raise network_error(self.name, self.config.base_url, e, mid_stream=mid_stream) from None
        except zerr.APIResponseError as e:  # an in-stream {"error": ...}
            error = parse_error_body(e.json_data or {"message": e.message})
            raise self.classify(None, error, request, headers) from None
        except (zerr.ZhipuAIError, ValueError) as e:
            raise unexpected(self.name, e) from None


def _text(response: httpx.Response) -> str:
    try:
        return response.text
    except httpx.HTTPError:
        return ""


def _extracted(body: bytes) -> str:
    """The text of a file-extract result: JSON `{"content": ..., "file_type", "filename", ...}`."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text
    return str(data.get("content") or "") if isinstance(data, dict) else text
