"""Zhipu assistants (智能体) on the loopback FakeServer: `POST {base}/assistant` answered with SSE chunks.

Each chunk is an AssistantCompletion as the zhipuai SDK parses it: `{"id", "conversation_id",
"assistant_id", "created", "status", "choices": [{"index", "delta", "finish_reason"}], "usage"}`.
A delta is text (`{"role": "assistant", "type": "content", "content"}`) or a tool step
(`{"role": "tool", "type": "tool_calls", "tool_calls": [{"type": KIND, KIND: {...}}]}`), each step
sent twice: first with its input and no outputs, then with its outputs. The last chunk has
`status: "completed"`, `finish_reason` and usage; then `data: [DONE]`.

A request without `conversation_id` starts a new conversation `conv-N`; one with an id
continues it: its chunks carry that id.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Sequence
from typing import Any

from tests.fakeserver import _CUT, _DONE, FakeServer, RecordedRequest, Reply, error

PATH = "/assistant"
Part = str | dict[str, Any]  # text, or one tool step block {"type": KIND, KIND: {...}}


def web_browser(query: str, *titles: str) -> dict[str, Any]:
    """A web_browser step that found pages with these titles."""
    outputs = [{"title": t, "link": f"https://example.com/{i}", "content": f"{t} ...", "error_msg": ""}
               for i, t in enumerate(titles)]
    return {"type": "web_browser", "web_browser": {"input": query, "outputs": outputs}}


def drawing(prompt: str, url: str) -> dict[str, Any]:
    """A drawing_tool step that made one image."""
    return {"type": "drawing_tool", "drawing_tool": {"input": prompt, "outputs": [{"image": url}]}}


def code(source: str, logs: str) -> dict[str, Any]:
    """A code_interpreter step whose run printed logs."""
    return {"type": "code_interpreter",
            "code_interpreter": {"input": source, "outputs": [{"type": "logs", "logs": logs, "error_msg": ""}]}}


def retrieval(*documents: str) -> dict[str, Any]:
    """A retrieval step with one passage from each document."""
    return {"type": "retrieval", "retrieval": {"outputs": [{"text": f"from {d}", "document": d} for d in documents]}}


class AssistantService:
    """Answers `/assistant` from its own FIFO of replies and records what was sent."""

    def __init__(self, server: FakeServer) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        server.route(PATH, self._answer)

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def sent(self, n: int = -1) -> dict[str, Any]:
        """The JSON body of request n (the last by default)."""
        body = self.requests[n].json
        assert isinstance(body, dict), self.requests[n].body
        return body

    def _answer(self, req: RecordedRequest) -> Reply:
        self.requests.append(req)
        if not self.replies:
            return error(500, {"error": {"code": "500", "message": "fakeserver: no scripted assistant reply"}})
        reply = self.replies.popleft()
        if isinstance(reply, AssistantReply):
            cid = (req.json or {}).get("conversation_id")
            reply.conversation_id = cid or f"conv-{next(self._ids)}"
        return reply


class AssistantReply(Reply):
    """A scripted streamed answer: parts are text pieces or tool step blocks, in order.

    end_after: chunks sent before the stream ends cleanly without its last chunk or [DONE];
    cut_after: the same, but the connection is dropped; failed: a last chunk with
    `status: "failed"` and this `last_error` instead of the completed one.
    """

    def __init__(self, parts: Sequence[Part] = (), *, finish: str = "stop", usage: tuple[int, int] | None = (12, 7),
                 end_after: int | None = None, cut_after: int | None = None,
                 failed: dict[str, str] | None = None) -> None:
        super().__init__(self._write)
        self.parts, self.finish, self.usage = list(parts), finish, usage
        self.end_after, self.cut_after, self.failed = end_after, cut_after, failed
        self.conversation_id = "conv-x"

    def _chunk(self, delta: dict[str, Any], status: str = "in_progress", finish: str | None = None,
               **extra: Any) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if finish is not None:
            choice["finish_reason"] = finish
        body = {"id": "req-asst-1", "conversation_id": self.conversation_id, "assistant_id": "asst-fake",
                "created": 1718000000, "status": status, "choices": [choice], **extra}
        return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"

    def chunks(self) -> list[bytes]:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(self._chunk({"role": "assistant", "type": "content", "content": part}))
                continue
            kind = part["type"]
            started = {"type": kind, kind: {**part[kind], "outputs": []}}
            for block in (started, part):  # the step as it begins, then with its outputs
                out.append(self._chunk({"role": "tool", "type": "tool_calls", "tool_calls": [block]}))
        end = {"role": "assistant", "type": "content", "content": ""}
        if self.failed is not None:
            out.append(self._chunk(end, "failed", last_error=self.failed))
        else:
            usage = {"prompt_tokens": self.usage[0], "completion_tokens": self.usage[1],
                     "total_tokens": sum(self.usage)} if self.usage else None
            out.append(self._chunk(end, "completed", self.finish, usage=usage))
        return out

    def _write(self, conn, req: RecordedRequest) -> None:  # type: ignore[no-untyped-def]
        steps: list[Any] = [*self.chunks(), _DONE]
        if self.end_after is not None:
            steps = steps[: self.end_after]
        if self.cut_after is not None:
            steps = steps[: self.cut_after] + [_CUT]
        conn.stream(steps)
