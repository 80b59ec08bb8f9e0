"""DashScope's native protocol on the loopback FakeServer: `id/event/:HTTP_STATUS/data` SSE events.

Both endpoints are served. Each model is bound to one of them as the gateway binds it (vision,
omni, audio and qwen3.5+ models to multimodal-generation; `NativeService.bind` overrides); a
request on the other answers `InvalidParameter` "url error, please check url" (a 400 body, or
with `url_error_sse` a 200 stream holding one `event:error`). Events come back to back without
blank lines, as seed 002 prints them (`blank_lines=True` for the other framing); multimodal
answers carry content as a list of `{"text"}` parts.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from typing import Any

from tests.fakeserver import FakeServer, RecordedRequest, Reply, error, raw

TEXT_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
PATH = TEXT_PATH
MULTIMODAL_PREFIXES = ("qwen-vl", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "qvq", "qwen-omni", "qwen2.5-omni",
                       "qwen3-omni", "qwen-audio", "qwen2-audio", "qwen3.5", "qwen3.6", "qwen3.7")
URL_ERROR = {"code": "InvalidParameter", "message": "url error, please check url！", "request_id": "req-url"}
ERRORS = {
    "InvalidApiKey": (401, "Invalid API-key provided."),
    "Arrearage": (400, "Access denied, please make sure your account is in good standing."),
    "Throttling.RateQuota": (429, "Requests rate limit exceeded, please try again later."),
    "DataInspectionFailed": (400, "Input data may contain inappropriate content."),
    "InvalidParameter": (400, "Model not exist."),
    "Throttling.AllocationQuota": (429, "Allocated quota exceeded, please increase your quota limit."),
    "AllocationQuota.FreeTierOnly": (403, "The free tier of the model has been exhausted. If you wish to continue "
                                          "access the model on a paid basis, please disable the \"use free tier "
                                          "only\" mode in the management console."),
}


class NativeService:
    """Answers native generation requests (either endpoint) from its own FIFO of scripted replies."""

    def __init__(self, server: FakeServer, *, url_error_sse: bool = False) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[RecordedRequest] = []  # every request, the wrong-endpoint ones too
        self.bound: dict[str, str] = {}
        self.url_error_sse = url_error_sse
        server.route(TEXT_PATH, lambda req: self._answer(req, "text"))
        server.route(MULTIMODAL_PATH, lambda req: self._answer(req, "multimodal"))

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def bind(self, model: str, endpoint: str) -> None:
        """Serve `model` on this endpoint ("text" or "multimodal") only."""
        self.bound[model] = endpoint

    def endpoint_of(self, model: str) -> str:
        if model in self.bound:
            return self.bound[model]
        return "multimodal" if model.lower().startswith(MULTIMODAL_PREFIXES) else "text"

    def _answer(self, req: RecordedRequest, endpoint: str) -> Reply:
        self.requests.append(req)
        if self.endpoint_of(req.model) != endpoint:
            if self.url_error_sse and _streaming(req):
                return raw(200, _event(1, URL_ERROR, 400, "error"), {"Content-Type": "text/event-stream"})
            return error(400, URL_ERROR)
        return self.replies.popleft() if self.replies else error(500, {"code": "NoScript", "message": "no reply"})


def _streaming(req: RecordedRequest) -> bool:
    return req.headers.get("x-dashscope-sse") == "enable" or "text/event-stream" in req.headers.get("accept", "")


def _event(n: int, payload: dict[str, Any], status: int = 200, name: str = "result", blank: bool = False) -> bytes:
    end = "\n\n" if blank else "\n"
    return f"id:{n}\nevent:{name}\n:HTTP_STATUS/{status}\ndata:{json.dumps(payload, ensure_ascii=False)}{end}".encode()


class NativeReply(Reply):
    """A scripted native answer; streams when the request asks for SSE.

    calls: (id, name, arguments) each; streamed in incremental mode as the service does: the first
    piece of each call carries id and name, later ones `"id": ""` and an argument fragment.
    repeat_text: every event repeats all the text so far although incremental output was asked for.
    search: `search_info.search_results` items; reasoning_tokens / cached_tokens: usage details.
    """

    def __init__(self, text: Sequence[str] = (), *, reasoning: Sequence[str] = (), calls: Sequence = (),
                 finish: str = "stop", usage: tuple[int, int] = (10, 5), cut_after: int | None = None,
                 error_after: tuple[int, str] | None = None, end_after: int | None = None,
                 repeat_text: bool = False, blank_lines: bool = False, search: Sequence[dict] = (),
                 reasoning_tokens: int | None = None, cached_tokens: int | None = None) -> None:
        super().__init__(self._write)
        self.text, self.reasoning, self.calls = list(text), list(reasoning), list(calls)
        self.finish, self.usage, self.cut_after, self.error_after = finish, usage, cut_after, error_after
        self.end_after = end_after  # events sent before the stream ends cleanly, without its final event
        self.repeat_text, self.blank_lines, self.search = repeat_text, blank_lines, list(search)
        self.reasoning_tokens, self.cached_tokens = reasoning_tokens, cached_tokens
        self.multimodal = False
        self.sources_asked = False

    def _payload(self, content: str, finish: str, calls: list | None = None,
                 reasoning: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant",
                                   "content": [{"text": content}] if self.multimodal and content else content}
        if calls:
            message["tool_calls"] = calls
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        usage: dict[str, Any] = {"input_tokens": self.usage[0], "output_tokens": self.usage[1],
                                 "total_tokens": sum(self.usage)}
        if self.reasoning_tokens is not None:
            usage["output_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        if self.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        output: dict[str, Any] = {"choices": [{"message": message, "finish_reason": finish}]}
        if self.search and self.sources_asked:  # as the service: sources only with search_options.enable_source
            output["search_info"] = {"search_results": self.search}
        return {"output": output, "usage": usage, "request_id": "req-native"}

    def events(self, incremental: bool) -> list[bytes]:
        out, so_far, thought = [], "", ""
        for piece in self.reasoning:
            thought += piece
            out.append(self._payload("", "null", reasoning=piece if incremental else thought))
        for piece in self.text:
            so_far += piece
            out.append(self._payload(piece if incremental and not self.repeat_text else so_far, "null"))
        rest = "" if incremental else so_far
        for i, (cid, name, args) in enumerate(self.calls):
            if incremental:
                pieces = [args[at:at + 6] for at in range(0, len(args), 6)] or [""]
                out.append(self._payload(rest, "null", [{"index": i, "id": cid, "type": "function",
                                                        "function": {"name": name, "arguments": pieces[0]}}]))
                out.extend(self._payload(rest, "null", [{"index": i, "id": "", "type": "function",
                                                        "function": {"arguments": piece}}]) for piece in pieces[1:])
            else:
                for end in range(0, len(args) + 1, 6):  # arguments grow event by event
                    call = {"index": i, "id": cid, "type": "function",
                            "function": {"name": name, "arguments": args[:end]}}
                    out.append(self._payload(rest, "null", [call]))
        out.append(self._payload(so_far if self.repeat_text or not incremental else "", self.finish))
        return [_event(n + 1, p, blank=self.blank_lines) for n, p in enumerate(out)]

    def whole(self) -> dict[str, Any]:
        """The non-streamed answer: the whole message at once."""
        calls = [{"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                 for i, (cid, name, args) in enumerate(self.calls)]
        return self._payload("".join(self.text), self.finish, calls,
                             "".join(self.reasoning) if self.reasoning else None)

    def _write(self, conn, req: RecordedRequest) -> None:  # type: ignore[no-untyped-def]
        params = (req.json or {}).get("parameters", {})
        self.multimodal = req.path.split("?")[0].endswith(MULTIMODAL_PATH)
        self.sources_asked = (params.get("search_options") or {}).get("enable_source") is True
        if not _streaming(req):
            conn.send(200, json.dumps(self.whole(), ensure_ascii=False).encode(), {"Content-Type": "application/json"})
            return
        steps: list[Any] = self.events(incremental=bool(params.get("incremental_output")))
        if self.error_after is not None:
            after, code = self.error_after
            status, message = ERRORS[code]
            steps = steps[:after] + [_event(after + 1, {"code": code, "message": message, "request_id": "r"},
                                            status, "error")]
        if self.end_after is not None:
            steps = steps[: self.end_after]
        if self.cut_after is not None:
            from tests.fakeserver import _CUT
            steps = steps[: self.cut_after] + [_CUT]
        conn.stream(steps)


def native_error(code: str, headers: dict[str, str] | None = None, request_id: str = "req-native") -> Reply:
    """A documented native error body: {"code", "message", "request_id"} (request_id "" leaves it out)."""
    status, message = ERRORS[code]
    body = {"code": code, "message": message, **({"request_id": request_id} if request_id else {})}
    return error(status, body, headers=headers)
