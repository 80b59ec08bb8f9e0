"""DashScope's native protocol on the loopback FakeServer: `id/event/:HTTP_STATUS/data` SSE events."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from typing import Any

from tests.fakeserver import FakeServer, RecordedRequest, Reply, error

PATH = "/api/v1/services/aigc/text-generation/generation"
ERRORS = {
    "InvalidApiKey": (401, "Invalid API-key provided."),
    "Arrearage": (400, "Access denied, please make sure your account is in good standing."),
    "Throttling.RateQuota": (429, "Requests rate limit exceeded, please try again later."),
    "DataInspectionFailed": (400, "Input data may contain inappropriate content."),
    "InvalidParameter": (400, "Model not exist."),
}


class NativeService:
    """Answers native generation requests from its own FIFO of scripted replies."""

    def __init__(self, server: FakeServer) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[RecordedRequest] = []
        server.route(PATH, self._answer)

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def _answer(self, req: RecordedRequest) -> Reply:
        self.requests.append(req)
        return self.replies.popleft() if self.replies else error(500, {"code": "NoScript", "message": "no reply"})


def _event(n: int, payload: dict[str, Any], status: int = 200, name: str = "result") -> bytes:
    return f"id:{n}\nevent:{name}\n:HTTP_STATUS/{status}\ndata:{json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def _payload(content: str, finish: str, usage: tuple[int, int], calls: list | None = None,
             reasoning: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {"output": {"choices": [{"message": message, "finish_reason": finish}]},
            "usage": {"input_tokens": usage[0], "output_tokens": usage[1], "total_tokens": sum(usage)},
            "request_id": "req-native"}


class NativeReply(Reply):
    """A scripted native answer; streams when the request asks for SSE."""

    def __init__(self, text: Sequence[str] = (), *, reasoning: Sequence[str] = (), calls: Sequence = (),
                 finish: str = "stop", usage: tuple[int, int] = (10, 5), cut_after: int | None = None,
                 error_after: tuple[int, str] | None = None, end_after: int | None = None) -> None:
        super().__init__(self._write)
        self.text, self.reasoning, self.calls = list(text), list(reasoning), list(calls)
        self.finish, self.usage, self.cut_after, self.error_after = finish, usage, cut_after, error_after
        self.end_after = end_after  # events sent before the stream ends cleanly, without its final event

    def events(self, incremental: bool) -> list[bytes]:
        out, so_far, thought = [], "", ""
        for piece in self.reasoning:
            thought += piece
            out.append(_payload("", "null", self.usage, reasoning=piece if incremental else thought))
        for piece in self.text:
            so_far += piece
            out.append(_payload(piece if incremental else so_far, "null", self.usage))
        for i, (cid, name, args) in enumerate(self.calls):
            for end in range(0, len(args) + 1, 6):  # arguments grow event by event
                call = {"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": args[:end]}}
                out.append(_payload("" if incremental else so_far, "null", self.usage, [call]))
            call = {"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            out.append(_payload("" if incremental else so_far, "null", self.usage, [call]))
        out.append(_payload("" if incremental else so_far, self.finish, self.usage))
        return [_event(n + 1, p) for n, p in enumerate(out)]

    def _write(self, conn, req: RecordedRequest) -> None:  # type: ignore[no-untyped-def]
        params = (req.json or {}).get("parameters", {})
        streaming = req.headers.get("x-dashscope-sse") == "enable" or "text/event-stream" in req.headers.get("accept", "")
        if not streaming:
            events = self.events(incremental=False)
            last = json.loads(events[-1].decode().split("data:", 1)[1])
            conn.send(200, json.dumps(last, ensure_ascii=False).encode(), {"Content-Type": "application/json"})
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


def native_error(code: str, headers: dict[str, str] | None = None) -> Reply:
    status, message = ERRORS[code]
    return error(status, {"code": code, "message": message, "request_id": "req-native"}, headers=headers)
