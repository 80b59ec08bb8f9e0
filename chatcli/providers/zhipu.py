"""Zhipu GLM via the zhipuai SDK: chat completions (CharacterGLM's `meta` too) and assistants (智能体)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import zhipuai
from zhipuai.core import _errors as zerr

from chatcli.core.messages import ChatRequest, Event
from chatcli.core.options import GenerationOptions
from chatcli.providers import capabilities, integrity, transport
from chatcli.providers.capabilities import Capabilities, DocumentFile, UploadedDocument
from chatcli.providers.errmap import network_error, parse_error_body, unexpected, upload_errors
from chatcli.providers.sdk import SDKProvider
from chatcli.providers.wire import check_zhipu, zhipu_fields
from chatcli.providers.zhipu_assistant import (
    ASSISTANT_MODEL,
    AssistantAssembler,
    chunk_problem,
    conversation_kwargs,
    unsent_options,
)


class ZhipuProvider(SDKProvider):
    """kind = "zhipu". With `assistant_id` every turn goes to that assistant (see zhipu_assistant)."""

    conversation_id: str | None = None  # the assistant's conversation, kept server-side

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

    def state(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id} if self.conversation_id else {}

    def restore(self, state: dict[str, Any]) -> None:
        cid = state.get("conversation_id")
        self.conversation_id = cid if isinstance(cid, str) and cid else None

    def request_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        kwargs = super().request_kwargs(request)
        if request.meta:  # CharacterGLM's persona: bot_name, bot_info, user_name, user_info
            kwargs["meta"] = dict(request.meta)
        return kwargs

    def _open(self, request: ChatRequest) -> Iterator[Event]:
        if self.config.assistant_id:
            return self._open_assistant(self.config.assistant_id, request)
        return super()._open(request)

    def _open_assistant(self, assistant_id: str, request: ChatRequest) -> Iterator[Event]:
        """Send the last user message to the assistant, in the conversation kept so far (if any)."""
        request = dataclasses.replace(request, model=ASSISTANT_MODEL)  # for the error messages
        client = self.client()
        kwargs = conversation_kwargs(assistant_id, request, self.conversation_id)
        if self.conversation_id is None and any(m.role == "assistant" for m in request.messages):
            self.tell_once(f"{self.name}: the assistant starts a new conversation: earlier turns are not sent to it")
        unsent = unsent_options(request.generation)
        if unsent:
            self.tell_once(f"{self.name}: an assistant takes no generation options; not sent: {', '.join(unsent)}")
        with self.mapped(request, mid_stream=False):
            stream = client.assistant.conversation(**kwargs)
            if integrity.body_kind(self.name, self.config.base_url, stream.response) == integrity.JSON:
                return iter(self._assistant_json(request, stream.response))
        return self._assistant_events(request, stream, stream)

    def _assistant_json(self, request: ChatRequest, response: httpx.Response) -> list[Event]:
        """A whole JSON body answering the assistant's stream: an error, or one AssistantCompletion."""
        from zhipuai.types.assistant import AssistantCompletion

        data = integrity.read_json(self.name, self.config.base_url, response)
        if isinstance(data, dict) and ("error" in data or ("code" in data and "choices" not in data)):
            raise self.classify(None, parse_error_body(data), request, response.headers)
        try:
            completion = AssistantCompletion.model_validate(data)
        except ValueError:  # pydantic's ValidationError: another shape
            raise integrity.wrong_shape(self.name, self.config.base_url, "not an assistant completion", data) from None
        return list(self._assistant_events(request, [completion], None))

    def _assistant_events(self, request: ChatRequest, chunks: Any, stream: Any) -> Iterator[Event]:
        """The events of an assistant's answer; its conversation id is kept as soon as it is seen."""
        asm = AssistantAssembler()

        def fed(asm: AssistantAssembler) -> None:
            self.conversation_id = asm.conversation_id or self.conversation_id

        def seen(asm: AssistantAssembler, headers: Any) -> None:
            if asm.error is not None:
                raise self.classify(None, asm.error, request, headers)

        return self.stream_events(request, chunks, stream, asm, chunk_problem, fed, seen)

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
